package e2e

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/modelfactory/modelfactory/siwe"
)

// providerJS is an EIP-1193 provider like a wallet extension injects. Its
// personal_sign calls back into the test (a CDP binding), where a real
// secp256k1 key signs; accounts come back lower-case, as some wallets send
// them, so the app's checksumming path is exercised too. Transactions
// (eth_sendTransaction, eth_getTransactionReceipt) work when the test also
// exposes mfSendTx and mfReceipt (see rewards_test.go).
const providerJS = `(() => {
  const address = %q, chainId = %q;
  const unsupported = (method) => { const e = new Error("unsupported method " + method); e.code = 4200; return e; };
  window.ethereum = {
    request: async ({ method, params }) => {
      switch (method) {
        case "eth_requestAccounts": case "eth_accounts": return [address.toLowerCase()];
        case "eth_chainId": return chainId;
        case "personal_sign": return window.mfSign({ data: params[0], account: params[1] });
        case "eth_sendTransaction":
          if (!window.mfSendTx) throw unsupported(method);
          return window.mfSendTx(params[0]);
        case "eth_getTransactionReceipt": {
          if (!window.mfReceipt) throw unsupported(method);
          const r = await window.mfReceipt(params[0]);
          return r.found ? { status: r.status, transactionHash: params[0] } : null;
        }
        default: throw unsupported(method);
      }
    },
    on() {}, removeListener() {},
  };
})();`

// wallet is the test side of the injected provider.
type wallet struct {
	key *ecdsa.PrivateKey
	mu  sync.Mutex
	// signed are the messages the page asked the wallet to sign.
	signed []string
}

func (w *wallet) address() string { return crypto.PubkeyToAddress(w.key.PublicKey).Hex() }

// inject installs the provider in every document of ctx's tab.
func (w *wallet) inject(t *testing.T, ctx context.Context, chainID uint64) {
	t.Helper()
	js := fmt.Sprintf(providerJS, w.address(), hexutil.EncodeUint64(chainID))
	err := chromedp.Do(ctx,
		chromedp.ExposeFunc("mfSign", w.sign),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
			return err
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
}

type signRequest struct {
	Data    string `json:"data"`
	Account string `json:"account"`
}

// sign answers personal_sign with the wallet's key (EIP-191).
func (w *wallet) sign(_ context.Context, req signRequest) (string, error) {
	msg, err := hexutil.Decode(req.Data)
	if err != nil {
		return "", fmt.Errorf("personal_sign data is not 0x-hex: %w", err)
	}
	if !strings.EqualFold(req.Account, w.address()) {
		return "", fmt.Errorf("personal_sign for %s, wallet is %s", req.Account, w.address())
	}
	w.mu.Lock()
	w.signed = append(w.signed, string(msg))
	w.mu.Unlock()
	sig, err := crypto.Sign(accounts.TextHash(msg), w.key)
	if err != nil {
		return "", err
	}
	sig[64] += 27
	return hexutil.Encode(sig), nil
}

func newWallet(t *testing.T) *wallet {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &wallet{key: key}
}

func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitText polls the page until its text contains want, ignoring case
// (badges are styled upper-case, which innerText reflects).
func waitText(t *testing.T, ctx context.Context, want, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var s string
	for time.Now().Before(deadline) {
		s, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		if strings.Contains(strings.ToLower(s), strings.ToLower(want)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %q never appeared; page text:\n%.2000s", what, want, s)
}

// fetchStatus requests path from the page (with its cookies) and returns
// the HTTP status; accept is the Accept header.
func fetchStatus(t *testing.T, ctx context.Context, path, accept string) int {
	t.Helper()
	js := fmt.Sprintf(`fetch(%q, {headers: {"Accept": %q}}).then(r => r.status)`, path, accept)
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	return status
}

func setDark(t *testing.T, ctx context.Context, dark bool) {
	t.Helper()
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
	if err != nil {
		t.Fatal(err)
	}
}

// signIn connects the injected wallet on the sign-in page and waits for the
// dashboard.
func signIn(t *testing.T, ctx context.Context, srv *server, w *wallet) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-siwe="wallet"]`)),
		chromedp.Click(chromedp.CSS(`[data-siwe="wallet"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "Welcome", "dashboard after sign-in")
}

// TestBrowserSignInAndOut is the foundation's end-to-end check: a person
// with an EIP-1193 wallet signs in with Ethereum, sees their address and
// role on the dashboard, browses, is refused the admin area, and signs out;
// an admin (from MF_ADMIN_ADDRESSES) reaches River's UI at /admin/jobs.
func TestBrowserSignInAndOut(t *testing.T) {
	user, admin := newWallet(t), newWallet(t)
	srv := startServer(t, "MF_ADMIN_ADDRESSES="+admin.address())

	ctx := newBrowser(t)
	user.inject(t, ctx, 1337)

	// Signed out: the landing page offers the wallet.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-siwe="wallet"]`))); err != nil {
		t.Fatal(err)
	}
	setDark(t, ctx, false)
	screenshot(t, ctx, "signin-light")
	setDark(t, ctx, true)
	screenshot(t, ctx, "signin-dark")
	setDark(t, ctx, false)
	if got := fetchStatus(t, ctx, "/api/v1/me", "application/json"); got != 401 {
		t.Fatalf("/api/v1/me signed out = %d, want 401", got)
	}

	signIn(t, ctx, srv, user)
	addr := user.address()
	short := addr[:6] + "…" + addr[len(addr)-4:]
	text := bodyText(t, ctx)
	contains(t, text, short, "dashboard shows the wallet")
	contains(t, text, "Members", "dashboard shows counts")
	if strings.Contains(text, "Admin") {
		t.Error("a non-admin sees the Admin entry")
	}
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`.address[title]`), "title"))
	if err != nil {
		t.Fatal(err)
	}
	if fullAddr := attr.Value; fullAddr != addr {
		t.Errorf("wallet pill title = %q, want checksummed %q", fullAddr, addr)
	}
	// The page asked for exactly one signature, of a well-formed SIWE message
	// for this site.
	user.mu.Lock()
	signed := append([]string(nil), user.signed...)
	user.mu.Unlock()
	if len(signed) != 1 {
		t.Fatalf("wallet was asked to sign %d messages, want 1", len(signed))
	}
	msg, err := siwe.Parse(signed[0])
	if err != nil {
		t.Fatalf("page composed an invalid SIWE message: %v\n%s", err, signed[0])
	}
	if msg.Address.Hex() != addr || msg.ChainID != 1337 || !strings.HasPrefix(srv.URL, msg.URI) {
		t.Errorf("SIWE message = %+v", msg)
	}
	screenshot(t, ctx, "dashboard-light")
	setDark(t, ctx, true)
	screenshot(t, ctx, "dashboard-dark")
	setDark(t, ctx, false)

	if got := fetchStatus(t, ctx, "/api/v1/me", "application/json"); got != 200 {
		t.Fatalf("/api/v1/me signed in = %d, want 200", got)
	}
	// Every area says what will be there.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/datanets")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "A Datanet is a dataset a community builds together", "Datanets page")
	screenshot(t, ctx, "datanets-empty")

	// River's UI is for admins only.
	if got := fetchStatus(t, ctx, "/admin/jobs/", "text/html"); got != 403 {
		t.Fatalf("/admin/jobs/ for a non-admin = %d, want 403", got)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/jobs")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "403", "admin page refused")
	screenshot(t, ctx, "forbidden")

	// Sign out returns to the sign-in page and ends the session.
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/auth/logout"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/auth/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-siwe="wallet"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := fetchStatus(t, ctx, "/api/v1/me", "application/json"); got != 401 {
		t.Fatalf("/api/v1/me after sign-out = %d, want 401", got)
	}

	// An admin sees Admin in the navigation and River's UI.
	actx := newBrowser(t)
	admin.inject(t, actx, 1337)
	signIn(t, actx, srv, admin)
	contains(t, bodyText(t, actx), "Admin", "admin navigation")
	if got := fetchStatus(t, actx, "/admin/jobs/", "text/html"); got != 200 {
		t.Fatalf("/admin/jobs/ for an admin = %d, want 200", got)
	}
	if err := chromedp.Do(actx, chromedp.Navigate(srv.URL+"/admin/jobs/")); err != nil {
		t.Fatal(err)
	}
	var title string
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(strings.ToLower(title), "river") {
		title, _ = chromedp.Run(actx, chromedp.Title())
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(strings.ToLower(title), "river") {
		t.Errorf("River UI title = %q", title)
	}
	time.Sleep(time.Second)
	screenshot(t, actx, "admin-jobs")
}
