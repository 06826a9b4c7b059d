package chaintest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/chain/bindings/testwallet"
)

func TestTestWallet1271OnDevChain(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dev, err := chain.StartDev(ctx, chain.DevConfig{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	client, err := chain.Dial(ctx, dev.RPCURL(), dev.ChainID())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	owner, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	addr, err := DeployTestWallet1271(ctx, client, dev.FaucetKey(), crypto.PubkeyToAddress(owner.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	w := testwallet.NewTestWallet1271()
	inst := w.Instance(client, addr)
	check := func(hash []byte, sig []byte) [4]byte {
		t.Helper()
		var h [32]byte
		copy(h[:], hash)
		got, err := bind.Call(inst, &bind.CallOpts{Context: ctx}, w.PackIsValidSignature(h, sig), w.UnpackIsValidSignature)
		if err != nil {
			t.Fatalf("isValidSignature: %v", err)
		}
		return got
	}
	hash := accounts.TextHash([]byte("Sign in to ModelFactory"))
	sig, err := crypto.Sign(hash, owner)
	if err != nil {
		t.Fatal(err)
	}
	sig[64] += 27 // wallets send v as 27/28
	if got := check(hash, sig); got != ERC1271MagicValue {
		t.Fatalf("owner signature: got %x, want %x", got, ERC1271MagicValue)
	}
	otherSig, _ := crypto.Sign(hash, other)
	otherSig[64] += 27
	bad := [4]byte{0xff, 0xff, 0xff, 0xff}
	if got := check(hash, otherSig); got != bad {
		t.Fatalf("other key's signature: got %x, want %x", got, bad)
	}
	if got := check(hash, sig[:2]); got != bad {
		t.Fatalf("2-byte signature: got %x, want %x", got, bad)
	}
	wrongHash := crypto.Keccak256([]byte("something else"))
	if got := check(wrongHash, sig); got != bad {
		t.Fatalf("signature over another hash: got %x, want %x", got, bad)
	}
}
