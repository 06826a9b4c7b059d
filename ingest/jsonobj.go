package ingest

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonField is one member of a JSON object: a string value, null, or
// another kind named for the message.
type jsonField struct {
	key   string
	value string
	kind  string // "string", "null", "number", "boolean", "object", "array"
}

// jsonError is a syntax error at a byte offset of the line.
type jsonError struct {
	off int
	msg string
}

// parseJSONObject parses a line holding exactly one JSON object (RFC 8259,
// the line already known to be valid UTF-8). Member values other than
// strings are skipped and reported by kind; nesting is limited to depth 64.
// Like encoding/json it turns a lone surrogate escape into U+FFFD; unlike
// it, the caller sees repeated keys.
func parseJSONObject(b []byte, dst []jsonField) ([]jsonField, *jsonError) {
	p := jsonParser{b: b}
	p.ws()
	if p.i >= len(b) {
		return dst, p.errf("the line is empty")
	}
	if b[p.i] != '{' {
		switch c := b[p.i]; {
		case c == '[':
			return dst, p.errf("expected a JSON object ({...}), found an array")
		case c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n':
			return dst, p.errf("expected a JSON object ({...}), found a single value")
		}
		return dst, p.unexpected("expected '{'")
	}
	p.i++
	p.ws()
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			p.ws()
			if p.peek() != '"' {
				return dst, p.unexpected("expected a field name in double quotes")
			}
			key, err := p.str()
			if err != nil {
				return dst, err
			}
			p.ws()
			if p.peek() != ':' {
				return dst, p.unexpected("expected ':' after the field name")
			}
			p.i++
			p.ws()
			f := jsonField{key: key}
			switch c := p.peek(); {
			case c == '"':
				f.kind = "string"
				if f.value, err = p.str(); err != nil {
					return dst, err
				}
			default:
				if f.kind, err = p.skip(0); err != nil {
					return dst, err
				}
			}
			dst = append(dst, f)
			p.ws()
			c := p.peek()
			if c == ',' {
				p.i++
				continue
			}
			if c == '}' {
				p.i++
				break
			}
			return dst, p.unexpected("expected ',' or '}'")
		}
	}
	p.ws()
	if p.i < len(b) {
		return dst, p.unexpected("expected the end of the line after the object")
	}
	return dst, nil
}

type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) errf(format string, args ...any) *jsonError {
	return &jsonError{off: p.i, msg: fmt.Sprintf(format, args...)}
}

func (p *jsonParser) unexpected(want string) *jsonError {
	if p.i >= len(p.b) {
		return p.errf("unexpected end of line: %s", want)
	}
	r, _ := utf8.DecodeRune(p.b[p.i:])
	return p.errf("unexpected %q: %s", r, want)
}

// str parses a string at p.i (which is '"').
func (p *jsonParser) str() (string, *jsonError) {
	p.i++
	start := p.i
	// Fast path: no escapes.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.errf("control character %U inside a string (write it as an escape such as \\n)", rune(c))
		}
		p.i++
	}
	buf := make([]byte, 0, p.i-start+16)
	buf = append(buf, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c < 0x20:
			return "", p.errf("control character %U inside a string (write it as an escape such as \\n)", rune(c))
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.b) {
			break
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errf("invalid \\u escape (want four hex digits)")
			}
			if utf16.IsSurrogate(r) {
				// A pair is one character; a lone half becomes U+FFFD, as
				// encoding/json does.
				save := p.i
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					p.i += 2
					if r2, ok := p.hex4(); ok {
						if c := utf16.DecodeRune(r, r2); c != utf8.RuneError {
							buf = utf8.AppendRune(buf, c)
							continue
						}
					}
				}
				p.i = save
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default:
			p.i--
			return "", p.errf("invalid escape \\%c inside a string", rune(e))
		}
	}
	return "", p.errf("unexpected end of line inside a string (missing closing '\"')")
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

const maxJSONDepth = 64

// skip parses and discards one value, returning its kind.
func (p *jsonParser) skip(depth int) (string, *jsonError) {
	if depth > maxJSONDepth {
		return "", p.errf("values nested deeper than %d levels", maxJSONDepth)
	}
	switch c := p.peek(); {
	case c == '"':
		_, err := p.str()
		return "string", err
	case c == '{':
		p.i++
		p.ws()
		if p.peek() == '}' {
			p.i++
			return "object", nil
		}
		for {
			p.ws()
			if p.peek() != '"' {
				return "", p.unexpected("expected a field name in double quotes")
			}
			if _, err := p.str(); err != nil {
				return "", err
			}
			p.ws()
			if p.peek() != ':' {
				return "", p.unexpected("expected ':'")
			}
			p.i++
			p.ws()
			if _, err := p.skip(depth + 1); err != nil {
				return "", err
			}
			p.ws()
			switch p.peek() {
			case ',':
				p.i++
			case '}':
				p.i++
				return "object", nil
			default:
				return "", p.unexpected("expected ',' or '}'")
			}
		}
	case c == '[':
		p.i++
		p.ws()
		if p.peek() == ']' {
			p.i++
			return "array", nil
		}
		for {
			p.ws()
			if _, err := p.skip(depth + 1); err != nil {
				return "", err
			}
			p.ws()
			switch p.peek() {
			case ',':
				p.i++
			case ']':
				p.i++
				return "array", nil
			default:
				return "", p.unexpected("expected ',' or ']'")
			}
		}
	case c == 't':
		return "boolean", p.lit("true")
	case c == 'f':
		return "boolean", p.lit("false")
	case c == 'n':
		return "null", p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return "number", p.number()
	}
	return "", p.unexpected("expected a value")
}

func (p *jsonParser) lit(word string) *jsonError {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return nil
	}
	return p.unexpected("expected a value")
}

// number checks RFC 8259 number syntax.
func (p *jsonParser) number() *jsonError {
	if p.peek() == '-' {
		p.i++
	}
	switch c := p.peek(); {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
	default:
		return p.unexpected("expected a digit")
	}
	if p.peek() == '.' {
		p.i++
		if c := p.peek(); c < '0' || c > '9' {
			return p.unexpected("expected a digit after '.'")
		}
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if c := p.peek(); c < '0' || c > '9' {
			return p.unexpected("expected a digit in the exponent")
		}
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
	}
	return nil
}
