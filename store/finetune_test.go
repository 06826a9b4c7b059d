package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/modelfactory/modelfactory/chain/merkle"
	"github.com/modelfactory/modelfactory/store"
)

// TestFinetuneSettingsValidate: bad settings are refused field by field
// against the base model's shape; good ones pass and are normalised.
func TestFinetuneSettingsValidate(t *testing.T) {
	t.Parallel()
	base := &store.BaseModel{Architecture: "gpt2", TrainableCPU: true, ContextLength: 128,
		Config: []byte(`{"model_type":"gpt2","n_embd":64,"n_positions":128}`)}
	for _, tc := range []struct {
		name, field string
		mod         func(*store.FinetuneSettings)
	}{
		{"balanced preset", "", nil},
		{"full fine-tune", "", func(s *store.FinetuneSettings) { *s = store.PresetSettings(store.PresetThorough, store.MethodFull) }},
		{"rank wider than the model", "loraRank", func(s *store.FinetuneSettings) { s.LoRARank = 65 }},
		{"learning rate zero", "learningRate", func(s *store.FinetuneSettings) { s.LearningRate = 0 }},
		{"learning rate negative", "learningRate", func(s *store.FinetuneSettings) { s.LearningRate = -1e-3 }},
		{"context longer than the model's", "contextLength", func(s *store.FinetuneSettings) { s.ContextLength = 256 }},
		{"unknown scheduler", "scheduler", func(s *store.FinetuneSettings) { s.Scheduler = "step" }},
		{"early stopping without validation", "earlyStoppingPatience", func(s *store.FinetuneSettings) { s.ValSplit = 0 }},
		{"target not in GPT-2", "loraTargets", func(s *store.FinetuneSettings) { s.LoRATargets = []string{"q_proj"} }},
		{"no epochs and no steps", "epochs", func(s *store.FinetuneSettings) { s.Epochs = 0 }},
		{"dropout of one", "loraDropout", func(s *store.FinetuneSettings) { s.LoRADropout = 1 }},
		{"validation split too large", "valSplit", func(s *store.FinetuneSettings) { s.ValSplit = 0.9 }},
		{"unknown method", "method", func(s *store.FinetuneSettings) { s.Method = "qlora" }},
	} {
		s := store.PresetSettings(store.PresetBalanced, store.MethodLoRA)
		if tc.mod != nil {
			tc.mod(&s)
		}
		err := s.Validate(base)
		var ve *store.ValidationError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &ve) || ve.Fields[tc.field] == ""):
			t.Errorf("%s: want an error on %s, got %v", tc.name, tc.field, err)
		}
	}
	full := store.PresetSettings(store.PresetQuick, store.MethodFull)
	full.LoRARank, full.LoRATargets = 8, []string{"c_attn"}
	if err := full.Validate(base); err != nil || full.LoRARank != 0 || full.LoRATargets != nil {
		t.Fatalf("full fine-tune keeps LoRA fields: %+v %v", full, err)
	}
}

// TestFinetuneCompleteAndDelete: completing a run creates its model and
// data rows once (a second completion changes nothing); deleting the run
// hides it but keeps the model.
func TestFinetuneCompleteAndDelete(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	ctx := context.Background()
	u, _ := st.UpsertUser(ctx, "0x00000000000000000000000000000000000000c7")
	a := store.Actor{UserID: u.ID, Address: u.Address}
	base, err := st.UpsertBuiltinBaseModel(ctx, store.BaseModel{Slug: "tiny-store", Name: "Tiny", Architecture: "gpt2",
		ContextLength: 32, TrainableCPU: true, Config: []byte(`{"n_embd":32,"n_positions":32}`)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.CreateDatanet(ctx, a, store.DatanetInput{Name: "Store notes", License: "MIT", Schema: store.SchemaDocuments,
		Visibility: store.VisibilityPublic, ContributionPolicy: store.PolicyOpen})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PublishDatanet(ctx, a, d.Slug); err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateContribution(ctx, a, d.Slug, store.ContributionInput{Source: "api", Filename: "n.jsonl"},
		func(context.Context, pgx.Tx, int64) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	canonical := `{"text":"one record"}`
	sum := sha256.Sum256([]byte(canonical))
	if _, err := st.Pool().Exec(ctx, `INSERT INTO records (datanet_id, contribution_id, contributor_id, hash, canonical, chars, line, status)
		VALUES ($1, $2, $3, $4, $5::text, 10, 1, 'accepted'), ($1, $2, $3, $6, $7::text, 10, 2, 'accepted')`,
		d.ID, c.ID, u.ID, "0x"+hex.EncodeToString(sum[:]), canonical, "0x"+hex.EncodeToString(sum[:16])+hex.EncodeToString(sum[:16]), `{"text":"two"}`); err != nil {
		t.Fatal(err)
	}
	v, err := st.PublishVersion(ctx, a, d.Slug, merkle.HexRoot)
	if err != nil {
		t.Fatal(err)
	}
	s := store.PresetSettings(store.PresetQuick, store.MethodLoRA)
	s.ContextLength, s.LoRARank = 16, 4
	run, err := st.LaunchFinetune(ctx, a, store.FinetuneLaunch{Name: "Store run", BaseModelID: base.ID, VersionIDs: []int64{v.ID}, Settings: s},
		func(context.Context, pgx.Tx, *store.FinetuneRun) (int64, error) { return 0, nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteFinetuneRun(ctx, a, run.ID); err == nil {
		t.Fatal("deleted a queued run")
	}
	if _, err := st.StartFinetuneAttempt(ctx, run.ID, "w", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	res := store.FinetuneResult{Metrics: map[string]float64{"train_loss": 1.5}}
	slug, err := st.CompleteFinetune(ctx, run.ID, res)
	if err != nil || slug != fmt.Sprintf("store-run-%d", run.ID) {
		t.Fatalf("complete: %q %v", slug, err)
	}
	if again, err := st.CompleteFinetune(ctx, run.ID, res); err != nil || again != slug {
		t.Fatalf("second completion: %q %v", again, err)
	}
	if err := st.DeleteFinetuneRun(ctx, a, run.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.VisibleFinetuneRun(ctx, a, run.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted run still visible: %v", err)
	}
	var models, data int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*), (SELECT count(*) FROM model_data) FROM models WHERE run_id = $1`, run.ID).Scan(&models, &data); err != nil {
		t.Fatal(err)
	}
	if models != 1 || data != 1 {
		t.Fatalf("models %d, model_data %d", models, data)
	}
}
