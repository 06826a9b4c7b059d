package ingest

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"hello world", "hello world"},
		{"  hello   \t world  ", "hello world"},
		{"a\r\nb\rc\nd", "a\nb\nc\nd"},
		{"para one\n\n\n\n  \n\npara two", "para one\n\npara two"},
		{"\n\n  lead\n\n", "lead"},
		{"Cafe\u0301", "Caf\u00e9"},
		{"bell\x07 and\x00 nul\u0085next", "bell and nul\nnext"},
		{"\ufeffbom", "bom"},
		{"nbsp\u00a0\u00a0here", "nbsp here"},
		{"line\u2028sep\u2029para", "line\nsep\n\npara"},
		{"code:\n    indented\n\tx  =  1   ", "code:\n    indented\n\tx = 1"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{"   ", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeText(tt.in); got != tt.want {
			t.Errorf("NormalizeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := NormalizeText(tt.want); got != tt.want {
			t.Errorf("not idempotent on %q: %q", tt.want, got)
		}
	}
}

func FuzzNormalizeText(f *testing.F) {
	for _, s := range []string{"a  b", "x\r\n\r\ny", "e\u0301\u0301", "\t\tcode\n", "\u2029\u2029", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeText(s)
		if !utf8.ValidString(n) {
			t.Fatalf("invalid UTF-8 from %q", s)
		}
		if NormalizeText(n) != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, NormalizeText(n))
		}
		if strings.Contains(n, "\n\n\n") || strings.TrimSpace(n) != n || strings.Contains(n, "\r") {
			t.Fatalf("not normal: %q", n)
		}
		// Feeding in pieces gives the same result.
		var nz normalizer
		for len(s) > 0 {
			k := min(len(s), 3)
			nz.feed(s[:k])
			s = s[k:]
		}
		nz.flush()
		if string(nz.out) != n {
			t.Fatalf("piecewise %q != %q", nz.out, n)
		}
	})
}

func TestNormalizeLabel(t *testing.T) {
	t.Parallel()
	if got := NormalizeLabel("  very\n  positive "); got != "very positive" {
		t.Errorf("got %q", got)
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	para := func(n int, w string) string { return strings.TrimSpace(strings.Repeat(w+" ", n)) + "." }
	// Paragraph boundaries win when they keep parts at least half full.
	text := para(30, "alpha") + "\n\n" + para(30, "beta") + "\n\n" + para(30, "gamma")
	parts := Split(text, 250)
	if len(parts) != 3 || !strings.HasPrefix(parts[1], "beta") || !strings.HasSuffix(parts[1], "beta.") {
		t.Errorf("paragraph split: %q", parts)
	}
	// Sentences next.
	long := strings.Repeat("This is a sentence of moderate length. ", 40)
	parts = Split(long, 200)
	for _, p := range parts {
		if utf8.RuneCountInString(p) > 200 {
			t.Errorf("part over limit: %d", utf8.RuneCountInString(p))
		}
		if !strings.HasSuffix(p, ".") {
			t.Errorf("part not cut at a sentence end: %q", p)
		}
	}
	// Words next; never inside a word.
	words := strings.Repeat("word ", 500)
	for _, p := range Split(words, 97) {
		if utf8.RuneCountInString(p) > 97 || strings.Contains(p+" ", "wor ") || strings.HasPrefix(p, "ord") {
			t.Errorf("bad word split: %q", p)
		}
	}
	// A word longer than the limit is cut inside.
	parts = Split(strings.Repeat("é", 250), 100)
	if len(parts) != 3 || utf8.RuneCountInString(parts[0]) != 100 {
		t.Errorf("long word: %d parts", len(parts))
	}
	if got := Split("short", 100); len(got) != 1 || got[0] != "short" {
		t.Errorf("short: %q", got)
	}
	if got := Split("", 100); len(got) != 0 {
		t.Errorf("empty: %q", got)
	}
	// Nothing is lost: the words of the parts are the words of the text.
	if strings.Join(strings.Fields(strings.Join(Split(long, 123), " ")), " ") != strings.Join(strings.Fields(long), " ") {
		t.Error("split lost text")
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("Hello world. This is a test.\n\nNew paragraph here!", 10)
	f.Add(strings.Repeat("x", 50), 7)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 1 || max > 1000 {
			return
		}
		parts := Split(s, max)
		var fields []string
		for _, p := range parts {
			if p == "" || utf8.RuneCountInString(p) > max {
				t.Fatalf("bad part %q (max %d)", p, max)
			}
			fields = append(fields, strings.Fields(p)...)
		}
		// Parts may cut inside over-long words, so compare without spaces.
		if strings.Join(fields, "") != strings.Join(strings.Fields(NormalizeText(s)), "") {
			t.Fatalf("split of %q lost text: %q", s, parts)
		}
		// The streaming builder fed in pieces gives the same parts.
		var got []string
		d := docBuilder{max: max}
		em := func(p string, _ int) error { got = append(got, p); return nil }
		for rest := s; len(rest) > 0; {
			k := min(len(rest), 5)
			d.write(rest[:k], em)
			rest = rest[k:]
		}
		d.close(em)
		if strings.Join(got, "\x00") != strings.Join(parts, "\x00") {
			t.Fatalf("streaming split differs:\n%q\n%q", got, parts)
		}
	})
}

func TestSchemaValidate(t *testing.T) {
	t.Parallel()
	good := []Schema{{Kind: KindDocuments}, {Kind: KindInstruction}, {Kind: KindClassification, Labels: []string{"pos", "neg"}}}
	for _, s := range good {
		if err := s.Validate(); err != nil {
			t.Errorf("%v: %v", s, err)
		}
	}
	bad := []Schema{{}, {Kind: "tabular"}, {Kind: KindDocuments, Labels: []string{"a"}},
		{Kind: KindClassification}, {Kind: KindClassification, Labels: []string{"a", "a"}},
		{Kind: KindClassification, Labels: []string{"a", " b"}}, {Kind: KindClassification, Labels: []string{"a", ""}}}
	for _, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("%v accepted", s)
		}
	}
}
