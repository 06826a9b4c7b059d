package ingest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/modelfactory/modelfactory/ingest/minhash"
)

// Record is one validated, normalised record ready to store.
type Record struct {
	// Line is the 1-based source line the record comes from: the JSON
	// Lines line, the line a CSV row starts on, or the line of the
	// (extracted) text a document part starts on. 0 for a record built
	// with BuildRecord.
	Line int
	// Part is the 1-based part number when a document was split, else 1.
	Part int
	// Fields holds the schema's fields, normalised; an absent optional
	// field is absent, never "".
	Fields map[string]string
	// Canonical is the record's canonical JSON; Hash its "0x"-prefixed
	// SHA-256 (see Canonical).
	Canonical []byte
	Hash      string
	// Chars is the number of Unicode code points over all fields.
	Chars int
	// PII lists likely personal data and secrets, for the reviewer.
	PII []PIIFlag
	// Signature and BandKeys are the record's MinHash signature and LSH
	// keys over NearDupText, for near-duplicate search.
	Signature minhash.Signature
	BandKeys  [minhash.Bands]int64
}

// ProblemError is a record that does not fit the schema or the limits; its
// message is a sentence for the contributor.
type ProblemError struct {
	Reason string
}

func (e *ProblemError) Error() string { return e.Reason }

func problemf(format string, args ...any) *ProblemError {
	return &ProblemError{Reason: fmt.Sprintf(format, args...)}
}

// NearDupText is the text near-duplicates are judged on: the text fields
// joined by "\n" in canonical key order (instruction: input, instruction,
// response); a classification label is not part of it, so the same text
// under two labels is flagged.
func NearDupText(fields map[string]string, schema Schema) string {
	switch schema.Kind {
	case KindInstruction:
		if in := fields["input"]; in != "" {
			return in + "\n" + fields["instruction"] + "\n" + fields["response"]
		}
		return fields["instruction"] + "\n" + fields["response"]
	default:
		return fields["text"]
	}
}

// CanonicalSignature recomputes the MinHash signature of a stored record
// from its canonical JSON: the same signature ingest computed, since the
// canonical JSON holds exactly the normalised fields (an instruction record
// is the one with an "instruction" field; every other schema is judged on
// "text").
func CanonicalSignature(canonical string) (minhash.Signature, error) {
	var fields map[string]string
	if err := json.Unmarshal([]byte(canonical), &fields); err != nil {
		return minhash.Signature{}, fmt.Errorf("canonical record: %w", err)
	}
	kind := KindDocuments
	if _, ok := fields["instruction"]; ok {
		kind = KindInstruction
	}
	return minhash.Sign(NearDupText(fields, Schema{Kind: kind})), nil
}

// BuildRecord validates fields against the schema, normalises them and
// computes everything a Record carries. It is what Parse does for each row,
// for records written in a form or edited by a reviewer. Documents are not
// split here: a text over lim.MaxRecordChars is refused. Errors are
// *ProblemError.
func BuildRecord(fields map[string]string, schema Schema, lim Limits) (Record, error) {
	norm := make(map[string]string, len(fields))
	var unknown []string
	for k := range fields {
		if !schemaHas(schema, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return Record{}, unknownFieldsProblem(unknown, schema)
	}
	for _, f := range schema.Fields() {
		v, ok := fields[f.Name]
		if !utf8.ValidString(v) {
			return Record{}, problemf("Field %q is not valid UTF-8 text.", f.Name)
		}
		if f.Name == "label" {
			v = NormalizeLabel(v)
		} else {
			v = NormalizeText(v)
		}
		if v == "" {
			if f.Required {
				if ok {
					return Record{}, problemf("Field %q is empty.", f.Name)
				}
				return Record{}, problemf("Field %q is missing.", f.Name)
			}
			continue
		}
		norm[f.Name] = v
	}
	if schema.Kind == KindClassification && !schema.hasLabel(norm["label"]) {
		return Record{}, problemf("Label %q is not one of this Datanet's labels (%s).", norm["label"], quoteList(schema.Labels, 10))
	}
	return finishRecord(norm, schema, lim)
}

// finishRecord computes the derived parts of a record whose fields are
// already validated and normalised.
func finishRecord(fields map[string]string, schema Schema, lim Limits) (Record, error) {
	chars := 0
	for _, v := range fields {
		chars += utf8.RuneCountInString(v)
	}
	if chars > lim.MaxRecordChars {
		return Record{}, problemf("The record is %d characters long; the limit is %d.", chars, lim.MaxRecordChars)
	}
	canonical, hash := Hash(fields, schema)
	r := Record{Part: 1, Fields: fields, Canonical: canonical, Hash: hash, Chars: chars}
	for _, f := range schema.Fields() {
		if f.Name == "label" {
			continue
		}
		if v, ok := fields[f.Name]; ok {
			r.PII = append(r.PII, FindPII(f.Name, v)...)
		}
	}
	r.Signature = minhash.Sign(NearDupText(fields, schema))
	r.BandKeys = minhash.BandKeys(r.Signature)
	return r, nil
}

func schemaHas(schema Schema, name string) bool {
	for _, f := range schema.Fields() {
		if f.Name == name {
			return true
		}
	}
	return false
}

func unknownFieldsProblem(unknown []string, schema Schema) *ProblemError {
	word := "Field"
	if len(unknown) > 1 {
		word = "Fields"
	}
	return problemf("%s %s %s not part of the %s schema (fields: %s).", word, quoteList(unknown, 5), isAre(len(unknown)), schema.Kind, schema.fieldNames())
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// quoteList writes up to max quoted items: `"a", "b" and 3 more`.
func quoteList(items []string, max int) string {
	var b strings.Builder
	for i, it := range items {
		if i == max {
			fmt.Fprintf(&b, " and %d more", len(items)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", truncate(it, 60))
	}
	return b.String()
}

// truncate shortens s to at most n code points for messages.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// ParseRecordJSON builds a record from one JSON object whose members are
// the schema's fields (strings; null means absent), as written in a form or
// sent to the API. Errors are *ProblemError.
func ParseRecordJSON(raw []byte, schema Schema, lim Limits) (Record, error) {
	if !utf8.Valid(raw) {
		return Record{}, problemf("The record is not valid UTF-8 text.")
	}
	members, jerr := parseJSONObject(raw, nil)
	if jerr != nil {
		return Record{}, problemf("Malformed JSON at byte %d: %s.", jerr.off+1, jerr.msg)
	}
	fields := make(map[string]string, len(members))
	if reason := checkMembers(members, fields, schema); reason != "" {
		return Record{}, problemf("%s", strings.ToUpper(reason[:1])+reason[1:])
	}
	return BuildRecord(fields, schema, lim)
}
