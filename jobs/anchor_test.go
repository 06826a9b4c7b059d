package jobs_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/chain/bindings/provenance"
	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/store"
)

// publishVersion creates a published Datanet with n accepted records and
// publishes version 1 of it.
func publishVersion(t *testing.T, st *store.Store, n int) (*store.Datanet, *store.Version) {
	t.Helper()
	ctx := context.Background()
	u, err := st.UpsertUser(ctx, "0x00000000000000000000000000000000000000a1")
	if err != nil {
		t.Fatal(err)
	}
	owner := store.Actor{UserID: u.ID, Address: u.Address}
	d, err := st.CreateDatanet(ctx, owner, store.DatanetInput{Name: "Anchor test", Summary: "Records to anchor",
		Tags: []string{"test"}, License: "CC-BY-4.0", Schema: store.SchemaInstruction,
		Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyOpen})
	if err != nil {
		t.Fatal(err)
	}
	if d, err = st.PublishDatanet(ctx, owner, d.Slug); err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateContribution(ctx, owner, d.Slug, store.ContributionInput{Source: "api", Filename: "a.jsonl"},
		func(context.Context, pgx.Tx, int64) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	if _, err := st.Pool().CopyFrom(ctx, pgx.Identifier{"records"},
		[]string{"datanet_id", "contribution_id", "contributor_id", "hash", "canonical", "chars", "line", "status"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			canonical := fmt.Sprintf(`{"instruction":"q%d?","response":"a%d"}`, i, i)
			sum := sha256.Sum256([]byte(canonical))
			return []any{d.ID, c.ID, u.ID, "0x" + hex.EncodeToString(sum[:]), canonical, 6, i, "accepted"}, nil
		})); err != nil {
		t.Fatal(err)
	}
	v, err := st.PublishVersion(ctx, owner, d.Slug, merkle.HexRoot)
	if err != nil {
		t.Fatal(err)
	}
	return d, v
}

// TestAnchorVersion: a published version ends up anchored exactly once,
// the registry reads back what was published, and running the job again —
// or a restarted process with a fresh Sender — sends nothing more.
func TestAnchorVersion(t *testing.T) {
	e := newChainEnv(t)
	ctx := context.Background()
	d, v := publishVersion(t, e.st, 5)
	if v.AnchorTx != "" {
		t.Fatalf("new version already anchored: %s", v.AnchorTx)
	}
	a := &jobs.Anchorer{Store: e.st, Sender: e.sender(1), Client: e.client, Deployment: e.dep, BaseURL: "https://mf.example/"}
	before := e.nonce(t)

	deadline := time.Now().Add(time.Minute)
	for {
		n, err := a.AnchorPending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("version not anchored within a minute")
		}
		time.Sleep(200 * time.Millisecond)
	}
	got, err := e.st.VersionByNumber(ctx, d.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.AnchorTx) != 66 {
		t.Fatalf("anchor tx %q", got.AnchorTx)
	}
	receipt, err := e.client.TransactionReceipt(ctx, common.HexToHash(got.AnchorTx))
	if err != nil || receipt.Status != 1 {
		t.Fatalf("anchor receipt %v, err %v", receipt, err)
	}
	if sent := e.nonce(t) - before; sent != 1 {
		t.Fatalf("%d transactions sent, want 1", sent)
	}

	reg, err := a.RegistryVersion(ctx, jobs.DatanetKey(d.ID), 1)
	if err != nil {
		t.Fatal(err)
	}
	if common.Hash(reg.MerkleRoot).Hex() != v.MerkleRoot || reg.RecordCount != 5 ||
		reg.Uri != "https://mf.example/api/v1/datanets/"+d.Slug+"/versions#v1" || reg.Registrar != e.dev.FaucetAddress() {
		t.Fatalf("registry holds root %x, %d records, uri %q, registrar %s; published root %s",
			reg.MerkleRoot, reg.RecordCount, reg.Uri, reg.Registrar, v.MerkleRoot)
	}

	// Nothing left: neither this Anchorer nor a restarted one sends again.
	for _, an := range []*jobs.Anchorer{a, {Store: e.st, Sender: e.sender(1), Client: e.client, Deployment: e.dep}} {
		if n, err := an.AnchorPending(ctx); err != nil || n != 0 {
			t.Fatalf("second run anchored %d, err %v", n, err)
		}
	}
	if sent := e.nonce(t) - before; sent != 1 {
		t.Fatalf("%d transactions sent after re-runs, want 1", sent)
	}
}

// TestAnchorAlreadyOnChain: when the registry already holds a version whose
// journal row was never signed (a restored database), the job signs
// nothing and records the transaction that anchored it.
func TestAnchorAlreadyOnChain(t *testing.T) {
	e := newChainEnv(t)
	ctx := context.Background()
	d, v := publishVersion(t, e.st, 3)
	a := &jobs.Anchorer{Store: e.st, Sender: e.sender(1), Client: e.client, Deployment: e.dep, BaseURL: "https://mf.example"}

	// Someone anchored it through another journal key.
	data := provenance.NewProvenanceRegistry().PackAnchorDatanetVersion(jobs.DatanetKey(d.ID), 1, common.HexToHash(v.MerkleRoot), 3,
		a.VersionURI(d.Slug, 1))
	s := e.sender(1)
	other, err := s.Intent(ctx, "elsewhere", "anchor_version", e.dep.ProvenanceRegistry, nil, data)
	if err != nil {
		t.Fatal(err)
	}
	if other, err = s.WaitFinal(ctx, other.ID, 50*time.Millisecond); err != nil || other.Status != store.TxConfirmed {
		t.Fatalf("anchor elsewhere: %v %v", other, err)
	}
	before := e.nonce(t)
	n, err := a.AnchorPending(ctx)
	if err != nil || n != 1 {
		t.Fatalf("anchored %d, err %v", n, err)
	}
	if e.nonce(t) != before {
		t.Fatal("a second anchoring transaction was sent")
	}
	got, err := e.st.VersionByNumber(ctx, d.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.AnchorTx != other.TxHash {
		t.Fatalf("anchor tx %s, want %s", got.AnchorTx, other.TxHash)
	}
}
