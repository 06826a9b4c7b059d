package siwe

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/chain/chaintest"
)

// TestContractWalletOnDevChain signs in as an EIP-1271 contract wallet
// deployed on the embedded go-ethereum dev chain (a real EVM over JSON-RPC).
func TestContractWalletOnDevChain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dev chain")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dev, err := chain.StartDev(ctx, chain.DevConfig{DataDir: t.TempDir(), ChainID: 31337, HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	client, err := chain.Dial(ctx, dev.RPCURL(), dev.ChainID())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	owner, other := mustKey(t), mustKey(t)
	ownerAddr := crypto.PubkeyToAddress(owner.PublicKey)
	wallet, err := chaintest.DeployTestWallet1271(ctx, client, dev.FaucetKey(), ownerAddr)
	if err != nil {
		t.Fatal(err)
	}

	v, err := NewVerifier("http://127.0.0.1:8080", dev.ChainID(), client)
	if err != nil {
		t.Fatal(err)
	}
	message := func(addr [20]byte) string {
		now := time.Now().UTC().Truncate(time.Second)
		exp := now.Add(5 * time.Minute)
		return (&Message{
			Scheme: "http", Domain: "127.0.0.1:8080", Address: addr, URI: "http://127.0.0.1:8080",
			Version: "1", ChainID: dev.ChainID(), Nonce: NewNonce(), IssuedAt: now, ExpirationTime: &exp,
		}).String()
	}

	t.Run("owner signature accepted", func(t *testing.T) {
		text := message(wallet)
		m, err := v.Verify(ctx, text, sign(t, owner, text))
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if m.Address != wallet {
			t.Fatalf("address %s, want wallet %s", m.Address.Hex(), wallet.Hex())
		}
	})
	t.Run("other key rejected by the contract", func(t *testing.T) {
		text := message(wallet)
		_, err := v.Verify(ctx, text, sign(t, other, text))
		wantCode(t, err, CodeContractWalletRejected)
	})
	t.Run("owner signature over another message rejected", func(t *testing.T) {
		text := message(wallet)
		_, err := v.Verify(ctx, text, sign(t, owner, message(wallet)))
		wantCode(t, err, CodeContractWalletRejected)
	})
	t.Run("contract decides on non-65-byte signatures", func(t *testing.T) {
		text := message(wallet)
		_, err := v.Verify(ctx, text, []byte{1, 2})
		wantCode(t, err, CodeContractWalletRejected)
	})
	t.Run("EOA still signs in with Wallets set", func(t *testing.T) {
		text := message(ownerAddr)
		if _, err := v.Verify(ctx, text, sign(t, owner, text)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("EOA with 2-byte signature", func(t *testing.T) {
		text := message(ownerAddr)
		_, err := v.Verify(ctx, text, []byte{1, 2})
		wantCode(t, err, CodeBadSignatureLength)
	})
	t.Run("EOA signature by another key", func(t *testing.T) {
		text := message(ownerAddr)
		_, err := v.Verify(ctx, text, sign(t, other, text))
		wantCode(t, err, CodeAddressMismatch)
	})
	t.Run("verifier without chain client rejects the wallet", func(t *testing.T) {
		noChain := *v
		noChain.Wallets = nil
		text := message(wallet)
		_, err := noChain.Verify(ctx, text, sign(t, owner, text))
		wantCode(t, err, CodeAddressMismatch)
	})

	// Last: with the node gone, a contract-wallet check cannot be made.
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	text := message(wallet)
	_, err = v.Verify(ctx, text, sign(t, owner, text))
	wantCode(t, err, CodeChainUnavailable)
}
