package chain

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/ethclient"
)

// Dial connects to the JSON-RPC endpoint at rpcURL and checks that it serves
// the chain wantChainID, so that a misconfigured endpoint fails at start
// instead of signing transactions for the wrong network.
func Dial(ctx context.Context, rpcURL string, wantChainID uint64) (*ethclient.Client, error) {
	if rpcURL == "" {
		return nil, fmt.Errorf("dial chain: empty RPC URL")
	}
	client, err := ethclient.DialContext(ctx, rpcURL)
	if err != nil {
		return nil, fmt.Errorf("dial chain %s: %w", rpcURL, err)
	}
	got, err := client.ChainID(ctx)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("dial chain %s: read chain id: %w", rpcURL, err)
	}
	if !got.IsUint64() || got.Uint64() != wantChainID {
		client.Close()
		return nil, fmt.Errorf("dial chain %s: endpoint serves chain id %s, configured chain id is %d", rpcURL, got, wantChainID)
	}
	return client, nil
}

// Ping checks that the endpoint answers by reading the latest block number.
func Ping(ctx context.Context, client *ethclient.Client) error {
	if client == nil {
		return fmt.Errorf("ping chain: no client")
	}
	if _, err := client.BlockNumber(ctx); err != nil {
		return fmt.Errorf("ping chain: %w", err)
	}
	return nil
}
