package chain

import (
	"context"
	"crypto/ecdsa"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
)

func startDev(t *testing.T, dir string, chainID uint64) *DevChain {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	d, err := StartDev(ctx, DevConfig{
		DataDir:  dir,
		ChainID:  chainID,
		HTTPAddr: "127.0.0.1:0",
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("StartDev: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func sendEther(t *testing.T, ctx context.Context, client *ethclient.Client, key *ecdsa.PrivateKey, to common.Address, wei *big.Int) *types.Receipt {
	t.Helper()
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, err := client.PendingNonceAt(ctx, from)
	if err != nil {
		t.Fatalf("nonce: %v", err)
	}
	chainID, err := client.ChainID(ctx)
	if err != nil {
		t.Fatalf("chain id: %v", err)
	}
	tip, err := client.SuggestGasTipCap(ctx)
	if err != nil {
		t.Fatalf("tip: %v", err)
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID:   chainID,
		Nonce:     nonce,
		GasTipCap: tip,
		GasFeeCap: feeCap,
		Gas:       21000,
		To:        &to,
		Value:     wei,
	})
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	if err := client.SendTransaction(ctx, tx); err != nil {
		t.Fatalf("send: %v", err)
	}
	receipt, err := WaitSuccess(ctx, client, tx)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return receipt
}

func TestDevChainTransferPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	d := startDev(t, dir, 4242)
	if !strings.HasPrefix(d.RPCURL(), "http://127.0.0.1:") || strings.HasSuffix(d.RPCURL(), ":0") {
		t.Fatalf("RPCURL = %q, want http://127.0.0.1:<port>", d.RPCURL())
	}
	if d.ChainID() != 4242 {
		t.Fatalf("ChainID = %d", d.ChainID())
	}
	client, err := Dial(ctx, d.RPCURL(), 4242)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if err := Ping(ctx, client); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	faucet := d.FaucetKey()
	faucetBal, err := client.BalanceAt(ctx, d.FaucetAddress(), nil)
	if err != nil || faucetBal.Sign() <= 0 {
		t.Fatalf("faucet balance %v, err %v", faucetBal, err)
	}

	to := common.HexToAddress("0x00000000000000000000000000000000000beef1")
	amount := big.NewInt(1_234_567_890)
	r1 := sendEther(t, ctx, client, faucet, to, amount)
	if r1.Status != types.ReceiptStatusSuccessful || r1.BlockNumber.Sign() <= 0 {
		t.Fatalf("receipt %+v", r1)
	}
	bal, err := client.BalanceAt(ctx, to, nil)
	if err != nil || bal.Cmp(amount) != 0 {
		t.Fatalf("balance after transfer = %v (err %v), want %v", bal, err, amount)
	}
	// Fund is the same transfer, done by the chain itself.
	funded := common.HexToAddress("0x00000000000000000000000000000000000beef2")
	if _, err := d.Fund(ctx, funded, amount); err != nil {
		t.Fatalf("Fund: %v", err)
	}
	if bal, _ := client.BalanceAt(ctx, funded, nil); bal.Cmp(amount) != 0 {
		t.Fatalf("funded balance = %v, want %v", bal, amount)
	}
	if _, err := d.Fund(ctx, funded, big.NewInt(0)); err == nil {
		t.Fatal("Fund 0: want error")
	}
	client.Close()
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	d2 := startDev(t, dir, 4242)
	if d2.FaucetAddress() != crypto.PubkeyToAddress(faucet.PublicKey) {
		t.Fatalf("faucet changed across restart: %s vs %s", d2.FaucetAddress(), crypto.PubkeyToAddress(faucet.PublicKey))
	}
	client2, err := Dial(ctx, d2.RPCURL(), 4242)
	if err != nil {
		t.Fatalf("Dial after restart: %v", err)
	}
	defer client2.Close()
	bal, err = client2.BalanceAt(ctx, to, nil)
	if err != nil || bal.Cmp(amount) != 0 {
		t.Fatalf("balance after restart = %v (err %v), want %v", bal, err, amount)
	}
	head, err := client2.BlockNumber(ctx)
	if err != nil || head < r1.BlockNumber.Uint64() {
		t.Fatalf("head after restart = %d (err %v), want >= %d", head, err, r1.BlockNumber)
	}
	r2 := sendEther(t, ctx, client2, d2.FaucetKey(), to, amount)
	if r2.BlockNumber.Uint64() <= r1.BlockNumber.Uint64() {
		t.Fatalf("chain did not continue: second transfer in block %s, first in %s", r2.BlockNumber, r1.BlockNumber)
	}
	bal, _ = client2.BalanceAt(ctx, to, nil)
	if want := new(big.Int).Mul(amount, big.NewInt(2)); bal.Cmp(want) != 0 {
		t.Fatalf("balance after second transfer = %v, want %v", bal, want)
	}
}

func TestDevChainRejectsOtherChainIDOnSameDir(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, dir, 1337)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := StartDev(t.Context(), DevConfig{DataDir: dir, ChainID: 999, HTTPAddr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "chain with id 1337") {
		t.Fatalf("StartDev with other chain id: err = %v, want chain id mismatch", err)
	}
}

func TestDialWrongChainID(t *testing.T) {
	d := startDev(t, t.TempDir(), 0)
	if d.ChainID() != DefaultDevChainID {
		t.Fatalf("default chain id = %d", d.ChainID())
	}
	_, err := Dial(t.Context(), d.RPCURL(), 1)
	if err == nil || !strings.Contains(err.Error(), "chain id 1337") {
		t.Fatalf("Dial wrong chain: err = %v", err)
	}
	if _, err := Dial(t.Context(), "", 1); err == nil {
		t.Fatal("Dial empty URL: want error")
	}
}

func TestStartDevBadConfig(t *testing.T) {
	for _, cfg := range []DevConfig{
		{},
		{DataDir: t.TempDir(), HTTPAddr: "nope"},
		{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:99999"},
		{DataDir: t.TempDir(), BlockPeriod: -time.Second},
	} {
		if d, err := StartDev(t.Context(), cfg); err == nil {
			d.Close()
			t.Errorf("StartDev(%+v): want error", cfg)
		}
	}
}

func TestEnsureDevDeploymentSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	d := startDev(t, dir, 0)
	client, err := Dial(ctx, d.RPCURL(), d.ChainID())
	if err != nil {
		t.Fatal(err)
	}
	dep, err := EnsureDevDeployment(ctx, client, d.FaucetKey(), dir)
	if err != nil {
		t.Fatalf("EnsureDevDeployment: %v", err)
	}
	if dep.ChainID != DefaultDevChainID {
		t.Fatalf("deployment chain id = %d", dep.ChainID)
	}
	bal, err := TokenBalance(ctx, client, dep.OPEN, dep.RewardsDistributor)
	if err != nil || bal.Cmp(DevDistributorFunding) != 0 {
		t.Fatalf("distributor balance = %v (err %v), want %s", bal, err, DevDistributorFunding)
	}
	client.Close()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d2 := startDev(t, dir, 0)
	client2, err := Dial(ctx, d2.RPCURL(), d2.ChainID())
	if err != nil {
		t.Fatal(err)
	}
	defer client2.Close()
	again, err := EnsureDevDeployment(ctx, client2, d2.FaucetKey(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if again != dep {
		t.Fatalf("after restart got %+v, want the saved %+v", again, dep)
	}
	bal, err = TokenBalance(ctx, client2, dep.OPEN, dep.RewardsDistributor)
	if err != nil || bal.Cmp(DevDistributorFunding) != 0 {
		t.Fatalf("distributor balance after restart = %v (err %v)", bal, err)
	}
}

// TestDevChainServesBrowsers checks what a browser wallet needs: JSON-RPC
// over HTTP answering cross-origin requests.
func TestDevChainServesBrowsers(t *testing.T) {
	d := startDev(t, t.TempDir(), 0)
	body := strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, d.RPCURL(), body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://localhost:8080")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"result":"0x539"`) {
		t.Fatalf("eth_chainId: %d %s", resp.StatusCode, raw)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != "http://localhost:8080" {
		t.Fatalf("Access-Control-Allow-Origin = %q", got)
	}
}
