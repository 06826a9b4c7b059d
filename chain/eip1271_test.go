package chain

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/core/vm/program"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
)

// The contracts below are assembled by hand so that these tests run real EVM
// code without a Solidity toolchain.

func magicWord() []byte {
	w := make([]byte, 32)
	copy(w, EIP1271MagicValue[:])
	return w
}

// ecdsaWallet returns runtime code for a minimal EIP-1271 wallet: it accepts
// isValidSignature(hash, sig) when sig is 65 bytes and ecrecover(hash, v, r, s)
// is owner, and returns 0xffffffff otherwise. It is branch-free: a bad length
// makes ecrecover fail, which leaves the zero word that never equals owner.
func ecdsaWallet(owner common.Address) []byte {
	fail := make([]byte, 32)
	copy(fail, []byte{0xff, 0xff, 0xff, 0xff})
	p := program.New()
	p.Push(4).Op(vm.CALLDATALOAD).Push(0).Op(vm.MSTORE)                         // mem[0x00] = hash
	p.Push(36).Op(vm.CALLDATALOAD).Push(4).Op(vm.ADD)                           // [off] of the length word
	p.Op(vm.DUP1).Push(32).Op(vm.ADD, vm.CALLDATALOAD).Push(0x40).Op(vm.MSTORE) // mem[0x40] = r
	p.Op(vm.DUP1).Push(64).Op(vm.ADD, vm.CALLDATALOAD).Push(0x60).Op(vm.MSTORE) // mem[0x60] = s
	p.Op(vm.DUP1).Push(96).Op(vm.ADD, vm.CALLDATALOAD).Push(0).Op(vm.BYTE)      // v
	p.Push(0x20).Op(vm.MSTORE)                                                  // mem[0x20] = v
	p.Op(vm.CALLDATALOAD).Push(65).Op(vm.EQ)                                    // [lenOK]
	p.StaticCall(nil, 1, 0, 0x80, 0x80, 0x20).Op(vm.POP)                        // mem[0x80] = signer or 0
	p.Push(0x80).Op(vm.MLOAD).Push(owner.Bytes()).Op(vm.EQ, vm.AND)             // [valid]
	p.Op(vm.DUP1).Push(magicWord()).Op(vm.MUL, vm.SWAP1, vm.ISZERO).Push(fail).Op(vm.MUL, vm.ADD)
	p.Push(0).Op(vm.MSTORE)
	return p.Return(0, 32).Bytes()
}

func returning(data []byte) []byte { return program.New().ReturnData(data).Bytes() }

var (
	addrWallet   = common.HexToAddress("0x1000000000000000000000000000000000000001")
	addrAlways   = common.HexToAddress("0x1000000000000000000000000000000000000002")
	addrRevert   = common.HexToAddress("0x1000000000000000000000000000000000000003")
	addrWrong    = common.HexToAddress("0x1000000000000000000000000000000000000004")
	addrDirty    = common.HexToAddress("0x1000000000000000000000000000000000000005")
	addrShort    = common.HexToAddress("0x1000000000000000000000000000000000000006")
	addrLong     = common.HexToAddress("0x1000000000000000000000000000000000000007")
	addrEcho     = common.HexToAddress("0x1000000000000000000000000000000000000008")
	addrBurner   = common.HexToAddress("0x1000000000000000000000000000000000000009")
	addrInvalid  = common.HexToAddress("0x100000000000000000000000000000000000000a")
	addrNoCode   = common.HexToAddress("0x20000000000000000000000000000000000000ff")
	addrFundedEO = common.HexToAddress("0x3000000000000000000000000000000000000001")
)

func newBackend(t *testing.T, owner common.Address) simulated.Client {
	t.Helper()
	dirty := magicWord()
	dirty[31] = 1
	burner := program.New()
	_, loop := burner.Jumpdest()
	burner.Jump(loop)
	alloc := types.GenesisAlloc{
		addrWallet:   {Code: ecdsaWallet(owner), Balance: big.NewInt(0)},
		addrAlways:   {Code: returning(magicWord())},
		addrRevert:   {Code: program.New().Push(0).Push(0).Op(vm.REVERT).Bytes()},
		addrWrong:    {Code: returning(bytes.Repeat([]byte{0xff}, 32))},
		addrDirty:    {Code: returning(dirty)},
		addrShort:    {Code: returning(EIP1271MagicValue[:])},
		addrLong:     {Code: returning(append(magicWord(), make([]byte, 32)...))},
		addrEcho:     {Code: program.New().Op(vm.CALLDATASIZE).Push(0).Push(0).Op(vm.CALLDATACOPY, vm.CALLDATASIZE).Push(0).Op(vm.RETURN).Bytes()},
		addrBurner:   {Code: burner.Bytes()},
		addrInvalid:  {Code: []byte{0xfe}},
		addrFundedEO: {Balance: big.NewInt(1e18)},
	}
	b := simulated.NewBackend(alloc)
	t.Cleanup(func() { b.Close() })
	return b.Client()
}

func personalSign(t *testing.T, key *ecdsa.PrivateKey, msg string) ([32]byte, []byte) {
	t.Helper()
	var digest [32]byte
	copy(digest[:], accounts.TextHash([]byte(msg)))
	sig, err := crypto.Sign(digest[:], key)
	if err != nil {
		t.Fatal(err)
	}
	sig[64] += 27 // wallets send v as 27/28, and so does ecrecover expect it
	return digest, sig
}

func TestEncodeIsValidSignatureMatchesABIPacker(t *testing.T) {
	parsed, err := abi.JSON(strings.NewReader(`[{"type":"function","name":"isValidSignature","stateMutability":"view",
		"inputs":[{"name":"hash","type":"bytes32"},{"name":"signature","type":"bytes"}],
		"outputs":[{"name":"","type":"bytes4"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	digest := [32]byte{1, 2, 3}
	for _, n := range []int{0, 1, 31, 32, 33, 64, 65, 66, 130, 1000} {
		sig := bytes.Repeat([]byte{0xab}, n)
		want, err := parsed.Pack("isValidSignature", digest, sig)
		if err != nil {
			t.Fatal(err)
		}
		if got := EncodeIsValidSignature(digest, sig); !bytes.Equal(got, want) {
			t.Errorf("len %d: calldata\n got %x\nwant %x", n, got, want)
		}
	}
	if !bytes.Equal(parsed.Methods["isValidSignature"].ID, EIP1271MagicValue[:]) {
		t.Fatalf("selector %x != magic %x", parsed.Methods["isValidSignature"].ID, EIP1271MagicValue)
	}
}

func TestVerifyEIP1271(t *testing.T) {
	ctx := context.Background()
	owner, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	client := newBackend(t, crypto.PubkeyToAddress(owner.PublicKey))

	digest, ownerSig := personalSign(t, owner, "sign in please")
	_, otherSig := personalSign(t, other, "sign in please")
	otherDigest, _ := personalSign(t, owner, "a different message")

	// The echo contract proves the node sees exactly the calldata we encode.
	echoed, err := client.CallContract(ctx, ethereum.CallMsg{To: &addrEcho, Data: EncodeIsValidSignature(digest, ownerSig)}, nil)
	if err != nil || !bytes.Equal(echoed, EncodeIsValidSignature(digest, ownerSig)) {
		t.Fatalf("echo: %x, %v", echoed, err)
	}

	tests := []struct {
		name    string
		account common.Address
		digest  [32]byte
		sig     []byte
		want    bool
	}{
		{"wallet accepts owner signature", addrWallet, digest, ownerSig, true},
		{"wallet rejects other key", addrWallet, digest, otherSig, false},
		{"wallet rejects signature over other digest", addrWallet, otherDigest, ownerSig, false},
		{"wallet rejects 2-byte signature", addrWallet, digest, []byte{1, 2}, false},
		{"wallet rejects 66-byte signature", addrWallet, digest, append(append([]byte{}, ownerSig...), 0), false},
		{"wallet rejects empty signature", addrWallet, digest, nil, false},
		{"always-magic contract with any bytes", addrAlways, digest, []byte{0xde, 0xad}, true},
		{"revert is a rejection", addrRevert, digest, ownerSig, false},
		{"wrong return value", addrWrong, digest, ownerSig, false},
		{"magic with dirty padding", addrDirty, digest, ownerSig, false},
		{"4-byte return", addrShort, digest, ownerSig, false},
		{"64-byte return", addrLong, digest, ownerSig, false},
		{"echo returns calldata not magic", addrEcho, digest, ownerSig, false},
		{"out of gas is a rejection", addrBurner, digest, ownerSig, false},
		{"invalid opcode is a rejection", addrInvalid, digest, ownerSig, false},
		{"account without code returns nothing", addrNoCode, digest, ownerSig, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyEIP1271(ctx, client, tt.account, tt.digest, tt.sig)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tt.want {
				t.Fatalf("VerifyEIP1271 = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHasCode(t *testing.T) {
	ctx := context.Background()
	client := newBackend(t, common.Address{1})
	for addr, want := range map[common.Address]bool{addrWallet: true, addrRevert: true, addrNoCode: false, addrFundedEO: false} {
		got, err := HasCode(ctx, client, addr)
		if err != nil || got != want {
			t.Errorf("HasCode(%s) = %v, %v; want %v", addr.Hex(), got, err, want)
		}
	}
}

// failingCaller is a node that cannot be reached.
type failingCaller struct{ err error }

func (f failingCaller) CallContract(context.Context, ethereum.CallMsg, *big.Int) ([]byte, error) {
	return nil, f.err
}
func (f failingCaller) CodeAt(context.Context, common.Address, *big.Int) ([]byte, error) {
	return nil, f.err
}

func TestTransportErrorsAreErrors(t *testing.T) {
	ctx := context.Background()
	down := failingCaller{errors.New("dial tcp 127.0.0.1:8545: connect: connection refused")}
	if ok, err := VerifyEIP1271(ctx, down, addrWallet, [32]byte{}, []byte{1}); ok || err == nil {
		t.Fatalf("VerifyEIP1271 on a dead node = %v, %v; want false and an error", ok, err)
	}
	if _, err := HasCode(ctx, down, addrWallet); err == nil {
		t.Fatal("HasCode on a dead node returned no error")
	}

	// A cancelled context against a real backend is also a transport error,
	// not a rejection.
	client := newBackend(t, common.Address{1})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if ok, err := VerifyEIP1271(cctx, client, addrAlways, [32]byte{}, []byte{1}); ok || err == nil {
		t.Fatalf("VerifyEIP1271 with cancelled context = %v, %v; want false and an error", ok, err)
	}
}
