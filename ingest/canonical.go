package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"unicode/utf8"
)

// Canonical is a record's canonical JSON: an object of the schema's fields
// present in fields (an absent or empty optional field is left out), keys
// in ascending byte order, no whitespace, strings escaped as RFC 8785 (JCS)
// and ECMAScript's JSON.stringify do: '"' and '\' as \" and \\, U+0008,
// U+0009, U+000A, U+000C, U+000D as \b \t \n \f \r, other characters below
// U+0020 as \u00XX with lower-case hex, and everything else — including
// '<', '>', '&', U+2028, U+2029 and all non-ASCII — as raw UTF-8. The
// values are used as given: normalise them first (BuildRecord does).
// Invalid UTF-8 in a value is written as U+FFFD.
func Canonical(fields map[string]string, schema Schema) []byte {
	fs := schema.Fields()
	keys := make([]string, 0, len(fs))
	size := 2
	for _, f := range fs {
		v, ok := fields[f.Name]
		if !ok || (!f.Required && v == "") {
			continue
		}
		keys = append(keys, f.Name)
		size += len(f.Name) + len(v) + 6
	}
	// Schema.Fields is already sorted; sorting again keeps the contract
	// independent of that detail.
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, fields[k])
	}
	return append(b, '}')
}

// Hash returns a record's canonical JSON and its hash: "0x" and the
// lower-case hex SHA-256 of the canonical JSON.
func Hash(fields map[string]string, schema Schema) (canonical []byte, hash string) {
	canonical = Canonical(fields, schema)
	return canonical, hashHex(canonical)
}

func hashHex(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	var out [66]byte
	out[0], out[1] = '0', 'x'
	hex.Encode(out[2:], sum[:])
	return string(out[:])
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string in the canonical escaping.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
