// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package referencedistributor

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

// ReferenceMerkleDistributorMetaData contains all meta data concerning the ReferenceMerkleDistributor contract.
var ReferenceMerkleDistributorMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"token_\",\"type\":\"address\"},{\"internalType\":\"bytes32\",\"name\":\"merkleRoot_\",\"type\":\"bytes32\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[],\"name\":\"AlreadyClaimed\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"InvalidProof\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"token\",\"type\":\"address\"}],\"name\":\"SafeERC20FailedOperation\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"index\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"Claimed\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"index\",\"type\":\"uint256\"},{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"bytes32[]\",\"name\":\"proof\",\"type\":\"bytes32[]\"}],\"name\":\"claim\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"index\",\"type\":\"uint256\"}],\"name\":\"isClaimed\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"merkleRoot\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"token\",\"outputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	ID:  "ReferenceMerkleDistributor",
	Bin: "0x60c060405234801561000f575f5ffd5b506040516106aa3803806106aa83398101604081905261002e91610044565b6001600160a01b0390911660805260a05261007b565b5f5f60408385031215610055575f5ffd5b82516001600160a01b038116811461006b575f5ffd5b6020939093015192949293505050565b60805160a0516106026100a85f395f8181606801526101a901525f818160c5015261025201526106025ff3fe608060405234801561000f575f5ffd5b506004361061004a575f3560e01c80632e7ba6ef1461004e5780632eb4a7ab146100635780639e34070f1461009d578063fc0c546a146100c0575b5f5ffd5b61006161005c36600461048a565b61010c565b005b61008a7f000000000000000000000000000000000000000000000000000000000000000081565b6040519081526020015b60405180910390f35b6100b06100ab366004610535565b6102d7565b6040519015158152602001610094565b6100e77f000000000000000000000000000000000000000000000000000000000000000081565b60405173ffffffffffffffffffffffffffffffffffffffff9091168152602001610094565b610115856102d7565b1561014c576040517f646cf55800000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b604080516020808201889052606087901b7fffffffffffffffffffffffffffffffffffffffff0000000000000000000000001682840152605480830187905283518084039091018152607490920190925280519101206101ce83837f000000000000000000000000000000000000000000000000000000000000000084610317565b610204576040517f09bde33900000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b61021061010087610579565b6001901b5f806102226101008a61058c565b815260208101919091526040015f208054909117905561027973ffffffffffffffffffffffffffffffffffffffff7f000000000000000000000000000000000000000000000000000000000000000016868661032e565b6040805187815273ffffffffffffffffffffffffffffffffffffffff871660208201529081018590527f4ec90e965519d92681267467f775ada5bd214aa92c0dc93d90a5e880ce9ed0269060600160405180910390a1505050505050565b5f8080806102e76101008661058c565b81526020019081526020015f205490505f610100846103069190610579565b6001901b9182169091149392505050565b5f82610324868685610392565b1495945050505050565b61033b83838360016103d3565b61038d576040517f5274afe700000000000000000000000000000000000000000000000000000000815273ffffffffffffffffffffffffffffffffffffffff8416600482015260240160405180910390fd5b505050565b5f81815b848110156103ca576103c0828787848181106103b4576103b461059f565b9050602002013561045b565b9150600101610396565b50949350505050565b6040517fa9059cbb000000000000000000000000000000000000000000000000000000005f81815273ffffffffffffffffffffffffffffffffffffffff8616600452602485905291602083604481808b5af1925060015f5114831661044f578383151615610443573d5f823e3d81fd5b5f873b113d1516831692505b60405250949350505050565b5f818310610475575f828152602084905260409020610483565b5f8381526020839052604090205b9392505050565b5f5f5f5f5f6080868803121561049e575f5ffd5b85359450602086013573ffffffffffffffffffffffffffffffffffffffff811681146104c8575f5ffd5b935060408601359250606086013567ffffffffffffffff8111156104ea575f5ffd5b8601601f810188136104fa575f5ffd5b803567ffffffffffffffff811115610510575f5ffd5b8860208260051b8401011115610524575f5ffd5b959894975092955050506020019190565b5f60208284031215610545575f5ffd5b5035919050565b7f4e487b71000000000000000000000000000000000000000000000000000000005f52601260045260245ffd5b5f826105875761058761054c565b500690565b5f8261059a5761059a61054c565b500490565b7f4e487b71000000000000000000000000000000000000000000000000000000005f52603260045260245ffdfea264697066735822122084194062ba0fd5a44df78ed36e4760df197b16eeaa5c0c33b082b0f09ce975f264736f6c63430008250033",
}

// ReferenceMerkleDistributor is an auto generated Go binding around an Ethereum contract.
type ReferenceMerkleDistributor struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *ReferenceMerkleDistributor) GetABI() abi.ABI {
	return c.abi
}

// NewReferenceMerkleDistributor creates a new instance of ReferenceMerkleDistributor.
func NewReferenceMerkleDistributor() *ReferenceMerkleDistributor {
	parsed, err := ReferenceMerkleDistributorMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &ReferenceMerkleDistributor{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *ReferenceMerkleDistributor) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(address token_, bytes32 merkleRoot_) returns()
func (referenceMerkleDistributor *ReferenceMerkleDistributor) PackConstructor(token_ common.Address, merkleRoot_ [32]byte) []byte {
	enc, err := referenceMerkleDistributor.abi.Pack("", token_, merkleRoot_)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackClaim is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2e7ba6ef.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function claim(uint256 index, address account, uint256 amount, bytes32[] proof) returns()
func (referenceMerkleDistributor *ReferenceMerkleDistributor) PackClaim(index *big.Int, account common.Address, amount *big.Int, proof [][32]byte) []byte {
	enc, err := referenceMerkleDistributor.abi.Pack("claim", index, account, amount, proof)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackClaim is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2e7ba6ef.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function claim(uint256 index, address account, uint256 amount, bytes32[] proof) returns()
func (referenceMerkleDistributor *ReferenceMerkleDistributor) TryPackClaim(index *big.Int, account common.Address, amount *big.Int, proof [][32]byte) ([]byte, error) {
	return referenceMerkleDistributor.abi.Pack("claim", index, account, amount, proof)
}

// PackIsClaimed is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x9e34070f.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function isClaimed(uint256 index) view returns(bool)
func (referenceMerkleDistributor *ReferenceMerkleDistributor) PackIsClaimed(index *big.Int) []byte {
	enc, err := referenceMerkleDistributor.abi.Pack("isClaimed", index)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackIsClaimed is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x9e34070f.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function isClaimed(uint256 index) view returns(bool)
func (referenceMerkleDistributor *ReferenceMerkleDistributor) TryPackIsClaimed(index *big.Int) ([]byte, error) {
	return referenceMerkleDistributor.abi.Pack("isClaimed", index)
}

// UnpackIsClaimed is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x9e34070f.
//
// Solidity: function isClaimed(uint256 index) view returns(bool)
func (referenceMerkleDistributor *ReferenceMerkleDistributor) UnpackIsClaimed(data []byte) (bool, error) {
	out, err := referenceMerkleDistributor.abi.Unpack("isClaimed", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackMerkleRoot is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2eb4a7ab.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function merkleRoot() view returns(bytes32)
func (referenceMerkleDistributor *ReferenceMerkleDistributor) PackMerkleRoot() []byte {
	enc, err := referenceMerkleDistributor.abi.Pack("merkleRoot")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackMerkleRoot is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2eb4a7ab.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function merkleRoot() view returns(bytes32)
func (referenceMerkleDistributor *ReferenceMerkleDistributor) TryPackMerkleRoot() ([]byte, error) {
	return referenceMerkleDistributor.abi.Pack("merkleRoot")
}

// UnpackMerkleRoot is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x2eb4a7ab.
//
// Solidity: function merkleRoot() view returns(bytes32)
func (referenceMerkleDistributor *ReferenceMerkleDistributor) UnpackMerkleRoot(data []byte) ([32]byte, error) {
	out, err := referenceMerkleDistributor.abi.Unpack("merkleRoot", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackToken is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xfc0c546a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function token() view returns(address)
func (referenceMerkleDistributor *ReferenceMerkleDistributor) PackToken() []byte {
	enc, err := referenceMerkleDistributor.abi.Pack("token")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackToken is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xfc0c546a.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function token() view returns(address)
func (referenceMerkleDistributor *ReferenceMerkleDistributor) TryPackToken() ([]byte, error) {
	return referenceMerkleDistributor.abi.Pack("token")
}

// UnpackToken is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xfc0c546a.
//
// Solidity: function token() view returns(address)
func (referenceMerkleDistributor *ReferenceMerkleDistributor) UnpackToken(data []byte) (common.Address, error) {
	out, err := referenceMerkleDistributor.abi.Unpack("token", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// ReferenceMerkleDistributorClaimed represents a Claimed event raised by the ReferenceMerkleDistributor contract.
type ReferenceMerkleDistributorClaimed struct {
	Index   *big.Int
	Account common.Address
	Amount  *big.Int
	Raw     *types.Log // Blockchain specific contextual infos
}

const ReferenceMerkleDistributorClaimedEventName = "Claimed"

// ContractEventName returns the user-defined event name.
func (ReferenceMerkleDistributorClaimed) ContractEventName() string {
	return ReferenceMerkleDistributorClaimedEventName
}

// UnpackClaimedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Claimed(uint256 index, address account, uint256 amount)
func (referenceMerkleDistributor *ReferenceMerkleDistributor) UnpackClaimedEvent(log *types.Log) (*ReferenceMerkleDistributorClaimed, error) {
	event := "Claimed"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != referenceMerkleDistributor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ReferenceMerkleDistributorClaimed)
	if len(log.Data) > 0 {
		if err := referenceMerkleDistributor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range referenceMerkleDistributor.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// UnpackError attempts to decode the provided error data using user-defined
// error definitions.
func (referenceMerkleDistributor *ReferenceMerkleDistributor) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], referenceMerkleDistributor.abi.Errors["AlreadyClaimed"].ID.Bytes()[:4]) {
		return referenceMerkleDistributor.UnpackAlreadyClaimedError(raw[4:])
	}
	if bytes.Equal(raw[:4], referenceMerkleDistributor.abi.Errors["InvalidProof"].ID.Bytes()[:4]) {
		return referenceMerkleDistributor.UnpackInvalidProofError(raw[4:])
	}
	if bytes.Equal(raw[:4], referenceMerkleDistributor.abi.Errors["SafeERC20FailedOperation"].ID.Bytes()[:4]) {
		return referenceMerkleDistributor.UnpackSafeERC20FailedOperationError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// ReferenceMerkleDistributorAlreadyClaimed represents a AlreadyClaimed error raised by the ReferenceMerkleDistributor contract.
type ReferenceMerkleDistributorAlreadyClaimed struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error AlreadyClaimed()
func ReferenceMerkleDistributorAlreadyClaimedErrorID() common.Hash {
	return common.HexToHash("0x646cf558a545d59f8a09cbf8a0eb8a9332f1d17834843b20fc8d154839dc46d7")
}

// UnpackAlreadyClaimedError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error AlreadyClaimed()
func (referenceMerkleDistributor *ReferenceMerkleDistributor) UnpackAlreadyClaimedError(raw []byte) (*ReferenceMerkleDistributorAlreadyClaimed, error) {
	out := new(ReferenceMerkleDistributorAlreadyClaimed)
	if err := referenceMerkleDistributor.abi.UnpackIntoInterface(out, "AlreadyClaimed", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ReferenceMerkleDistributorInvalidProof represents a InvalidProof error raised by the ReferenceMerkleDistributor contract.
type ReferenceMerkleDistributorInvalidProof struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error InvalidProof()
func ReferenceMerkleDistributorInvalidProofErrorID() common.Hash {
	return common.HexToHash("0x09bde339c6b182be216ee7ef8ccff6338c6ef7993445216112ae575c5438fd27")
}

// UnpackInvalidProofError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error InvalidProof()
func (referenceMerkleDistributor *ReferenceMerkleDistributor) UnpackInvalidProofError(raw []byte) (*ReferenceMerkleDistributorInvalidProof, error) {
	out := new(ReferenceMerkleDistributorInvalidProof)
	if err := referenceMerkleDistributor.abi.UnpackIntoInterface(out, "InvalidProof", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ReferenceMerkleDistributorSafeERC20FailedOperation represents a SafeERC20FailedOperation error raised by the ReferenceMerkleDistributor contract.
type ReferenceMerkleDistributorSafeERC20FailedOperation struct {
	Token common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error SafeERC20FailedOperation(address token)
func ReferenceMerkleDistributorSafeERC20FailedOperationErrorID() common.Hash {
	return common.HexToHash("0x5274afe73c98b4749fc91ffae6b7b574e7842cb2144a159e9377a5f20b32edf9")
}

// UnpackSafeERC20FailedOperationError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error SafeERC20FailedOperation(address token)
func (referenceMerkleDistributor *ReferenceMerkleDistributor) UnpackSafeERC20FailedOperationError(raw []byte) (*ReferenceMerkleDistributorSafeERC20FailedOperation, error) {
	out := new(ReferenceMerkleDistributorSafeERC20FailedOperation)
	if err := referenceMerkleDistributor.abi.UnpackIntoInterface(out, "SafeERC20FailedOperation", raw); err != nil {
		return nil, err
	}
	return out, nil
}
