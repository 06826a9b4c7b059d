package chain

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/modelfactory/modelfactory/chain/bindings/open"
	"github.com/modelfactory/modelfactory/chain/bindings/provenance"
	"github.com/modelfactory/modelfactory/chain/bindings/rewards"
)

// DeploymentFile is the name of the file SaveDeployment writes in its directory.
const DeploymentFile = "deployment.json"

// DevDistributorFunding is what DeployDev moves from the treasury to the
// RewardsDistributor: 100,000,000 OPEN (10% of the supply), in wei.
var DevDistributorFunding = new(big.Int).Mul(big.NewInt(100_000_000), big.NewInt(1e18))

// ErrDeploymentMismatch is returned (wrapped) by Deployment.Verify when the
// endpoint serves another chain or a contract address holds no code.
var ErrDeploymentMismatch = errors.New("deployment does not match the chain")

// Deployment is where ModelFactory's contracts live on one chain.
type Deployment struct {
	ChainID            uint64
	OPEN               common.Address
	RewardsDistributor common.Address
	ProvenanceRegistry common.Address
}

// deploymentJSON is the persisted and API shape:
// {"chainId":1337,"contracts":{"OPEN":"0x…","RewardsDistributor":"0x…","ProvenanceRegistry":"0x…"}}.
type deploymentJSON struct {
	ChainID   uint64 `json:"chainId"`
	Contracts struct {
		OPEN               common.Address `json:"OPEN"`
		RewardsDistributor common.Address `json:"RewardsDistributor"`
		ProvenanceRegistry common.Address `json:"ProvenanceRegistry"`
	} `json:"contracts"`
}

// MarshalJSON encodes d as {"chainId","contracts":{"OPEN","RewardsDistributor","ProvenanceRegistry"}}.
func (d Deployment) MarshalJSON() ([]byte, error) {
	var j deploymentJSON
	j.ChainID = d.ChainID
	j.Contracts.OPEN = d.OPEN
	j.Contracts.RewardsDistributor = d.RewardsDistributor
	j.Contracts.ProvenanceRegistry = d.ProvenanceRegistry
	return json.Marshal(j)
}

// UnmarshalJSON decodes the shape written by MarshalJSON.
func (d *Deployment) UnmarshalJSON(data []byte) error {
	var j deploymentJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*d = Deployment{
		ChainID:            j.ChainID,
		OPEN:               j.Contracts.OPEN,
		RewardsDistributor: j.Contracts.RewardsDistributor,
		ProvenanceRegistry: j.Contracts.ProvenanceRegistry,
	}
	return nil
}

// Validate reports a missing chain id or contract address.
func (d Deployment) Validate() error {
	if d.ChainID == 0 {
		return errors.New("deployment: chain id is 0")
	}
	for _, c := range d.contracts() {
		if c.addr == (common.Address{}) {
			return fmt.Errorf("deployment: %s address is not set", c.name)
		}
	}
	return nil
}

type namedAddress struct {
	name string
	addr common.Address
}

func (d Deployment) contracts() []namedAddress {
	return []namedAddress{
		{"OPEN", d.OPEN},
		{"RewardsDistributor", d.RewardsDistributor},
		{"ProvenanceRegistry", d.ProvenanceRegistry},
	}
}

// Verify checks that backend serves d's chain and that each contract
// address holds code, as required before using configured addresses on a
// real network.
func (d Deployment) Verify(ctx context.Context, backend Backend) error {
	if err := d.Validate(); err != nil {
		return err
	}
	chainID, err := backend.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("verify deployment: read chain id: %w", err)
	}
	if !chainID.IsUint64() || chainID.Uint64() != d.ChainID {
		return fmt.Errorf("verify deployment: endpoint serves chain id %s, deployment is for chain id %d: %w", chainID, d.ChainID, ErrDeploymentMismatch)
	}
	for _, c := range d.contracts() {
		code, err := backend.CodeAt(ctx, c.addr, nil)
		if err != nil {
			return fmt.Errorf("verify deployment: read code of %s at %s: %w", c.name, c.addr, err)
		}
		if len(code) == 0 {
			return fmt.Errorf("verify deployment: no contract code for %s at %s: %w", c.name, c.addr, ErrDeploymentMismatch)
		}
	}
	return nil
}

// SaveDeployment writes d to dir/deployment.json atomically.
func SaveDeployment(dir string, d Deployment) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("save deployment: %w", err)
	}
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("save deployment: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save deployment: %w", err)
	}
	path := filepath.Join(dir, DeploymentFile)
	tmp, err := os.CreateTemp(dir, DeploymentFile+".*")
	if err != nil {
		return fmt.Errorf("save deployment: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save deployment: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save deployment: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save deployment: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save deployment: %w", err)
	}
	return nil
}

// LoadDeployment reads dir/deployment.json. found is false, with no error,
// when the file does not exist.
func LoadDeployment(dir string) (d Deployment, found bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, DeploymentFile))
	if errors.Is(err, os.ErrNotExist) {
		return Deployment{}, false, nil
	}
	if err != nil {
		return Deployment{}, false, fmt.Errorf("load deployment: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Deployment{}, false, fmt.Errorf("load deployment %s: %w", filepath.Join(dir, DeploymentFile), err)
	}
	if err := d.Validate(); err != nil {
		return Deployment{}, false, fmt.Errorf("load deployment %s: %w", filepath.Join(dir, DeploymentFile), err)
	}
	return d, true, nil
}

// DeployDev deploys OPEN (whole supply to the deployer as treasury), the
// RewardsDistributor and the ProvenanceRegistry, with the deployer as admin,
// operator and registrar, and moves DevDistributorFunding from the treasury
// to the distributor. It is meant for development chains; production
// deployments grant roles to separate keys.
func DeployDev(ctx context.Context, backend Backend, deployer *ecdsa.PrivateKey) (Deployment, error) {
	if deployer == nil {
		return Deployment{}, errors.New("deploy dev contracts: no deployer key")
	}
	chainID, err := backend.ChainID(ctx)
	if err != nil {
		return Deployment{}, fmt.Errorf("deploy dev contracts: read chain id: %w", err)
	}
	if !chainID.IsUint64() {
		return Deployment{}, fmt.Errorf("deploy dev contracts: chain id %s does not fit uint64", chainID)
	}
	me := crypto.PubkeyToAddress(deployer.PublicKey)
	d := Deployment{ChainID: chainID.Uint64()}

	token := open.NewOPEN()
	if d.OPEN, _, err = DeployContract(ctx, backend, deployer, &open.OPENMetaData, token.PackConstructor(me)); err != nil {
		return Deployment{}, fmt.Errorf("deploy dev contracts: %w", err)
	}
	dist := rewards.NewRewardsDistributor()
	if d.RewardsDistributor, _, err = DeployContract(ctx, backend, deployer, &rewards.RewardsDistributorMetaData, dist.PackConstructor(d.OPEN, me, me)); err != nil {
		return Deployment{}, fmt.Errorf("deploy dev contracts: %w", err)
	}
	reg := provenance.NewProvenanceRegistry()
	if d.ProvenanceRegistry, _, err = DeployContract(ctx, backend, deployer, &provenance.ProvenanceRegistryMetaData, reg.PackConstructor(me, me)); err != nil {
		return Deployment{}, fmt.Errorf("deploy dev contracts: %w", err)
	}
	if _, err := Transact(ctx, backend, deployer, d.OPEN, token.PackTransfer(d.RewardsDistributor, DevDistributorFunding)); err != nil {
		return Deployment{}, fmt.Errorf("deploy dev contracts: fund distributor: %w", err)
	}
	return d, nil
}

// EnsureDevDeployment returns the deployment saved in dir when it is for
// the backend's chain and all its contracts have code; otherwise it runs
// DeployDev and saves the result, so restarts of a dev chain reuse the same
// contracts and a reset chain gets fresh ones.
func EnsureDevDeployment(ctx context.Context, backend Backend, deployer *ecdsa.PrivateKey, dir string) (Deployment, error) {
	saved, found, err := LoadDeployment(dir)
	if err != nil {
		return Deployment{}, err
	}
	if found {
		err := saved.Verify(ctx, backend)
		if err == nil {
			return saved, nil
		}
		if !errors.Is(err, ErrDeploymentMismatch) {
			return Deployment{}, err
		}
	}
	d, err := DeployDev(ctx, backend, deployer)
	if err != nil {
		return Deployment{}, err
	}
	if err := SaveDeployment(dir, d); err != nil {
		return Deployment{}, err
	}
	return d, nil
}

// TokenBalance returns the OPEN balance of account.
func TokenBalance(ctx context.Context, backend Backend, token, account common.Address) (*big.Int, error) {
	b := open.NewOPEN()
	bal, err := bind.Call(b.Instance(backend, token), &bind.CallOpts{Context: ctx}, b.PackBalanceOf(account), b.UnpackBalanceOf)
	if err != nil {
		return nil, fmt.Errorf("balance of %s: %w", account, err)
	}
	return bal, nil
}
