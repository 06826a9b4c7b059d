package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
)

// EIP1271MagicValue is bytes4(keccak256("isValidSignature(bytes32,bytes)")),
// both the function selector and the value a contract returns to accept a
// signature.
var EIP1271MagicValue = [4]byte{0x16, 0x26, 0xba, 0x7e}

// EIP1271CallGas caps the gas an isValidSignature call may use. Wallet checks
// (a few ecrecovers, some storage reads) need far less; the cap keeps a
// hostile contract from making every sign-in attempt an expensive eth_call.
const EIP1271CallGas = 3_000_000

// CodeReader reads account code; ethclient.Client and the simulated backend
// satisfy it.
type CodeReader interface {
	CodeAt(ctx context.Context, account common.Address, blockNumber *big.Int) ([]byte, error)
}

// HasCode reports whether account has contract code at the latest block.
func HasCode(ctx context.Context, caller CodeReader, account common.Address) (bool, error) {
	code, err := caller.CodeAt(ctx, account, nil)
	if err != nil {
		return false, fmt.Errorf("read code of %s: %w", account.Hex(), err)
	}
	return len(code) > 0, nil
}

// VerifyEIP1271 asks the contract at account whether signature is valid for
// digest by calling isValidSignature(bytes32,bytes) at the latest block. It
// returns true only when the call returns exactly the ABI-encoded magic value
// (0x1626ba7e followed by 28 zero bytes). A revert, an EVM failure, an empty
// or any other return means "not valid" (false, nil); only failures to reach
// the node are returned as errors.
func VerifyEIP1271(ctx context.Context, caller ethereum.ContractCaller, account common.Address, digest [32]byte, signature []byte) (bool, error) {
	// A request already cancelled is a transport error whatever the node
	// does with it (an in-process node may still answer a cancelled call).
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("call isValidSignature on %s: %w", account.Hex(), err)
	}
	out, err := caller.CallContract(ctx, ethereum.CallMsg{
		To:   &account,
		Gas:  EIP1271CallGas,
		Data: EncodeIsValidSignature(digest, signature),
	}, nil)
	if err != nil {
		if isExecutionFailure(err) {
			return false, nil
		}
		return false, fmt.Errorf("call isValidSignature on %s: %w", account.Hex(), err)
	}
	var want [32]byte
	copy(want[:], EIP1271MagicValue[:])
	return bytes.Equal(out, want[:]), nil
}

// EncodeIsValidSignature returns the calldata for
// isValidSignature(bytes32 hash, bytes signature): selector, hash, the offset
// of the bytes argument (0x40), its length and the data padded to 32 bytes.
func EncodeIsValidSignature(digest [32]byte, signature []byte) []byte {
	padded := (len(signature) + 31) / 32 * 32
	data := make([]byte, 0, 4+32*3+padded)
	data = append(data, EIP1271MagicValue[:]...)
	data = append(data, digest[:]...)
	data = append(data, common.LeftPadBytes(big.NewInt(64).Bytes(), 32)...)
	data = append(data, common.LeftPadBytes(new(big.Int).SetUint64(uint64(len(signature))).Bytes(), 32)...)
	data = append(data, signature...)
	return append(data, make([]byte, padded-len(signature))...)
}

// evmFailures are the messages nodes use when an eth_call ran but the EVM
// stopped with an error. Over JSON-RPC they arrive as plain strings, so
// matching the text is the only portable way to tell them from transport or
// node errors.
var evmFailures = []string{
	"execution reverted",
	"out of gas",
	"contract creation code storage out of gas",
	"max call depth exceeded",
	"invalid jump destination",
	"write protection",
	"return data out of bounds",
	"gas uint64 overflow",
	"invalid code",
	"invalid opcode",
	"stack underflow",
	"stack limit reached",
	"stack overflow",
}

// isExecutionFailure reports whether err says the contract call executed and
// failed, as opposed to the node being unreachable or refusing the request.
func isExecutionFailure(err error) bool {
	// Code 3 is geth's "execution reverted" error that carries revert data.
	var re rpc.Error
	if errors.As(err, &re) && re.ErrorCode() == 3 {
		return true
	}
	msg := err.Error()
	for _, f := range evmFailures {
		if strings.Contains(msg, f) {
			return true
		}
	}
	return false
}
