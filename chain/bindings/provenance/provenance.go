// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package provenance

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

// ProvenanceRegistryDatanetRef is an auto generated low-level Go binding around an user-defined struct.
type ProvenanceRegistryDatanetRef struct {
	DatanetId [32]byte
	Version   uint64
}

// ProvenanceRegistryDatanetVersion is an auto generated low-level Go binding around an user-defined struct.
type ProvenanceRegistryDatanetVersion struct {
	MerkleRoot  [32]byte
	RecordCount uint64
	AnchoredAt  uint64
	Registrar   common.Address
	Uri         string
}

// ProvenanceRegistryModel is an auto generated low-level Go binding around an user-defined struct.
type ProvenanceRegistryModel struct {
	BaseModelHash [32]byte
	AdapterHash   [32]byte
	AnchoredAt    uint64
	Registrar     common.Address
	Datanets      []ProvenanceRegistryDatanetRef
}

// ProvenanceRegistryMetaData contains all meta data concerning the ProvenanceRegistry contract.
var ProvenanceRegistryMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"address\",\"name\":\"admin\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"registrar\",\"type\":\"address\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[],\"name\":\"AccessControlBadConfirmation\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"internalType\":\"bytes32\",\"name\":\"neededRole\",\"type\":\"bytes32\"}],\"name\":\"AccessControlUnauthorizedAccount\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"AlreadyAnchored\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"datanetId\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"version\",\"type\":\"uint64\"}],\"name\":\"DatanetVersionNotAnchored\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"modelId\",\"type\":\"bytes32\"}],\"name\":\"ModelNotAnchored\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroAddress\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroHash\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"datanetId\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"uint64\",\"name\":\"version\",\"type\":\"uint64\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"merkleRoot\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"uint64\",\"name\":\"recordCount\",\"type\":\"uint64\"},{\"indexed\":false,\"internalType\":\"string\",\"name\":\"uri\",\"type\":\"string\"}],\"name\":\"DatanetVersionAnchored\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"modelId\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"baseModelHash\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"adapterHash\",\"type\":\"bytes32\"},{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"datanetId\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"version\",\"type\":\"uint64\"}],\"indexed\":false,\"internalType\":\"structProvenanceRegistry.DatanetRef[]\",\"name\":\"datanets\",\"type\":\"tuple[]\"}],\"name\":\"ModelAnchored\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"previousAdminRole\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"newAdminRole\",\"type\":\"bytes32\"}],\"name\":\"RoleAdminChanged\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"sender\",\"type\":\"address\"}],\"name\":\"RoleGranted\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"sender\",\"type\":\"address\"}],\"name\":\"RoleRevoked\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"DEFAULT_ADMIN_ROLE\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"REGISTRAR_ROLE\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"datanetId\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"version\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"merkleRoot\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"recordCount\",\"type\":\"uint64\"},{\"internalType\":\"string\",\"name\":\"uri\",\"type\":\"string\"}],\"name\":\"anchorDatanetVersion\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"modelId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"baseModelHash\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"adapterHash\",\"type\":\"bytes32\"},{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"datanetId\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"version\",\"type\":\"uint64\"}],\"internalType\":\"structProvenanceRegistry.DatanetRef[]\",\"name\":\"datanets\",\"type\":\"tuple[]\"}],\"name\":\"anchorModel\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"datanetId\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"version\",\"type\":\"uint64\"}],\"name\":\"getDatanetVersion\",\"outputs\":[{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"merkleRoot\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"recordCount\",\"type\":\"uint64\"},{\"internalType\":\"uint64\",\"name\":\"anchoredAt\",\"type\":\"uint64\"},{\"internalType\":\"address\",\"name\":\"registrar\",\"type\":\"address\"},{\"internalType\":\"string\",\"name\":\"uri\",\"type\":\"string\"}],\"internalType\":\"structProvenanceRegistry.DatanetVersion\",\"name\":\"\",\"type\":\"tuple\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"modelId\",\"type\":\"bytes32\"}],\"name\":\"getModel\",\"outputs\":[{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"baseModelHash\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"adapterHash\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"anchoredAt\",\"type\":\"uint64\"},{\"internalType\":\"address\",\"name\":\"registrar\",\"type\":\"address\"},{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"datanetId\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"version\",\"type\":\"uint64\"}],\"internalType\":\"structProvenanceRegistry.DatanetRef[]\",\"name\":\"datanets\",\"type\":\"tuple[]\"}],\"internalType\":\"structProvenanceRegistry.Model\",\"name\":\"\",\"type\":\"tuple\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"}],\"name\":\"getRoleAdmin\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"grantRole\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"hasRole\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"datanetId\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"version\",\"type\":\"uint64\"}],\"name\":\"isDatanetVersionAnchored\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"modelId\",\"type\":\"bytes32\"}],\"name\":\"isModelAnchored\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"callerConfirmation\",\"type\":\"address\"}],\"name\":\"renounceRole\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"role\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"account\",\"type\":\"address\"}],\"name\":\"revokeRole\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes4\",\"name\":\"interfaceId\",\"type\":\"bytes4\"}],\"name\":\"supportsInterface\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	ID:  "ProvenanceRegistry",
	Bin: "0x608060405234801561000f575f5ffd5b5060405161160238038061160283398101604081905261002e91610166565b6001600160a01b0382166100555760405163d92e233d60e01b815260040160405180910390fd5b61005f5f836100a2565b506001600160a01b0381161561009b576100997fedcc084d3dcd65a1f7f23c65c46722faca6953d28e43150a467cf43e5c309238826100a2565b505b5050610197565b5f828152602081815260408083206001600160a01b038516845290915281205460ff16610142575f838152602081815260408083206001600160a01b03861684529091529020805460ff191660011790556100fa3390565b6001600160a01b0316826001600160a01b0316847f2f8788117e7eff1d82e926ec794901d17c78024a50270940304540a733656f0d60405160405180910390a4506001610145565b505f5b92915050565b80516001600160a01b0381168114610161575f5ffd5b919050565b5f5f60408385031215610177575f5ffd5b6101808361014b565b915061018e6020840161014b565b90509250929050565b61145e806101a45f395ff3fe608060405234801561000f575f5ffd5b50600436106100e5575f3560e01c8063503bd5ed11610088578063a217fddf11610063578063a217fddf14610225578063c804db6a1461022c578063d547741f1461024d578063f68e955314610260575f5ffd5b8063503bd5ed146101af5780635df0a201146101c257806391d14854146101e2575f5ffd5b80632f2ff15d116100c35780632f2ff15d1461016157806336568abe1461017657806338594554146101895780634a679e601461019c575f5ffd5b806301ffc9a7146100e957806321e7c49814610111578063248a9ca314610131575b5f5ffd5b6100fc6100f7366004610d71565b610287565b60405190151581526020015b60405180910390f35b61012461011f366004610db7565b61031f565b6040516101089190610dce565b61015361013f366004610db7565b5f9081526020819052604090206001015490565b604051908152602001610108565b61017461016f366004610e81565b61048e565b005b610174610184366004610e81565b6104b8565b610174610197366004610edc565b610516565b6100fc6101aa366004610f81565b6106ab565b6101746101bd366004610fa4565b6106d3565b6101d56101d0366004610f81565b610905565b604051610108919061102e565b6100fc6101f0366004610e81565b5f9182526020828152604080842073ffffffffffffffffffffffffffffffffffffffff93909316845291905290205460ff1690565b6101535f81565b6100fc61023a366004610db7565b5f90815260026020526040902054151590565b61017461025b366004610e81565b610ac0565b6101537fedcc084d3dcd65a1f7f23c65c46722faca6953d28e43150a467cf43e5c30923881565b5f7fffffffff0000000000000000000000000000000000000000000000000000000082167f7965db0b00000000000000000000000000000000000000000000000000000000148061031957507f01ffc9a7000000000000000000000000000000000000000000000000000000007fffffffff000000000000000000000000000000000000000000000000000000008316145b92915050565b61036d6040518060a001604052805f81526020015f81526020015f67ffffffffffffffff1681526020015f73ffffffffffffffffffffffffffffffffffffffff168152602001606081525090565b5f82815260026020526040902080546103ba576040517f1b0aebc7000000000000000000000000000000000000000000000000000000008152600481018490526024015b60405180910390fd5b6040805160a081018252825481526001830154602080830191909152600284015467ffffffffffffffff81168385015268010000000000000000900473ffffffffffffffffffffffffffffffffffffffff1660608301526003840180548451818402810184019095528085529293859360808601939192915f9084015b8282101561047f575f84815260209081902060408051808201909152600285029091018054825260019081015467ffffffffffffffff16828401529083529092019101610437565b50505091525090949350505050565b5f828152602081905260409020600101546104a881610ae4565b6104b28383610af1565b50505050565b73ffffffffffffffffffffffffffffffffffffffff81163314610507576040517f6697b23200000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b6105118282610bea565b505050565b7fedcc084d3dcd65a1f7f23c65c46722faca6953d28e43150a467cf43e5c30923861054081610ae4565b84610577576040517ff1ae58d500000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b5f60015f6105858a8a610ca3565b815260208101919091526040015f208054909150156105d0576040517fa0094ce300000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b8581556001810180544267ffffffffffffffff90811668010000000000000000027fffffffffffffffffffffffffffffffff00000000000000000000000000000000909216908816171790556002810180547fffffffffffffffffffffffff00000000000000000000000000000000000000001633179055600381016106578486836111b0565b508667ffffffffffffffff16887fc49ba20453e39626cfd972a247c104b0bfca7dc2b3ede9c7e8468cbbe6c0150f8888888860405161069994939291906112c7565b60405180910390a35050505050505050565b5f806001816106ba8686610ca3565b815260208101919091526040015f205414159392505050565b7fedcc084d3dcd65a1f7f23c65c46722faca6953d28e43150a467cf43e5c3092386106fd81610ae4565b841580610708575083155b1561073f576040517ff1ae58d500000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b5f868152600260205260409020805415610785576040517fa0094ce300000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b858155600181018590556002810180546801000000000000000033027fffffffff0000000000000000000000000000000000000000000000000000000090911667ffffffffffffffff4216171790555f5b838110156108bd57368585838181106107f1576107f161132b565b90506040020190505f5f1b60015f61081e845f01358560200160208101906108199190611358565b610ca3565b81526020019081526020015f205f01540361088a5780356108456040830160208401611358565b6040517f574ba817000000000000000000000000000000000000000000000000000000008152600481019290925267ffffffffffffffff1660248201526044016103b1565b6003830180546001810182555f91825260209091208291600202016108af8282611373565b5050508060010190506107d6565b50867f7433556927519778056f189929a4c56a66909d93bf9402a8e077994e0f47338e878787876040516108f494939291906113c1565b60405180910390a250505050505050565b61095d6040518060a001604052805f81526020015f67ffffffffffffffff1681526020015f67ffffffffffffffff1681526020015f73ffffffffffffffffffffffffffffffffffffffff168152602001606081525090565b5f60015f61096b8686610ca3565b815260208101919091526040015f2080549091506109c8576040517f574ba8170000000000000000000000000000000000000000000000000000000081526004810185905267ffffffffffffffff841660248201526044016103b1565b6040805160a08101825282548152600183015467ffffffffffffffff8082166020840152680100000000000000009091041691810191909152600282015473ffffffffffffffffffffffffffffffffffffffff16606082015260038201805483916080840191610a3790611109565b80601f0160208091040260200160405190810160405280929190818152602001828054610a6390611109565b8015610aae5780601f10610a8557610100808354040283529160200191610aae565b820191905f5260205f20905b815481529060010190602001808311610a9157829003601f168201915b50505050508152505091505092915050565b5f82815260208190526040902060010154610ada81610ae4565b6104b28383610bea565b610aee8133610ce8565b50565b5f8281526020818152604080832073ffffffffffffffffffffffffffffffffffffffff8516845290915281205460ff16610be3575f8381526020818152604080832073ffffffffffffffffffffffffffffffffffffffff86168452909152902080547fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00166001179055610b813390565b73ffffffffffffffffffffffffffffffffffffffff168273ffffffffffffffffffffffffffffffffffffffff16847f2f8788117e7eff1d82e926ec794901d17c78024a50270940304540a733656f0d60405160405180910390a4506001610319565b505f610319565b5f8281526020818152604080832073ffffffffffffffffffffffffffffffffffffffff8516845290915281205460ff1615610be3575f8381526020818152604080832073ffffffffffffffffffffffffffffffffffffffff8616808552925280832080547fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0016905551339286917ff6391f5c32d9c69d2a47ea670b442974b53935d1edc7fd64eb21e047a839171b9190a4506001610319565b5f8282604051602001610cca92919091825267ffffffffffffffff16602082015260400190565b60405160208183030381529060405280519060200120905092915050565b5f8281526020818152604080832073ffffffffffffffffffffffffffffffffffffffff8516845290915290205460ff16610d6d576040517fe2517d3f00000000000000000000000000000000000000000000000000000000815273ffffffffffffffffffffffffffffffffffffffff82166004820152602481018390526044016103b1565b5050565b5f60208284031215610d81575f5ffd5b81357fffffffff0000000000000000000000000000000000000000000000000000000081168114610db0575f5ffd5b9392505050565b5f60208284031215610dc7575f5ffd5b5035919050565b602081525f60c08201835160208401526020840151604084015267ffffffffffffffff604085015116606084015273ffffffffffffffffffffffffffffffffffffffff6060850151166080840152608084015160a08085015281815180845260e0860191506020830193505f92505b80831015610e775783518051835267ffffffffffffffff602082015116602084015250604082019150602084019350600183019250610e3d565b5095945050505050565b5f5f60408385031215610e92575f5ffd5b82359150602083013573ffffffffffffffffffffffffffffffffffffffff81168114610ebc575f5ffd5b809150509250929050565b67ffffffffffffffff81168114610aee575f5ffd5b5f5f5f5f5f5f60a08789031215610ef1575f5ffd5b863595506020870135610f0381610ec7565b9450604087013593506060870135610f1a81610ec7565b9250608087013567ffffffffffffffff811115610f35575f5ffd5b8701601f81018913610f45575f5ffd5b803567ffffffffffffffff811115610f5b575f5ffd5b896020828401011115610f6c575f5ffd5b60208201935080925050509295509295509295565b5f5f60408385031215610f92575f5ffd5b823591506020830135610ebc81610ec7565b5f5f5f5f5f60808688031215610fb8575f5ffd5b853594506020860135935060408601359250606086013567ffffffffffffffff811115610fe3575f5ffd5b8601601f81018813610ff3575f5ffd5b803567ffffffffffffffff811115611009575f5ffd5b8860208260061b840101111561101d575f5ffd5b959894975092955050506020019190565b602081528151602082015267ffffffffffffffff602083015116604082015267ffffffffffffffff604083015116606082015273ffffffffffffffffffffffffffffffffffffffff60608301511660808201525f608083015160a08084015280518060c0850152806020830160e086015e5f60e0828601015260e07fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0601f8301168501019250505092915050565b7f4e487b71000000000000000000000000000000000000000000000000000000005f52604160045260245ffd5b600181811c9082168061111d57607f821691505b602082108103611154577f4e487b71000000000000000000000000000000000000000000000000000000005f52602260045260245ffd5b50919050565b601f821115610511578282111561051157805f5260205f20601f840160051c602085101561118557505f5b90810190601f840160051c035f5b818110156111a8575f83820155600101611193565b505050505050565b67ffffffffffffffff8311156111c8576111c86110dc565b6111dc836111d68354611109565b8361115a565b5f601f84116001811461122c575f85156111f65750838201355b7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff600387901b1c1916600186901b1783556112c0565b5f838152602081207fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe08716915b828110156112795786850135825560209485019460019092019101611259565b50868210156112b4577fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff60f88860031b161c19848701351681555b505060018560011b0183555b5050505050565b84815267ffffffffffffffff8416602082015260606040820152816060820152818360808301375f818301608090810191909152601f9092017fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe01601019392505050565b7f4e487b71000000000000000000000000000000000000000000000000000000005f52603260045260245ffd5b5f60208284031215611368575f5ffd5b8135610db081610ec7565b8135815560018101602083013561138981610ec7565b67ffffffffffffffff81167fffffffffffffffffffffffffffffffffffffffffffffffff000000000000000083541617825550505050565b8481526020810184905260606040820181905281018290525f8360808301825b8581101561141c578235825260208301356113fb81610ec7565b67ffffffffffffffff166020830152604092830192909101906001016113e1565b5097965050505050505056fea2646970667358221220c8a00d681f883f1762553fb4f27a37a14fbc1d0d530d5e802db339944978609a64736f6c63430008250033",
}

// ProvenanceRegistry is an auto generated Go binding around an Ethereum contract.
type ProvenanceRegistry struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *ProvenanceRegistry) GetABI() abi.ABI {
	return c.abi
}

// NewProvenanceRegistry creates a new instance of ProvenanceRegistry.
func NewProvenanceRegistry() *ProvenanceRegistry {
	parsed, err := ProvenanceRegistryMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &ProvenanceRegistry{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *ProvenanceRegistry) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(address admin, address registrar) returns()
func (provenanceRegistry *ProvenanceRegistry) PackConstructor(admin common.Address, registrar common.Address) []byte {
	enc, err := provenanceRegistry.abi.Pack("", admin, registrar)
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
func (provenanceRegistry *ProvenanceRegistry) PackDEFAULTADMINROLE() []byte {
	enc, err := provenanceRegistry.abi.Pack("DEFAULT_ADMIN_ROLE")
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
func (provenanceRegistry *ProvenanceRegistry) TryPackDEFAULTADMINROLE() ([]byte, error) {
	return provenanceRegistry.abi.Pack("DEFAULT_ADMIN_ROLE")
}

// UnpackDEFAULTADMINROLE is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xa217fddf.
//
// Solidity: function DEFAULT_ADMIN_ROLE() view returns(bytes32)
func (provenanceRegistry *ProvenanceRegistry) UnpackDEFAULTADMINROLE(data []byte) ([32]byte, error) {
	out, err := provenanceRegistry.abi.Unpack("DEFAULT_ADMIN_ROLE", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackREGISTRARROLE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf68e9553.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function REGISTRAR_ROLE() view returns(bytes32)
func (provenanceRegistry *ProvenanceRegistry) PackREGISTRARROLE() []byte {
	enc, err := provenanceRegistry.abi.Pack("REGISTRAR_ROLE")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackREGISTRARROLE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf68e9553.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function REGISTRAR_ROLE() view returns(bytes32)
func (provenanceRegistry *ProvenanceRegistry) TryPackREGISTRARROLE() ([]byte, error) {
	return provenanceRegistry.abi.Pack("REGISTRAR_ROLE")
}

// UnpackREGISTRARROLE is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xf68e9553.
//
// Solidity: function REGISTRAR_ROLE() view returns(bytes32)
func (provenanceRegistry *ProvenanceRegistry) UnpackREGISTRARROLE(data []byte) ([32]byte, error) {
	out, err := provenanceRegistry.abi.Unpack("REGISTRAR_ROLE", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackAnchorDatanetVersion is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x38594554.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function anchorDatanetVersion(bytes32 datanetId, uint64 version, bytes32 merkleRoot, uint64 recordCount, string uri) returns()
func (provenanceRegistry *ProvenanceRegistry) PackAnchorDatanetVersion(datanetId [32]byte, version uint64, merkleRoot [32]byte, recordCount uint64, uri string) []byte {
	enc, err := provenanceRegistry.abi.Pack("anchorDatanetVersion", datanetId, version, merkleRoot, recordCount, uri)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAnchorDatanetVersion is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x38594554.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function anchorDatanetVersion(bytes32 datanetId, uint64 version, bytes32 merkleRoot, uint64 recordCount, string uri) returns()
func (provenanceRegistry *ProvenanceRegistry) TryPackAnchorDatanetVersion(datanetId [32]byte, version uint64, merkleRoot [32]byte, recordCount uint64, uri string) ([]byte, error) {
	return provenanceRegistry.abi.Pack("anchorDatanetVersion", datanetId, version, merkleRoot, recordCount, uri)
}

// PackAnchorModel is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x503bd5ed.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function anchorModel(bytes32 modelId, bytes32 baseModelHash, bytes32 adapterHash, (bytes32,uint64)[] datanets) returns()
func (provenanceRegistry *ProvenanceRegistry) PackAnchorModel(modelId [32]byte, baseModelHash [32]byte, adapterHash [32]byte, datanets []ProvenanceRegistryDatanetRef) []byte {
	enc, err := provenanceRegistry.abi.Pack("anchorModel", modelId, baseModelHash, adapterHash, datanets)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAnchorModel is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x503bd5ed.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function anchorModel(bytes32 modelId, bytes32 baseModelHash, bytes32 adapterHash, (bytes32,uint64)[] datanets) returns()
func (provenanceRegistry *ProvenanceRegistry) TryPackAnchorModel(modelId [32]byte, baseModelHash [32]byte, adapterHash [32]byte, datanets []ProvenanceRegistryDatanetRef) ([]byte, error) {
	return provenanceRegistry.abi.Pack("anchorModel", modelId, baseModelHash, adapterHash, datanets)
}

// PackGetDatanetVersion is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5df0a201.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function getDatanetVersion(bytes32 datanetId, uint64 version) view returns((bytes32,uint64,uint64,address,string))
func (provenanceRegistry *ProvenanceRegistry) PackGetDatanetVersion(datanetId [32]byte, version uint64) []byte {
	enc, err := provenanceRegistry.abi.Pack("getDatanetVersion", datanetId, version)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackGetDatanetVersion is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5df0a201.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function getDatanetVersion(bytes32 datanetId, uint64 version) view returns((bytes32,uint64,uint64,address,string))
func (provenanceRegistry *ProvenanceRegistry) TryPackGetDatanetVersion(datanetId [32]byte, version uint64) ([]byte, error) {
	return provenanceRegistry.abi.Pack("getDatanetVersion", datanetId, version)
}

// UnpackGetDatanetVersion is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x5df0a201.
//
// Solidity: function getDatanetVersion(bytes32 datanetId, uint64 version) view returns((bytes32,uint64,uint64,address,string))
func (provenanceRegistry *ProvenanceRegistry) UnpackGetDatanetVersion(data []byte) (ProvenanceRegistryDatanetVersion, error) {
	out, err := provenanceRegistry.abi.Unpack("getDatanetVersion", data)
	if err != nil {
		return *new(ProvenanceRegistryDatanetVersion), err
	}
	out0 := *abi.ConvertType(out[0], new(ProvenanceRegistryDatanetVersion)).(*ProvenanceRegistryDatanetVersion)
	return out0, nil
}

// PackGetModel is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x21e7c498.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function getModel(bytes32 modelId) view returns((bytes32,bytes32,uint64,address,(bytes32,uint64)[]))
func (provenanceRegistry *ProvenanceRegistry) PackGetModel(modelId [32]byte) []byte {
	enc, err := provenanceRegistry.abi.Pack("getModel", modelId)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackGetModel is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x21e7c498.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function getModel(bytes32 modelId) view returns((bytes32,bytes32,uint64,address,(bytes32,uint64)[]))
func (provenanceRegistry *ProvenanceRegistry) TryPackGetModel(modelId [32]byte) ([]byte, error) {
	return provenanceRegistry.abi.Pack("getModel", modelId)
}

// UnpackGetModel is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x21e7c498.
//
// Solidity: function getModel(bytes32 modelId) view returns((bytes32,bytes32,uint64,address,(bytes32,uint64)[]))
func (provenanceRegistry *ProvenanceRegistry) UnpackGetModel(data []byte) (ProvenanceRegistryModel, error) {
	out, err := provenanceRegistry.abi.Unpack("getModel", data)
	if err != nil {
		return *new(ProvenanceRegistryModel), err
	}
	out0 := *abi.ConvertType(out[0], new(ProvenanceRegistryModel)).(*ProvenanceRegistryModel)
	return out0, nil
}

// PackGetRoleAdmin is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x248a9ca3.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function getRoleAdmin(bytes32 role) view returns(bytes32)
func (provenanceRegistry *ProvenanceRegistry) PackGetRoleAdmin(role [32]byte) []byte {
	enc, err := provenanceRegistry.abi.Pack("getRoleAdmin", role)
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
func (provenanceRegistry *ProvenanceRegistry) TryPackGetRoleAdmin(role [32]byte) ([]byte, error) {
	return provenanceRegistry.abi.Pack("getRoleAdmin", role)
}

// UnpackGetRoleAdmin is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x248a9ca3.
//
// Solidity: function getRoleAdmin(bytes32 role) view returns(bytes32)
func (provenanceRegistry *ProvenanceRegistry) UnpackGetRoleAdmin(data []byte) ([32]byte, error) {
	out, err := provenanceRegistry.abi.Unpack("getRoleAdmin", data)
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
func (provenanceRegistry *ProvenanceRegistry) PackGrantRole(role [32]byte, account common.Address) []byte {
	enc, err := provenanceRegistry.abi.Pack("grantRole", role, account)
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
func (provenanceRegistry *ProvenanceRegistry) TryPackGrantRole(role [32]byte, account common.Address) ([]byte, error) {
	return provenanceRegistry.abi.Pack("grantRole", role, account)
}

// PackHasRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x91d14854.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function hasRole(bytes32 role, address account) view returns(bool)
func (provenanceRegistry *ProvenanceRegistry) PackHasRole(role [32]byte, account common.Address) []byte {
	enc, err := provenanceRegistry.abi.Pack("hasRole", role, account)
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
func (provenanceRegistry *ProvenanceRegistry) TryPackHasRole(role [32]byte, account common.Address) ([]byte, error) {
	return provenanceRegistry.abi.Pack("hasRole", role, account)
}

// UnpackHasRole is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x91d14854.
//
// Solidity: function hasRole(bytes32 role, address account) view returns(bool)
func (provenanceRegistry *ProvenanceRegistry) UnpackHasRole(data []byte) (bool, error) {
	out, err := provenanceRegistry.abi.Unpack("hasRole", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackIsDatanetVersionAnchored is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x4a679e60.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function isDatanetVersionAnchored(bytes32 datanetId, uint64 version) view returns(bool)
func (provenanceRegistry *ProvenanceRegistry) PackIsDatanetVersionAnchored(datanetId [32]byte, version uint64) []byte {
	enc, err := provenanceRegistry.abi.Pack("isDatanetVersionAnchored", datanetId, version)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackIsDatanetVersionAnchored is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x4a679e60.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function isDatanetVersionAnchored(bytes32 datanetId, uint64 version) view returns(bool)
func (provenanceRegistry *ProvenanceRegistry) TryPackIsDatanetVersionAnchored(datanetId [32]byte, version uint64) ([]byte, error) {
	return provenanceRegistry.abi.Pack("isDatanetVersionAnchored", datanetId, version)
}

// UnpackIsDatanetVersionAnchored is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x4a679e60.
//
// Solidity: function isDatanetVersionAnchored(bytes32 datanetId, uint64 version) view returns(bool)
func (provenanceRegistry *ProvenanceRegistry) UnpackIsDatanetVersionAnchored(data []byte) (bool, error) {
	out, err := provenanceRegistry.abi.Unpack("isDatanetVersionAnchored", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackIsModelAnchored is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc804db6a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function isModelAnchored(bytes32 modelId) view returns(bool)
func (provenanceRegistry *ProvenanceRegistry) PackIsModelAnchored(modelId [32]byte) []byte {
	enc, err := provenanceRegistry.abi.Pack("isModelAnchored", modelId)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackIsModelAnchored is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc804db6a.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function isModelAnchored(bytes32 modelId) view returns(bool)
func (provenanceRegistry *ProvenanceRegistry) TryPackIsModelAnchored(modelId [32]byte) ([]byte, error) {
	return provenanceRegistry.abi.Pack("isModelAnchored", modelId)
}

// UnpackIsModelAnchored is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xc804db6a.
//
// Solidity: function isModelAnchored(bytes32 modelId) view returns(bool)
func (provenanceRegistry *ProvenanceRegistry) UnpackIsModelAnchored(data []byte) (bool, error) {
	out, err := provenanceRegistry.abi.Unpack("isModelAnchored", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackRenounceRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x36568abe.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function renounceRole(bytes32 role, address callerConfirmation) returns()
func (provenanceRegistry *ProvenanceRegistry) PackRenounceRole(role [32]byte, callerConfirmation common.Address) []byte {
	enc, err := provenanceRegistry.abi.Pack("renounceRole", role, callerConfirmation)
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
func (provenanceRegistry *ProvenanceRegistry) TryPackRenounceRole(role [32]byte, callerConfirmation common.Address) ([]byte, error) {
	return provenanceRegistry.abi.Pack("renounceRole", role, callerConfirmation)
}

// PackRevokeRole is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xd547741f.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function revokeRole(bytes32 role, address account) returns()
func (provenanceRegistry *ProvenanceRegistry) PackRevokeRole(role [32]byte, account common.Address) []byte {
	enc, err := provenanceRegistry.abi.Pack("revokeRole", role, account)
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
func (provenanceRegistry *ProvenanceRegistry) TryPackRevokeRole(role [32]byte, account common.Address) ([]byte, error) {
	return provenanceRegistry.abi.Pack("revokeRole", role, account)
}

// PackSupportsInterface is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x01ffc9a7.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function supportsInterface(bytes4 interfaceId) view returns(bool)
func (provenanceRegistry *ProvenanceRegistry) PackSupportsInterface(interfaceId [4]byte) []byte {
	enc, err := provenanceRegistry.abi.Pack("supportsInterface", interfaceId)
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
func (provenanceRegistry *ProvenanceRegistry) TryPackSupportsInterface(interfaceId [4]byte) ([]byte, error) {
	return provenanceRegistry.abi.Pack("supportsInterface", interfaceId)
}

// UnpackSupportsInterface is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x01ffc9a7.
//
// Solidity: function supportsInterface(bytes4 interfaceId) view returns(bool)
func (provenanceRegistry *ProvenanceRegistry) UnpackSupportsInterface(data []byte) (bool, error) {
	out, err := provenanceRegistry.abi.Unpack("supportsInterface", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// ProvenanceRegistryDatanetVersionAnchored represents a DatanetVersionAnchored event raised by the ProvenanceRegistry contract.
type ProvenanceRegistryDatanetVersionAnchored struct {
	DatanetId   [32]byte
	Version     uint64
	MerkleRoot  [32]byte
	RecordCount uint64
	Uri         string
	Raw         *types.Log // Blockchain specific contextual infos
}

const ProvenanceRegistryDatanetVersionAnchoredEventName = "DatanetVersionAnchored"

// ContractEventName returns the user-defined event name.
func (ProvenanceRegistryDatanetVersionAnchored) ContractEventName() string {
	return ProvenanceRegistryDatanetVersionAnchoredEventName
}

// UnpackDatanetVersionAnchoredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event DatanetVersionAnchored(bytes32 indexed datanetId, uint64 indexed version, bytes32 merkleRoot, uint64 recordCount, string uri)
func (provenanceRegistry *ProvenanceRegistry) UnpackDatanetVersionAnchoredEvent(log *types.Log) (*ProvenanceRegistryDatanetVersionAnchored, error) {
	event := "DatanetVersionAnchored"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != provenanceRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ProvenanceRegistryDatanetVersionAnchored)
	if len(log.Data) > 0 {
		if err := provenanceRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range provenanceRegistry.abi.Events[event].Inputs {
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

// ProvenanceRegistryModelAnchored represents a ModelAnchored event raised by the ProvenanceRegistry contract.
type ProvenanceRegistryModelAnchored struct {
	ModelId       [32]byte
	BaseModelHash [32]byte
	AdapterHash   [32]byte
	Datanets      []ProvenanceRegistryDatanetRef
	Raw           *types.Log // Blockchain specific contextual infos
}

const ProvenanceRegistryModelAnchoredEventName = "ModelAnchored"

// ContractEventName returns the user-defined event name.
func (ProvenanceRegistryModelAnchored) ContractEventName() string {
	return ProvenanceRegistryModelAnchoredEventName
}

// UnpackModelAnchoredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ModelAnchored(bytes32 indexed modelId, bytes32 baseModelHash, bytes32 adapterHash, (bytes32,uint64)[] datanets)
func (provenanceRegistry *ProvenanceRegistry) UnpackModelAnchoredEvent(log *types.Log) (*ProvenanceRegistryModelAnchored, error) {
	event := "ModelAnchored"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != provenanceRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ProvenanceRegistryModelAnchored)
	if len(log.Data) > 0 {
		if err := provenanceRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range provenanceRegistry.abi.Events[event].Inputs {
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

// ProvenanceRegistryRoleAdminChanged represents a RoleAdminChanged event raised by the ProvenanceRegistry contract.
type ProvenanceRegistryRoleAdminChanged struct {
	Role              [32]byte
	PreviousAdminRole [32]byte
	NewAdminRole      [32]byte
	Raw               *types.Log // Blockchain specific contextual infos
}

const ProvenanceRegistryRoleAdminChangedEventName = "RoleAdminChanged"

// ContractEventName returns the user-defined event name.
func (ProvenanceRegistryRoleAdminChanged) ContractEventName() string {
	return ProvenanceRegistryRoleAdminChangedEventName
}

// UnpackRoleAdminChangedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole)
func (provenanceRegistry *ProvenanceRegistry) UnpackRoleAdminChangedEvent(log *types.Log) (*ProvenanceRegistryRoleAdminChanged, error) {
	event := "RoleAdminChanged"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != provenanceRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ProvenanceRegistryRoleAdminChanged)
	if len(log.Data) > 0 {
		if err := provenanceRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range provenanceRegistry.abi.Events[event].Inputs {
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

// ProvenanceRegistryRoleGranted represents a RoleGranted event raised by the ProvenanceRegistry contract.
type ProvenanceRegistryRoleGranted struct {
	Role    [32]byte
	Account common.Address
	Sender  common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const ProvenanceRegistryRoleGrantedEventName = "RoleGranted"

// ContractEventName returns the user-defined event name.
func (ProvenanceRegistryRoleGranted) ContractEventName() string {
	return ProvenanceRegistryRoleGrantedEventName
}

// UnpackRoleGrantedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)
func (provenanceRegistry *ProvenanceRegistry) UnpackRoleGrantedEvent(log *types.Log) (*ProvenanceRegistryRoleGranted, error) {
	event := "RoleGranted"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != provenanceRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ProvenanceRegistryRoleGranted)
	if len(log.Data) > 0 {
		if err := provenanceRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range provenanceRegistry.abi.Events[event].Inputs {
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

// ProvenanceRegistryRoleRevoked represents a RoleRevoked event raised by the ProvenanceRegistry contract.
type ProvenanceRegistryRoleRevoked struct {
	Role    [32]byte
	Account common.Address
	Sender  common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const ProvenanceRegistryRoleRevokedEventName = "RoleRevoked"

// ContractEventName returns the user-defined event name.
func (ProvenanceRegistryRoleRevoked) ContractEventName() string {
	return ProvenanceRegistryRoleRevokedEventName
}

// UnpackRoleRevokedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)
func (provenanceRegistry *ProvenanceRegistry) UnpackRoleRevokedEvent(log *types.Log) (*ProvenanceRegistryRoleRevoked, error) {
	event := "RoleRevoked"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != provenanceRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ProvenanceRegistryRoleRevoked)
	if len(log.Data) > 0 {
		if err := provenanceRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range provenanceRegistry.abi.Events[event].Inputs {
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
func (provenanceRegistry *ProvenanceRegistry) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], provenanceRegistry.abi.Errors["AccessControlBadConfirmation"].ID.Bytes()[:4]) {
		return provenanceRegistry.UnpackAccessControlBadConfirmationError(raw[4:])
	}
	if bytes.Equal(raw[:4], provenanceRegistry.abi.Errors["AccessControlUnauthorizedAccount"].ID.Bytes()[:4]) {
		return provenanceRegistry.UnpackAccessControlUnauthorizedAccountError(raw[4:])
	}
	if bytes.Equal(raw[:4], provenanceRegistry.abi.Errors["AlreadyAnchored"].ID.Bytes()[:4]) {
		return provenanceRegistry.UnpackAlreadyAnchoredError(raw[4:])
	}
	if bytes.Equal(raw[:4], provenanceRegistry.abi.Errors["DatanetVersionNotAnchored"].ID.Bytes()[:4]) {
		return provenanceRegistry.UnpackDatanetVersionNotAnchoredError(raw[4:])
	}
	if bytes.Equal(raw[:4], provenanceRegistry.abi.Errors["ModelNotAnchored"].ID.Bytes()[:4]) {
		return provenanceRegistry.UnpackModelNotAnchoredError(raw[4:])
	}
	if bytes.Equal(raw[:4], provenanceRegistry.abi.Errors["ZeroAddress"].ID.Bytes()[:4]) {
		return provenanceRegistry.UnpackZeroAddressError(raw[4:])
	}
	if bytes.Equal(raw[:4], provenanceRegistry.abi.Errors["ZeroHash"].ID.Bytes()[:4]) {
		return provenanceRegistry.UnpackZeroHashError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// ProvenanceRegistryAccessControlBadConfirmation represents a AccessControlBadConfirmation error raised by the ProvenanceRegistry contract.
type ProvenanceRegistryAccessControlBadConfirmation struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error AccessControlBadConfirmation()
func ProvenanceRegistryAccessControlBadConfirmationErrorID() common.Hash {
	return common.HexToHash("0x6697b23232a647058342c0724fe7c415cab25915b54e5dbc03f233173d37b41c")
}

// UnpackAccessControlBadConfirmationError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error AccessControlBadConfirmation()
func (provenanceRegistry *ProvenanceRegistry) UnpackAccessControlBadConfirmationError(raw []byte) (*ProvenanceRegistryAccessControlBadConfirmation, error) {
	out := new(ProvenanceRegistryAccessControlBadConfirmation)
	if err := provenanceRegistry.abi.UnpackIntoInterface(out, "AccessControlBadConfirmation", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ProvenanceRegistryAccessControlUnauthorizedAccount represents a AccessControlUnauthorizedAccount error raised by the ProvenanceRegistry contract.
type ProvenanceRegistryAccessControlUnauthorizedAccount struct {
	Account    common.Address
	NeededRole [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)
func ProvenanceRegistryAccessControlUnauthorizedAccountErrorID() common.Hash {
	return common.HexToHash("0xe2517d3fbfae6f8515ef5ff1ccedc3933ab0cbbda0b492c06eb54ad10ef03b3e")
}

// UnpackAccessControlUnauthorizedAccountError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)
func (provenanceRegistry *ProvenanceRegistry) UnpackAccessControlUnauthorizedAccountError(raw []byte) (*ProvenanceRegistryAccessControlUnauthorizedAccount, error) {
	out := new(ProvenanceRegistryAccessControlUnauthorizedAccount)
	if err := provenanceRegistry.abi.UnpackIntoInterface(out, "AccessControlUnauthorizedAccount", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ProvenanceRegistryAlreadyAnchored represents a AlreadyAnchored error raised by the ProvenanceRegistry contract.
type ProvenanceRegistryAlreadyAnchored struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error AlreadyAnchored()
func ProvenanceRegistryAlreadyAnchoredErrorID() common.Hash {
	return common.HexToHash("0xa0094ce3bf1a77e8f403ca4c1d3d3503ecec38701e9ac8af91e0a3c31184bfd2")
}

// UnpackAlreadyAnchoredError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error AlreadyAnchored()
func (provenanceRegistry *ProvenanceRegistry) UnpackAlreadyAnchoredError(raw []byte) (*ProvenanceRegistryAlreadyAnchored, error) {
	out := new(ProvenanceRegistryAlreadyAnchored)
	if err := provenanceRegistry.abi.UnpackIntoInterface(out, "AlreadyAnchored", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ProvenanceRegistryDatanetVersionNotAnchored represents a DatanetVersionNotAnchored error raised by the ProvenanceRegistry contract.
type ProvenanceRegistryDatanetVersionNotAnchored struct {
	DatanetId [32]byte
	Version   uint64
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error DatanetVersionNotAnchored(bytes32 datanetId, uint64 version)
func ProvenanceRegistryDatanetVersionNotAnchoredErrorID() common.Hash {
	return common.HexToHash("0x574ba8174e9fe763e2291812aecc2d1a9427799440cc01be35c970b148e9bf23")
}

// UnpackDatanetVersionNotAnchoredError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error DatanetVersionNotAnchored(bytes32 datanetId, uint64 version)
func (provenanceRegistry *ProvenanceRegistry) UnpackDatanetVersionNotAnchoredError(raw []byte) (*ProvenanceRegistryDatanetVersionNotAnchored, error) {
	out := new(ProvenanceRegistryDatanetVersionNotAnchored)
	if err := provenanceRegistry.abi.UnpackIntoInterface(out, "DatanetVersionNotAnchored", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ProvenanceRegistryModelNotAnchored represents a ModelNotAnchored error raised by the ProvenanceRegistry contract.
type ProvenanceRegistryModelNotAnchored struct {
	ModelId [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ModelNotAnchored(bytes32 modelId)
func ProvenanceRegistryModelNotAnchoredErrorID() common.Hash {
	return common.HexToHash("0x1b0aebc758952221756f361710999734e36c5c92a0a2d6290ca2b0a44e29b65c")
}

// UnpackModelNotAnchoredError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ModelNotAnchored(bytes32 modelId)
func (provenanceRegistry *ProvenanceRegistry) UnpackModelNotAnchoredError(raw []byte) (*ProvenanceRegistryModelNotAnchored, error) {
	out := new(ProvenanceRegistryModelNotAnchored)
	if err := provenanceRegistry.abi.UnpackIntoInterface(out, "ModelNotAnchored", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ProvenanceRegistryZeroAddress represents a ZeroAddress error raised by the ProvenanceRegistry contract.
type ProvenanceRegistryZeroAddress struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroAddress()
func ProvenanceRegistryZeroAddressErrorID() common.Hash {
	return common.HexToHash("0xd92e233df2717d4a40030e20904abd27b68fcbeede117eaaccbbdac9618c8c73")
}

// UnpackZeroAddressError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroAddress()
func (provenanceRegistry *ProvenanceRegistry) UnpackZeroAddressError(raw []byte) (*ProvenanceRegistryZeroAddress, error) {
	out := new(ProvenanceRegistryZeroAddress)
	if err := provenanceRegistry.abi.UnpackIntoInterface(out, "ZeroAddress", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ProvenanceRegistryZeroHash represents a ZeroHash error raised by the ProvenanceRegistry contract.
type ProvenanceRegistryZeroHash struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroHash()
func ProvenanceRegistryZeroHashErrorID() common.Hash {
	return common.HexToHash("0xf1ae58d53750b958ce0ecfcfb8703282d23f4108c501df126d4c9e83b187c78e")
}

// UnpackZeroHashError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroHash()
func (provenanceRegistry *ProvenanceRegistry) UnpackZeroHashError(raw []byte) (*ProvenanceRegistryZeroHash, error) {
	out := new(ProvenanceRegistryZeroHash)
	if err := provenanceRegistry.abi.UnpackIntoInterface(out, "ZeroHash", raw); err != nil {
		return nil, err
	}
	return out, nil
}
