package ingest

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Schema kinds.
const (
	KindDocuments      = "documents"
	KindInstruction    = "instruction"
	KindClassification = "classification"
)

// Kinds lists the schema kinds in the order the wizard shows them.
var kinds = []string{KindDocuments, KindInstruction, KindClassification}

// Kinds returns the known schema kinds.
func Kinds() []string { return append([]string(nil), kinds...) }

// Schema is a Datanet's record schema: its kind and, for classification,
// the label set a record's label must belong to.
type Schema struct {
	Kind   string
	Labels []string
}

// Field is one field of a schema.
type Field struct {
	Name     string
	Required bool
}

// Label set limits.
const (
	MaxLabels     = 1000
	MaxLabelChars = 100
)

// Fields returns the schema's fields sorted by name (the canonical JSON key
// order), or nil for an unknown kind.
func (s Schema) Fields() []Field {
	switch s.Kind {
	case KindDocuments:
		return []Field{{"text", true}}
	case KindInstruction:
		return []Field{{"input", false}, {"instruction", true}, {"response", true}}
	case KindClassification:
		return []Field{{"label", true}, {"text", true}}
	}
	return nil
}

// Validate checks the kind and the label set: classification needs at least
// two distinct, non-empty, normalised labels; other kinds take none.
func (s Schema) Validate() error {
	switch s.Kind {
	case KindDocuments, KindInstruction:
		if len(s.Labels) > 0 {
			return fmt.Errorf("a %s schema takes no labels", s.Kind)
		}
		return nil
	case KindClassification:
	case "":
		return errors.New("schema kind is missing")
	default:
		return fmt.Errorf("unknown schema kind %q (want one of %s)", s.Kind, strings.Join(kinds, ", "))
	}
	if len(s.Labels) < 2 {
		return errors.New("a classification schema needs at least two labels")
	}
	if len(s.Labels) > MaxLabels {
		return fmt.Errorf("a classification schema takes at most %d labels", MaxLabels)
	}
	seen := make(map[string]bool, len(s.Labels))
	for _, l := range s.Labels {
		if !utf8.ValidString(l) {
			return errors.New("a label is not valid UTF-8")
		}
		if n := NormalizeLabel(l); n != l {
			return fmt.Errorf("label %q is not normalised (want %q)", l, n)
		}
		if l == "" {
			return errors.New("labels must not be empty")
		}
		if utf8.RuneCountInString(l) > MaxLabelChars {
			return fmt.Errorf("label %q is longer than %d characters", l, MaxLabelChars)
		}
		if seen[l] {
			return fmt.Errorf("label %q appears twice", l)
		}
		seen[l] = true
	}
	return nil
}

// hasLabel reports whether l is in the label set.
func (s Schema) hasLabel(l string) bool {
	for _, x := range s.Labels {
		if x == l {
			return true
		}
	}
	return false
}

// fieldNames is the schema's field names for messages: "instruction, input
// (optional), response".
func (s Schema) fieldNames() string {
	var b strings.Builder
	for i, f := range s.Fields() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
		if !f.Required {
			b.WriteString(" (optional)")
		}
	}
	return b.String()
}

// NormalizeLabel is the form labels are stored and compared in: the text
// normalisation on one line (NFC, collapsed whitespace, trimmed).
func NormalizeLabel(l string) string {
	return strings.Join(strings.Fields(NormalizeText(l)), " ")
}
