// Package inferencetest builds small real models for tests and benchmarks
// of the inference engine and the Playground: a GPT-2 with random weights
// and a trained byte-level BPE tokenizer, LoRA adapters with non-zero B (so
// they change the output), and their upload to object storage. Nothing is
// mocked: the files are the ones the trainer writes and reads.
package inferencetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/modelfactory/modelfactory/blob"
	"github.com/modelfactory/modelfactory/catalog"
	"github.com/modelfactory/modelfactory/inference"
	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/gemm"
	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

// TinyConfig is a shape that loads and generates in milliseconds.
var TinyConfig = trainer.Config{MaxSeqLen: 64, VocabSize: 320, NumLayers: 2, NumHeads: 2, Channels: 32}

// StarterShape is the starter model's shape (trainer.StarterConfig).
var StarterShape = trainer.StarterConfig.Model

// Corpus is deterministic text for training a tokenizer: sentences of
// pseudo-words drawn with a skewed (Zipf-like) frequency from a fixed
// lexicon, so BPE finds thousands of merges.
func Corpus() []string {
	r := rand.New(rand.NewPCG(11, 13))
	const letters = "etaoinshrdlcumwfgypbvkjxqz"
	lex := make([]string, 6000)
	for i := range lex {
		n := 2 + r.IntN(8)
		b := make([]byte, n)
		for j := range b {
			// Skewed letters: common ones far more often.
			b[j] = letters[min(len(letters)-1, int(r.ExpFloat64()*5))]
		}
		lex[i] = string(b)
	}
	z := rand.NewZipf(r, 1.1, 2, uint64(len(lex)-1))
	var texts []string
	for d := 0; d < 400; d++ {
		var sb strings.Builder
		for s := 0; s < 20; s++ {
			for w := 0; w < 12; w++ {
				if w > 0 {
					sb.WriteByte(' ')
				}
				sb.WriteString(lex[z.Uint64()])
			}
			sb.WriteString(". ")
		}
		texts = append(texts, sb.String())
	}
	return texts
}

// WriteBase writes a GPT-2 model of shape cfg with random weights (seeded)
// and a BPE tokenizer of exactly cfg.VocabSize tokens into dir, as a Hugging
// Face directory the trainer and the engine load.
func WriteBase(dir string, cfg trainer.Config, seed uint64) error {
	tok, err := tokenizer.Train(slices.Values(Corpus()), cfg.VocabSize, []string{tokenizer.EndOfText})
	if err != nil {
		return fmt.Errorf("write base: %w", err)
	}
	if tok.VocabSize() != cfg.VocabSize {
		return fmt.Errorf("write base: tokenizer has %d tokens, want %d", tok.VocabSize(), cfg.VocabSize)
	}
	pool := gemm.NewPool(1)
	defer pool.Close()
	m, err := trainer.NewModel(cfg, pool)
	if err != nil {
		return fmt.Errorf("write base: %w", err)
	}
	m.InitRandom(seed)
	// Larger than GPT-2's initial weights, so that the text depends on the
	// prompt and adapters visibly change it.
	r := rand.New(rand.NewPCG(seed, 5))
	for i := range m.Params {
		m.Params[i] += float32(r.NormFloat64() * 0.05)
	}
	keepPrintable(m, tok, r)
	if err := m.Save(dir); err != nil {
		return fmt.Errorf("write base: %w", err)
	}
	if err := tok.Save(dir); err != nil {
		return fmt.Errorf("write base: %w", err)
	}
	return nil
}

// keepPrintable makes tokens that decode to control characters or lone
// non-ASCII bytes very unlikely (and end-of-text unlikely), as they are in a trained model: random
// weights would otherwise pick them often, and their text (invalid UTF-8)
// is held back until generation ends. The output embedding is tied to the
// input one, so a final-norm bias d and embeddings of -4·d/|d| for those
// tokens push their logits about 12 below the others.
func keepPrintable(m *trainer.Model, tok *tokenizer.Tokenizer, r *rand.Rand) {
	C, V := m.Config.Channels, m.Config.VocabSize
	d := make([]float32, C)
	var norm float64
	for i := range d {
		d[i] = float32(r.NormFloat64())
		norm += float64(d[i]) * float64(d[i])
	}
	scale := float32(3 / math.Sqrt(norm)) // |d| = 3
	lnfBias := m.Params[len(m.Params)-C:] // ln_f.bias is the last tensor
	for i := range d {
		d[i] *= scale
		lnfBias[i] = d[i]
	}
	wte := m.Params[:V*C] // wte is the first tensor
	push := func(id int, k float32) {
		for i := range C {
			wte[id*C+i] = -k * d[i] / 3
		}
	}
	for id := 0; id < V; id++ {
		if b, err := tok.DecodeBytes([]int{id}); err == nil && !printable(b) {
			push(id, 4)
		}
	}
	// End-of-text stays possible when sampling but never wins greedily, so
	// greedy tests see full-length text.
	if eot, ok := tok.SpecialID(tokenizer.EndOfText); ok {
		push(eot, 2)
	}
}

func printable(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\n') || c >= 0x7f {
			return false
		}
	}
	return true
}

// WriteAdapter writes a PEFT LoRA adapter (rank 4 on every target) for a
// base of shape cfg into dir, with random non-zero A and B.
func WriteAdapter(dir string, cfg trainer.Config, seed uint64) error {
	lo, err := trainer.NewLoRA(cfg, trainer.LoRAConfig{Rank: 4, Alpha: 8,
		Targets: []string{"c_attn", "c_proj", "c_fc"}}, seed)
	if err != nil {
		return fmt.Errorf("write adapter: %w", err)
	}
	r := rand.New(rand.NewPCG(seed, 9))
	for i := range lo.Params {
		lo.Params[i] = float32(r.NormFloat64() * 0.3)
	}
	if err := lo.SaveAdapter(dir, "test-base"); err != nil {
		return fmt.Errorf("write adapter: %w", err)
	}
	return nil
}

// Upload stores every file of dir under prefix and describes them for the
// engine, with their content hash.
func Upload(ctx context.Context, blobs blob.Store, prefix, dir string) (inference.Files, error) {
	files, err := catalog.UploadDir(ctx, blobs, prefix, dir, nil)
	if err != nil {
		return inference.Files{}, err
	}
	return inference.Files{Hash: catalog.ContentHash(files), Prefix: prefix, Files: files}, nil
}

// Stored is a tiny base model and a LoRA adapter for it in object storage,
// under the keys the product uses (models/base/<slug>/ and
// models/ft/<model>/adapter/).
type Stored struct {
	Config  trainer.Config
	Base    inference.Files
	Adapter inference.Files
	// Merged is the base with the adapter merged in, as a full fine-tune
	// stores it (models/ft/<model>/merged/): it generates what the base
	// with the adapter unmerged does.
	Merged inference.Files
}

// StoreTiny writes a TinyConfig base (seeded) and an adapter for it under
// dir, and uploads both to blobs.
func StoreTiny(ctx context.Context, blobs blob.Store, dir, baseSlug, modelSlug string) (*Stored, error) {
	s := &Stored{Config: TinyConfig}
	baseDir, adapterDir := filepath.Join(dir, "base-"+baseSlug), filepath.Join(dir, "adapter-"+modelSlug)
	if err := WriteBase(baseDir, TinyConfig, 1); err != nil {
		return nil, err
	}
	if err := WriteAdapter(adapterDir, TinyConfig, 2); err != nil {
		return nil, err
	}
	var err error
	if s.Base, err = Upload(ctx, blobs, "models/base/"+baseSlug, baseDir); err != nil {
		return nil, err
	}
	if s.Adapter, err = Upload(ctx, blobs, "models/ft/"+modelSlug+"/adapter", adapterDir); err != nil {
		return nil, err
	}
	mergedDir := filepath.Join(dir, "merged-"+modelSlug)
	if err := WriteMerged(mergedDir, baseDir, adapterDir); err != nil {
		return nil, err
	}
	if s.Merged, err = Upload(ctx, blobs, "models/ft/"+modelSlug+"/merged", mergedDir); err != nil {
		return nil, err
	}
	return s, nil
}

// WriteMerged writes the model of baseDir with the adapter of adapterDir
// merged into its weights, and its tokenizer, into dir.
func WriteMerged(dir, baseDir, adapterDir string) error {
	pool := gemm.NewPool(1)
	defer pool.Close()
	m, err := trainer.LoadModel(baseDir, pool)
	if err != nil {
		return fmt.Errorf("write merged: %w", err)
	}
	lo, err := trainer.LoadAdapter(adapterDir, m.Config)
	if err != nil {
		return fmt.Errorf("write merged: %w", err)
	}
	if err := lo.MergeInto(m); err != nil {
		return fmt.Errorf("write merged: %w", err)
	}
	tok, err := tokenizer.LoadDir(baseDir)
	if err != nil {
		return fmt.Errorf("write merged: %w", err)
	}
	if err := m.Save(dir); err != nil {
		return fmt.Errorf("write merged: %w", err)
	}
	return tok.Save(dir)
}
