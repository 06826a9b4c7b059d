package handlers

import (
	"context"
	"errors"
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/modelfactory/modelfactory/chain"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/store"
	"github.com/modelfactory/modelfactory/views"
)

var errNoRewards = &Problem{Status: http.StatusServiceUnavailable, Code: "rewards_unavailable",
	Message: "Rewards are not available: this server has no contracts configured. Ask an admin to set MF_CONTRACT_* and the operator key."}

// rewardsView gathers the viewer's rewards: ledger totals from the
// database, claims from the distributor's Claimed events (synced first, so
// a claim the browser just sent shows once it is mined) and what is
// claimable now from the chain.
func (h *Handlers) rewardsView(ctx context.Context, account common.Address) (*store.AccountRewards, *jobs.ClaimInfo, error) {
	if h.Rewards == nil {
		return nil, nil, errNoRewards
	}
	if err := h.Rewards.SyncClaims(ctx); err != nil {
		h.Log.WarnContext(ctx, "sync claims", "err", err)
	}
	ar, err := h.Store.AccountRewards(ctx, account.Hex())
	if err != nil {
		return nil, nil, err
	}
	claim, err := h.Rewards.Claim(ctx, account)
	if errors.Is(err, jobs.ErrNothingToClaim) {
		return ar, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return ar, claim, nil
}

func wei(v *big.Int) string {
	if v == nil {
		return "0"
	}
	return v.String()
}

func weiMap(m map[string]*big.Int) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v.String()
	}
	return out
}

// RewardsAPI answers GET /api/v1/rewards: the caller's totals and
// per-epoch rows, amounts in wei as decimal strings.
func (h *Handlers) RewardsAPI(w http.ResponseWriter, r *http.Request) {
	v := ViewerFrom(r.Context())
	ar, claim, err := h.rewardsView(r.Context(), common.HexToAddress(v.User.Address))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	claimable := "0"
	if claim != nil {
		claimable = claim.Claimable.String()
	}
	epochs := []map[string]any{}
	for _, e := range ar.Epochs {
		row := map[string]any{"epoch": e.Epoch, "status": e.Status, "amountWei": wei(e.Amount), "bySource": weiMap(e.BySource), "rootTx": e.RootTxHash}
		if e.Epoch == 0 {
			row["status"] = "pending"
		}
		epochs = append(epochs, row)
	}
	claims := []map[string]any{}
	for _, c := range ar.Claims {
		claims = append(claims, map[string]any{"txHash": c.TxHash, "amountWei": wei(c.Amount), "cumulativeWei": wei(c.Cumulative),
			"epoch": c.Epoch, "block": c.BlockNumber})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"account": ar.Account, "earnedWei": wei(ar.Earned), "pendingWei": wei(ar.Pending), "settledWei": wei(ar.Settled),
		"claimedWei": wei(ar.Claimed), "claimableWei": claimable, "bySource": weiMap(ar.BySource),
		"epochs": epochs, "claims": claims,
	})
}

// ClaimAPI answers GET /api/v1/rewards/claim with the leaf of the
// distributor's current root for the caller and the calldata of
// claim(account, cumulativeAmount, proof).
func (h *Handlers) ClaimAPI(w http.ResponseWriter, r *http.Request) {
	if h.Rewards == nil {
		h.Fail(w, r, errNoRewards)
		return
	}
	v := ViewerFrom(r.Context())
	c, err := h.Rewards.Claim(r.Context(), common.HexToAddress(v.User.Address))
	if errors.Is(err, jobs.ErrNothingToClaim) {
		h.Fail(w, r, problem(http.StatusNotFound, "nothing_to_claim", "You have no rewards in the distributor's current epoch yet. Rewards become claimable when an epoch closes."))
		return
	}
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	proof := make([]string, len(c.Proof))
	for i, p := range c.Proof {
		proof[i] = hexutil.Encode(p[:])
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"account": c.Account.Hex(), "cumulativeAmount": c.Cumulative.String(), "proof": proof,
		"distributor": c.Distributor.Hex(), "epoch": c.Epoch, "claimedWei": c.ClaimedOn.String(),
		"claimableWei": c.Claimable.String(), "calldata": hexutil.Encode(c.Calldata), "chainId": h.Chain.ChainID,
	})
}

// ChainAPI answers GET /api/v1/chain: {"chainId","contracts":{…}}.
func (h *Handlers) ChainAPI(w http.ResponseWriter, r *http.Request) {
	if h.Deployment == nil {
		h.Fail(w, r, errNoRewards)
		return
	}
	writeJSON(w, http.StatusOK, h.Deployment)
}

var decimalRE = regexp.MustCompile(`^[0-9]{1,78}$`)

// maxUint256 bounds grant amounts: the distributor's leaves are uint256.
var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// grantInput validates a grant; field names match the JSON API.
func grantInput(address, amountWei, reason string) (store.RewardEntryInput, map[string]string) {
	errs := map[string]string{}
	address, amountWei, reason = strings.TrimSpace(address), strings.TrimSpace(amountWei), strings.TrimSpace(reason)
	if !common.IsHexAddress(address) || len(address) != 42 {
		errs["address"] = "Enter a wallet address: 0x followed by 40 hexadecimal digits."
	}
	amount, ok := new(big.Int).SetString(amountWei, 10)
	switch {
	case !decimalRE.MatchString(amountWei) || !ok:
		errs["amountWei"] = "Enter the amount in wei as a whole number (1 OPEN = 1000000000000000000 wei)."
	case amount.Sign() <= 0:
		errs["amountWei"] = "The amount must be more than zero."
	case amount.Cmp(maxUint256) > 0:
		errs["amountWei"] = "The amount is too large."
	}
	if n := utf8.RuneCountInString(reason); n == 0 || n > 500 {
		errs["reason"] = "Say why, in up to 500 characters: it is kept in the audit log."
	}
	if len(errs) > 0 {
		return store.RewardEntryInput{}, errs
	}
	return store.RewardEntryInput{Account: common.HexToAddress(address).Hex(), Amount: amount, Source: store.RewardGrant,
		Reference: "admin-grant", Reason: reason}, nil
}

// GrantAPI answers POST /api/v1/admin/rewards/grants
// {"address","amountWei","reason"}: an audited ledger entry.
func (h *Handlers) GrantAPI(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Address   string `json:"address"`
		AmountWei string `json:"amountWei"`
		Reason    string `json:"reason"`
	}
	if err := decodeJSON(r, &body); err != nil {
		h.Fail(w, r, err)
		return
	}
	in, errs := grantInput(body.Address, body.AmountWei, body.Reason)
	if len(errs) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{"code": "invalid_grant",
			"message": "The grant has problems; see fields.", "fields": errs}})
		return
	}
	e, err := h.Store.AddRewardEntry(r.Context(), ViewerFrom(r.Context()).User.ID, in)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": e.ID, "account": e.Account, "amountWei": e.Amount.String(),
		"source": e.Source, "reason": e.Reason})
}

// queueEpochClose inserts the epoch job; inserted is false when one is
// already queued or running.
func (h *Handlers) queueEpochClose(ctx context.Context) (bool, error) {
	if h.Rewards == nil || h.InsertJob == nil {
		return false, errNoRewards
	}
	return h.InsertJob(ctx, jobs.EpochCloseArgs{})
}

// CloseEpochAPI answers POST /api/v1/admin/epochs/close: queue the epoch
// job now.
func (h *Handlers) CloseEpochAPI(w http.ResponseWriter, r *http.Request) {
	inserted, err := h.queueEpochClose(r.Context())
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"queued": true, "alreadyQueued": !inserted})
}

// DevGasAPI answers POST /api/v1/dev/gas on the embedded dev chain: send
// the caller 1 ETH for gas, through the journal.
func (h *Handlers) DevGasAPI(w http.ResponseWriter, r *http.Request) {
	if h.FundGas == nil {
		h.NotFound(w, r)
		return
	}
	v := ViewerFrom(r.Context())
	hash, err := h.FundGas(r.Context(), common.HexToAddress(v.User.Address))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"txHash": hash})
}

// explorerTx links a transaction hash to the configured explorer.
func (h *Handlers) explorerTx(hash string) string {
	if h.ExplorerURL == "" || hash == "" {
		return ""
	}
	return strings.TrimRight(h.ExplorerURL, "/") + "/tx/" + hash
}

// RewardsPage shows the viewer's earned, claimable and claimed OPEN.
func (h *Handlers) RewardsPage(w http.ResponseWriter, r *http.Request) {
	v := ViewerFrom(r.Context())
	ar, claim, err := h.rewardsView(r.Context(), common.HexToAddress(v.User.Address))
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	rv := views.Rewards{Account: ar.Account, Earned: wei(ar.Earned), Pending: wei(ar.Pending), Claimed: wei(ar.Claimed),
		Claimable: "0", ChainID: h.Chain.ChainID}
	if claim != nil {
		rv.Claimable = claim.Claimable.String()
		rv.Distributor = claim.Distributor.Hex()
	}
	for _, src := range []string{store.RewardGrant, store.RewardAttribution, store.RewardLabeling} {
		if amt, ok := ar.BySource[src]; ok {
			rv.BySource = append(rv.BySource, views.RewardSource{Source: src, Amount: amt.String()})
		}
	}
	for _, e := range ar.Epochs {
		row := views.RewardEpochRow{Epoch: e.Epoch, Status: e.Status, Amount: wei(e.Amount), RootTx: e.RootTxHash,
			RootTxURL: h.explorerTx(e.RootTxHash), At: e.At}
		if e.Epoch == 0 {
			row.Status = "pending"
		}
		for _, src := range []string{store.RewardGrant, store.RewardAttribution, store.RewardLabeling} {
			if amt, ok := e.BySource[src]; ok {
				row.Sources = append(row.Sources, views.RewardSource{Source: src, Amount: amt.String()})
			}
		}
		rv.Epochs = append(rv.Epochs, row)
	}
	for _, c := range ar.Claims {
		rv.Claims = append(rv.Claims, views.RewardClaim{TxHash: c.TxHash, TxURL: h.explorerTx(c.TxHash), Amount: wei(c.Amount),
			Epoch: c.Epoch, Block: c.BlockNumber})
	}
	h.render(w, r, http.StatusOK, views.RewardsPage(h.page(w, r, "Rewards", "rewards"), rv))
}

// AdminRewardsPage shows the grant form, epochs and the transaction journal.
func (h *Handlers) AdminRewardsPage(w http.ResponseWriter, r *http.Request) {
	h.renderAdminRewards(w, r, http.StatusOK, views.GrantForm{})
}

func (h *Handlers) renderAdminRewards(w http.ResponseWriter, r *http.Request, status int, form views.GrantForm) {
	epochs, err := h.Store.RewardEpochs(r.Context(), 20)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	txs, err := h.Store.ChainTxs(r.Context(), 50)
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	a := views.AdminRewards{Form: form, Enabled: h.Rewards != nil}
	for _, e := range epochs {
		a.Epochs = append(a.Epochs, views.AdminEpoch{Epoch: e.Epoch, Status: e.Status, Root: e.MerkleRoot, Total: wei(e.TotalCumulative),
			Amount: wei(e.EpochAmount), Accounts: e.AccountCount, RootTx: e.RootTxHash, RootTxURL: h.explorerTx(e.RootTxHash)})
	}
	for _, t := range txs {
		row := views.JournalRow{ID: t.ID, Key: t.Key, Kind: t.Kind, Status: t.Status, TxHash: t.TxHash, TxURL: h.explorerTx(t.TxHash),
			Attempts: t.Attempts, Error: t.LastError, UpdatedAt: t.UpdatedAt}
		if t.Nonce != nil {
			row.Nonce = int64(*t.Nonce)
		} else {
			row.Nonce = -1
		}
		a.Journal = append(a.Journal, row)
	}
	h.render(w, r, status, views.AdminRewardsPage(h.page(w, r, "Rewards admin", "admin"), a))
}

// AdminGrant handles the grant form.
func (h *Handlers) AdminGrant(w http.ResponseWriter, r *http.Request) {
	form := views.GrantForm{Address: r.PostFormValue("address"), AmountWei: r.PostFormValue("amountWei"), Reason: r.PostFormValue("reason")}
	in, errs := grantInput(form.Address, form.AmountWei, form.Reason)
	if len(errs) > 0 {
		form.Errors = errs
		h.renderAdminRewards(w, r, http.StatusUnprocessableEntity, form)
		return
	}
	if _, err := h.Store.AddRewardEntry(r.Context(), ViewerFrom(r.Context()).User.ID, in); err != nil {
		h.Fail(w, r, err)
		return
	}
	addFlash(w, r, "success", "Granted "+in.Amount.String()+" wei to "+in.Account+". It will be settled in the next epoch.")
	http.Redirect(w, r, "/admin/rewards", http.StatusSeeOther)
}

// AdminCloseEpoch handles "close epoch now".
func (h *Handlers) AdminCloseEpoch(w http.ResponseWriter, r *http.Request) {
	inserted, err := h.queueEpochClose(r.Context())
	if err != nil {
		h.Fail(w, r, err)
		return
	}
	msg := "Closing the epoch: the job is queued."
	if !inserted {
		msg = "An epoch job is already queued or running."
	}
	addFlash(w, r, "info", msg)
	http.Redirect(w, r, "/admin/rewards", http.StatusSeeOther)
}

// Wallet-pill balances: read from the chain at most every balanceTTL per
// address, and never holding a page up for more than balanceWait.
const (
	balanceTTL      = 30 * time.Second
	balanceErrorTTL = 5 * time.Second // after a failure, do not ask again at once
	balanceWait     = 300 * time.Millisecond
	balanceMax      = 10_000 // entries before expired ones are swept
)

type balanceEntry struct {
	wei     string // "" when unknown
	expires time.Time
}

// balanceCache holds recent OPEN balances by address.
type balanceCache struct {
	mu sync.Mutex
	m  map[common.Address]balanceEntry
}

func newBalanceCache() *balanceCache {
	return &balanceCache{m: map[common.Address]balanceEntry{}}
}

func (c *balanceCache) get(a common.Address, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[a]
	if !ok || now.After(e.expires) {
		return "", false
	}
	return e.wei, true
}

func (c *balanceCache) put(a common.Address, wei string, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= balanceMax {
		for k, e := range c.m {
			if now.After(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= balanceMax {
			clear(c.m)
		}
	}
	c.m[a] = balanceEntry{wei: wei, expires: now.Add(ttl)}
}

// openBalance is address's OPEN balance in wei as a decimal string, or ""
// when there is no token configured or the node did not answer in time.
func (h *Handlers) openBalance(ctx context.Context, address string) string {
	if h.Rewards == nil || h.balances == nil || !common.IsHexAddress(address) {
		return ""
	}
	a := common.HexToAddress(address)
	now := time.Now()
	if wei, ok := h.balances.get(a, now); ok {
		return wei
	}
	ctx, cancel := context.WithTimeout(ctx, balanceWait)
	defer cancel()
	bal, err := chain.TokenBalance(ctx, h.Rewards.Client, h.Rewards.Deployment.OPEN, a)
	if err != nil {
		h.Log.DebugContext(ctx, "OPEN balance for the wallet pill", "address", a, "err", err)
		h.balances.put(a, "", now, balanceErrorTTL)
		return ""
	}
	wei := bal.String()
	h.balances.put(a, wei, now, balanceTTL)
	return wei
}
