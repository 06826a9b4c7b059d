package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/pgcluster/pgtest"
)

type txRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
	Data string `json:"data"`
}

type receiptResult struct {
	Found  bool   `json:"found"`
	Status string `json:"status"`
}

// txWallet signs and sends transactions the page asks for.
type txWallet struct {
	*wallet
	client *ethclient.Client
	sent   []common.Hash
}

func (w *txWallet) sendTx(ctx context.Context, req txRequest) (string, error) {
	if !strings.EqualFold(req.From, w.address()) {
		return "", fmt.Errorf("eth_sendTransaction from %s, wallet is %s", req.From, w.address())
	}
	data, err := hexutil.Decode(req.Data)
	if err != nil {
		return "", err
	}
	to := common.HexToAddress(req.To)
	from := common.HexToAddress(w.address())
	nonce, err := w.client.PendingNonceAt(ctx, from)
	if err != nil {
		return "", err
	}
	gas, err := w.client.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &to, Data: data})
	if err != nil {
		return "", err
	}
	head, err := w.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return "", err
	}
	chainID, err := w.client.ChainID(ctx)
	if err != nil {
		return "", err
	}
	tip := big.NewInt(params.GWei)
	tx, err := types.SignNewTx(w.key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce,
		GasTipCap: tip, GasFeeCap: new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2))), Gas: gas * 2, To: &to, Data: data})
	if err != nil {
		return "", err
	}
	if err := w.client.SendTransaction(ctx, tx); err != nil {
		return "", err
	}
	w.sent = append(w.sent, tx.Hash())
	return tx.Hash().Hex(), nil
}

func (w *txWallet) receipt(ctx context.Context, hash string) (receiptResult, error) {
	r, err := w.client.TransactionReceipt(ctx, common.HexToHash(hash))
	if err != nil {
		return receiptResult{}, nil
	}
	return receiptResult{Found: true, Status: hexutil.EncodeUint64(r.Status)}, nil
}

// pageFetch runs fetch in the page (with its session cookie) and returns
// the status and body.
func pageFetch(t *testing.T, ctx context.Context, method, path, body string) (int, string) {
	t.Helper()
	js := fmt.Sprintf(`(async () => { const r = await fetch(%q, {method: %q, headers: {"Accept": "application/json", "Content-Type": "application/json"}%s});
		return JSON.stringify({status: r.status, body: await r.text()}); })()`, path, method, map[bool]string{true: ", body: " + fmt.Sprintf("%q", body), false: ""}[body != ""])
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	return res.Status, res.Body
}

// TestBrowserClaimRewards: a contributor with a grant claims OPEN from the
// Rewards page through the injected wallet and the balance changes on
// chain. The contributor is also the admin that grants and closes the
// epoch (one browser session).
// startChainWorker runs `modelfactory worker` for the chain queue only,
// against serve's database and dev chain as a real network: contract
// addresses from /api/v1/chain and the dev chain's faucet as operator key.
func startChainWorker(t *testing.T, srv *server, dbURL, rpcAddr, serveDataDir string, chainID *big.Int) {
	t.Helper()
	resp, err := http.Get(srv.URL + "/api/v1/chain")
	if err != nil {
		t.Fatal(err)
	}
	var dep chain.Deployment
	err = json.NewDecoder(resp.Body).Decode(&dep)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	key, err := crypto.LoadECDSA(filepath.Join(serveDataDir, "chain", "faucet.key"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "worker")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"MF_DATA_DIR="+t.TempDir(),
		"MF_CHAIN_RPC_URL=http://"+rpcAddr,
		"MF_CHAIN_ID="+chainID.String(),
		"MF_CONTRACT_OPEN="+dep.OPEN.Hex(),
		"MF_CONTRACT_REWARDS_DISTRIBUTOR="+dep.RewardsDistributor.Hex(),
		"MF_CONTRACT_PROVENANCE_REGISTRY="+dep.ProvenanceRegistry.Hex(),
		"MF_OPERATOR_KEY="+hex.EncodeToString(crypto.FromECDSA(key)),
		"MF_OPERATOR_KEYSTORE=",
		"MF_CONFIRMATIONS=1",
		"MF_QUEUES=chain",
		"MF_LOG_FORMAT=text",
		"MF_DEV=",
	)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("worker did not stop within 10 s of SIGINT")
		}
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "worker running") {
		select {
		case <-done:
			t.Fatalf("worker exited: %v\n%s", waitErr, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker not running in 30 s\n%s", logs.String())
		}
	}
	if strings.Contains(logs.String(), "not working the chain queue") {
		t.Fatalf("worker refused the chain queue:\n%s", logs.String())
	}
}

// TestBrowserClaimRewards runs the whole payout path with the chain work in
// a separate `worker` process (serve works no chain queue): the worker's
// journal sweep sends the gas money, it closes the epoch and posts the root,
// and it reconciles the claim the contributor's wallet sends from the page.
func TestBrowserClaimRewards(t *testing.T) {
	rpcAddr := freeAddr(t)
	w := &txWallet{wallet: newWallet(t)}
	dbURL, dataDir := pgtest.URL(t), t.TempDir()
	srv := startServer(t, "MF_ADMIN_ADDRESSES="+w.address(), "MF_CHAIN_DEV_ADDR="+rpcAddr,
		"DATABASE_URL="+dbURL, "MF_DATA_DIR="+dataDir, "MF_QUEUES=default,ingest,train_cpu,attribution")
	ctx := newBrowser(t)
	client, err := ethclient.Dial("http://" + rpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	w.client = client
	chainID, err := client.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	startChainWorker(t, srv, dbURL, rpcAddr, dataDir, chainID)

	js := fmt.Sprintf(providerJS, w.address(), hexutil.EncodeBig(chainID))
	err = chromedp.Do(ctx,
		chromedp.ExposeFunc("mfSign", w.sign),
		chromedp.ExposeFunc("mfSendTx", w.sendTx),
		chromedp.ExposeFunc("mfReceipt", w.receipt),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
			return err
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, srv, w.wallet)

	// Contracts are deployed and served.
	resp, err := http.Get(srv.URL + "/api/v1/chain")
	if err != nil {
		t.Fatal(err)
	}
	var dep chain.Deployment
	if err := json.NewDecoder(resp.Body).Decode(&dep); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := dep.Verify(ctx, client); err != nil {
		t.Fatalf("GET /api/v1/chain: %v", err)
	}

	if status, body := pageFetch(t, ctx, "POST", "/api/v1/dev/gas", ""); status != 200 {
		t.Fatalf("dev gas: %d %s", status, body)
	}
	grant := new(big.Int).Mul(big.NewInt(42), big.NewInt(1e18))
	if status, body := pageFetch(t, ctx, "POST", "/api/v1/admin/rewards/grants",
		fmt.Sprintf(`{"address":%q,"amountWei":%q,"reason":"e2e grant"}`, w.address(), grant.String())); status != 201 {
		t.Fatalf("grant: %d %s", status, body)
	}
	if status, body := pageFetch(t, ctx, "POST", "/api/v1/admin/rewards/grants", `{"address":"0x12","amountWei":"1.5","reason":""}`); status != 422 ||
		!strings.Contains(body, "amountWei") {
		t.Fatalf("bad grant: %d %s", status, body)
	}
	if status, body := pageFetch(t, ctx, "POST", "/api/v1/admin/epochs/close", ""); status != 202 {
		t.Fatalf("close epoch: %d %s", status, body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, body := pageFetch(t, ctx, "GET", "/api/v1/rewards/claim", "")
		if status == 200 {
			if !strings.Contains(body, `"cumulativeAmount":"`+grant.String()+`"`) {
				t.Fatalf("claim: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("epoch never closed: %d %s", status, body)
		}
		time.Sleep(300 * time.Millisecond)
	}

	before, err := chain.TokenBalance(ctx, client, dep.OPEN, common.HexToAddress(w.address()))
	if err != nil || before.Sign() != 0 {
		t.Fatalf("balance before: %v %v", before, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/rewards"),
		chromedp.WaitVisible(chromedp.CSS(`#claim-button`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "42 OPEN", "claimable amount")
	screenshot(t, ctx, "rewards-claimable")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#claim-button`))); err != nil {
		t.Fatal(err)
	}
	waitTextLong(t, ctx, "Nothing to claim right now", "page after the claim", 60*time.Second)
	waitText(t, ctx, "read from the chain", "claims table")
	screenshot(t, ctx, "rewards-claimed")
	after, err := chain.TokenBalance(ctx, client, dep.OPEN, common.HexToAddress(w.address()))
	if err != nil {
		t.Fatal(err)
	}
	if after.Cmp(grant) != 0 || len(w.sent) != 1 {
		t.Fatalf("after claiming: balance %s (want %s), %d transactions sent by the wallet", after, grant, len(w.sent))
	}
	// Claimed is what the chain says.
	_, body := pageFetch(t, ctx, "GET", "/api/v1/rewards", "")
	if !strings.Contains(body, `"claimedWei":"`+grant.String()+`"`) || !strings.Contains(body, `"claimableWei":"0"`) {
		t.Fatalf("rewards after claim: %s", body)
	}
}

func waitTextLong(t *testing.T, ctx context.Context, want, what string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var s string
	for time.Now().Before(deadline) {
		s, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		if strings.Contains(s, want) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %q never appeared; page text:\n%.2000s", what, want, s)
}
