package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/modelfactory/modelfactory/store"
)

func TestBuiltinBaseModelUpsert(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	in := store.BaseModel{Slug: "starter-gpt", Name: "Starter", Architecture: "gpt2", ParamCount: 10, SizeBytes: 40,
		ContextLength: 256, Config: json.RawMessage(`{"model_type": "gpt2"}`), License: "MIT", TrainableCPU: true,
		BlobPrefix: "models/base/starter-gpt", Files: []store.ModelFile{{Name: "config.json", Size: 4, SHA256: "ab"}},
		ContentHash: "0x0000000000000000000000000000000000000000000000000000000000000001"}
	a, err := s.UpsertBuiltinBaseModel(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.UpsertBuiltinBaseModel(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || !a.UpdatedAt.Equal(b.UpdatedAt) {
		t.Fatalf("re-registering the same files changed the entry: %+v vs %+v", a, b)
	}
	got, err := s.GetBaseModelBySlug(ctx, "starter-gpt")
	if err != nil || got.Status != store.BaseModelReady || len(got.Files) != 1 || got.Files[0].SHA256 != "ab" || !got.TrainableCPU {
		t.Fatalf("got %+v, %v", got, err)
	}
	list, err := s.ListBaseModels(ctx, true)
	if err != nil || len(list) != 1 {
		t.Fatalf("list = %v, %v", list, err)
	}
	if _, err := s.GetBaseModel(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing model: %v", err)
	}
	in.ContentHash = "not a hash"
	if _, err := s.UpsertBuiltinBaseModel(ctx, in); err == nil {
		t.Fatal("an invalid content hash was stored")
	}
}
