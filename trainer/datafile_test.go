package trainer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestDiskDatasetMatchesMemory(t *testing.T) {
	tk := fixtureTokenizer(t)
	ex := []Example{{"Q: one? ", "A: 1"}, {"", "The License, Version 2.0"}, {"### Text:\nx\n\n### Label:\n", "yes"}}
	for i := 0; i < 6; i++ {
		ex = append(ex, ex...)
	}
	mem, err := BuildDataset(ex, tk)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "train.tokens")
	w, err := CreateDatasetFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex {
		if err := w.AppendExample(e, tk); err != nil {
			t.Fatal(err)
		}
	}
	disk, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	T := 16
	if disk.Len() != len(mem.Tokens) || disk.Rows(T) != mem.Rows(T) {
		t.Fatalf("disk %d tokens, memory %d", disk.Len(), len(mem.Tokens))
	}
	a1, b1, a2, b2 := make([]int32, T), make([]int32, T), make([]int32, T), make([]int32, T)
	for r := 0; r < mem.Rows(T); r++ {
		mem.fillRow(r, T, a1, b1)
		if err := disk.fillRow(r, T, a2, b2); err != nil {
			t.Fatal(err)
		}
		for j := range a1 {
			if a1[j] != a2[j] || b1[j] != b2[j] {
				t.Fatalf("row %d differs at %d", r, j)
			}
		}
	}
	cfg := Config{MaxSeqLen: T, VocabSize: tk.VocabSize(), NumLayers: 1, NumHeads: 2, Channels: 16}
	tc := TrainConfig{Steps: 6, BatchSize: 2, SeqLen: T, Seed: 3}
	m1 := newTestModel(t, cfg, 1)
	m2 := newTestModel(t, cfg, 1)
	r1, err := Train(context.Background(), m1, mem, nil, tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Train(context.Background(), m2, disk, nil, tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range r1.Losses {
		if r1.Losses[i] != r2.Losses[i] {
			t.Fatalf("step %d: disk loss %v, memory %v", i, r2.Losses[i], r1.Losses[i])
		}
	}
	reopened, err := OpenDatasetFile(path)
	if err != nil || reopened.Len() != disk.Len() {
		t.Fatalf("reopen: %v", err)
	}
	reopened.Close()
	os.WriteFile(path, []byte{1, 2, 3}, 0o644)
	if _, err := OpenDatasetFile(path); err == nil {
		t.Fatal("truncated token file accepted")
	}
}
