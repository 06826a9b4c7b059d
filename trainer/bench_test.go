package trainer

import (
	"context"
	"testing"
)

func TestBenchRunsTinyShape(t *testing.T) {
	p := Preset{Name: "t", Config: Config{MaxSeqLen: 16, VocabSize: 64, NumLayers: 1, NumHeads: 2, Channels: 16}, Batch: 2, Seq: 16}
	for _, mode := range []string{"full", "lora"} {
		r, err := Bench(context.Background(), p, mode, 1, 2, 2, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.TokensPerSec <= 0 || r.GemmPeakGFLOPS <= 0 || r.Params != p.Config.NumParams() {
			t.Fatalf("%s: %+v", mode, r)
		}
	}
	if _, err := Bench(context.Background(), p, "half", 1, 1, 1, ""); err == nil {
		t.Fatal("unknown mode accepted")
	}
}

// BenchmarkTrainStepTiny measures one full fine-tune step of the tiny preset;
// run with -cpuprofile to see where the time goes.
func BenchmarkTrainStepTiny(b *testing.B) {
	p, _ := LookupPreset("tiny")
	for b.Loop() {
		if _, err := Bench(context.Background(), p, "full", 1, 10, 2, ""); err != nil {
			b.Fatal(err)
		}
	}
}
