package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// markovData samples a token stream from a fixed random first-order Markov
// chain with peaked transitions, so a model can learn it but not memorise it.
func markovData(seed uint64, V, n int) *Dataset {
	r := rand.New(rand.NewPCG(42, 42)) // the chain itself is fixed
	next := make([][2]int32, V)
	for i := range next {
		next[i] = [2]int32{int32(r.IntN(V)), int32(r.IntN(V))}
	}
	s := rand.New(rand.NewPCG(seed, 1))
	d := &Dataset{}
	tok := int32(0)
	for i := 0; i < n; i++ {
		d.Tokens = append(d.Tokens, tok)
		d.Mask = append(d.Mask, true)
		tok = next[tok][s.IntN(2)]
		if s.IntN(10) == 0 {
			tok = int32(s.IntN(V))
		}
	}
	return d
}

func TestTinyModelOverfits(t *testing.T) {
	cfg := Config{MaxSeqLen: 16, VocabSize: 32, NumLayers: 2, NumHeads: 2, Channels: 32}
	m := newTestModel(t, cfg, 1)
	m.InitRandom(1)
	d := &Dataset{}
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 2*16+1; i++ {
		d.Tokens = append(d.Tokens, int32(r.IntN(32)))
	}
	res, err := Train(context.Background(), m, d, nil, TrainConfig{Steps: 150, BatchSize: 2, SeqLen: 16, LR: 1e-2, Warmup: 5, GradClip: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.FinalLoss > 0.05 {
		t.Fatalf("final loss %v, want < 0.05 (first %v)", res.FinalLoss, res.Losses[0])
	}
}

func TestLoRALowersValidationLoss(t *testing.T) {
	cfg := Config{MaxSeqLen: 32, VocabSize: 24, NumLayers: 2, NumHeads: 2, Channels: 32}
	m := newTestModel(t, cfg, 2)
	m.InitRandom(2)
	lo, err := NewLoRA(cfg, LoRAConfig{Rank: 4, Alpha: 8, Dropout: 0.05, Targets: []string{"c_attn", "c_proj", "c_fc"}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	m.LoRA = lo
	train, val := markovData(1, 24, 4000), markovData(2, 24, 1000)
	before, err := Evaluate(m, val, 4, 32, 0)
	if err != nil {
		t.Fatal(err)
	}
	base := append([]float32(nil), m.Params...)
	res, err := Train(context.Background(), m, train, val, TrainConfig{Steps: 200, BatchSize: 4, SeqLen: 32, LR: 2e-2, Warmup: 10, EvalEvery: 50, GradClip: 1, Seed: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := Evaluate(m, val, 4, 32, 0)
	if !(after < before-0.3) {
		t.Fatalf("validation loss %v → %v, want a clear drop", before, after)
	}
	if len(res.EvalLosses) != 4 {
		t.Fatalf("%d evaluations, want 4", len(res.EvalLosses))
	}
	for i := range base {
		if base[i] != m.Params[i] {
			t.Fatal("LoRA training changed a base weight")
		}
	}
}

func TestResumeReproducesLossCurve(t *testing.T) {
	for _, mode := range []string{"full", "lora"} {
		t.Run(mode, func(t *testing.T) {
			cfg := Config{MaxSeqLen: 16, VocabSize: 24, NumLayers: 2, NumHeads: 2, Channels: 16}
			data, val := markovData(1, 24, 2000), markovData(2, 24, 300)
			tc := TrainConfig{Steps: 20, BatchSize: 3, SeqLen: 16, GradAccum: 2, LR: 3e-3, Warmup: 3, GradClip: 1, Seed: 9, EvalEvery: 5, WeightDecay: 0.1}
			newRun := func() *Model {
				m := newTestModel(t, cfg, 4)
				m.InitRandom(4)
				if mode == "lora" {
					lo, err := NewLoRA(cfg, LoRAConfig{Rank: 2, Alpha: 4, Dropout: 0.1, Targets: []string{"c_attn", "c_fc"}}, 1)
					if err != nil {
						t.Fatal(err)
					}
					m.LoRA = lo
				}
				return m
			}
			full, err := Train(context.Background(), newRun(), data, val, tc, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.CheckpointPath = filepath.Join(t.TempDir(), "run.ckpt")
			ctx, cancel := context.WithCancel(context.Background())
			first, err := Train(ctx, newRun(), data, val, tc, func(ev Event) {
				if ev.Step == 8 {
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled run returned %v", err)
			}
			if len(first.Losses) != 8 {
				t.Fatalf("cancelled run made %d steps, want 8", len(first.Losses))
			}
			var log bytes.Buffer
			second, err := Train(context.Background(), newRun(), data, val, tc, JSONLines(&log))
			if err != nil {
				t.Fatal(err)
			}
			got := append(first.Losses, second.Losses...)
			if len(got) != len(full.Losses) {
				t.Fatalf("resumed run has %d losses, want %d", len(got), len(full.Losses))
			}
			for i := range got {
				if got[i] != full.Losses[i] {
					t.Fatalf("step %d: resumed loss %v, uninterrupted %v", i+1, got[i], full.Losses[i])
				}
			}
			lines := bytes.Split(bytes.TrimSpace(log.Bytes()), []byte("\n"))
			if len(lines) != 12 {
				t.Fatalf("%d log lines, want 12", len(lines))
			}
			var ev map[string]any
			if err := json.Unmarshal(lines[len(lines)-1], &ev); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"current_steps", "total_steps", "loss", "eval_loss", "lr", "epoch", "percentage", "elapsed_time", "remaining_time"} {
				if _, ok := ev[k]; !ok {
					t.Errorf("log line lacks %q: %s", k, lines[len(lines)-1])
				}
			}
			if ev["current_steps"].(float64) != 20 || ev["percentage"].(float64) != 100 {
				t.Errorf("last line %s", lines[len(lines)-1])
			}
		})
	}
}

func TestEarlyStoppingRestoresBest(t *testing.T) {
	cfg := Config{MaxSeqLen: 16, VocabSize: 24, NumLayers: 1, NumHeads: 2, Channels: 16}
	m := newTestModel(t, cfg, 4)
	m.InitRandom(4)
	// A tiny training set memorised with a high LR overfits, so validation
	// loss on other data must eventually rise.
	train, val := markovData(1, 24, 40), markovData(2, 24, 400)
	res, err := Train(context.Background(), m, train, val, TrainConfig{Steps: 400, BatchSize: 2, SeqLen: 16, LR: 3e-2, EvalEvery: 5, Patience: 3, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.StoppedEarly || res.Steps >= 400 {
		t.Fatalf("did not stop early: %d steps, eval %v", res.Steps, res.EvalLosses)
	}
	got, _ := Evaluate(m, val, 2, 16, 0)
	if math.Abs(got-res.BestEvalLoss) > 1e-5 {
		t.Fatalf("restored weights evaluate to %v, best was %v", got, res.BestEvalLoss)
	}
}

func TestCosineSchedule(t *testing.T) {
	if lr := CosineLR(0, 100, 10, 1, 0.1); math.Abs(lr-0.1) > 1e-12 {
		t.Errorf("warmup start %v", lr)
	}
	if lr := CosineLR(10, 100, 10, 1, 0.1); lr != 1 {
		t.Errorf("peak %v", lr)
	}
	if lr := CosineLR(55, 100, 10, 1, 0.1); math.Abs(lr-0.55) > 1e-12 {
		t.Errorf("midpoint %v", lr)
	}
	if lr := CosineLR(100, 100, 10, 1, 0.1); math.Abs(lr-0.1) > 1e-12 {
		t.Errorf("end %v", lr)
	}
	g := []float32{3, 4}
	if n := clipGradNorm(nil, g, 1); n != 5 || math.Abs(float64(g[0])-0.6) > 1e-5 {
		t.Errorf("clip: norm %v grads %v", n, g)
	}
}

// TestResumeAfterKill simulates a process killed after step 7: the only
// state left is the periodic checkpoint of step 5, and resuming from it
// must reproduce steps 6..12 of the uninterrupted run exactly.
func TestResumeAfterKill(t *testing.T) {
	cfg := Config{MaxSeqLen: 16, VocabSize: 24, NumLayers: 1, NumHeads: 2, Channels: 16}
	data := markovData(3, 24, 1500)
	dir := t.TempDir()
	tc := TrainConfig{Steps: 12, BatchSize: 2, SeqLen: 16, LR: 3e-3, Warmup: 2, Seed: 4, GradClip: 1,
		CheckpointPath: filepath.Join(dir, "run.ckpt"), CheckpointEvery: 5}
	newModel := func() *Model {
		m := newTestModel(t, cfg, 6)
		m.InitRandom(6)
		lo, _ := NewLoRA(cfg, LoRAConfig{Rank: 2, Alpha: 4, Dropout: 0.2, Targets: []string{"c_attn", "mlp.c_proj"}}, 2)
		m.LoRA = lo
		return m
	}
	saved := filepath.Join(dir, "at-step-5.ckpt")
	full, err := Train(context.Background(), newModel(), data, nil, tc, func(ev Event) {
		if ev.Step == 6 { // the step-5 checkpoint is on disk; keep a copy as the "killed" state
			b, err := os.ReadFile(tc.CheckpointPath)
			if err != nil {
				t.Error(err)
			}
			os.WriteFile(saved, b, 0o644)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(saved, tc.CheckpointPath); err != nil {
		t.Fatal(err)
	}
	resumed, err := Train(context.Background(), newModel(), data, nil, tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resumed.Losses) != 7 {
		t.Fatalf("resumed run made %d steps, want 7", len(resumed.Losses))
	}
	for i, l := range resumed.Losses {
		if l != full.Losses[5+i] {
			t.Fatalf("step %d: resumed %v, uninterrupted %v", 6+i, l, full.Losses[5+i])
		}
	}
}
