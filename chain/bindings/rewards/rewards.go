// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package rewards

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

// RewardsDistributorMetaData contains all meta data concerning the RewardsDistributor contract.
var RewardsDistributorMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"token_\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"admin\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"operator\",\"type\":\"address\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[],\"name\":\"AccessControlBadConfirmation\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"internalType\":\"bytes32\",\"name\":\"neededRole\",\"type\":\"bytes32\"}],\"name\":\"AccessControlUnauthorizedAccount\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"EnforcedPause\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ExpectedPause\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"InvalidProof\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"cumulativeAmount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"alreadyClaimed\",\"type\":\"uint256\"}],\"name\":\"NothingToClaim\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"token\",\"type\":\"address\"}],\"name\":\"SafeERC20FailedOperation\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"expected\",\"type\":\"uint64\"},{\"internalType\":\"uint64\",\"name\":\"got\",\"type\":\"uint64\"}],\"name\":\"UnexpectedEpoch\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroAddress\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroRoot\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"cumulativeAmount\",\"type\":\"uint256\"},{\"indexed\":true,\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"}],\"name\":\"Claimed\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":false,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"Paused\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"previousAdminRole\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"newAdminRole\",\"type\":\"bytes32\"}],\"name\":\"RoleAdminChanged\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"sender\",\"type\":\"address\"}],\"name\":\"RoleGranted\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"sender\",\"type\":\"address\"}],\"name\":\"RoleRevoked\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"uint64\",\"name\":\"epoch\",\"type\":\"uint64\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"totalCumulative\",\"type\":\"uint256\"}],\"name\":\"RootPosted\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":false,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"Unpaused\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"DEFAULT_ADMIN_ROLE\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"OPERATOR_ROLE\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"cumulativeAmount\",\"type\":\"uint256\"},{\"internalType\":\"bytes32[]\",\"name\":\"proof\",\"type\":\"bytes32[]\"}],\"name\":\"claim\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"cumulativeAmount\",\"type\":\"uint256\"},{\"internalType\":\"bytes32[]\",\"name\":\"proof\",\"type\":\"bytes32[]\"}],\"name\":\"claimable\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"claimed\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"epoch\",\"outputs\":[{\"internalType\":\"uint64\",\"name\":\"\",\"type\":\"uint64\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"}],\"name\":\"getRoleAdmin\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"grantRole\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"hasRole\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"merkleRoot\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"pause\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"paused\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"newEpoch\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"},{\"internalType\":\"uint256\",\"name\":\"totalCumulative\",\"type\":\"uint256\"}],\"name\":\"postRoot\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"callerConfirmation\",\"type\":\"address\"}],\"name\":\"renounceRole\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"revokeRole\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes4\",\"name\":\"interfaceId\",\"type\":\"bytes4\"}],\"name\":\"supportsInterface\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"token\",\"outputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"unpause\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "RewardsDistributor",
	Bin: "0x60a060405234801561000f575f5ffd5b5060405161123538038061123583398101604081905261002e91610184565b6001600160a01b038316158061004b57506001600160a01b038216155b156100695760405163d92e233d60e01b815260040160405180910390fd5b6001600160a01b0383166080526100805f836100c4565b506001600160a01b038116156100bc576100ba7f97667070c54ef182b0f5858b034beac1b6f3089aa2d3188bb1e8929f4fa9b929826100c4565b505b5050506101ce565b5f828152602081815260408083206001600160a01b038516845290915281205460ff16610164575f838152602081815260408083206001600160a01b03861684529091529020805460ff1916600117905561011c3390565b6001600160a01b0316826001600160a01b0316847f2f8788117e7eff1d82e926ec794901d17c78024a50270940304540a733656f0d60405160405180910390a4506001610167565b505f5b92915050565b6001600160a01b0381168114610181575f5ffd5b50565b5f5f5f60608486031215610196575f5ffd5b83516101a18161016d565b60208501519093506101b28161016d565b60408501519092506101c38161016d565b809150509250925092565b6080516110486101ed5f395f81816102ea015261063a01526110485ff3fe608060405234801561000f575f5ffd5b506004361061012f575f3560e01c8063900cf0cf116100ad578063d547741f1161007d578063e8e2473411610063578063e8e24734146102ab578063f5b541a6146102be578063fc0c546a146102e5575f5ffd5b8063d547741f14610285578063e17e13f214610298575f5ffd5b8063900cf0cf146101ea57806391d148541461021c578063a217fddf1461025f578063c884ef8314610266575f5ffd5b806336568abe116101025780633f4ba83a116100e85780633f4ba83a146101cf5780635c975abb146101d75780638456cb59146101e2575f5ffd5b806336568abe146101a95780633d13f874146101bc575f5ffd5b806301ffc9a714610133578063248a9ca31461015b5780632eb4a7ab1461018b5780632f2ff15d14610194575b5f5ffd5b610146610141366004610e00565b610331565b60405190151581526020015b60405180910390f35b61017d610169366004610e3f565b5f9081526020819052604090206001015490565b604051908152602001610152565b61017d60025481565b6101a76101a2366004610e7e565b6103c9565b005b6101a76101b7366004610e7e565b6103f3565b61017d6101ca366004610ea8565b610451565b6101a761066b565b60015460ff16610146565b6101a7610680565b60015461020390610100900467ffffffffffffffff1681565b60405167ffffffffffffffff9091168152602001610152565b61014661022a366004610e7e565b5f9182526020828152604080842073ffffffffffffffffffffffffffffffffffffffff93909316845291905290205460ff1690565b61017d5f81565b61017d610274366004610f2e565b60036020525f908152604090205481565b6101a7610293366004610e7e565b610692565b6101a76102a6366004610f47565b6106b6565b61017d6102b9366004610ea8565b61081c565b61017d7f97667070c54ef182b0f5858b034beac1b6f3089aa2d3188bb1e8929f4fa9b92981565b61030c7f000000000000000000000000000000000000000000000000000000000000000081565b60405173ffffffffffffffffffffffffffffffffffffffff9091168152602001610152565b5f7fffffffff0000000000000000000000000000000000000000000000000000000082167f7965db0b0000000000000000000000000000000000000000000000000000000014806103c357507f01ffc9a7000000000000000000000000000000000000000000000000000000007fffffffff000000000000000000000000000000000000000000000000000000008316145b92915050565b5f828152602081905260409020600101546103e381610900565b6103ed838361090a565b50505050565b73ffffffffffffffffffffffffffffffffffffffff81163314610442576040517f6697b23200000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b61044c8282610a03565b505050565b5f61045a610abc565b6040805173ffffffffffffffffffffffffffffffffffffffff871660208201529081018590525f90606001604080517fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0818403018152828252805160209182012090830152016040516020818303038152906040528051906020012090506104e6848460025484610afb565b61051c576040517f09bde33900000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b73ffffffffffffffffffffffffffffffffffffffff86165f908152600360205260409020548086116105a5576040517f0cfa2bb000000000000000000000000000000000000000000000000000000000815273ffffffffffffffffffffffffffffffffffffffff8816600482015260248101879052604481018290526064015b60405180910390fd5b73ffffffffffffffffffffffffffffffffffffffff87165f818152600360209081526040918290208990556001548251858b038082529281018b9052919650610100900467ffffffffffffffff1692917f3469dd5cb9d967e391fbd9b9a2aa9b98bd93572408f5f112a926ea72b1090256910160405180910390a361066173ffffffffffffffffffffffffffffffffffffffff7f0000000000000000000000000000000000000000000000000000000000000000168885610b12565b5050949350505050565b5f61067581610900565b61067d610b6d565b50565b5f61068a81610900565b61067d610bea565b5f828152602081905260409020600101546106ac81610900565b6103ed8383610a03565b7f97667070c54ef182b0f5858b034beac1b6f3089aa2d3188bb1e8929f4fa9b9296106e081610900565b600180545f916106ff91610100900467ffffffffffffffff1690610fb2565b90508067ffffffffffffffff168567ffffffffffffffff1614610762576040517f3e481fd300000000000000000000000000000000000000000000000000000000815267ffffffffffffffff80831660048301528616602482015260440161059c565b83610799576040517fb263ae7300000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b600180547fffffffffffffffffffffffffffffffffffffffffffffff0000000000000000ff1661010067ffffffffffffffff881690810291909117909155600285905560408051868152602081018690527f1cea392bfc3b2a6354298c520a779ed4cd01b7eb00427c5494a50e3c0c6774d4910160405180910390a25050505050565b6040805173ffffffffffffffffffffffffffffffffffffffff861660208201529081018490525f908190606001604080517fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0818403018152828252805160209182012090830152016040516020818303038152906040528051906020012090506108aa848460025484610afb565b6108b7575f9150506108f8565b73ffffffffffffffffffffffffffffffffffffffff86165f908152600360205260409020548086116108e9575f6108f3565b6108f38187610fd2565b925050505b949350505050565b61067d8133610c43565b5f8281526020818152604080832073ffffffffffffffffffffffffffffffffffffffff8516845290915281205460ff166109fc575f8381526020818152604080832073ffffffffffffffffffffffffffffffffffffffff86168452909152902080547fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0016600117905561099a3390565b73ffffffffffffffffffffffffffffffffffffffff168273ffffffffffffffffffffffffffffffffffffffff16847f2f8788117e7eff1d82e926ec794901d17c78024a50270940304540a733656f0d60405160405180910390a45060016103c3565b505f6103c3565b5f8281526020818152604080832073ffffffffffffffffffffffffffffffffffffffff8516845290915281205460ff16156109fc575f8381526020818152604080832073ffffffffffffffffffffffffffffffffffffffff8616808552925280832080547fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0016905551339286917ff6391f5c32d9c69d2a47ea670b442974b53935d1edc7fd64eb21e047a839171b9190a45060016103c3565b60015460ff1615610af9576040517fd93c066500000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b565b5f82610b08868685610ccc565b1495945050505050565b610b1f8383836001610d0d565b61044c576040517f5274afe700000000000000000000000000000000000000000000000000000000815273ffffffffffffffffffffffffffffffffffffffff8416600482015260240161059c565b610b75610d95565b600180547fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff001690557f5db9ee0a495bf2e6ff9c91a7834c1ba4fdd244a5e8aa4e537bd38aeae4b073aa335b60405173ffffffffffffffffffffffffffffffffffffffff909116815260200160405180910390a1565b610bf2610abc565b600180547fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0016811790557f62e78cea01bee320cd4e420270b5ea74000d11b0c9f74754ebdbfc544b05a25833610bc0565b5f8281526020818152604080832073ffffffffffffffffffffffffffffffffffffffff8516845290915290205460ff16610cc8576040517fe2517d3f00000000000000000000000000000000000000000000000000000000815273ffffffffffffffffffffffffffffffffffffffff821660048201526024810183905260440161059c565b5050565b5f81815b84811015610d0457610cfa82878784818110610cee57610cee610fe5565b90506020020135610dd1565b9150600101610cd0565b50949350505050565b6040517fa9059cbb000000000000000000000000000000000000000000000000000000005f81815273ffffffffffffffffffffffffffffffffffffffff8616600452602485905291602083604481808b5af1925060015f51148316610d89578383151615610d7d573d5f823e3d81fd5b5f873b113d1516831692505b60405250949350505050565b60015460ff16610af9576040517f8dfc202b00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b5f818310610deb575f828152602084905260409020610df9565b5f8381526020839052604090205b9392505050565b5f60208284031215610e10575f5ffd5b81357fffffffff0000000000000000000000000000000000000000000000000000000081168114610df9575f5ffd5b5f60208284031215610e4f575f5ffd5b5035919050565b803573ffffffffffffffffffffffffffffffffffffffff81168114610e79575f5ffd5b919050565b5f5f60408385031215610e8f575f5ffd5b82359150610e9f60208401610e56565b90509250929050565b5f5f5f5f60608587031215610ebb575f5ffd5b610ec485610e56565b935060208501359250604085013567ffffffffffffffff811115610ee6575f5ffd5b8501601f81018713610ef6575f5ffd5b803567ffffffffffffffff811115610f0c575f5ffd5b8760208260051b8401011115610f20575f5ffd5b949793965060200194505050565b5f60208284031215610f3e575f5ffd5b610df982610e56565b5f5f5f60608486031215610f59575f5ffd5b833567ffffffffffffffff81168114610f70575f5ffd5b95602085013595506040909401359392505050565b7f4e487b71000000000000000000000000000000000000000000000000000000005f52601160045260245ffd5b67ffffffffffffffff81811683821601908111156103c3576103c3610f85565b818103818111156103c3576103c3610f85565b7f4e487b71000000000000000000000000000000000000000000000000000000005f52603260045260245ffdfea2646970667358221220285b3807b8546391a7d9db7fe9991fb82b700f25c038cfb383cbca84573ebd7164736f6c63430008250033",
}

// RewardsDistributor is an auto generated Go binding around an Ethereum contract.
type RewardsDistributor struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *RewardsDistributor) GetABI() abi.ABI {
	return c.abi
}

// NewRewardsDistributor creates a new instance of RewardsDistributor.
func NewRewardsDistributor() *RewardsDistributor {
	parsed, err := RewardsDistributorMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &RewardsDistributor{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *RewardsDistributor) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(address token_, address admin, address operator) returns()
func (rewardsDistributor *RewardsDistributor) PackConstructor(token_ common.Address, admin common.Address, operator common.Address) []byte {
	enc, err := rewardsDistributor.abi.Pack("", token_, admin, operator)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackDEFAULTADMINROLE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa217fddf.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function DEFAULT_ADMIN_ROLE() view returns(bytes32)
func (rewardsDistributor *RewardsDistributor) PackDEFAULTADMINROLE() []byte {
	enc, err := rewardsDistributor.abi.Pack("DEFAULT_ADMIN_ROLE")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDEFAULTADMINROLE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa217fddf.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function DEFAULT_ADMIN_ROLE() view returns(bytes32)
func (rewardsDistributor *RewardsDistributor) TryPackDEFAULTADMINROLE() ([]byte, error) {
	return rewardsDistributor.abi.Pack("DEFAULT_ADMIN_ROLE")
}

// UnpackDEFAULTADMINROLE is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xa217fddf.
//
// Solidity: function DEFAULT_ADMIN_ROLE() view returns(bytes32)
func (rewardsDistributor *RewardsDistributor) UnpackDEFAULTADMINROLE(data []byte) ([32]byte, error) {
	out, err := rewardsDistributor.abi.Unpack("DEFAULT_ADMIN_ROLE", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackOPERATORROLE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf5b541a6.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function OPERATOR_ROLE() view returns(bytes32)
func (rewardsDistributor *RewardsDistributor) PackOPERATORROLE() []byte {
	enc, err := rewardsDistributor.abi.Pack("OPERATOR_ROLE")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackOPERATORROLE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf5b541a6.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function OPERATOR_ROLE() view returns(bytes32)
func (rewardsDistributor *RewardsDistributor) TryPackOPERATORROLE() ([]byte, error) {
	return rewardsDistributor.abi.Pack("OPERATOR_ROLE")
}

// UnpackOPERATORROLE is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xf5b541a6.
//
// Solidity: function OPERATOR_ROLE() view returns(bytes32)
func (rewardsDistributor *RewardsDistributor) UnpackOPERATORROLE(data []byte) ([32]byte, error) {
	out, err := rewardsDistributor.abi.Unpack("OPERATOR_ROLE", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackClaim is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3d13f874.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function claim(address account, uint256 cumulativeAmount, bytes32[] proof) returns(uint256 amount)
func (rewardsDistributor *RewardsDistributor) PackClaim(account common.Address, cumulativeAmount *big.Int, proof [][32]byte) []byte {
	enc, err := rewardsDistributor.abi.Pack("claim", account, cumulativeAmount, proof)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackClaim is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3d13f874.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function claim(address account, uint256 cumulativeAmount, bytes32[] proof) returns(uint256 amount)
func (rewardsDistributor *RewardsDistributor) TryPackClaim(account common.Address, cumulativeAmount *big.Int, proof [][32]byte) ([]byte, error) {
	return rewardsDistributor.abi.Pack("claim", account, cumulativeAmount, proof)
}

// UnpackClaim is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x3d13f874.
//
// Solidity: function claim(address account, uint256 cumulativeAmount, bytes32[] proof) returns(uint256 amount)
func (rewardsDistributor *RewardsDistributor) UnpackClaim(data []byte) (*big.Int, error) {
	out, err := rewardsDistributor.abi.Unpack("claim", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackClaimable is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe8e24734.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function claimable(address account, uint256 cumulativeAmount, bytes32[] proof) view returns(uint256)
func (rewardsDistributor *RewardsDistributor) PackClaimable(account common.Address, cumulativeAmount *big.Int, proof [][32]byte) []byte {
	enc, err := rewardsDistributor.abi.Pack("claimable", account, cumulativeAmount, proof)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackClaimable is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe8e24734.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function claimable(address account, uint256 cumulativeAmount, bytes32[] proof) view returns(uint256)
func (rewardsDistributor *RewardsDistributor) TryPackClaimable(account common.Address, cumulativeAmount *big.Int, proof [][32]byte) ([]byte, error) {
	return rewardsDistributor.abi.Pack("claimable", account, cumulativeAmount, proof)
}

// UnpackClaimable is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xe8e24734.
//
// Solidity: function claimable(address account, uint256 cumulativeAmount, bytes32[] proof) view returns(uint256)
func (rewardsDistributor *RewardsDistributor) UnpackClaimable(data []byte) (*big.Int, error) {
	out, err := rewardsDistributor.abi.Unpack("claimable", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackClaimed is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc884ef83.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function claimed(address account) view returns(uint256)
func (rewardsDistributor *RewardsDistributor) PackClaimed(account common.Address) []byte {
	enc, err := rewardsDistributor.abi.Pack("claimed", account)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackClaimed is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc884ef83.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function claimed(address account) view returns(uint256)
func (rewardsDistributor *RewardsDistributor) TryPackClaimed(account common.Address) ([]byte, error) {
	return rewardsDistributor.abi.Pack("claimed", account)
}

// UnpackClaimed is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xc884ef83.
//
// Solidity: function claimed(address account) view returns(uint256)
func (rewardsDistributor *RewardsDistributor) UnpackClaimed(data []byte) (*big.Int, error) {
	out, err := rewardsDistributor.abi.Unpack("claimed", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackEpoch is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x900cf0cf.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function epoch() view returns(uint64)
func (rewardsDistributor *RewardsDistributor) PackEpoch() []byte {
	enc, err := rewardsDistributor.abi.Pack("epoch")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackEpoch is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x900cf0cf.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function epoch() view returns(uint64)
func (rewardsDistributor *RewardsDistributor) TryPackEpoch() ([]byte, error) {
	return rewardsDistributor.abi.Pack("epoch")
}

// UnpackEpoch is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x900cf0cf.
//
// Solidity: function epoch() view returns(uint64)
func (rewardsDistributor *RewardsDistributor) UnpackEpoch(data []byte) (uint64, error) {
	out, err := rewardsDistributor.abi.Unpack("epoch", data)
	if err != nil {
		return *new(uint64), err
	}
	out0 := *abi.ConvertType(out[0], new(uint64)).(*uint64)
	return out0, nil
}

// PackGetRoleAdmin is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x248a9ca3.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function getRoleAdmin(bytes32 role) view returns(bytes32)
func (rewardsDistributor *RewardsDistributor) PackGetRoleAdmin(role [32]byte) []byte {
	enc, err := rewardsDistributor.abi.Pack("getRoleAdmin", role)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackGetRoleAdmin is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x248a9ca3.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function getRoleAdmin(bytes32 role) view returns(bytes32)
func (rewardsDistributor *RewardsDistributor) TryPackGetRoleAdmin(role [32]byte) ([]byte, error) {
	return rewardsDistributor.abi.Pack("getRoleAdmin", role)
}

// UnpackGetRoleAdmin is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x248a9ca3.
//
// Solidity: function getRoleAdmin(bytes32 role) view returns(bytes32)
func (rewardsDistributor *RewardsDistributor) UnpackGetRoleAdmin(data []byte) ([32]byte, error) {
	out, err := rewardsDistributor.abi.Unpack("getRoleAdmin", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackGrantRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2f2ff15d.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function grantRole(bytes32 role, address account) returns()
func (rewardsDistributor *RewardsDistributor) PackGrantRole(role [32]byte, account common.Address) []byte {
	enc, err := rewardsDistributor.abi.Pack("grantRole", role, account)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackGrantRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2f2ff15d.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function grantRole(bytes32 role, address account) returns()
func (rewardsDistributor *RewardsDistributor) TryPackGrantRole(role [32]byte, account common.Address) ([]byte, error) {
	return rewardsDistributor.abi.Pack("grantRole", role, account)
}

// PackHasRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x91d14854.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function hasRole(bytes32 role, address account) view returns(bool)
func (rewardsDistributor *RewardsDistributor) PackHasRole(role [32]byte, account common.Address) []byte {
	enc, err := rewardsDistributor.abi.Pack("hasRole", role, account)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackHasRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x91d14854.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function hasRole(bytes32 role, address account) view returns(bool)
func (rewardsDistributor *RewardsDistributor) TryPackHasRole(role [32]byte, account common.Address) ([]byte, error) {
	return rewardsDistributor.abi.Pack("hasRole", role, account)
}

// UnpackHasRole is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x91d14854.
//
// Solidity: function hasRole(bytes32 role, address account) view returns(bool)
func (rewardsDistributor *RewardsDistributor) UnpackHasRole(data []byte) (bool, error) {
	out, err := rewardsDistributor.abi.Unpack("hasRole", data)
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
func (rewardsDistributor *RewardsDistributor) PackMerkleRoot() []byte {
	enc, err := rewardsDistributor.abi.Pack("merkleRoot")
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
func (rewardsDistributor *RewardsDistributor) TryPackMerkleRoot() ([]byte, error) {
	return rewardsDistributor.abi.Pack("merkleRoot")
}

// UnpackMerkleRoot is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x2eb4a7ab.
//
// Solidity: function merkleRoot() view returns(bytes32)
func (rewardsDistributor *RewardsDistributor) UnpackMerkleRoot(data []byte) ([32]byte, error) {
	out, err := rewardsDistributor.abi.Unpack("merkleRoot", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackPause is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8456cb59.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function pause() returns()
func (rewardsDistributor *RewardsDistributor) PackPause() []byte {
	enc, err := rewardsDistributor.abi.Pack("pause")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPause is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8456cb59.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function pause() returns()
func (rewardsDistributor *RewardsDistributor) TryPackPause() ([]byte, error) {
	return rewardsDistributor.abi.Pack("pause")
}

// PackPaused is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5c975abb.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function paused() view returns(bool)
func (rewardsDistributor *RewardsDistributor) PackPaused() []byte {
	enc, err := rewardsDistributor.abi.Pack("paused")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPaused is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5c975abb.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function paused() view returns(bool)
func (rewardsDistributor *RewardsDistributor) TryPackPaused() ([]byte, error) {
	return rewardsDistributor.abi.Pack("paused")
}

// UnpackPaused is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x5c975abb.
//
// Solidity: function paused() view returns(bool)
func (rewardsDistributor *RewardsDistributor) UnpackPaused(data []byte) (bool, error) {
	out, err := rewardsDistributor.abi.Unpack("paused", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackPostRoot is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe17e13f2.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function postRoot(uint64 newEpoch, bytes32 root, uint256 totalCumulative) returns()
func (rewardsDistributor *RewardsDistributor) PackPostRoot(newEpoch uint64, root [32]byte, totalCumulative *big.Int) []byte {
	enc, err := rewardsDistributor.abi.Pack("postRoot", newEpoch, root, totalCumulative)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPostRoot is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe17e13f2.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function postRoot(uint64 newEpoch, bytes32 root, uint256 totalCumulative) returns()
func (rewardsDistributor *RewardsDistributor) TryPackPostRoot(newEpoch uint64, root [32]byte, totalCumulative *big.Int) ([]byte, error) {
	return rewardsDistributor.abi.Pack("postRoot", newEpoch, root, totalCumulative)
}

// PackRenounceRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x36568abe.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function renounceRole(bytes32 role, address callerConfirmation) returns()
func (rewardsDistributor *RewardsDistributor) PackRenounceRole(role [32]byte, callerConfirmation common.Address) []byte {
	enc, err := rewardsDistributor.abi.Pack("renounceRole", role, callerConfirmation)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRenounceRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x36568abe.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function renounceRole(bytes32 role, address callerConfirmation) returns()
func (rewardsDistributor *RewardsDistributor) TryPackRenounceRole(role [32]byte, callerConfirmation common.Address) ([]byte, error) {
	return rewardsDistributor.abi.Pack("renounceRole", role, callerConfirmation)
}

// PackRevokeRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xd547741f.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function revokeRole(bytes32 role, address account) returns()
func (rewardsDistributor *RewardsDistributor) PackRevokeRole(role [32]byte, account common.Address) []byte {
	enc, err := rewardsDistributor.abi.Pack("revokeRole", role, account)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRevokeRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xd547741f.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function revokeRole(bytes32 role, address account) returns()
func (rewardsDistributor *RewardsDistributor) TryPackRevokeRole(role [32]byte, account common.Address) ([]byte, error) {
	return rewardsDistributor.abi.Pack("revokeRole", role, account)
}

// PackSupportsInterface is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x01ffc9a7.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function supportsInterface(bytes4 interfaceId) view returns(bool)
func (rewardsDistributor *RewardsDistributor) PackSupportsInterface(interfaceId [4]byte) []byte {
	enc, err := rewardsDistributor.abi.Pack("supportsInterface", interfaceId)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSupportsInterface is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x01ffc9a7.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function supportsInterface(bytes4 interfaceId) view returns(bool)
func (rewardsDistributor *RewardsDistributor) TryPackSupportsInterface(interfaceId [4]byte) ([]byte, error) {
	return rewardsDistributor.abi.Pack("supportsInterface", interfaceId)
}

// UnpackSupportsInterface is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x01ffc9a7.
//
// Solidity: function supportsInterface(bytes4 interfaceId) view returns(bool)
func (rewardsDistributor *RewardsDistributor) UnpackSupportsInterface(data []byte) (bool, error) {
	out, err := rewardsDistributor.abi.Unpack("supportsInterface", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackToken is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xfc0c546a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function token() view returns(address)
func (rewardsDistributor *RewardsDistributor) PackToken() []byte {
	enc, err := rewardsDistributor.abi.Pack("token")
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
func (rewardsDistributor *RewardsDistributor) TryPackToken() ([]byte, error) {
	return rewardsDistributor.abi.Pack("token")
}

// UnpackToken is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xfc0c546a.
//
// Solidity: function token() view returns(address)
func (rewardsDistributor *RewardsDistributor) UnpackToken(data []byte) (common.Address, error) {
	out, err := rewardsDistributor.abi.Unpack("token", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackUnpause is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3f4ba83a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function unpause() returns()
func (rewardsDistributor *RewardsDistributor) PackUnpause() []byte {
	enc, err := rewardsDistributor.abi.Pack("unpause")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackUnpause is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3f4ba83a.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function unpause() returns()
func (rewardsDistributor *RewardsDistributor) TryPackUnpause() ([]byte, error) {
	return rewardsDistributor.abi.Pack("unpause")
}

// RewardsDistributorClaimed represents a Claimed event raised by the RewardsDistributor contract.
type RewardsDistributorClaimed struct {
	Account          common.Address
	Amount           *big.Int
	CumulativeAmount *big.Int
	Epoch            uint64
	Raw              *types.Log // Blockchain specific contextual infos
}

const RewardsDistributorClaimedEventName = "Claimed"

// ContractEventName returns the user-defined event name.
func (RewardsDistributorClaimed) ContractEventName() string {
	return RewardsDistributorClaimedEventName
}

// UnpackClaimedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Claimed(address indexed account, uint256 amount, uint256 cumulativeAmount, uint64 indexed epoch)
func (rewardsDistributor *RewardsDistributor) UnpackClaimedEvent(log *types.Log) (*RewardsDistributorClaimed, error) {
	event := "Claimed"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != rewardsDistributor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RewardsDistributorClaimed)
	if len(log.Data) > 0 {
		if err := rewardsDistributor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range rewardsDistributor.abi.Events[event].Inputs {
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

// RewardsDistributorPaused represents a Paused event raised by the RewardsDistributor contract.
type RewardsDistributorPaused struct {
	Account common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const RewardsDistributorPausedEventName = "Paused"

// ContractEventName returns the user-defined event name.
func (RewardsDistributorPaused) ContractEventName() string {
	return RewardsDistributorPausedEventName
}

// UnpackPausedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Paused(address account)
func (rewardsDistributor *RewardsDistributor) UnpackPausedEvent(log *types.Log) (*RewardsDistributorPaused, error) {
	event := "Paused"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != rewardsDistributor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RewardsDistributorPaused)
	if len(log.Data) > 0 {
		if err := rewardsDistributor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range rewardsDistributor.abi.Events[event].Inputs {
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

// RewardsDistributorRoleAdminChanged represents a RoleAdminChanged event raised by the RewardsDistributor contract.
type RewardsDistributorRoleAdminChanged struct {
	Role              [32]byte
	PreviousAdminRole [32]byte
	NewAdminRole      [32]byte
	Raw               *types.Log // Blockchain specific contextual infos
}

const RewardsDistributorRoleAdminChangedEventName = "RoleAdminChanged"

// ContractEventName returns the user-defined event name.
func (RewardsDistributorRoleAdminChanged) ContractEventName() string {
	return RewardsDistributorRoleAdminChangedEventName
}

// UnpackRoleAdminChangedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole)
func (rewardsDistributor *RewardsDistributor) UnpackRoleAdminChangedEvent(log *types.Log) (*RewardsDistributorRoleAdminChanged, error) {
	event := "RoleAdminChanged"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != rewardsDistributor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RewardsDistributorRoleAdminChanged)
	if len(log.Data) > 0 {
		if err := rewardsDistributor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range rewardsDistributor.abi.Events[event].Inputs {
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

// RewardsDistributorRoleGranted represents a RoleGranted event raised by the RewardsDistributor contract.
type RewardsDistributorRoleGranted struct {
	Role    [32]byte
	Account common.Address
	Sender  common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const RewardsDistributorRoleGrantedEventName = "RoleGranted"

// ContractEventName returns the user-defined event name.
func (RewardsDistributorRoleGranted) ContractEventName() string {
	return RewardsDistributorRoleGrantedEventName
}

// UnpackRoleGrantedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)
func (rewardsDistributor *RewardsDistributor) UnpackRoleGrantedEvent(log *types.Log) (*RewardsDistributorRoleGranted, error) {
	event := "RoleGranted"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != rewardsDistributor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RewardsDistributorRoleGranted)
	if len(log.Data) > 0 {
		if err := rewardsDistributor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range rewardsDistributor.abi.Events[event].Inputs {
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

// RewardsDistributorRoleRevoked represents a RoleRevoked event raised by the RewardsDistributor contract.
type RewardsDistributorRoleRevoked struct {
	Role    [32]byte
	Account common.Address
	Sender  common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const RewardsDistributorRoleRevokedEventName = "RoleRevoked"

// ContractEventName returns the user-defined event name.
func (RewardsDistributorRoleRevoked) ContractEventName() string {
	return RewardsDistributorRoleRevokedEventName
}

// UnpackRoleRevokedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)
func (rewardsDistributor *RewardsDistributor) UnpackRoleRevokedEvent(log *types.Log) (*RewardsDistributorRoleRevoked, error) {
	event := "RoleRevoked"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != rewardsDistributor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RewardsDistributorRoleRevoked)
	if len(log.Data) > 0 {
		if err := rewardsDistributor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range rewardsDistributor.abi.Events[event].Inputs {
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

// RewardsDistributorRootPosted represents a RootPosted event raised by the RewardsDistributor contract.
type RewardsDistributorRootPosted struct {
	Epoch           uint64
	Root            [32]byte
	TotalCumulative *big.Int
	Raw             *types.Log // Blockchain specific contextual infos
}

const RewardsDistributorRootPostedEventName = "RootPosted"

// ContractEventName returns the user-defined event name.
func (RewardsDistributorRootPosted) ContractEventName() string {
	return RewardsDistributorRootPostedEventName
}

// UnpackRootPostedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event RootPosted(uint64 indexed epoch, bytes32 root, uint256 totalCumulative)
func (rewardsDistributor *RewardsDistributor) UnpackRootPostedEvent(log *types.Log) (*RewardsDistributorRootPosted, error) {
	event := "RootPosted"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != rewardsDistributor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RewardsDistributorRootPosted)
	if len(log.Data) > 0 {
		if err := rewardsDistributor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range rewardsDistributor.abi.Events[event].Inputs {
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

// RewardsDistributorUnpaused represents a Unpaused event raised by the RewardsDistributor contract.
type RewardsDistributorUnpaused struct {
	Account common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const RewardsDistributorUnpausedEventName = "Unpaused"

// ContractEventName returns the user-defined event name.
func (RewardsDistributorUnpaused) ContractEventName() string {
	return RewardsDistributorUnpausedEventName
}

// UnpackUnpausedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Unpaused(address account)
func (rewardsDistributor *RewardsDistributor) UnpackUnpausedEvent(log *types.Log) (*RewardsDistributorUnpaused, error) {
	event := "Unpaused"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != rewardsDistributor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RewardsDistributorUnpaused)
	if len(log.Data) > 0 {
		if err := rewardsDistributor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range rewardsDistributor.abi.Events[event].Inputs {
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
func (rewardsDistributor *RewardsDistributor) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], rewardsDistributor.abi.Errors["AccessControlBadConfirmation"].ID.Bytes()[:4]) {
		return rewardsDistributor.UnpackAccessControlBadConfirmationError(raw[4:])
	}
	if bytes.Equal(raw[:4], rewardsDistributor.abi.Errors["AccessControlUnauthorizedAccount"].ID.Bytes()[:4]) {
		return rewardsDistributor.UnpackAccessControlUnauthorizedAccountError(raw[4:])
	}
	if bytes.Equal(raw[:4], rewardsDistributor.abi.Errors["EnforcedPause"].ID.Bytes()[:4]) {
		return rewardsDistributor.UnpackEnforcedPauseError(raw[4:])
	}
	if bytes.Equal(raw[:4], rewardsDistributor.abi.Errors["ExpectedPause"].ID.Bytes()[:4]) {
		return rewardsDistributor.UnpackExpectedPauseError(raw[4:])
	}
	if bytes.Equal(raw[:4], rewardsDistributor.abi.Errors["InvalidProof"].ID.Bytes()[:4]) {
		return rewardsDistributor.UnpackInvalidProofError(raw[4:])
	}
	if bytes.Equal(raw[:4], rewardsDistributor.abi.Errors["NothingToClaim"].ID.Bytes()[:4]) {
		return rewardsDistributor.UnpackNothingToClaimError(raw[4:])
	}
	if bytes.Equal(raw[:4], rewardsDistributor.abi.Errors["SafeERC20FailedOperation"].ID.Bytes()[:4]) {
		return rewardsDistributor.UnpackSafeERC20FailedOperationError(raw[4:])
	}
	if bytes.Equal(raw[:4], rewardsDistributor.abi.Errors["UnexpectedEpoch"].ID.Bytes()[:4]) {
		return rewardsDistributor.UnpackUnexpectedEpochError(raw[4:])
	}
	if bytes.Equal(raw[:4], rewardsDistributor.abi.Errors["ZeroAddress"].ID.Bytes()[:4]) {
		return rewardsDistributor.UnpackZeroAddressError(raw[4:])
	}
	if bytes.Equal(raw[:4], rewardsDistributor.abi.Errors["ZeroRoot"].ID.Bytes()[:4]) {
		return rewardsDistributor.UnpackZeroRootError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// RewardsDistributorAccessControlBadConfirmation represents a AccessControlBadConfirmation error raised by the RewardsDistributor contract.
type RewardsDistributorAccessControlBadConfirmation struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error AccessControlBadConfirmation()
func RewardsDistributorAccessControlBadConfirmationErrorID() common.Hash {
	return common.HexToHash("0x6697b23232a647058342c0724fe7c415cab25915b54e5dbc03f233173d37b41c")
}

// UnpackAccessControlBadConfirmationError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error AccessControlBadConfirmation()
func (rewardsDistributor *RewardsDistributor) UnpackAccessControlBadConfirmationError(raw []byte) (*RewardsDistributorAccessControlBadConfirmation, error) {
	out := new(RewardsDistributorAccessControlBadConfirmation)
	if err := rewardsDistributor.abi.UnpackIntoInterface(out, "AccessControlBadConfirmation", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// RewardsDistributorAccessControlUnauthorizedAccount represents a AccessControlUnauthorizedAccount error raised by the RewardsDistributor contract.
type RewardsDistributorAccessControlUnauthorizedAccount struct {
	Account    common.Address
	NeededRole [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)
func RewardsDistributorAccessControlUnauthorizedAccountErrorID() common.Hash {
	return common.HexToHash("0xe2517d3fbfae6f8515ef5ff1ccedc3933ab0cbbda0b492c06eb54ad10ef03b3e")
}

// UnpackAccessControlUnauthorizedAccountError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)
func (rewardsDistributor *RewardsDistributor) UnpackAccessControlUnauthorizedAccountError(raw []byte) (*RewardsDistributorAccessControlUnauthorizedAccount, error) {
	out := new(RewardsDistributorAccessControlUnauthorizedAccount)
	if err := rewardsDistributor.abi.UnpackIntoInterface(out, "AccessControlUnauthorizedAccount", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// RewardsDistributorEnforcedPause represents a EnforcedPause error raised by the RewardsDistributor contract.
type RewardsDistributorEnforcedPause struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error EnforcedPause()
func RewardsDistributorEnforcedPauseErrorID() common.Hash {
	return common.HexToHash("0xd93c0665d6c96d04a8f174024fc4ddd66c250604aff22bbec808de86dd3637e3")
}

// UnpackEnforcedPauseError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error EnforcedPause()
func (rewardsDistributor *RewardsDistributor) UnpackEnforcedPauseError(raw []byte) (*RewardsDistributorEnforcedPause, error) {
	out := new(RewardsDistributorEnforcedPause)
	if err := rewardsDistributor.abi.UnpackIntoInterface(out, "EnforcedPause", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// RewardsDistributorExpectedPause represents a ExpectedPause error raised by the RewardsDistributor contract.
type RewardsDistributorExpectedPause struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ExpectedPause()
func RewardsDistributorExpectedPauseErrorID() common.Hash {
	return common.HexToHash("0x8dfc202bcfe9a735b559bee70674422512bc5c30f687046ae8778315fb81da44")
}

// UnpackExpectedPauseError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ExpectedPause()
func (rewardsDistributor *RewardsDistributor) UnpackExpectedPauseError(raw []byte) (*RewardsDistributorExpectedPause, error) {
	out := new(RewardsDistributorExpectedPause)
	if err := rewardsDistributor.abi.UnpackIntoInterface(out, "ExpectedPause", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// RewardsDistributorInvalidProof represents a InvalidProof error raised by the RewardsDistributor contract.
type RewardsDistributorInvalidProof struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error InvalidProof()
func RewardsDistributorInvalidProofErrorID() common.Hash {
	return common.HexToHash("0x09bde339c6b182be216ee7ef8ccff6338c6ef7993445216112ae575c5438fd27")
}

// UnpackInvalidProofError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error InvalidProof()
func (rewardsDistributor *RewardsDistributor) UnpackInvalidProofError(raw []byte) (*RewardsDistributorInvalidProof, error) {
	out := new(RewardsDistributorInvalidProof)
	if err := rewardsDistributor.abi.UnpackIntoInterface(out, "InvalidProof", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// RewardsDistributorNothingToClaim represents a NothingToClaim error raised by the RewardsDistributor contract.
type RewardsDistributorNothingToClaim struct {
	Account          common.Address
	CumulativeAmount *big.Int
	AlreadyClaimed   *big.Int
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NothingToClaim(address account, uint256 cumulativeAmount, uint256 alreadyClaimed)
func RewardsDistributorNothingToClaimErrorID() common.Hash {
	return common.HexToHash("0x0cfa2bb0dc3b47d2750aa431facc5bc8b4ab7fbb6161baf666f5a587f1736799")
}

// UnpackNothingToClaimError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NothingToClaim(address account, uint256 cumulativeAmount, uint256 alreadyClaimed)
func (rewardsDistributor *RewardsDistributor) UnpackNothingToClaimError(raw []byte) (*RewardsDistributorNothingToClaim, error) {
	out := new(RewardsDistributorNothingToClaim)
	if err := rewardsDistributor.abi.UnpackIntoInterface(out, "NothingToClaim", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// RewardsDistributorSafeERC20FailedOperation represents a SafeERC20FailedOperation error raised by the RewardsDistributor contract.
type RewardsDistributorSafeERC20FailedOperation struct {
	Token common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error SafeERC20FailedOperation(address token)
func RewardsDistributorSafeERC20FailedOperationErrorID() common.Hash {
	return common.HexToHash("0x5274afe73c98b4749fc91ffae6b7b574e7842cb2144a159e9377a5f20b32edf9")
}

// UnpackSafeERC20FailedOperationError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error SafeERC20FailedOperation(address token)
func (rewardsDistributor *RewardsDistributor) UnpackSafeERC20FailedOperationError(raw []byte) (*RewardsDistributorSafeERC20FailedOperation, error) {
	out := new(RewardsDistributorSafeERC20FailedOperation)
	if err := rewardsDistributor.abi.UnpackIntoInterface(out, "SafeERC20FailedOperation", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// RewardsDistributorUnexpectedEpoch represents a UnexpectedEpoch error raised by the RewardsDistributor contract.
type RewardsDistributorUnexpectedEpoch struct {
	Expected uint64
	Got      uint64
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error UnexpectedEpoch(uint64 expected, uint64 got)
func RewardsDistributorUnexpectedEpochErrorID() common.Hash {
	return common.HexToHash("0x3e481fd340804db7457b2d0e18cf2de1f9db349866f5e54b2f0b60e097708c52")
}

// UnpackUnexpectedEpochError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error UnexpectedEpoch(uint64 expected, uint64 got)
func (rewardsDistributor *RewardsDistributor) UnpackUnexpectedEpochError(raw []byte) (*RewardsDistributorUnexpectedEpoch, error) {
	out := new(RewardsDistributorUnexpectedEpoch)
	if err := rewardsDistributor.abi.UnpackIntoInterface(out, "UnexpectedEpoch", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// RewardsDistributorZeroAddress represents a ZeroAddress error raised by the RewardsDistributor contract.
type RewardsDistributorZeroAddress struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroAddress()
func RewardsDistributorZeroAddressErrorID() common.Hash {
	return common.HexToHash("0xd92e233df2717d4a40030e20904abd27b68fcbeede117eaaccbbdac9618c8c73")
}

// UnpackZeroAddressError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroAddress()
func (rewardsDistributor *RewardsDistributor) UnpackZeroAddressError(raw []byte) (*RewardsDistributorZeroAddress, error) {
	out := new(RewardsDistributorZeroAddress)
	if err := rewardsDistributor.abi.UnpackIntoInterface(out, "ZeroAddress", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// RewardsDistributorZeroRoot represents a ZeroRoot error raised by the RewardsDistributor contract.
type RewardsDistributorZeroRoot struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroRoot()
func RewardsDistributorZeroRootErrorID() common.Hash {
	return common.HexToHash("0xb263ae738e814ca9af6ee56bb85daa47624e790421913c947dcba2aac07cfdbd")
}

// UnpackZeroRootError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroRoot()
func (rewardsDistributor *RewardsDistributor) UnpackZeroRootError(raw []byte) (*RewardsDistributorZeroRoot, error) {
	out := new(RewardsDistributorZeroRoot)
	if err := rewardsDistributor.abi.UnpackIntoInterface(out, "ZeroRoot", raw); err != nil {
		return nil, err
	}
	return out, nil
}
