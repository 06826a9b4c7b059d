// Package chaintest holds helpers for tests that need contracts on a chain,
// such as an EIP-1271 contract wallet for Sign-In with Ethereum tests.
package chaintest

import (
	"context"
	"crypto/ecdsa"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/chain/bindings/testwallet"
)

// ERC1271MagicValue is what isValidSignature returns for a valid signature.
var ERC1271MagicValue = [4]byte{0x16, 0x26, 0xba, 0x7e}

// DeployTestWallet1271 deploys a TestWallet1271 owned by owner, signed by
// deployer, and waits for its receipt. The wallet's isValidSignature(hash,
// sig) returns 0x1626ba7e exactly when sig is owner's ECDSA signature of hash
// (65 bytes, v 27/28), else 0xffffffff. client may be an *ethclient.Client.
func DeployTestWallet1271(ctx context.Context, client chain.Backend, deployer *ecdsa.PrivateKey, owner common.Address) (common.Address, error) {
	w := testwallet.NewTestWallet1271()
	addr, _, err := chain.DeployContract(ctx, client, deployer, &testwallet.TestWallet1271MetaData, w.PackConstructor(owner))
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy test wallet: %w", err)
	}
	return addr, nil
}
