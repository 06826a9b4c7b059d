package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/modelfactory/modelfactory/trainer"
	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

// alpacaSystem is LLaMA-Factory's default system prompt of its alpaca template.
const alpacaSystem = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"

// sample is one record after LLaMA-Factory's alpaca converter: the user
// content (prompt, then the query on a new line) and the response.
type sample struct {
	prompt, response string
}

// readDataset reads a dataset file (JSON array or JSON lines) with its
// column mapping. As in LLaMA-Factory's DatasetAttr, without "columns" the
// columns are instruction, input and output; with "columns", a column it
// does not name is not read.
func readDataset(attr datasetAttr, maxSamples int) ([]sample, error) {
	col := func(name, def string) string {
		if attr.Columns == nil {
			return def
		}
		return attr.Columns[name]
	}
	promptCol, queryCol, respCol := col("prompt", "instruction"), col("query", "input"), col("response", "output")
	b, err := os.ReadFile(attr.FileName)
	if err != nil {
		return nil, err
	}
	var records []map[string]any
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &records); err != nil {
			return nil, fmt.Errorf("%s: %w", attr.FileName, err)
		}
	} else {
		s := bufio.NewScanner(bytes.NewReader(b))
		s.Buffer(make([]byte, 1<<20), 64<<20)
		line := 0
		for s.Scan() {
			line++
			if len(bytes.TrimSpace(s.Bytes())) == 0 {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal(s.Bytes(), &rec); err != nil {
				return nil, fmt.Errorf("%s line %d: %w", attr.FileName, line, err)
			}
			records = append(records, rec)
		}
		if err := s.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", attr.FileName, err)
		}
	}
	str := func(rec map[string]any, k string) string {
		if v, ok := rec[k].(string); ok {
			return v
		}
		return ""
	}
	var out []sample
	for i, rec := range records {
		if maxSamples > 0 && len(out) >= maxSamples {
			break
		}
		p := str(rec, promptCol)
		if q := str(rec, queryCol); queryCol != "" && q != "" {
			p += "\n" + q
		}
		if _, ok := rec[promptCol]; !ok {
			return nil, fmt.Errorf("%s record %d lacks the %q column", attr.FileName, i+1, promptCol)
		}
		out = append(out, sample{prompt: p, response: str(rec, respCol)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no records", attr.FileName)
	}
	return out, nil
}

// encoder tokenizes as Hugging Face tokenizers do with
// add_special_tokens=False: the end-of-text token's text in the input is
// that token (LLaMA-Factory relies on this to append eos_token to
// pre-training text), the rest is byte-level BPE.
type encoder struct {
	tok    *tokenizer.Tokenizer
	eos    int
	eosStr string
}

func (e *encoder) encode(text string) []int32 {
	var ids []int32
	for {
		i := strings.Index(text, e.eosStr)
		part := text
		if i >= 0 {
			part = text[:i]
		}
		for _, id := range e.tok.Encode(part) {
			ids = append(ids, int32(id))
		}
		if i < 0 {
			return ids
		}
		ids = append(ids, int32(e.eos))
		text = text[i+len(e.eosStr):]
	}
}

// inferSeqlen is LLaMA-Factory's truncation of a (source, target) pair to
// cutoff tokens.
func inferSeqlen(source, target, cutoff int) (int, int) {
	var maxTarget int
	switch {
	case target*2 < cutoff:
		maxTarget = cutoff
	case source*2 < cutoff:
		maxTarget = cutoff - source
	default:
		maxTarget = int(float64(cutoff) * float64(target) / float64(source+target))
	}
	newTarget := min(maxTarget, target)
	newSource := min(max(cutoff-newTarget, 0), source)
	return newSource, newTarget
}

// appendSamples tokenizes samples into a token file the way LLaMA-Factory
// builds inputs and labels for the stage and template: sft masks the
// prompt and trains the response; pt trains all of text + eos.
func appendSamples(w *trainer.DatasetWriter, samples []sample, a *trainArgs, enc *encoder) error {
	for _, s := range samples {
		var src, tgt []int32
		switch {
		case a.Stage == "pt":
			// Packed pre-training keeps every token; rows are cut later.
			tgt = enc.encode(s.prompt + enc.eosStr)
		case a.Template == "alpaca":
			src = enc.encode(alpacaSystem + "### Instruction:\n" + s.prompt + "\n\n### Response:\n")
			tgt = append(enc.encode(s.response), int32(enc.eos))
			tgt = append(tgt, enc.encode("\n\n")...)
		default: // "empty": the content as it is, no end-of-sequence token added
			src = enc.encode(s.prompt)
			tgt = enc.encode(s.response)
		}
		if a.Stage == "sft" {
			ns, nt := inferSeqlen(len(src), len(tgt), a.CutoffLen)
			src, tgt = src[:ns], tgt[:nt]
		}
		mask := make([]bool, len(src)+len(tgt))
		for i := len(src); i < len(mask); i++ {
			mask[i] = true
		}
		if err := w.Append(append(src, tgt...), mask); err != nil {
			return err
		}
	}
	return nil
}

// splitSamples holds out valSize of samples (a fraction, or a count when
// at least 1) with a seeded shuffle, as datasets.train_test_split does.
func splitSamples(s []sample, valSize float64, seed uint64) (train, val []sample) {
	n := int(valSize)
	if valSize < 1 {
		n = int(valSize*float64(len(s)) + 0.999999)
	}
	n = min(n, len(s)-1)
	idx := rand.New(rand.NewPCG(seed, 0x11f)).Perm(len(s))
	for i, j := range idx {
		if i < n {
			val = append(val, s[j])
		} else {
			train = append(train, s[j])
		}
	}
	return train, val
}
