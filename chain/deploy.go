package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// Backend is what deploying and transacting need from a chain client.
// *ethclient.Client satisfies it, and so does the client of go-ethereum's
// simulated backend used in tests.
type Backend interface {
	bind.ContractBackend
	bind.DeployBackend
	ChainID(ctx context.Context) (*big.Int, error)
}

// NewTransactor returns transaction options that sign with key for the
// backend's chain, bound to ctx.
func NewTransactor(ctx context.Context, backend Backend, key *ecdsa.PrivateKey) (*bind.TransactOpts, error) {
	if key == nil {
		return nil, errors.New("transactor: no key")
	}
	chainID, err := backend.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("transactor: read chain id: %w", err)
	}
	opts := bind.NewKeyedTransactor(key, chainID)
	opts.Context = ctx
	return opts, nil
}

// DeployContract deploys the contract described by meta (its Bin) with the
// ABI-encoded constructorInput, signed by key, waits for the receipt and
// checks that code is present at the new address.
func DeployContract(ctx context.Context, backend Backend, key *ecdsa.PrivateKey, meta *bind.MetaData, constructorInput []byte) (common.Address, *types.Receipt, error) {
	if meta == nil || meta.Bin == "" {
		return common.Address{}, nil, errors.New("deploy: no bytecode")
	}
	opts, err := NewTransactor(ctx, backend, key)
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("deploy %s: %w", meta.ID, err)
	}
	addr, tx, err := bind.DeployContract(opts, common.FromHex(meta.Bin), backend, constructorInput)
	if err != nil {
		return common.Address{}, nil, fmt.Errorf("deploy %s: %w", meta.ID, err)
	}
	receipt, err := WaitSuccess(ctx, backend, tx)
	if err != nil {
		return common.Address{}, receipt, fmt.Errorf("deploy %s: %w", meta.ID, err)
	}
	if receipt.ContractAddress != (common.Address{}) {
		addr = receipt.ContractAddress
	}
	// Read the code at the receipt's block, not "latest": a node may serve
	// the receipt before its head (and so "latest") has moved to that block.
	code, err := backend.CodeAt(ctx, addr, receipt.BlockNumber)
	if err != nil {
		return common.Address{}, receipt, fmt.Errorf("deploy %s: read code: %w", meta.ID, err)
	}
	if len(code) == 0 {
		return common.Address{}, receipt, fmt.Errorf("deploy %s: no code at %s after deployment", meta.ID, addr)
	}
	return addr, receipt, nil
}

// Transact sends a call with calldata data to contract to, signed by key,
// and waits for a successful receipt. A revert is reported as ErrTxFailed;
// a call that would revert usually fails earlier, at gas estimation, with
// the revert reason in the error.
func Transact(ctx context.Context, backend Backend, key *ecdsa.PrivateKey, to common.Address, data []byte) (*types.Receipt, error) {
	opts, err := NewTransactor(ctx, backend, key)
	if err != nil {
		return nil, err
	}
	contract := bind.NewBoundContract(to, abi.ABI{}, backend, backend, backend)
	tx, err := contract.RawTransact(opts, data)
	if err != nil {
		return nil, fmt.Errorf("transact with %s from %s: %w", to, crypto.PubkeyToAddress(key.PublicKey), err)
	}
	return WaitSuccess(ctx, backend, tx)
}
