package safetensors

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func sample() map[string]Tensor {
	return map[string]Tensor{
		"b.weight": F32([]float32{1, 2, 3, 4, 5, 6}, 2, 3),
		"a.bias":   F32([]float32{-1.5, 0.25}, 2),
		"scalar":   F32([]float32{7}),
	}
}

func TestRoundTripIsByteStable(t *testing.T) {
	var b1 bytes.Buffer
	if err := Write(&b1, sample(), map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(b1.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" {
		t.Fatalf("metadata %v", f.Metadata)
	}
	w, shape, err := f.Float32("b.weight")
	if err != nil || len(shape) != 2 || shape[1] != 3 || w[5] != 6 {
		t.Fatalf("b.weight = %v %v %v", w, shape, err)
	}
	var b2 bytes.Buffer
	if err := Write(&b2, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Fatal("round trip changed the bytes")
	}
	if hl := binary.LittleEndian.Uint64(b1.Bytes()); hl%8 != 0 {
		t.Fatalf("header length %d not 8-aligned", hl)
	}
}

func withHeader(h string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(h)))
	b.WriteString(h)
	b.Write(data)
	return b.Bytes()
}

func TestMalformedFiles(t *testing.T) {
	var good bytes.Buffer
	Write(&good, sample(), nil)
	g := good.Bytes()
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"empty":            {nil, "shorter"},
		"truncated data":   {g[:len(g)-3], "outside"},
		"truncated header": {g[:20], "truncated"},
		"huge header":      {append(binary.LittleEndian.AppendUint64(nil, 1<<40), '{'), "exceeds"},
		"not json":         {withHeader("nope", nil), "JSON"},
		"bad dtype":        {withHeader(`{"x":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "dtype"},
		"shape mismatch":   {withHeader(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "needs 8 bytes"},
		"negative dim":     {withHeader(`{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "negative"},
		"overlap":          {withHeader(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`, make([]byte, 8)), "overlap"},
		"reversed offsets": {withHeader(`{"x":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), "offsets"},
		"huge shape":       {withHeader(`{"x":{"dtype":"F32","shape":[65536,65536,65536],"data_offsets":[0,4]}}`, make([]byte, 4)), "too large"},
		"bad metadata":     {withHeader(`{"__metadata__":{"a":1}}`, nil), "metadata"},
		"unknown field":    {withHeader(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"z":1}}`, make([]byte, 4)), "bad header"},
	}
	for name, c := range cases {
		_, err := Parse(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
	f, _ := Parse(g)
	if _, _, err := f.Float32("missing"); err == nil {
		t.Error("missing tensor accepted")
	}
}

func TestHalfPrecision(t *testing.T) {
	// 1.0, -2.0, 0.5 in F16 and BF16.
	f16 := Tensor{DType: "F16", Shape: []int{3}, Data: []byte{0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38}}
	bf16 := Tensor{DType: "BF16", Shape: []int{3}, Data: []byte{0x80, 0x3f, 0x00, 0xc0, 0x00, 0x3f}}
	for _, tt := range []Tensor{f16, bf16} {
		v, err := tt.Float32()
		if err != nil || v[0] != 1 || v[1] != -2 || v[2] != 0.5 {
			t.Errorf("%s: %v %v", tt.DType, v, err)
		}
	}
	if _, err := (Tensor{DType: "I64", Data: make([]byte, 8)}).Float32(); err == nil {
		t.Error("I64 read as float")
	}
}

func FuzzParse(f *testing.F) {
	var good bytes.Buffer
	Write(&good, sample(), map[string]string{"k": "v"})
	f.Add(good.Bytes())
	f.Add(withHeader(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		for name := range file.Tensors {
			file.Float32(name)
		}
		var out bytes.Buffer
		if err := Write(&out, file.Tensors, file.Metadata); err != nil {
			t.Fatalf("re-writing a parsed file: %v", err)
		}
	})
}
