package trainer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// Token files let a dataset live on disk instead of in memory, so a run's
// memory is model + activations whatever the dataset size. Each position is
// a little-endian uint32: the token id in the low 31 bits, the loss-mask
// flag in the top bit.
const maskBit = 1 << 31

// DatasetWriter streams examples into a token file.
type DatasetWriter struct {
	f *os.File
	w *bufio.Writer
	n int
}

// CreateDatasetFile starts a token file at path (truncating it).
func CreateDatasetFile(path string) (*DatasetWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("dataset file: %w", err)
	}
	return &DatasetWriter{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

// Append adds tokens with their loss mask.
func (d *DatasetWriter) Append(tokens []int32, mask []bool) error {
	if len(mask) != len(tokens) {
		return fmt.Errorf("dataset file: %d mask entries for %d tokens", len(mask), len(tokens))
	}
	var b [4]byte
	for i, t := range tokens {
		if t < 0 {
			return fmt.Errorf("dataset file: negative token id %d", t)
		}
		v := uint32(t)
		if mask[i] {
			v |= maskBit
		}
		binary.LittleEndian.PutUint32(b[:], v)
		if _, err := d.w.Write(b[:]); err != nil {
			return fmt.Errorf("dataset file: %w", err)
		}
	}
	d.n += len(tokens)
	return nil
}

// Finish flushes the file and reopens it as a disk-backed Dataset; call
// Dataset.Close when done.
func (d *DatasetWriter) Finish() (*Dataset, error) {
	if err := d.w.Flush(); err != nil {
		d.f.Close()
		return nil, fmt.Errorf("dataset file: %w", err)
	}
	if err := d.f.Sync(); err != nil {
		d.f.Close()
		return nil, fmt.Errorf("dataset file: %w", err)
	}
	return &Dataset{file: d.f, fileLen: d.n}, nil
}

// OpenDatasetFile opens an existing token file as a disk-backed Dataset.
func OpenDatasetFile(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dataset file: %w", err)
	}
	if st.Size()%4 != 0 {
		f.Close()
		return nil, fmt.Errorf("dataset file %s: size %d is not a whole number of tokens", path, st.Size())
	}
	return &Dataset{file: f, fileLen: int(st.Size() / 4)}, nil
}

// Close releases a disk-backed dataset's file (a no-op in memory).
func (d *Dataset) Close() error {
	if d.file == nil {
		return nil
	}
	return d.file.Close()
}

// Len is the number of tokens.
func (d *Dataset) Len() int {
	if d.file != nil {
		return d.fileLen
	}
	return len(d.Tokens)
}

// readRow reads T+1 positions from a token file starting at start.
func (d *Dataset) readRow(start, T int, inputs, targets []int32) error {
	need := 4 * (T + 1)
	if cap(d.buf) < need {
		d.buf = make([]byte, need)
	}
	b := d.buf[:need]
	if _, err := d.file.ReadAt(b, int64(start)*4); err != nil {
		return fmt.Errorf("dataset file: %w", err)
	}
	for j := 0; j <= T; j++ {
		v := binary.LittleEndian.Uint32(b[4*j:])
		tok := int32(v &^ maskBit)
		if j < T {
			inputs[j] = tok
		}
		if j > 0 {
			if v&maskBit != 0 {
				targets[j-1] = tok
			} else {
				targets[j-1] = -1
			}
		}
	}
	return nil
}

var errDiskWrite = errors.New("dataset: a disk-backed dataset is read-only")
