package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// preTokenize splits text exactly as GPT-2's pattern does:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Go's regexp has no look-ahead, so the alternation is written out by hand,
// trying the alternatives in order at each position as a backtracking
// regex engine would.
func preTokenize(text string, emit func(piece string)) {
	i := 0
	for i < len(text) {
		n := matchAt(text, i)
		emit(text[i : i+n])
		i += n
	}
}

var contractions = []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

func isLetter(r rune) bool { return unicode.IsLetter(r) }
func isNumber(r rune) bool { return unicode.IsNumber(r) }
func isSpace(r rune) bool  { return unicode.IsSpace(r) }
func isOther(r rune) bool  { return !isSpace(r) && !isLetter(r) && !isNumber(r) }

// run returns the byte length of the longest prefix of s whose runes satisfy f.
func run(s string, f func(rune) bool) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if !f(r) {
			break
		}
		n += size
	}
	return n
}

// matchAt returns the length (> 0) of the piece starting at i.
func matchAt(text string, i int) int {
	s := text[i:]
	for _, c := range contractions {
		if strings.HasPrefix(s, c) {
			return len(c)
		}
	}
	// ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
	for _, class := range []func(rune) bool{isLetter, isNumber, isOther} {
		body := s
		lead := 0
		if strings.HasPrefix(s, " ") {
			body, lead = s[1:], 1
		}
		if n := run(body, class); n > 0 {
			return lead + n
		}
		if lead == 1 {
			// The optional space may also be skipped; that only matters
			// when s itself starts with the class, which a space does not.
			continue
		}
	}
	// `\s+(?!\S)`: the whitespace run, minus its last rune when a non-space follows.
	ws := run(s, isSpace)
	if ws > 0 {
		if ws == len(s) {
			return ws
		}
		_, lastSize := utf8.DecodeLastRuneInString(s[:ws])
		if ws-lastSize > 0 {
			return ws - lastSize
		}
		// `\s+`
		return ws
	}
	// Unreachable for valid classes, but never loop forever on odd input.
	_, size := utf8.DecodeRuneInString(s)
	return size
}
