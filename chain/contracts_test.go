package chain

import (
	"crypto/ecdsa"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/modelfactory/modelfactory/chain/bindings/open"
	"github.com/modelfactory/modelfactory/chain/bindings/provenance"
	"github.com/modelfactory/modelfactory/chain/bindings/rewards"
	"github.com/modelfactory/modelfactory/chain/merkle"
)

var (
	emptyABI = abi.ABI{}
	distABI  = rewards.NewRewardsDistributor()
	tokenABI = open.NewOPEN()
	regABI   = provenance.NewProvenanceRegistry()
)

func wei(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }

// epochTree is one epoch's tree over cumulative totals.
type epochTree struct {
	tree   *merkle.Tree
	leaves []merkle.Leaf
	index  map[common.Address]int
}

func newEpochTree(t testing.TB, totals map[common.Address]*big.Int) *epochTree {
	t.Helper()
	et := &epochTree{index: map[common.Address]int{}}
	for a, amt := range totals {
		et.index[a] = len(et.leaves)
		et.leaves = append(et.leaves, merkle.Leaf{Account: a, Amount: amt})
	}
	tree, err := merkle.New(et.leaves)
	if err != nil {
		t.Fatal(err)
	}
	et.tree = tree
	return et
}

func (et *epochTree) total() *big.Int {
	sum := new(big.Int)
	for _, l := range et.leaves {
		sum.Add(sum, l.Amount)
	}
	return sum
}

func (et *epochTree) proof(t testing.TB, a common.Address) [][32]byte {
	t.Helper()
	i, ok := et.index[a]
	if !ok {
		t.Fatalf("%s not in tree", a)
	}
	p, err := et.tree.Proof(i)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][32]byte, len(p))
	for j := range p {
		out[j] = p[j]
	}
	return out
}

func (e *simEnv) postRoot(t testing.TB, key *ecdsa.PrivateKey, epoch uint64, et *epochTree) (*types.Receipt, error) {
	t.Helper()
	return e.send(t, key, e.d.RewardsDistributor, distABI.PackPostRoot(epoch, et.tree.Root(), et.total()))
}

func (e *simEnv) claim(t testing.TB, sender *ecdsa.PrivateKey, account common.Address, amount *big.Int, proof [][32]byte) (*types.Receipt, error) {
	t.Helper()
	return e.send(t, sender, e.d.RewardsDistributor, distABI.PackClaim(account, amount, proof))
}

func (e *simEnv) claimed(t testing.TB, a common.Address) *big.Int {
	t.Helper()
	return call(t, e, e.d.RewardsDistributor, distABI.PackClaimed(a), distABI.UnpackClaimed)
}

func wantRevert[T any](t *testing.T, what string, err error, unpack func([]byte) (any, error)) *T {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want revert with %T", what, new(T))
	}
	got := revertError(err, unpack)
	v, ok := got.(*T)
	if !ok {
		t.Fatalf("%s: err = %v (decoded %T), want %T", what, err, got, new(T))
	}
	return v
}

func TestOPENToken(t *testing.T) {
	e := newSimEnv(t)
	if got := call(t, e, e.d.OPEN, tokenABI.PackName(), tokenABI.UnpackName); got != "OpenLedger" {
		t.Errorf("name = %q", got)
	}
	if got := call(t, e, e.d.OPEN, tokenABI.PackSymbol(), tokenABI.UnpackSymbol); got != "OPEN" {
		t.Errorf("symbol = %q", got)
	}
	if got := call(t, e, e.d.OPEN, tokenABI.PackDecimals(), tokenABI.UnpackDecimals); got != 18 {
		t.Errorf("decimals = %d", got)
	}
	supply := call(t, e, e.d.OPEN, tokenABI.PackTotalSupply(), tokenABI.UnpackTotalSupply)
	if want := wei(1_000_000_000); supply.Cmp(want) != 0 {
		t.Errorf("total supply = %s, want %s", supply, want)
	}
	// DeployDev funded the distributor from the treasury.
	if got := e.balance(t, e.d.RewardsDistributor); got.Cmp(DevDistributorFunding) != 0 {
		t.Errorf("distributor balance = %s, want %s", got, DevDistributorFunding)
	}
	if got, want := e.balance(t, addr(e.admin)), new(big.Int).Sub(supply, DevDistributorFunding); got.Cmp(want) != 0 {
		t.Errorf("treasury balance = %s, want %s", got, want)
	}
	// Votes follow delegation.
	e.mustSend(t, e.admin, e.d.OPEN, tokenABI.PackTransfer(addr(e.alice), wei(1000)))
	if v := call(t, e, e.d.OPEN, tokenABI.PackGetVotes(addr(e.alice)), tokenABI.UnpackGetVotes); v.Sign() != 0 {
		t.Errorf("votes before delegating = %s, want 0", v)
	}
	e.mustSend(t, e.alice, e.d.OPEN, tokenABI.PackDelegate(addr(e.bob)))
	if v := call(t, e, e.d.OPEN, tokenABI.PackGetVotes(addr(e.bob)), tokenABI.UnpackGetVotes); v.Cmp(wei(1000)) != 0 {
		t.Errorf("bob's votes after alice delegated = %s, want %s", v, wei(1000))
	}
}

func TestDistributorClaims(t *testing.T) {
	e := newSimEnv(t)
	alice, bob, carol, stranger := addr(e.alice), addr(e.bob), addr(e.carol), addr(e.stranger)
	et := newEpochTree(t, map[common.Address]*big.Int{alice: wei(100), bob: wei(50), carol: wei(25)})

	r, err := e.postRoot(t, e.admin, 1, et)
	if err != nil {
		t.Fatalf("post root: %v", err)
	}
	ev, err := distABI.UnpackRootPostedEvent(r.Logs[0])
	if err != nil || ev.Epoch != 1 || ev.Root != et.tree.Root() || ev.TotalCumulative.Cmp(wei(175)) != 0 {
		t.Fatalf("RootPosted = %+v, err %v", ev, err)
	}
	if got := call(t, e, e.d.RewardsDistributor, distABI.PackMerkleRoot(), distABI.UnpackMerkleRoot); got != et.tree.Root() {
		t.Fatalf("merkleRoot = %x", got)
	}
	if got := call(t, e, e.d.RewardsDistributor, distABI.PackClaimable(alice, wei(100), et.proof(t, alice)), distABI.UnpackClaimable); got.Cmp(wei(100)) != 0 {
		t.Fatalf("claimable = %s, want 100 OPEN", got)
	}

	// Anyone may submit the claim; the tokens go to the account.
	strangerBefore := e.balance(t, stranger)
	r, err = e.claim(t, e.stranger, alice, wei(100), et.proof(t, alice))
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if got := e.balance(t, alice); got.Cmp(wei(100)) != 0 {
		t.Fatalf("alice balance = %s, want 100 OPEN", got)
	}
	if got := e.balance(t, stranger); got.Cmp(strangerBefore) != 0 {
		t.Fatalf("submitter balance changed: %s -> %s", strangerBefore, got)
	}
	var claimedEv *rewards.RewardsDistributorClaimed
	for _, l := range r.Logs {
		if l.Address == e.d.RewardsDistributor {
			claimedEv, err = distABI.UnpackClaimedEvent(l)
		}
	}
	if err != nil || claimedEv == nil || claimedEv.Account != alice || claimedEv.Amount.Cmp(wei(100)) != 0 ||
		claimedEv.CumulativeAmount.Cmp(wei(100)) != 0 || claimedEv.Epoch != 1 {
		t.Fatalf("Claimed event = %+v, err %v", claimedEv, err)
	}

	// Second claim of the same amount pays nothing.
	_, err = e.claim(t, e.alice, alice, wei(100), et.proof(t, alice))
	ntc := wantRevert[rewards.RewardsDistributorNothingToClaim](t, "second claim", err, distABI.UnpackError)
	if ntc.AlreadyClaimed.Cmp(wei(100)) != 0 {
		t.Errorf("NothingToClaim.alreadyClaimed = %s", ntc.AlreadyClaimed)
	}
	if got := e.balance(t, alice); got.Cmp(wei(100)) != 0 {
		t.Fatalf("alice balance after second claim = %s, want 100 OPEN", got)
	}
	if got := call(t, e, e.d.RewardsDistributor, distABI.PackClaimable(alice, wei(100), et.proof(t, alice)), distABI.UnpackClaimable); got.Sign() != 0 {
		t.Fatalf("claimable after claim = %s, want 0", got)
	}

	// Wrong proof: bob's amount with carol's proof.
	_, err = e.claim(t, e.bob, bob, wei(50), et.proof(t, carol))
	wantRevert[rewards.RewardsDistributorInvalidProof](t, "wrong proof", err, distABI.UnpackError)
	// Wrong amount: more than the leaf.
	_, err = e.claim(t, e.bob, bob, wei(51), et.proof(t, bob))
	wantRevert[rewards.RewardsDistributorInvalidProof](t, "wrong amount", err, distABI.UnpackError)
	// Less than the leaf is not a leaf either.
	_, err = e.claim(t, e.bob, bob, wei(49), et.proof(t, bob))
	wantRevert[rewards.RewardsDistributorInvalidProof](t, "smaller amount", err, distABI.UnpackError)
	// Someone else's leaf for one's own account.
	_, err = e.claim(t, e.stranger, stranger, wei(50), et.proof(t, bob))
	wantRevert[rewards.RewardsDistributorInvalidProof](t, "someone else's leaf", err, distABI.UnpackError)
	if got := e.balance(t, stranger); got.Cmp(strangerBefore) != 0 {
		t.Fatalf("stranger got tokens: %s", got)
	}
	if got := e.claimed(t, bob); got.Sign() != 0 {
		t.Fatalf("bob claimed = %s after failed claims", got)
	}
	if got := call(t, e, e.d.RewardsDistributor, distABI.PackClaimable(bob, wei(51), et.proof(t, bob)), distABI.UnpackClaimable); got.Sign() != 0 {
		t.Fatalf("claimable with wrong amount = %s, want 0", got)
	}

	// Bob's own claim still works, and the distributor paid exactly 150.
	if _, err := e.claim(t, e.bob, bob, wei(50), et.proof(t, bob)); err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Sub(DevDistributorFunding, wei(150))
	if got := e.balance(t, e.d.RewardsDistributor); got.Cmp(want) != 0 {
		t.Fatalf("distributor balance = %s, want %s", got, want)
	}
}

func TestDistributorThreeEpochsPayIncrements(t *testing.T) {
	e := newSimEnv(t)
	alice, bob, carol := addr(e.alice), addr(e.bob), addr(e.carol)
	epochs := []map[common.Address]*big.Int{
		{alice: wei(100), bob: wei(10)},
		{alice: wei(250), bob: wei(30), carol: wei(5)},
		{alice: wei(400), bob: wei(31), carol: wei(5)},
	}
	var prev *epochTree
	for i, totals := range epochs {
		epoch := uint64(i + 1)
		et := newEpochTree(t, totals)
		if _, err := e.postRoot(t, e.admin, epoch, et); err != nil {
			t.Fatalf("epoch %d: post root: %v", epoch, err)
		}
		if prev != nil {
			// The previous epoch's leaves no longer prove anything.
			_, err := e.claim(t, e.alice, alice, prev.leaves[prev.index[alice]].Amount, prev.proof(t, alice))
			wantRevert[rewards.RewardsDistributorInvalidProof](t, "stale root", err, distABI.UnpackError)
		}
		// Alice claims every epoch: she gets exactly the increment.
		before := e.balance(t, alice)
		if _, err := e.claim(t, e.alice, alice, totals[alice], et.proof(t, alice)); err != nil {
			t.Fatalf("epoch %d: alice claim: %v", epoch, err)
		}
		paid := new(big.Int).Sub(e.balance(t, alice), before)
		increment := new(big.Int).Set(totals[alice])
		if prev != nil {
			increment.Sub(increment, epochs[i-1][alice])
		}
		if paid.Cmp(increment) != 0 {
			t.Fatalf("epoch %d: alice paid %s, want %s", epoch, paid, increment)
		}
		prev = et
	}
	// Bob and Carol claim only at the end: one claim settles every epoch.
	for _, k := range []*ecdsa.PrivateKey{e.bob, e.carol} {
		a := addr(k)
		if _, err := e.claim(t, k, a, epochs[2][a], prev.proof(t, a)); err != nil {
			t.Fatal(err)
		}
		if got := e.balance(t, a); got.Cmp(epochs[2][a]) != 0 {
			t.Fatalf("%s balance = %s, want %s", a, got, epochs[2][a])
		}
		if got := e.claimed(t, a); got.Cmp(epochs[2][a]) != 0 {
			t.Fatalf("%s claimed = %s", a, got)
		}
	}
	if got := e.balance(t, alice); got.Cmp(wei(400)) != 0 {
		t.Fatalf("alice total = %s, want 400 OPEN", got)
	}
	want := new(big.Int).Sub(DevDistributorFunding, wei(436))
	if got := e.balance(t, e.d.RewardsDistributor); got.Cmp(want) != 0 {
		t.Fatalf("distributor balance = %s, want %s", got, want)
	}
}

func TestDistributorRolesAndPause(t *testing.T) {
	e := newSimEnv(t)
	alice := addr(e.alice)
	et := newEpochTree(t, map[common.Address]*big.Int{alice: wei(7)})

	// A non-operator cannot post a root.
	_, err := e.postRoot(t, e.stranger, 1, et)
	u := wantRevert[rewards.RewardsDistributorAccessControlUnauthorizedAccount](t, "stranger posts root", err, distABI.UnpackError)
	if u.Account != addr(e.stranger) {
		t.Errorf("unauthorized account = %s", u.Account)
	}
	// The admin grants the operator role; the operator posts but cannot pause.
	operatorRole := call(t, e, e.d.RewardsDistributor, distABI.PackOPERATORROLE(), distABI.UnpackOPERATORROLE)
	e.mustSend(t, e.admin, e.d.RewardsDistributor, distABI.PackGrantRole(operatorRole, addr(e.operator)))
	// Epochs are strictly sequential and roots non-zero.
	_, err = e.postRoot(t, e.operator, 2, et)
	ue := wantRevert[rewards.RewardsDistributorUnexpectedEpoch](t, "skip epoch", err, distABI.UnpackError)
	if ue.Expected != 1 || ue.Got != 2 {
		t.Errorf("UnexpectedEpoch = %+v", ue)
	}
	_, err = e.send(t, e.operator, e.d.RewardsDistributor, distABI.PackPostRoot(1, [32]byte{}, big.NewInt(0)))
	wantRevert[rewards.RewardsDistributorZeroRoot](t, "zero root", err, distABI.UnpackError)
	if _, err := e.postRoot(t, e.operator, 1, et); err != nil {
		t.Fatalf("operator posts root: %v", err)
	}
	_, err = e.postRoot(t, e.operator, 1, et)
	wantRevert[rewards.RewardsDistributorUnexpectedEpoch](t, "same epoch twice", err, distABI.UnpackError)
	if got := call(t, e, e.d.RewardsDistributor, distABI.PackEpoch(), distABI.UnpackEpoch); got != 1 {
		t.Fatalf("epoch = %d", got)
	}
	_, err = e.send(t, e.operator, e.d.RewardsDistributor, distABI.PackPause())
	wantRevert[rewards.RewardsDistributorAccessControlUnauthorizedAccount](t, "operator pauses", err, distABI.UnpackError)
	_, err = e.send(t, e.stranger, e.d.RewardsDistributor, distABI.PackPause())
	wantRevert[rewards.RewardsDistributorAccessControlUnauthorizedAccount](t, "stranger pauses", err, distABI.UnpackError)

	// Pause blocks claims; unpause allows them again.
	e.mustSend(t, e.admin, e.d.RewardsDistributor, distABI.PackPause())
	_, err = e.claim(t, e.alice, alice, wei(7), et.proof(t, alice))
	wantRevert[rewards.RewardsDistributorEnforcedPause](t, "claim while paused", err, distABI.UnpackError)
	if got := e.balance(t, alice); got.Sign() != 0 {
		t.Fatalf("paid while paused: %s", got)
	}
	_, err = e.send(t, e.stranger, e.d.RewardsDistributor, distABI.PackUnpause())
	wantRevert[rewards.RewardsDistributorAccessControlUnauthorizedAccount](t, "stranger unpauses", err, distABI.UnpackError)
	e.mustSend(t, e.admin, e.d.RewardsDistributor, distABI.PackUnpause())
	if _, err := e.claim(t, e.alice, alice, wei(7), et.proof(t, alice)); err != nil {
		t.Fatalf("claim after unpause: %v", err)
	}
	if got := e.balance(t, alice); got.Cmp(wei(7)) != 0 {
		t.Fatalf("alice balance = %s", got)
	}
}

func TestDistributorCannotPayBeyondFunding(t *testing.T) {
	e := newSimEnv(t)
	alice := addr(e.alice)
	// A root promising more than the distributor holds: the claim fails as
	// a whole and records nothing.
	tooMuch := new(big.Int).Add(DevDistributorFunding, big.NewInt(1))
	et := newEpochTree(t, map[common.Address]*big.Int{alice: tooMuch})
	if _, err := e.postRoot(t, e.admin, 1, et); err != nil {
		t.Fatal(err)
	}
	_, err := e.claim(t, e.alice, alice, tooMuch, et.proof(t, alice))
	if err == nil {
		t.Fatal("claim beyond funding succeeded")
	}
	if got := e.claimed(t, alice); got.Sign() != 0 {
		t.Fatalf("claimed = %s after failed claim", got)
	}
}

func TestProvenanceRegistry(t *testing.T) {
	e := newSimEnv(t)
	reg := e.d.ProvenanceRegistry
	ds := crypto.Keccak256Hash([]byte("datanet-1"))
	root := crypto.Keccak256Hash([]byte("records"))

	if call(t, e, reg, regABI.PackIsDatanetVersionAnchored(ds, 1), regABI.UnpackIsDatanetVersionAnchored) {
		t.Fatal("anchored before anchoring")
	}
	// Registrar role required.
	_, err := e.send(t, e.stranger, reg, regABI.PackAnchorDatanetVersion(ds, 1, root, 42, "s3://b/v1"))
	wantRevert[provenance.ProvenanceRegistryAccessControlUnauthorizedAccount](t, "stranger anchors", err, regABI.UnpackError)
	_, err = e.send(t, e.admin, reg, regABI.PackAnchorDatanetVersion(ds, 1, [32]byte{}, 42, "s3://b/v1"))
	wantRevert[provenance.ProvenanceRegistryZeroHash](t, "zero root", err, regABI.UnpackError)

	r := e.mustSend(t, e.admin, reg, regABI.PackAnchorDatanetVersion(ds, 1, root, 42, "s3://b/v1"))
	ev, err := regABI.UnpackDatanetVersionAnchoredEvent(r.Logs[0])
	if err != nil || ev.DatanetId != ds || ev.Version != 1 || ev.MerkleRoot != root || ev.RecordCount != 42 || ev.Uri != "s3://b/v1" {
		t.Fatalf("event = %+v, err %v", ev, err)
	}
	v := call(t, e, reg, regABI.PackGetDatanetVersion(ds, 1), regABI.UnpackGetDatanetVersion)
	if v.MerkleRoot != root || v.RecordCount != 42 || v.Uri != "s3://b/v1" || v.Registrar != addr(e.admin) || v.AnchoredAt == 0 {
		t.Fatalf("getDatanetVersion = %+v", v)
	}
	// Write-once.
	_, err = e.send(t, e.admin, reg, regABI.PackAnchorDatanetVersion(ds, 1, crypto.Keccak256Hash([]byte("other")), 1, "x"))
	wantRevert[provenance.ProvenanceRegistryAlreadyAnchored](t, "re-anchor version", err, regABI.UnpackError)
	if v2 := call(t, e, reg, regABI.PackGetDatanetVersion(ds, 1), regABI.UnpackGetDatanetVersion); v2.MerkleRoot != root {
		t.Fatal("version changed")
	}
	// Reading a missing version reverts with a clear error.
	_, err = e.send(t, e.admin, reg, regABI.PackGetDatanetVersion(ds, 2))
	wantRevert[provenance.ProvenanceRegistryDatanetVersionNotAnchored](t, "read missing version", err, regABI.UnpackError)

	// A registrar granted by the admin can anchor.
	registrarRole := call(t, e, reg, regABI.PackREGISTRARROLE(), regABI.UnpackREGISTRARROLE)
	e.mustSend(t, e.admin, reg, regABI.PackGrantRole(registrarRole, addr(e.operator)))
	e.mustSend(t, e.operator, reg, regABI.PackAnchorDatanetVersion(ds, 2, crypto.Keccak256Hash([]byte("v2")), 50, "s3://b/v2"))

	// Models: every referenced version must be anchored.
	model := crypto.Keccak256Hash([]byte("model-1"))
	base, adapter := crypto.Keccak256Hash([]byte("base")), crypto.Keccak256Hash([]byte("adapter"))
	refs := []provenance.ProvenanceRegistryDatanetRef{{DatanetId: ds, Version: 1}, {DatanetId: ds, Version: 2}}
	_, err = e.send(t, e.operator, reg, regABI.PackAnchorModel(model, base, adapter, append(refs, provenance.ProvenanceRegistryDatanetRef{DatanetId: ds, Version: 9})))
	nav := wantRevert[provenance.ProvenanceRegistryDatanetVersionNotAnchored](t, "model with unknown version", err, regABI.UnpackError)
	if nav.Version != 9 {
		t.Errorf("DatanetVersionNotAnchored = %+v", nav)
	}
	_, err = e.send(t, e.stranger, reg, regABI.PackAnchorModel(model, base, adapter, refs))
	wantRevert[provenance.ProvenanceRegistryAccessControlUnauthorizedAccount](t, "stranger anchors model", err, regABI.UnpackError)
	_, err = e.send(t, e.operator, reg, regABI.PackAnchorModel(model, [32]byte{}, adapter, refs))
	wantRevert[provenance.ProvenanceRegistryZeroHash](t, "zero base hash", err, regABI.UnpackError)
	r = e.mustSend(t, e.operator, reg, regABI.PackAnchorModel(model, base, adapter, refs))
	mev, err := regABI.UnpackModelAnchoredEvent(r.Logs[0])
	if err != nil || mev.ModelId != model || len(mev.Datanets) != 2 {
		t.Fatalf("ModelAnchored = %+v, err %v", mev, err)
	}
	m := call(t, e, reg, regABI.PackGetModel(model), regABI.UnpackGetModel)
	if m.BaseModelHash != base || m.AdapterHash != adapter || m.Registrar != addr(e.operator) ||
		len(m.Datanets) != 2 || m.Datanets[0] != refs[0] || m.Datanets[1] != refs[1] {
		t.Fatalf("getModel = %+v", m)
	}
	if !call(t, e, reg, regABI.PackIsModelAnchored(model), regABI.UnpackIsModelAnchored) {
		t.Fatal("isModelAnchored = false")
	}
	_, err = e.send(t, e.operator, reg, regABI.PackAnchorModel(model, adapter, base, refs[:1]))
	wantRevert[provenance.ProvenanceRegistryAlreadyAnchored](t, "re-anchor model", err, regABI.UnpackError)
	_, err = e.send(t, e.admin, reg, regABI.PackGetModel(crypto.Keccak256Hash([]byte("nope"))))
	wantRevert[provenance.ProvenanceRegistryModelNotAnchored](t, "read missing model", err, regABI.UnpackError)

	// Revoking the role stops the registrar.
	e.mustSend(t, e.admin, reg, regABI.PackRevokeRole(registrarRole, addr(e.operator)))
	_, err = e.send(t, e.operator, reg, regABI.PackAnchorDatanetVersion(ds, 3, root, 1, ""))
	wantRevert[provenance.ProvenanceRegistryAccessControlUnauthorizedAccount](t, "revoked registrar", err, regABI.UnpackError)
}

func TestDeploymentVerifyAndPersistence(t *testing.T) {
	e := newSimEnv(t)
	if err := e.d.Verify(t.Context(), e.client); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	bad := e.d
	bad.ProvenanceRegistry = common.HexToAddress("0x1234")
	if err := bad.Verify(t.Context(), e.client); err == nil {
		t.Fatal("Verify with an address without code: want error")
	}
	bad = e.d
	bad.ChainID = 1
	if err := bad.Verify(t.Context(), e.client); err == nil {
		t.Fatal("Verify with the wrong chain id: want error")
	}

	dir := t.TempDir()
	if _, found, err := LoadDeployment(dir); err != nil || found {
		t.Fatalf("LoadDeployment on empty dir: found %v, err %v", found, err)
	}
	if err := SaveDeployment(dir, e.d); err != nil {
		t.Fatal(err)
	}
	got, found, err := LoadDeployment(dir)
	if err != nil || !found || got != e.d {
		t.Fatalf("LoadDeployment = %+v, %v, %v; want %+v", got, found, err, e.d)
	}
	// EnsureDevDeployment reuses saved contracts that have code…
	again, err := EnsureDevDeployment(t.Context(), e.client, e.admin, dir)
	if err != nil || again != e.d {
		t.Fatalf("EnsureDevDeployment = %+v, %v; want reuse of %+v", again, err, e.d)
	}
	// …and deploys afresh when the saved addresses have none (a reset chain).
	if err := SaveDeployment(dir, bad); err != nil {
		t.Fatal(err)
	}
	bad.ChainID = e.d.ChainID
	bad.OPEN = common.HexToAddress("0x5678")
	if err := SaveDeployment(dir, bad); err != nil {
		t.Fatal(err)
	}
	fresh, err := EnsureDevDeployment(t.Context(), e.client, e.admin, dir)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.OPEN == bad.OPEN || fresh.OPEN == e.d.OPEN {
		t.Fatalf("EnsureDevDeployment did not redeploy: %+v", fresh)
	}
	if err := fresh.Verify(t.Context(), e.client); err != nil {
		t.Fatal(err)
	}
	saved, _, _ := LoadDeployment(dir)
	if saved != fresh {
		t.Fatalf("saved %+v, want %+v", saved, fresh)
	}
}
