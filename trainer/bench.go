package trainer

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/modelfactory/modelfactory/trainer/gemm"
)

// Preset is a benchmark model shape with its batch geometry.
type Preset struct {
	Name   string
	Config Config
	Batch  int
	Seq    int
}

// Presets are the shapes of `modelfactory bench train` (batch 4).
var Presets = []Preset{
	{"tiny", Config{MaxSeqLen: 128, VocabSize: 8192, NumLayers: 4, NumHeads: 4, Channels: 256}, 4, 128},
	{"small", Config{MaxSeqLen: 256, VocabSize: 16384, NumLayers: 6, NumHeads: 6, Channels: 384}, 4, 256},
	{"gpt2", Config{MaxSeqLen: 1024, VocabSize: 50257, NumLayers: 12, NumHeads: 12, Channels: 768}, 4, 64},
}

// LookupPreset finds a preset by name.
func LookupPreset(name string) (Preset, error) {
	for _, p := range Presets {
		if p.Name == name {
			return p, nil
		}
	}
	return Preset{}, fmt.Errorf("unknown preset %q (want tiny, small or gpt2)", name)
}

// BenchResult is the JSON line `modelfactory bench train` prints.
type BenchResult struct {
	Preset         string  `json:"preset"`
	Mode           string  `json:"mode"`
	Params         int     `json:"params"`
	Batch          int     `json:"batch"`
	Seq            int     `json:"seq"`
	TokensPerSec   float64 `json:"tokens_per_sec"`
	MsPerStep      float64 `json:"ms_per_step"`
	AchievedGFLOPS float64 `json:"achieved_gflops"`
	GemmPeakGFLOPS float64 `json:"gemm_peak_gflops"`
	PeakRSSMB      float64 `json:"peak_rss_mb"`
	AllocsPerStep  float64 `json:"allocs_per_step"`
	// AllocBytesPerStep is the heap bytes allocated per step (closures
	// handed to the worker pool; buffers are allocated once).
	AllocBytesPerStep float64 `json:"alloc_bytes_per_step"`
	// CPUMsPerStep is the process CPU time per measured step (all threads).
	// On a machine shared with other work, wall-clock figures suffer;
	// CPU time does not, and IdleTokensPerSec = B·T·threads / CPU time
	// estimates the rate on an otherwise idle machine (assuming perfect
	// scaling across threads).
	CPUMsPerStep     float64 `json:"cpu_ms_per_step"`
	IdleTokensPerSec float64 `json:"idle_tokens_per_sec_estimate"`
	LoadAvg          string  `json:"loadavg,omitempty"`
	Kernel           string  `json:"kernel"`
	Threads          int     `json:"threads"`
}

// StepFLOPs estimates the floating-point operations of one training step:
// matrix products (forward 2·N·P, backward 2× that in full mode, 1× in LoRA
// mode where no weight gradient is formed) plus attention scores and
// mixing, computed on the full T×T square (forward 4·T²·C per sequence and
// layer, backward twice that).
func StepFLOPs(c Config, B, T int, lora bool) float64 {
	N := float64(B * T)
	mm := 2 * N * float64(c.NumLayers*12*c.Channels*c.Channels+c.VocabSize*c.Channels)
	att := float64(c.NumLayers*B) * 4 * float64(T*T) * float64(c.Channels)
	if lora {
		return 2*mm + 3*att
	}
	return 3*mm + 3*att
}

// Bench trains a randomly initialised model of the preset's shape on random
// tokens for warmup + steps steps and measures the last steps. mode is
// "full" or "lora" (rank 8 on every target); kernel "" picks the fastest
// GEMM micro-kernel.
func Bench(ctx context.Context, preset Preset, mode string, warmup, steps, threads int, kernel string) (*BenchResult, error) {
	if steps <= 0 || warmup < 0 {
		return nil, fmt.Errorf("bench: steps %d must be positive", steps)
	}
	pool, err := gemm.NewPoolKernel(threads, kernel)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer pool.Close()
	m, err := NewModel(preset.Config, pool)
	if err != nil {
		return nil, err
	}
	m.InitRandom(1)
	switch mode {
	case "full":
	case "lora":
		lo, err := NewLoRA(preset.Config, LoRAConfig{Rank: 8, Alpha: 16, Targets: []string{TargetAttn, TargetAttnProj, TargetFC, TargetMLPProj}}, 1)
		if err != nil {
			return nil, err
		}
		m.LoRA = lo
	default:
		return nil, fmt.Errorf("bench: mode %q is not full or lora", mode)
	}
	B, T, V := preset.Batch, preset.Seq, preset.Config.VocabSize
	r := rand.New(rand.NewPCG(1, 2))
	inputs, targets := make([]int32, B*T), make([]int32, B*T)
	for i := range inputs {
		inputs[i], targets[i] = int32(r.IntN(V)), int32(r.IntN(V))
	}
	params, decay := m.trainable()
	m.ZeroGrad()
	grads := m.gradSlice()
	opt := NewAdamW(len(params), 0.9, 0.999, 1e-8, 0.0, decay)
	step := func() error {
		m.ZeroGrad()
		if _, err := m.Forward(inputs, targets, B, T); err != nil {
			return err
		}
		if err := m.Backward(1); err != nil {
			return err
		}
		clipGradNorm(m.pool, grads, 1)
		opt.Update(m.pool, params, grads, 1e-4)
		return nil
	}
	m.Training = true
	for i := 0; i < warmup; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := step(); err != nil {
			return nil, err
		}
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := processCPUTime()
	start := time.Now()
	for i := 0; i < steps; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := step(); err != nil {
			return nil, err
		}
	}
	dt := time.Since(start).Seconds() / float64(steps)
	cpuStep := (processCPUTime() - cpu0).Seconds() / float64(steps)
	runtime.ReadMemStats(&ms1)

	// Peak of our kernel at this model's largest linear-layer shape.
	C := preset.Config.Channels
	a, b, c := make([]float32, B*T*C), make([]float32, 4*C*C), make([]float32, B*T*4*C)
	pool.Sgemm(false, true, B*T, 4*C, C, a, C, b, C, 0, c, 4*C)
	reps := 0
	gstart := time.Now()
	for time.Since(gstart) < 300*time.Millisecond || reps < 3 {
		pool.Sgemm(false, true, B*T, 4*C, C, a, C, b, C, 0, c, 4*C)
		reps++
	}
	peak := 2 * float64(B*T*4*C*C) * float64(reps) / time.Since(gstart).Seconds() / 1e9

	return &BenchResult{
		Preset: preset.Name, Mode: mode, Params: preset.Config.NumParams(), Batch: B, Seq: T,
		TokensPerSec: float64(B*T) / dt, MsPerStep: dt * 1000,
		AchievedGFLOPS: StepFLOPs(preset.Config, B, T, mode == "lora") / dt / 1e9,
		GemmPeakGFLOPS: peak, PeakRSSMB: peakRSSMB(),
		AllocsPerStep:     float64(ms1.Mallocs-ms0.Mallocs) / float64(steps),
		AllocBytesPerStep: float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(steps),
		Kernel:            pool.Kernel(), Threads: pool.Threads(),
		CPUMsPerStep: cpuStep * 1000, IdleTokensPerSec: idleRate(B*T, pool.Threads(), cpuStep),
		LoadAvg: loadAvg(),
	}, nil
}

// peakRSSMB reads VmHWM from /proc (Linux); 0 elsewhere.
func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}

func idleRate(tokens, threads int, cpuSec float64) float64 {
	if cpuSec <= 0 {
		return 0
	}
	return float64(tokens*threads) / cpuSec
}

// loadAvg is /proc/loadavg's first three fields ("" off Linux).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
