// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package batchtransfer

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = bytes.Equal
	_ = errors.New
	_ = big.NewInt
	_ = common.Big1
	_ = types.BloomLookup
	_ = abi.ConvertType
)

// BatchTransferMetaData contains all meta data concerning the BatchTransfer contract.
var BatchTransferMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[],\"name\":\"LengthMismatch\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"token\",\"type\":\"address\"}],\"name\":\"SafeERC20FailedOperation\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"token\",\"type\":\"address\"},{\"internalType\":\"address[]\",\"name\":\"to\",\"type\":\"address[]\"},{\"internalType\":\"uint256[]\",\"name\":\"amounts\",\"type\":\"uint256[]\"}],\"name\":\"batchTransfer\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "BatchTransfer",
	Bin: "0x6080604052348015600e575f5ffd5b5061036c8061001c5f395ff3fe608060405234801561000f575f5ffd5b5060043610610029575f3560e01c80631239ec8c1461002d575b5f5ffd5b61004061003b366004610265565b610042565b005b82811461007b576040517fff633a3800000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b5f5b838110156100f8576100f03386868481811061009b5761009b6102e7565b90506020020160208101906100b09190610314565b8585858181106100c2576100c26102e7565b905060200201358973ffffffffffffffffffffffffffffffffffffffff16610100909392919063ffffffff16565b60010161007d565b505050505050565b61010e848484846001610166565b610160576040517f5274afe700000000000000000000000000000000000000000000000000000000815273ffffffffffffffffffffffffffffffffffffffff8516600482015260240160405180910390fd5b50505050565b6040517f23b872dd000000000000000000000000000000000000000000000000000000005f81815273ffffffffffffffffffffffffffffffffffffffff8781166004528616602452604485905291602083606481808c5af1925060015f511483166101e85783831516156101dc573d5f823e3d81fd5b5f883b113d1516831692505b604052505f60605295945050505050565b73ffffffffffffffffffffffffffffffffffffffff8116811461021a575f5ffd5b50565b5f5f83601f84011261022d575f5ffd5b50813567ffffffffffffffff811115610244575f5ffd5b6020830191508360208260051b850101111561025e575f5ffd5b9250929050565b5f5f5f5f5f60608688031215610279575f5ffd5b8535610284816101f9565b9450602086013567ffffffffffffffff81111561029f575f5ffd5b6102ab8882890161021d565b909550935050604086013567ffffffffffffffff8111156102ca575f5ffd5b6102d68882890161021d565b969995985093965092949392505050565b7f4e487b71000000000000000000000000000000000000000000000000000000005f52603260045260245ffd5b5f60208284031215610324575f5ffd5b813561032f816101f9565b939250505056fea264697066735822122013eeb6695dd3947a8a29fb3b89ebd9ae487e240f874e2bb6c585a3bf5b4ffaf764736f6c63430008250033",
}

// BatchTransfer is an auto generated Go binding around an Ethereum contract.
type BatchTransfer struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *BatchTransfer) GetABI() abi.ABI {
	return c.abi
}

// NewBatchTransfer creates a new instance of BatchTransfer.
func NewBatchTransfer() *BatchTransfer {
	parsed, err := BatchTransferMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &BatchTransfer{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *BatchTransfer) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackBatchTransfer is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x1239ec8c.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function batchTransfer(address token, address[] to, uint256[] amounts) returns()
func (batchTransfer *BatchTransfer) PackBatchTransfer(token common.Address, to []common.Address, amounts []*big.Int) []byte {
	enc, err := batchTransfer.abi.Pack("batchTransfer", token, to, amounts)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackBatchTransfer is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x1239ec8c.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function batchTransfer(address token, address[] to, uint256[] amounts) returns()
func (batchTransfer *BatchTransfer) TryPackBatchTransfer(token common.Address, to []common.Address, amounts []*big.Int) ([]byte, error) {
	return batchTransfer.abi.Pack("batchTransfer", token, to, amounts)
}

// UnpackError attempts to decode the provided error data using user-defined
// error definitions.
func (batchTransfer *BatchTransfer) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], batchTransfer.abi.Errors["LengthMismatch"].ID.Bytes()[:4]) {
		return batchTransfer.UnpackLengthMismatchError(raw[4:])
	}
	if bytes.Equal(raw[:4], batchTransfer.abi.Errors["SafeERC20FailedOperation"].ID.Bytes()[:4]) {
		return batchTransfer.UnpackSafeERC20FailedOperationError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// BatchTransferLengthMismatch represents a LengthMismatch error raised by the BatchTransfer contract.
type BatchTransferLengthMismatch struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error LengthMismatch()
func BatchTransferLengthMismatchErrorID() common.Hash {
	return common.HexToHash("0xff633a3803c58b9bc21e58efecee59f27e033cc0b1883fccb4969c76146fe60f")
}

// UnpackLengthMismatchError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error LengthMismatch()
func (batchTransfer *BatchTransfer) UnpackLengthMismatchError(raw []byte) (*BatchTransferLengthMismatch, error) {
	out := new(BatchTransferLengthMismatch)
	if err := batchTransfer.abi.UnpackIntoInterface(out, "LengthMismatch", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// BatchTransferSafeERC20FailedOperation represents a SafeERC20FailedOperation error raised by the BatchTransfer contract.
type BatchTransferSafeERC20FailedOperation struct {
	Token common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error SafeERC20FailedOperation(address token)
func BatchTransferSafeERC20FailedOperationErrorID() common.Hash {
	return common.HexToHash("0x5274afe73c98b4749fc91ffae6b7b574e7842cb2144a159e9377a5f20b32edf9")
}

// UnpackSafeERC20FailedOperationError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error SafeERC20FailedOperation(address token)
func (batchTransfer *BatchTransfer) UnpackSafeERC20FailedOperationError(raw []byte) (*BatchTransferSafeERC20FailedOperation, error) {
	out := new(BatchTransferSafeERC20FailedOperation)
	if err := batchTransfer.abi.UnpackIntoInterface(out, "SafeERC20FailedOperation", raw); err != nil {
		return nil, err
	}
	return out, nil
}
