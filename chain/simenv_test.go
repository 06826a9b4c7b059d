package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/rpc"
)

// pragueRules configures the simulated chain with mainnet-like rules: every
// fork up to and including Prague (Cancun and Shanghai included), none of
// the later ones the dev default enables (Osaka, Bogota, Amsterdam), so gas
// figures match what mainnet charged under Prague.
func pragueRules(_ *node.Config, ethConf *ethconfig.Config) {
	cfg := *ethConf.Genesis.Config
	cfg.OsakaTime = nil
	cfg.BogotaTime = nil
	cfg.AmsterdamTime = nil
	ethConf.Genesis.Config = &cfg
}

// committingClient seals a block right after each transaction is sent, so
// code that waits for receipts (DeployDev, Transact) runs unchanged on the
// simulated backend.
type committingClient struct {
	simulated.Client
	sim *simulated.Backend
}

func (c committingClient) SendTransaction(ctx context.Context, tx *types.Transaction) error {
	if err := c.Client.SendTransaction(ctx, tx); err != nil {
		return err
	}
	c.sim.Commit()
	return nil
}

type simEnv struct {
	sim    *simulated.Backend
	client committingClient
	// admin deployed everything: treasury, admin, operator and registrar.
	admin, operator, alice, bob, carol, stranger *ecdsa.PrivateKey
	d                                            Deployment
}

func newSimEnv(t testing.TB) *simEnv {
	t.Helper()
	keys := make([]*ecdsa.PrivateKey, 6)
	alloc := types.GenesisAlloc{}
	ether := new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))
	for i := range keys {
		k, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: ether}
	}
	sim := simulated.NewBackend(alloc, pragueRules)
	t.Cleanup(func() { sim.Close() })
	e := &simEnv{
		sim:    sim,
		client: committingClient{Client: sim.Client(), sim: sim},
		admin:  keys[0], operator: keys[1], alice: keys[2], bob: keys[3], carol: keys[4], stranger: keys[5],
	}
	d, err := DeployDev(t.Context(), e.client, e.admin)
	if err != nil {
		t.Fatalf("DeployDev: %v", err)
	}
	e.d = d
	return e
}

func addr(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }

// send runs a transaction from key to contract to and returns its receipt,
// or the error (whose revert data revertError decodes).
func (e *simEnv) send(t testing.TB, key *ecdsa.PrivateKey, to common.Address, data []byte) (*types.Receipt, error) {
	t.Helper()
	return Transact(t.Context(), e.client, key, to, data)
}

// mustSend is send that fails the test on error.
func (e *simEnv) mustSend(t testing.TB, key *ecdsa.PrivateKey, to common.Address, data []byte) *types.Receipt {
	t.Helper()
	r, err := e.send(t, key, to, data)
	if err != nil {
		t.Fatalf("transaction to %s: %v", to, err)
	}
	return r
}

// call runs a read-only call.
func call[T any](t testing.TB, e *simEnv, to common.Address, data []byte, unpack func([]byte) (T, error)) T {
	t.Helper()
	c := bind.NewBoundContract(to, emptyABI, e.client, e.client, e.client)
	v, err := bind.Call(c, &bind.CallOpts{Context: t.Context()}, data, unpack)
	if err != nil {
		t.Fatalf("call %s: %v", to, err)
	}
	return v
}

// revertError decodes the custom error carried by a failed call or
// transaction with unpack (a binding's UnpackError); nil when there is none.
func revertError(err error, unpack func([]byte) (any, error)) any {
	var de rpc.DataError
	if !errors.As(err, &de) {
		return nil
	}
	s, ok := de.ErrorData().(string)
	if !ok {
		return nil
	}
	v, uerr := unpack(common.FromHex(s))
	if uerr != nil {
		return nil
	}
	return v
}

func (e *simEnv) balance(t testing.TB, who common.Address) *big.Int {
	t.Helper()
	b, err := TokenBalance(t.Context(), e.client, e.d.OPEN, who)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
