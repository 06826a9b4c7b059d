package chain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// ReceiptReader is the part of a chain client WaitReceipt needs; both
// *ethclient.Client and the simulated backend's client satisfy it.
type ReceiptReader interface {
	TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error)
}

// ErrTxFailed is returned (wrapped) by WaitSuccess when a transaction was
// included but reverted.
var ErrTxFailed = errors.New("transaction reverted")

// receiptPoll is short because the dev chain seals a block as soon as a
// transaction arrives; go-ethereum's bind.WaitMined polls once a second.
const receiptPoll = 50 * time.Millisecond

// WaitReceipt polls for the receipt of txHash until it exists or ctx ends.
func WaitReceipt(ctx context.Context, client ReceiptReader, txHash common.Hash) (*types.Receipt, error) {
	ticker := time.NewTicker(receiptPoll)
	defer ticker.Stop()
	for {
		receipt, err := client.TransactionReceipt(ctx, txHash)
		if err == nil {
			return receipt, nil
		}
		// A node that has just started answers "transaction indexing is in
		// progress" until its index catches up: that is not a failure.
		if !errors.Is(err, ethereum.NotFound) && !strings.Contains(err.Error(), "transaction indexing is in progress") {
			return nil, fmt.Errorf("receipt of %s: %w", txHash, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for receipt of %s: %w", txHash, ctx.Err())
		case <-ticker.C:
		}
	}
}

// WaitSuccess waits for the receipt of tx and returns ErrTxFailed (wrapped)
// when the transaction reverted.
func WaitSuccess(ctx context.Context, client ReceiptReader, tx *types.Transaction) (*types.Receipt, error) {
	receipt, err := WaitReceipt(ctx, client, tx.Hash())
	if err != nil {
		return nil, err
	}
	if receipt.Status != types.ReceiptStatusSuccessful {
		return receipt, fmt.Errorf("tx %s in block %s: %w", tx.Hash(), receipt.BlockNumber, ErrTxFailed)
	}
	return receipt, nil
}
