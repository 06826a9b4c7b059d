package trainer

import (
	"fmt"
	"math/rand/v2"
	"os"
)

// Dataset is a packed token stream: examples are concatenated (each ending
// with the end-of-text token) and cut into rows of T positions; Mask[i]
// says whether token i is a training target (responses yes, prompts no).
// Attention may cross example boundaries inside a row, as in GPT-2
// pretraining; the end-of-text token separates them.
//
// A Dataset is either in memory (Tokens, Mask) or backed by a token file
// (CreateDatasetFile, OpenDatasetFile), read row by row as training needs it.
// A disk-backed Dataset is not safe for concurrent use.
type Dataset struct {
	Tokens []int32
	Mask   []bool

	file    *os.File
	fileLen int
	buf     []byte
}

// Append adds one example: tokens with their loss mask (in-memory datasets).
func (d *Dataset) Append(tokens []int32, mask []bool) error {
	if d.file != nil {
		return errDiskWrite
	}
	d.Tokens = append(d.Tokens, tokens...)
	d.Mask = append(d.Mask, mask...)
	return nil
}

// Rows is the number of T-token training rows.
func (d *Dataset) Rows(T int) int {
	if T <= 0 || d.Len() < 2 {
		return 0
	}
	return (d.Len() - 1) / T
}

// fillRow writes row r's inputs (T) and targets (T; -1 where masked).
func (d *Dataset) fillRow(r, T int, inputs, targets []int32) error {
	start := r * T
	if d.file != nil {
		return d.readRow(start, T, inputs, targets)
	}
	copy(inputs, d.Tokens[start:start+T])
	for j := 0; j < T; j++ {
		if d.Mask == nil || d.Mask[start+j+1] {
			targets[j] = d.Tokens[start+j+1]
		} else {
			targets[j] = -1
		}
	}
	return nil
}

// loader walks a dataset in a seeded random row order, one epoch at a time.
// Its whole state is (Epoch, Pos), so a checkpoint can restore it exactly.
type loader struct {
	data       *Dataset
	B, T       int
	seed       uint64
	Epoch, Pos int
	perm       []int
	permEpoch  int
}

func newLoader(d *Dataset, B, T int, seed uint64) (*loader, error) {
	if d.Rows(T) == 0 {
		return nil, fmt.Errorf("dataset of %d tokens has no row of %d tokens", d.Len(), T+1)
	}
	if d.Mask != nil && len(d.Mask) != len(d.Tokens) {
		return nil, fmt.Errorf("dataset: %d mask entries for %d tokens", len(d.Mask), len(d.Tokens))
	}
	return &loader{data: d, B: B, T: T, seed: seed, permEpoch: -1}, nil
}

// next fills a (B,T) batch, wrapping rows into the next epoch as needed.
func (l *loader) next(inputs, targets []int32) error {
	rows := l.data.Rows(l.T)
	for b := 0; b < l.B; b++ {
		if l.Pos >= rows {
			l.Epoch++
			l.Pos = 0
		}
		if l.permEpoch != l.Epoch {
			r := rand.New(rand.NewPCG(l.seed, uint64(l.Epoch)+1))
			l.perm = r.Perm(rows)
			l.permEpoch = l.Epoch
		}
		if err := l.data.fillRow(l.perm[l.Pos], l.T, inputs[b*l.T:(b+1)*l.T], targets[b*l.T:(b+1)*l.T]); err != nil {
			return err
		}
		l.Pos++
	}
	return nil
}

// epochFloat is the fractional number of epochs consumed.
func (l *loader) epochFloat() float64 {
	return float64(l.Epoch) + float64(l.Pos)/float64(l.data.Rows(l.T))
}
