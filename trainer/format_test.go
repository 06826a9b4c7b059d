package trainer

import (
	"slices"
	"strings"
	"testing"

	"github.com/modelfactory/modelfactory/trainer/tokenizer"
)

func TestReadExamplesShapes(t *testing.T) {
	in := `{"text":"plain document"}

{"instruction":"Add","input":"2 and 3","response":"5"}
{"instruction":"Greet","output":"hi"}
{"text":"great film","label":"positive"}
{"text":"x","label":3}
`
	ex, err := ReadExamples(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{
		{"", "plain document"},
		{"### Instruction:\nAdd\n\n### Input:\n2 and 3\n\n### Response:\n", "5"},
		{"### Instruction:\nGreet\n\n### Response:\n", "hi"},
		{"### Text:\ngreat film\n\n### Label:\n", "positive"},
		{"### Text:\nx\n\n### Label:\n", "3"},
	}
	if !slices.Equal(ex, want) {
		t.Fatalf("got %q", ex)
	}
	for _, bad := range []string{`{"instruction":"x"}`, `{"foo":1}`, `{"text":5}`, `not json`, ``, `{"text":"a","label":{}}`} {
		if _, err := ReadExamples(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ReadExamples(strings.NewReader("{\"text\":\"a\"}\n{bad")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error lacks the line: %v", err)
	}
}

func TestBuildDatasetMasksPrompt(t *testing.T) {
	tk, err := tokenizer.Load("tokenizer/testdata/vocab.json", "tokenizer/testdata/merges.txt")
	if err != nil {
		t.Fatal(err)
	}
	eot, _ := tk.SpecialID(tokenizer.EndOfText)
	ex := []Example{{Prompt: "Q? ", Completion: "A!"}, {Completion: "doc"}}
	d, err := BuildDataset(ex, tk)
	if err != nil {
		t.Fatal(err)
	}
	np, nc, nd := len(tk.Encode("Q? ")), len(tk.Encode("A!")), len(tk.Encode("doc"))
	if len(d.Tokens) != np+nc+1+nd+1 || int(d.Tokens[np+nc]) != eot {
		t.Fatalf("tokens %v", d.Tokens)
	}
	for i, m := range d.Mask {
		if want := i >= np; m != want {
			t.Fatalf("mask[%d] = %v", i, m)
		}
	}
	// Targets in a row carry -1 for prompt positions.
	T := len(d.Tokens) - 1
	in, tg := make([]int32, T), make([]int32, T)
	d.fillRow(0, T, in, tg)
	for j := 0; j < T; j++ {
		if (tg[j] == -1) != (j+1 < np) {
			t.Fatalf("target %d = %d", j, tg[j])
		}
	}
	tr, va := SplitExamples(append(ex, ex...), 0.25, 1)
	if len(tr) != 3 || len(va) != 1 {
		t.Fatalf("split %d/%d", len(tr), len(va))
	}
}
