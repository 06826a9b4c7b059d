// Package safetensors reads and writes Hugging Face safetensors files:
// an 8-byte little-endian header length, a JSON header mapping tensor names
// to dtype, shape and byte offsets, then the raw little-endian data.
//
// Reading validates everything a malformed or hostile file could get wrong
// (lengths, offsets, overlaps, dtypes, shape products) and returns an error
// instead of panicking. Writing is deterministic: tensors in name order,
// header padded with spaces to 8 bytes as the reference implementation does,
// so a read-write round trip is byte-stable.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
)

// MaxHeaderSize bounds the JSON header (the reference implementation uses 100 MB).
const MaxHeaderSize = 100 << 20

// Tensor is one named array: its dtype ("F32", "F16", "BF16", "I64"...),
// shape and raw little-endian bytes.
type Tensor struct {
	DType string
	Shape []int
	Data  []byte
}

// File is a parsed safetensors file.
type File struct {
	Metadata map[string]string
	Tensors  map[string]Tensor
}

var dtypeSize = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

type headerEntry struct {
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// ReadFile parses the file at path.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse parses a whole file held in memory. Tensor data aliases b.
func Parse(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, errors.New("safetensors: file shorter than its 8-byte header length")
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds %d", n, MaxHeaderSize)
	}
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("safetensors: header length %d but only %d bytes follow (truncated file?)", n, len(b)-8)
	}
	head := b[8 : 8+n]
	data := b[8+n:]
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(head))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("safetensors: header is not a JSON object: %w", err)
	}
	f := &File{Tensors: make(map[string]Tensor, len(raw))}
	type span struct {
		name       string
		begin, end int
	}
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e headerEntry
		d := json.NewDecoder(bytes.NewReader(msg))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: bad header entry: %w", name, err)
		}
		es, ok := dtypeSize[e.DType]
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", name, e.DType)
		}
		count := 1
		for _, dim := range e.Shape {
			if dim < 0 {
				return nil, fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", name, e.Shape)
			}
			if dim != 0 && count > math.MaxInt32/dim {
				return nil, fmt.Errorf("safetensors: tensor %q: shape %v too large", name, e.Shape)
			}
			count *= dim
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin || end > len(data) {
			return nil, fmt.Errorf("safetensors: tensor %q: data offsets [%d,%d] outside the %d data bytes", name, begin, end, len(data))
		}
		if end-begin != count*es {
			return nil, fmt.Errorf("safetensors: tensor %q: %s shape %v needs %d bytes, offsets give %d", name, e.DType, e.Shape, count*es, end-begin)
		}
		f.Tensors[name] = Tensor{DType: e.DType, Shape: e.Shape, Data: data[begin:end:end]}
		spans = append(spans, span{name, begin, end})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	for i := 1; i < len(spans); i++ {
		if spans[i].begin < spans[i-1].end {
			return nil, fmt.Errorf("safetensors: tensors %q and %q overlap", spans[i-1].name, spans[i].name)
		}
	}
	return f, nil
}

// Float32 returns tensor name converted to float32 (from F32, F16 or BF16)
// and its shape.
func (f *File) Float32(name string) ([]float32, []int, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, nil, fmt.Errorf("safetensors: missing tensor %q", name)
	}
	out, err := t.Float32()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	return out, t.Shape, nil
}

// Float32 converts the tensor's data to float32.
func (t Tensor) Float32() ([]float32, error) {
	switch t.DType {
	case "F32":
		out := make([]float32, len(t.Data)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return out, nil
	case "BF16":
		out := make([]float32, len(t.Data)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(t.Data[2*i:])) << 16)
		}
		return out, nil
	case "F16":
		out := make([]float32, len(t.Data)/2)
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("dtype %s is not a float type this trainer reads (F32, F16, BF16)", t.DType)
}

func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(mant) / 1024 / 16384
		if sign != 0 {
			return -f
		}
		return f
	case exp == 31:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// F32 builds an F32 tensor from data with the given shape.
func F32(data []float32, shape ...int) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{DType: "F32", Shape: slices.Clone(shape), Data: b}
}

// Write writes tensors (in name order) and optional metadata to w.
func Write(w io.Writer, tensors map[string]Tensor, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		if n == "__metadata__" {
			return errors.New("safetensors: a tensor may not be named __metadata__")
		}
		names = append(names, n)
	}
	sort.Strings(names)
	// Build the header by hand so key order is deterministic.
	var hb bytes.Buffer
	hb.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		mb, err := json.Marshal(metadata) // encoding/json sorts map keys
		if err != nil {
			return fmt.Errorf("safetensors: %w", err)
		}
		hb.WriteString(`"__metadata__":`)
		hb.Write(mb)
		first = false
	}
	off := 0
	for _, n := range names {
		t := tensors[n]
		es, ok := dtypeSize[t.DType]
		if !ok {
			return fmt.Errorf("safetensors: tensor %q: unknown dtype %q", n, t.DType)
		}
		count := 1
		for _, d := range t.Shape {
			count *= d
		}
		if count*es != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: shape %v does not match %d data bytes", n, t.Shape, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		eb, err := json.Marshal(headerEntry{DType: t.DType, Shape: shape, DataOffsets: [2]int{off, off + len(t.Data)}})
		if err != nil {
			return fmt.Errorf("safetensors: %w", err)
		}
		nb, _ := json.Marshal(n)
		if !first {
			hb.WriteByte(',')
		}
		first = false
		hb.Write(nb)
		hb.WriteByte(':')
		hb.Write(eb)
		off += len(t.Data)
	}
	hb.WriteByte('}')
	for hb.Len()%8 != 0 {
		hb.WriteByte(' ')
	}
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(hb.Len()))
	if _, err := w.Write(lenb[:]); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if _, err := w.Write(hb.Bytes()); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	for _, n := range names {
		if _, err := w.Write(tensors[n].Data); err != nil {
			return fmt.Errorf("safetensors: %w", err)
		}
	}
	return nil
}

// WriteFile writes the tensors to path atomically.
func WriteFile(path string, tensors map[string]Tensor, metadata map[string]string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := Write(f, tensors, metadata); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
