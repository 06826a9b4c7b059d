package jobs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/modelfactory/modelfactory/jobs"
	"github.com/modelfactory/modelfactory/store"
)

// TestRegisterModel: a published model is registered in the
// ProvenanceRegistry on the dev chain with its base hash, adapter hash and
// Datanet versions (its unanchored version is anchored first); the
// registry reads back exactly that; restarted registrars — fresh Senders
// holding nothing but the journal — never send a second transaction.
func TestRegisterModel(t *testing.T) {
	e := newChainEnv(t)
	ctx := context.Background()
	d, v := publishVersion(t, e.st, 4)
	base, err := e.st.UpsertBuiltinBaseModel(ctx, store.BaseModel{Slug: "starter", Name: "Starter", Architecture: "gpt2",
		ContentHash: "0x" + fmt.Sprintf("%064x", 0xba5e)})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := e.st.UpsertUser(ctx, "0x00000000000000000000000000000000000000a1")
	adapter := "0x" + fmt.Sprintf("%064x", 0xada9)
	var id int64
	if err := e.st.Pool().QueryRow(ctx, `INSERT INTO models (slug, name, owner_id, base_model_id, method, adapter_hash)
		VALUES ('qa', 'QA', $1, $2, 'lora', $3) RETURNING id`, u.ID, base.ID, adapter).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Pool().Exec(ctx, `INSERT INTO model_data (model_id, version_id) VALUES ($1, $2)`, id, v.ID); err != nil {
		t.Fatal(err)
	}
	newRegistrar := func() *jobs.ModelRegistrar {
		return &jobs.ModelRegistrar{Anchorer: &jobs.Anchorer{Store: e.st, Sender: e.sender(1), Client: e.client, Deployment: e.dep, BaseURL: "https://mf.example"}}
	}
	before := e.nonce(t)
	deadline := time.Now().Add(time.Minute)
	for {
		// Every round is a "restarted process".
		done, err := newRegistrar().Register(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("model not registered within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	m, err := e.st.GetModel(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	receipt, err := e.client.TransactionReceipt(ctx, common.HexToHash(m.RegistryTx))
	if err != nil || receipt.Status != 1 {
		t.Fatalf("registry receipt %v, err %v", receipt, err)
	}
	if m.Data[0].AnchorTx == "" {
		t.Fatal("the model's version was not anchored first")
	}
	if sent := e.nonce(t) - before; sent != 2 {
		t.Fatalf("%d transactions sent, want 2 (anchor + register)", sent)
	}
	reg, err := newRegistrar().RegistryModel(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if common.Hash(reg.BaseModelHash).Hex() != base.ContentHash || common.Hash(reg.AdapterHash).Hex() != adapter ||
		len(reg.Datanets) != 1 || reg.Datanets[0].DatanetId != jobs.DatanetKey(d.ID) || reg.Datanets[0].Version != 1 {
		t.Fatalf("registry holds %+v", reg)
	}
	// Nothing more is ever sent for it.
	for range 2 {
		if done, err := newRegistrar().Register(ctx, id); err != nil || !done {
			t.Fatalf("again: %v %v", done, err)
		}
	}
	if sent := e.nonce(t) - before; sent != 2 {
		t.Fatalf("%d transactions after re-runs, want 2", sent)
	}

	// A restored database (registry_tx lost) finds the registration on
	// chain instead of sending another (which the registry would refuse).
	for _, q := range []string{
		`UPDATE models SET registry_tx = NULL WHERE id = $1`,
		`DELETE FROM chain_tx_attempts WHERE tx_id IN (SELECT id FROM chain_txs WHERE intent_key = 'register:model:' || $1::bigint)`,
		`DELETE FROM chain_txs WHERE intent_key = 'register:model:' || $1::bigint`,
	} {
		if _, err := e.st.Pool().Exec(ctx, q, id); err != nil {
			t.Fatal(err)
		}
	}
	if done, err := newRegistrar().Register(ctx, id); err != nil || !done {
		t.Fatalf("restored: %v %v", done, err)
	}
	if m2, _ := e.st.GetModel(ctx, id); m2.RegistryTx != m.RegistryTx {
		t.Fatalf("restored registration = %s, want %s", m2.RegistryTx, m.RegistryTx)
	}
	if sent := e.nonce(t) - before; sent != 2 {
		t.Fatalf("%d transactions after restore, want 2", sent)
	}
}
