package trainer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

// Example is one formatted training record: the model sees Prompt then
// Completion but is trained (loss) on Completion and the end-of-text token only.
type Example struct {
	Prompt     string
	Completion string
}

// The prompt template, shared by training and generation so that a
// fine-tuned model is prompted exactly as it was trained:
//
//	documents ({"text"}):                   <text><|endoftext|>            (all trained)
//	instruction ({"instruction","input"?,"response"|"output"}):
//	    ### Instruction:\n<instruction>\n\n[### Input:\n<input>\n\n]### Response:\n  +  <response><|endoftext|>
//	classification ({"text","label"}):
//	    ### Text:\n<text>\n\n### Label:\n  +  <label><|endoftext|>
//
// where only the part after "+" is trained.
const (
	instructionHeader = "### Instruction:\n"
	inputHeader       = "### Input:\n"
	responseHeader    = "### Response:\n"
	textHeader        = "### Text:\n"
	labelHeader       = "### Label:\n"
)

// InstructionPrompt formats an instruction (and optional input) the way
// training does, ready for the model to continue with the response.
func InstructionPrompt(instruction, input string) string {
	var b strings.Builder
	b.WriteString(instructionHeader + instruction + "\n\n")
	if input != "" {
		b.WriteString(inputHeader + input + "\n\n")
	}
	b.WriteString(responseHeader)
	return b.String()
}

// ClassificationPrompt formats a text to classify, ready for its label.
func ClassificationPrompt(text string) string {
	return textHeader + text + "\n\n" + labelHeader
}

// FormatRecord turns one Datanet record into an Example; the shape is
// recognised by its fields.
func FormatRecord(rec map[string]any) (Example, error) {
	str := func(k string) (string, bool, error) {
		v, ok := rec[k]
		if !ok || v == nil {
			return "", false, nil
		}
		s, ok := v.(string)
		if !ok {
			return "", true, fmt.Errorf("field %q must be a string", k)
		}
		return s, true, nil
	}
	instr, hasInstr, err := str("instruction")
	if err != nil {
		return Example{}, err
	}
	if hasInstr {
		resp, ok, err := str("response")
		if err != nil {
			return Example{}, err
		}
		if !ok {
			if resp, ok, err = str("output"); err != nil {
				return Example{}, err
			}
		}
		if !ok {
			return Example{}, errors.New("instruction record lacks \"response\"")
		}
		input, _, err := str("input")
		if err != nil {
			return Example{}, err
		}
		return Example{Prompt: InstructionPrompt(instr, input), Completion: resp}, nil
	}
	text, hasText, err := str("text")
	if err != nil {
		return Example{}, err
	}
	if !hasText {
		return Example{}, errors.New("record has neither \"text\" nor \"instruction\"")
	}
	if lv, ok := rec["label"]; ok && lv != nil {
		var label string
		switch v := lv.(type) {
		case string:
			label = v
		case float64, bool:
			label = fmt.Sprint(v)
		default:
			return Example{}, errors.New("field \"label\" must be a string, number or boolean")
		}
		return Example{Prompt: ClassificationPrompt(text), Completion: label}, nil
	}
	return Example{Completion: text}, nil
}

// ReadExamples parses JSONL (one record per line; blank lines skipped).
func ReadExamples(r io.Reader) ([]Example, error) {
	var out []Example
	err := ScanExamples(r, func(ex Example) error {
		out = append(out, ex)
		return nil
	})
	return out, err
}

// ScanExamples calls fn for each JSONL record of r in order, holding one
// line at a time. An error from fn stops the scan and is returned.
func ScanExamples(r io.Reader, fn func(Example) error) error {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 1<<20), 64<<20)
	line, n := 0, 0
	for s.Scan() {
		line++
		b := strings.TrimSpace(s.Text())
		if b == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(b), &rec); err != nil {
			return fmt.Errorf("jsonl line %d: %w", line, err)
		}
		ex, err := FormatRecord(rec)
		if err != nil {
			return fmt.Errorf("jsonl line %d: %w", line, err)
		}
		if err := fn(ex); err != nil {
			return err
		}
		n++
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("jsonl line %d: %w", line+1, err)
	}
	if n == 0 {
		return errors.New("jsonl: no records")
	}
	return nil
}

// SplitExamples shuffles examples with seed and holds out valFraction of
// them (at least one when valFraction > 0 and there are two or more).
func SplitExamples(ex []Example, valFraction float64, seed uint64) (train, val []Example) {
	idx := rand.New(rand.NewPCG(seed, 0xda7a)).Perm(len(ex))
	nv := int(valFraction * float64(len(ex)))
	if valFraction > 0 && nv == 0 && len(ex) >= 2 {
		nv = 1
	}
	for i, j := range idx {
		if i < nv {
			val = append(val, ex[j])
		} else {
			train = append(train, ex[j])
		}
	}
	return train, val
}

// tokenizeExample returns an example's tokens (prompt, completion,
// end-of-text) and loss mask.
func tokenizeExample(ex Example, tok *tokenizer.Tokenizer, eot int) ([]int32, []bool) {
	p := tok.Encode(ex.Prompt)
	c := tok.Encode(ex.Completion)
	ids := make([]int32, 0, len(p)+len(c)+1)
	mask := make([]bool, 0, cap(ids))
	for _, id := range p {
		ids = append(ids, int32(id))
		mask = append(mask, false)
	}
	for _, id := range c {
		ids = append(ids, int32(id))
		mask = append(mask, true)
	}
	return append(ids, int32(eot)), append(mask, true)
}

// AppendExample tokenizes ex onto the token file with the same masks as
// BuildDataset.
func (d *DatasetWriter) AppendExample(ex Example, tok *tokenizer.Tokenizer) error {
	eot, ok := tok.SpecialID(tokenizer.EndOfText)
	if !ok {
		return errors.New("dataset file: tokenizer has no <|endoftext|> token")
	}
	ids, mask := tokenizeExample(ex, tok, eot)
	return d.Append(ids, mask)
}

// BuildDataset tokenizes examples into a packed stream with loss masks:
// prompt tokens are not trained, completion tokens and the end-of-text
// token are.
func BuildDataset(examples []Example, tok *tokenizer.Tokenizer) (*Dataset, error) {
	eot, ok := tok.SpecialID(tokenizer.EndOfText)
	if !ok {
		return nil, errors.New("build dataset: tokenizer has no <|endoftext|> token")
	}
	d := &Dataset{}
	for _, ex := range examples {
		ids, mask := tokenizeExample(ex, tok, eot)
		d.Tokens = append(d.Tokens, ids...)
		d.Mask = append(d.Mask, mask...)
	}
	return d, nil
}
