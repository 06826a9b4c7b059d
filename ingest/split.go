package ingest

import (
	"bytes"
	"unicode/utf8"
)

// Split normalises text and splits it into parts of at most maxChars
// Unicode code points. Each cut is the last paragraph boundary in the
// window if that keeps the part at least half full, else the last sentence
// boundary under the same rule, else the last word boundary; a word longer
// than maxChars is cut inside. Parts are trimmed; joining them with
// whitespace gives the text back up to whitespace.
func Split(text string, maxChars int) []string {
	var parts []string
	d := docBuilder{max: max(maxChars, 1)}
	d.write(text, func(p string, _ int) error { parts = append(parts, p); return nil })
	d.close(func(p string, _ int) error { parts = append(parts, p); return nil })
	return parts
}

// docBuilder normalises a document fed in pieces and cuts parts off its
// front as soon as they are decided, so a document of any size is held only
// up to about one part plus one source line. The result is the same for any
// division of the input into pieces.
type docBuilder struct {
	n   normalizer
	off int // bytes of n.out already emitted
	max int
}

// emitFunc receives a part and the 1-based source line it starts on.
type emitFunc func(part string, line int) error

func (d *docBuilder) write(s string, emit emitFunc) error {
	d.n.feed(s)
	return d.drain(false, emit)
}

func (d *docBuilder) close(emit emitFunc) error {
	d.n.flush()
	return d.drain(true, emit)
}

// pending is the normalised text not yet emitted, in bytes.
func (d *docBuilder) pending() int { return len(d.n.out) - d.off }

func (d *docBuilder) drain(final bool, emit emitFunc) error {
	for {
		rest := d.n.out[d.off:]
		skip := leadingSpace(rest)
		d.off += skip
		rest = rest[skip:]
		if len(rest) == 0 {
			break
		}
		wlen, more := windowEnd(rest, d.max)
		var c int
		if more {
			c = bestCut(rest, wlen)
		} else if final {
			c = len(rest)
		} else {
			break
		}
		part := bytes.TrimRight(rest[:c], " \t\n")
		line := d.lineAt(d.n.base + d.off)
		d.off += c
		if len(part) > 0 {
			if err := emit(string(part), line); err != nil {
				return err
			}
		}
	}
	d.compact()
	return nil
}

// lineAt is the source line of the absolute offset off.
func (d *docBuilder) lineAt(off int) int {
	s := d.n.starts
	line := 1
	k := 0
	for k < len(s) && s[k].off <= off {
		line = s[k].line
		k++
	}
	// Starts before the last one at or below off are no longer needed.
	if k > 1 {
		d.n.starts = append(s[:0], s[k-1:]...)
	}
	return line
}

// compact drops the emitted prefix once it is large, keeping memory at about
// one part.
func (d *docBuilder) compact() {
	if d.off < 64<<10 || d.off < len(d.n.out)/2 {
		return
	}
	n := copy(d.n.out, d.n.out[d.off:])
	d.n.out = d.n.out[:n]
	d.n.base += d.off
	d.off = 0
}

func leadingSpace(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n') {
		i++
	}
	return i
}

// windowEnd is the byte length of the first max code points of b, and
// whether b holds more than that.
func windowEnd(b []byte, max int) (int, bool) {
	i, n := 0, 0
	for i < len(b) {
		if n == max {
			return i, true
		}
		if b[i] < utf8.RuneSelf {
			i++
		} else {
			_, size := utf8.DecodeRune(b[i:])
			i += size
		}
		n++
	}
	return i, false
}

// bestCut picks where to end the part in b[:wlen] (b holds more after it).
func bestCut(b []byte, wlen int) int {
	para, sent, word := 0, 0, 0
	for c := wlen; c > 0; c-- {
		if !utf8.RuneStart(b[c]) {
			continue
		}
		next := b[c]
		if next == '\n' && c+1 < len(b) && b[c+1] == '\n' {
			para = c
			break
		}
		if sent == 0 && (next == '\n' || next == ' ' && endsSentence(b[:c])) {
			sent = c
		}
		if sent == 0 && endsSentenceCJK(b[:c]) {
			sent = c
		}
		if word == 0 && (next == ' ' || next == '\t' || next == '\n') {
			word = c
		}
	}
	half := wlen / 2
	switch {
	case para >= half && para > 0:
		return para
	case sent >= half && sent > 0:
		return sent
	case word >= half && word > 0:
		return word
	}
	// No boundary in the second half: take the latest one anywhere rather
	// than cut a word.
	if c := max(para, sent, word); c > 0 {
		return c
	}
	return wlen
}

// endsSentence reports whether b ends with sentence punctuation, possibly
// followed by closing quotes or brackets.
func endsSentence(b []byte) bool {
	for len(b) > 0 {
		r, size := utf8.DecodeLastRune(b)
		switch r {
		case '"', '\'', ')', ']', '»', '”', '’':
			b = b[:len(b)-size]
			continue
		case '.', '!', '?', '…', '。', '！', '？':
			return true
		}
		return false
	}
	return false
}

// endsSentenceCJK reports a full-width sentence end, after which CJK text
// continues without a space.
func endsSentenceCJK(b []byte) bool {
	r, _ := utf8.DecodeLastRune(b)
	return r == '。' || r == '！' || r == '？'
}
