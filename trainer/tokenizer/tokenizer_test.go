package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// testdata/gpt2_reference.json was produced by running OpenAI's GPT-2
// encoder.py algorithm (bytes_to_unicode, bpe, and the original pattern
// through Python's `regex` module) on testdata/vocab.json + merges.txt.
type refCase struct {
	Text   string   `json:"text"`
	Pieces []string `json:"pieces"`
	IDs    []int    `json:"ids"`
}

func loadFixture(t testing.TB) *Tokenizer {
	t.Helper()
	tk, err := Load("testdata/vocab.json", "testdata/merges.txt")
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestMatchesGPT2Reference(t *testing.T) {
	tk := loadFixture(t)
	b, err := os.ReadFile("testdata/gpt2_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []refCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		var pieces []string
		preTokenize(c.Text, func(p string) { pieces = append(pieces, p) })
		if !slices.Equal(pieces, c.Pieces) && !(len(pieces) == 0 && len(c.Pieces) == 0) {
			t.Errorf("%q: pieces %q, GPT-2 %q", c.Text, pieces, c.Pieces)
		}
		ids := tk.Encode(c.Text)
		if !slices.Equal(ids, c.IDs) && !(len(ids) == 0 && len(c.IDs) == 0) {
			t.Errorf("%q: ids %v, GPT-2 %v", c.Text, ids, c.IDs)
		}
		back, err := tk.Decode(ids)
		if err != nil || back != c.Text {
			t.Errorf("%q: decoded %q, %v", c.Text, back, err)
		}
	}
}

// TestMergeOrder checks rank semantics on a hand-made vocabulary: the
// lowest-ranked pair merges first, wherever it is in the word.
func TestMergeOrder(t *testing.T) {
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[string(byteToRune[b])] = b
	}
	add := func(s string) { vocab[s] = len(vocab) }
	add("bc")  // 256
	add("ab")  // 257
	add("abc") // 258
	add("Ġa")  // 259
	add(EndOfText)
	// "ab" outranks "bc": "abc" → ab+c → abc
	tk, err := New(vocab, [][2]string{{"a", "b"}, {"b", "c"}, {"ab", "c"}, {"Ġ", "a"}}, []string{EndOfText})
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("abc"); !slices.Equal(got, []int{258}) {
		t.Errorf("abc → %v", got)
	}
	if got := tk.Encode("bcab a"); !slices.Equal(got, []int{256, 257, 259}) {
		t.Errorf("bcab a → %v", got)
	}
	// With "b c" ranked first, "abc" becomes a + bc (no "a bc" merge).
	tk2, _ := New(vocab, [][2]string{{"b", "c"}, {"a", "b"}, {"ab", "c"}}, nil)
	if got := tk2.Encode("abc"); !slices.Equal(got, []int{'a', 256}) {
		t.Errorf("b-c first: abc → %v", got)
	}
	if id, ok := tk.SpecialID(EndOfText); !ok || id != 260 {
		t.Errorf("EndOfText id %d", id)
	}
	if got := tk.Encode(EndOfText); slices.Contains(got, 260) {
		t.Error("user text produced the special token")
	}
}

func TestTrainSaveLoad(t *testing.T) {
	corpus := strings.Repeat("the cat sat on the mat. the dog sat on the log. ", 50)
	tk, err := Train(slices.Values([]string{corpus}), 300, []string{EndOfText})
	if err != nil {
		t.Fatal(err)
	}
	ids := tk.Encode("the cat sat on the log.")
	if len(ids) > 8 {
		t.Errorf("trained tokenizer used %d tokens: %v", len(ids), ids)
	}
	dir := t.TempDir()
	if err := tk.Save(dir); err != nil {
		t.Fatal(err)
	}
	tk2, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"the cat sat on the log.", "unseen wörds 🎉"} {
		a, b := tk.Encode(s), tk2.Encode(s)
		if !slices.Equal(a, b) {
			t.Errorf("%q: %v after reload, %v before", s, b, a)
		}
		if d, _ := tk2.Decode(b); d != s {
			t.Errorf("decode %q", d)
		}
	}
	tk3, _ := Train(slices.Values([]string{corpus}), 300, []string{EndOfText})
	if !slices.Equal(tk3.Encode(corpus[:200]), tk.Encode(corpus[:200])) {
		t.Error("training is not deterministic")
	}
	if _, err := Train(slices.Values([]string{"x"}), 70000, nil); err == nil {
		t.Error("vocab over 65535 accepted")
	}
}

func TestLoadJSONAndErrors(t *testing.T) {
	tk := loadFixture(t)
	dir := t.TempDir()
	merges := make([]string, len(tk.merges))
	for i, m := range tk.merges {
		merges[i] = m.a + " " + m.b
	}
	vocab := map[string]int{}
	for k, v := range tk.encoder {
		if k != EndOfText {
			vocab[k] = v
		}
	}
	tj := map[string]any{
		"added_tokens": []map[string]any{{"id": tk.special[EndOfText], "content": EndOfText, "special": true}},
		"model":        map[string]any{"type": "BPE", "vocab": vocab, "merges": merges},
	}
	b, _ := json.Marshal(tj)
	os.WriteFile(filepath.Join(dir, JSONFile), b, 0o644)
	tj2, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := "The License, Version 2.0 🎉"
	if !slices.Equal(tj2.Encode(s), tk.Encode(s)) {
		t.Error("tokenizer.json encodes differently")
	}
	os.WriteFile(filepath.Join(dir, MergesFile), []byte("#version: 0.2\nabc\n"), 0o644)
	os.WriteFile(filepath.Join(dir, VocabFile), []byte(`{"a":0}`), 0o644)
	if _, err := Load(filepath.Join(dir, VocabFile), filepath.Join(dir, MergesFile)); err == nil {
		t.Error("bad merges accepted")
	}
	os.WriteFile(filepath.Join(dir, MergesFile), []byte("#version: 0.2\n"), 0o644)
	if _, err := Load(filepath.Join(dir, VocabFile), filepath.Join(dir, MergesFile)); err == nil || !strings.Contains(err.Error(), "byte token") {
		t.Errorf("vocab without byte tokens: %v", err)
	}
	if _, err := tk.Decode([]int{999999}); err == nil {
		t.Error("unknown id decoded")
	}
}

func FuzzEncodeDecode(f *testing.F) {
	tk := loadFixture(f)
	for _, s := range []string{"Hello world", "a\n\nb", "I'm 🎉", "\xff\xfe", "  x  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tk.Encode(s)
		b, err := tk.DecodeBytes(ids)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != s {
			t.Fatalf("round trip %q → %q", s, b)
		}
		if utf8.ValidString(s) {
			n := 0
			preTokenize(s, func(p string) { n += len(p) })
			if n != len(s) {
				t.Fatalf("pieces cover %d of %d bytes", n, len(s))
			}
		}
	})
}
