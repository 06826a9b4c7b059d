package ingest

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// NormalizeText is the normal form of every text field:
//
//   - valid UTF-8 (invalid bytes become U+FFFD) in Unicode NFC;
//   - newlines are "\n" (CR LF, CR, NEL and LINE SEPARATOR become "\n",
//     PARAGRAPH SEPARATOR a blank line);
//   - control characters other than "\n" and "\t", and U+FEFF, are removed;
//   - each line loses its trailing whitespace and has every inner run of
//     spaces and tabs (any Unicode space) collapsed to one " "; a line's
//     leading indentation is kept (tabs stay tabs, other spaces become
//     " ") so that code and verse survive;
//   - at most one blank line separates paragraphs; the text is trimmed, so
//     it starts and ends with a non-space character.
//
// NormalizeText is idempotent.
func NormalizeText(s string) string {
	if isPlain(s) {
		return s
	}
	var n normalizer
	n.feed(s)
	n.flush()
	return string(n.out)
}

// isPlain reports whether s is already normal in the common case: printable
// ASCII and single newlines only, no doubled, leading or trailing spaces.
func isPlain(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' || s[0] == '\n' || s[len(s)-1] == '\n' {
		return false
	}
	prev := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			if prev == ' ' || prev == '\n' {
				return false
			}
		case c == '\n':
			if prev == ' ' || prev == '\n' {
				return false
			}
		case c < 0x20 || c > 0x7e:
			return false
		}
		prev = c
	}
	return true
}

// normalizer builds normalised text line by line, so that a document can
// be fed in pieces (any split at a "\n" gives the same result as one call).
type normalizer struct {
	out []byte
	// blank: one or more blank lines are pending; they are written as a
	// single blank line before the next non-blank line.
	blank bool
	// cr: the last piece ended in "\r", so a leading "\n" of the next piece
	// ends the same line.
	cr bool
	// line is the current line, not yet written.
	line []byte
	tmp  []byte
	// carry holds the start of a character cut off at the end of a piece.
	carry []byte
	// lineNo counts source lines ended so far; starts records where each
	// non-blank source line begins in out, for the line numbers of parts.
	lineNo int
	starts []lineStart
	// base is the absolute offset of out[0] after dropping a consumed
	// prefix (see docBuilder.compact).
	base int
}

// lineStart maps an absolute offset in the normalised text to the 1-based
// source line that starts there.
type lineStart struct {
	off, line int
}

// feed adds text. Lines are written to out when their end is seen; call
// flush at the end.
func (n *normalizer) feed(s string) {
	if len(n.carry) > 0 {
		s = string(n.carry) + s
		n.carry = n.carry[:0]
	}
	for len(s) > 0 {
		c := s[0]
		if c < utf8.RuneSelf {
			s = s[1:]
			switch c {
			case '\n':
				if n.cr {
					n.cr = false
					continue
				}
				n.endLine()
			case '\r':
				n.endLine()
				n.cr = true
				continue
			default:
				n.line = append(n.line, c)
			}
			n.cr = false
			continue
		}
		n.cr = false
		if !utf8.FullRuneInString(s) {
			n.carry = append(n.carry, s...)
			return
		}
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch r {
		case 0x85, 0x2028:
			n.endLine()
		case 0x2029:
			n.endLine()
			n.blank = len(n.out) > 0
		default:
			n.line = utf8.AppendRune(n.line, r)
		}
	}
}

// flush ends the last line.
func (n *normalizer) flush() {
	if len(n.carry) > 0 {
		n.line = utf8.AppendRune(n.line, utf8.RuneError)
		n.carry = n.carry[:0]
	}
	if len(n.line) > 0 {
		n.endLine()
	}
}

// endLine normalises the current raw line and appends it.
func (n *normalizer) endLine() {
	raw := n.line
	n.line = n.line[:0]
	n.lineNo++
	n.tmp = cleanLine(n.tmp[:0], raw, len(n.out) == 0)
	if len(n.tmp) == 0 {
		if len(n.out) > 0 {
			n.blank = true
		}
		return
	}
	if len(n.out) > 0 {
		n.out = append(n.out, '\n')
		if n.blank {
			n.out = append(n.out, '\n')
		}
	}
	n.blank = false
	n.starts = append(n.starts, lineStart{n.base + len(n.out), n.lineNo})
	if norm.NFC.IsNormal(n.tmp) {
		n.out = append(n.out, n.tmp...)
	} else {
		n.out = norm.NFC.Append(n.out, n.tmp...)
	}
}

// cleanLine appends line with control characters removed, inner space runs
// collapsed and trailing space dropped. Leading indentation is kept unless
// first (the start of the text is trimmed).
func cleanLine(dst, line []byte, first bool) []byte {
	start := len(dst)
	indent := !first
	space := false
	for i := 0; i < len(line); {
		c := line[i]
		var r rune
		if c < utf8.RuneSelf {
			r = rune(c)
			i++
		} else {
			var size int
			r, size = utf8.DecodeRune(line[i:])
			i += size
		}
		switch {
		case r == ' ' || r == '\t' || (r >= utf8.RuneSelf && unicode.IsSpace(r)) || r == '\v' || r == '\f':
			if indent {
				if r == '\t' {
					dst = append(dst, '\t')
				} else {
					dst = append(dst, ' ')
				}
				continue
			}
			space = true
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfeff:
			// Control characters and byte-order marks carry no text.
		default:
			if space && len(dst) > start {
				dst = append(dst, ' ')
			}
			space = false
			indent = false
			dst = utf8.AppendRune(dst, r)
		}
	}
	if indent {
		// Only whitespace: a blank line.
		return dst[:start]
	}
	return dst
}
