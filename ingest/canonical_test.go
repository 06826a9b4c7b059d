package ingest

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/modelfactory/modelfactory/ingest/minhash"
)

// TestCanonicalMatchesJSONStringify checks canonical JSON and hashes against
// vectors made by node's JSON.stringify (testdata/canonical.js).
func TestCanonicalMatchesJSONStringify(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/canonical.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var v struct {
			Fields    map[string]string
			Canonical string
			Hash      string
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		schema := Schema{Kind: KindDocuments}
		if _, ok := v.Fields["instruction"]; ok {
			schema.Kind = KindInstruction
		}
		if _, ok := v.Fields["label"]; ok {
			schema.Kind = KindClassification
		}
		c, h := Hash(v.Fields, schema)
		if string(c) != v.Canonical {
			t.Errorf("canonical %s, JSON.stringify %s", c, v.Canonical)
		}
		if h != v.Hash {
			t.Errorf("hash of %s: %s, want %s", c, h, v.Hash)
		}
		n++
	}
	if n < 7 {
		t.Fatalf("read %d vectors", n)
	}
}

func TestCanonicalSchemaFieldsOnly(t *testing.T) {
	t.Parallel()
	s := Schema{Kind: KindInstruction}
	c := Canonical(map[string]string{"instruction": "a", "response": "b", "input": "", "extra": "x"}, s)
	if string(c) != `{"instruction":"a","response":"b"}` {
		t.Errorf("got %s", c)
	}
	// Invalid UTF-8 cannot reach the canonical form as raw bytes.
	c = Canonical(map[string]string{"text": "a\xffb"}, Schema{Kind: KindDocuments})
	if string(c) != "{\"text\":\"a\uFFFDb\"}" {
		t.Errorf("got %q", c)
	}
}

func TestBuildRecordNormalisesBeforeHashing(t *testing.T) {
	t.Parallel()
	lim := DefaultLimits()
	s := Schema{Kind: KindInstruction}
	a, err := BuildRecord(map[string]string{"instruction": "  Cafe\u0301  time \r\n", "response": "ok"}, s, lim)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildRecord(map[string]string{"instruction": "Caf\u00e9 time", "response": "ok", "input": ""}, s, lim)
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash != b.Hash || string(a.Canonical) != "{\"instruction\":\"Caf\u00e9 time\",\"response\":\"ok\"}" {
		t.Errorf("hashes %s %s, canonical %s", a.Hash, b.Hash, a.Canonical)
	}
	if _, ok := b.Fields["input"]; ok {
		t.Error("empty optional input kept")
	}
	if len(a.Hash) != 66 || a.Hash[:2] != "0x" {
		t.Errorf("hash %q", a.Hash)
	}
}

// TestCanonicalSignature: the signature recomputed from a stored record's
// canonical JSON is the one ingest computed, for every schema, including
// escapes and non-ASCII text; a different text gives a different one.
func TestCanonicalSignature(t *testing.T) {
	cases := []struct {
		schema Schema
		fields map[string]string
	}{
		{Schema{Kind: KindDocuments}, map[string]string{"text": "Café au lait, \"quoted\" <b>tags</b> & a tab\there.\nNew paragraph."}},
		{Schema{Kind: KindInstruction}, map[string]string{"instruction": "Explain dialysis.", "response": "It filters blood when kidneys cannot."}},
		{Schema{Kind: KindInstruction}, map[string]string{"instruction": "Translate", "input": "Guten Morgen", "response": "Good morning"}},
		{Schema{Kind: KindClassification, Labels: []string{"pos", "neg"}}, map[string]string{"text": "A wonderful film.", "label": "pos"}},
	}
	var sigs []minhash.Signature
	for _, c := range cases {
		r, err := BuildRecord(c.fields, c.schema, DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		got, err := CanonicalSignature(string(r.Canonical))
		if err != nil {
			t.Fatal(err)
		}
		if got != r.Signature {
			t.Fatalf("%s: signature from canonical %s differs from ingest's", c.schema.Kind, r.Canonical)
		}
		sigs = append(sigs, got)
	}
	if sigs[0] == sigs[1] || sigs[1] == sigs[2] {
		t.Fatal("different texts share a signature")
	}
	if _, err := CanonicalSignature("not json"); err == nil {
		t.Fatal("malformed canonical JSON accepted")
	}
}
