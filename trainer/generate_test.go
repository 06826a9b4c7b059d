package trainer

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

func fixtureTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	tk, err := tokenizer.Load("tokenizer/testdata/vocab.json", "tokenizer/testdata/merges.txt")
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestGenerateCachedMatchesFullForward(t *testing.T) {
	tk := fixtureTokenizer(t)
	cfg := Config{MaxSeqLen: 24, VocabSize: tk.VocabSize(), NumLayers: 2, NumHeads: 2, Channels: 16}
	m := newTestModel(t, cfg, 21)
	prompt := "The License"
	g, err := Generate(context.Background(), m, tk, prompt, GenerateOptions{MaxTokens: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Reference: recompute the whole sequence each step, take the argmax.
	var seq []int32
	for _, id := range tk.Encode(prompt) {
		seq = append(seq, int32(id))
	}
	eot, _ := tk.SpecialID(tokenizer.EndOfText)
	var want []int
	for len(want) < 10 {
		if _, err := m.Forward(seq, nil, 1, len(seq)); err != nil {
			t.Fatal(err)
		}
		V := cfg.VocabSize
		row := m.Logits()[(len(seq)-1)*V : len(seq)*V]
		best := 0
		for i, v := range row {
			if v > row[best] {
				best = i
			}
		}
		if best == eot {
			break
		}
		want = append(want, best)
		seq = append(seq, int32(best))
	}
	if !slices.Equal(g.Tokens, want) {
		t.Fatalf("cached %v, full %v", g.Tokens, want)
	}
}

func TestGenerateLoRAUnmergedMatchesMerged(t *testing.T) {
	tk := fixtureTokenizer(t)
	cfg := Config{MaxSeqLen: 32, VocabSize: tk.VocabSize(), NumLayers: 2, NumHeads: 2, Channels: 16}
	m := newTestModel(t, cfg, 22)
	lo, _ := NewLoRA(cfg, LoRAConfig{Rank: 2, Alpha: 4, Targets: []string{"c_attn", "c_proj", "c_fc"}}, 1)
	r := rand.New(rand.NewPCG(3, 3))
	for i := range lo.Params {
		lo.Params[i] = float32(r.NormFloat64() * 0.5)
	}
	m.LoRA = lo
	opts := GenerateOptions{MaxTokens: 12, Temperature: 0.8, TopK: 20, TopP: 0.9, Seed: 4}
	a, err := Generate(context.Background(), m, tk, "Hello", opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	lo.MergeInto(m)
	m.LoRA = nil
	b, _ := Generate(context.Background(), m, tk, "Hello", opts, nil)
	if !slices.Equal(a.Tokens, b.Tokens) {
		t.Fatalf("unmerged %v, merged %v", a.Tokens, b.Tokens)
	}
}

func TestGenerateStreamingAndStop(t *testing.T) {
	tk := fixtureTokenizer(t)
	cfg := Config{MaxSeqLen: 64, VocabSize: tk.VocabSize(), NumLayers: 1, NumHeads: 2, Channels: 16}
	m := newTestModel(t, cfg, 23)
	opts := GenerateOptions{MaxTokens: 30, Temperature: 1, Seed: 7}
	full, err := Generate(context.Background(), m, tk, "x", opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Text) < 4 {
		t.Skipf("generated too little text to test stops: %q", full.Text)
	}
	stop := ""
	for i := 1; i+1 < len(full.Text); i++ {
		if a, b := full.Text[i], full.Text[i+1]; a > ' ' && a < 127 && b > ' ' && b < 127 {
			stop = full.Text[i : i+2]
			break
		}
	}
	if stop == "" {
		t.Skipf("no ASCII pair in %q", full.Text)
	}
	opts.Stop = []string{stop}
	var streamed strings.Builder
	g, err := Generate(context.Background(), m, tk, "x", opts, func(s string) error { streamed.WriteString(s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if g.FinishReason != "stop" || strings.Contains(g.Text, stop) || !strings.HasPrefix(full.Text, g.Text) {
		t.Fatalf("stop %q: %q (%s), full %q", stop, g.Text, g.FinishReason, full.Text)
	}
	if streamed.String() != g.Text {
		t.Fatalf("streamed %q, final %q", streamed.String(), g.Text)
	}
	if _, err := Generate(context.Background(), m, tk, "x", GenerateOptions{TopP: 2}, nil); err == nil {
		t.Fatal("top_p 2 accepted")
	}
	// Max tokens and a full context end with "length".
	g, _ = Generate(context.Background(), m, tk, strings.Repeat("ab ", 40), GenerateOptions{MaxTokens: 500}, nil)
	if g.FinishReason != "length" && g.FinishReason != "eos" {
		t.Fatalf("finish %q", g.FinishReason)
	}
}

func TestSafeEmitHoldsOnlyAnIncompleteTail(t *testing.T) {
	for _, tc := range []struct {
		text  string
		stops []string
		want  int
	}{
		{"hello", nil, 5},
		{"caf\xc3", nil, 3},             // é's first byte: wait for the second
		{"\xe2\x82", nil, 0},            // two of €'s three bytes
		{"\xe2\x82\xac", nil, 3},        // € complete
		{"a\xffbc", nil, 4},             // a stray byte mid-text does not stall the stream
		{"a\xff", nil, 2},               // nor at the end (it can never be completed)
		{"x\x80\x80\x80\x80", nil, 5},   // continuation bytes with no start
		{"ok ###", []string{"### "}, 3}, // a possible stop sequence is held back
	} {
		if got := safeEmit([]byte(tc.text), tc.stops); got != tc.want {
			t.Errorf("safeEmit(%q, %q) = %d, want %d", tc.text, tc.stops, got, tc.want)
		}
	}
}
