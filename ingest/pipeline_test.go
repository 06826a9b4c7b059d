package ingest

import (
	"fmt"
	"strings"
	"testing"
)

// TestParsePipelineMatchesInLine parses files longer than the pipeline's
// window, with rejected rows, in-file duplicates, over-long records and a
// row limit hit mid-file, with records built in line and on goroutines:
// the records, problems and counts must be the same.
func TestParsePipelineMatchesInLine(t *testing.T) {
	t.Parallel()
	var jsonl, csv, text strings.Builder
	csv.WriteString("text,label\n")
	for i := range 3000 {
		switch i % 97 {
		case 3:
			jsonl.WriteString("{\"instruction\": \"broken\n")
		case 5:
			jsonl.WriteString(`{"instruction":"same question","response":"same answer"}` + "\n")
		case 7:
			fmt.Fprintf(&jsonl, "{\"instruction\":\"%s\",\"response\":\"x\"}\n", strings.Repeat("long ", 500))
		case 11:
			jsonl.WriteString(`{"instruction":"","response":"empty instruction"}` + "\n")
		default:
			fmt.Fprintf(&jsonl, "{\"instruction\":\"Question %d about café?\",\"response\":\"Answer %d with alice%d@example.com inside.\"}\n", i, i, i)
		}
		label := "positive"
		if i%13 == 0 {
			label = "neutral"
		}
		fmt.Fprintf(&csv, "\"Review %d, more text\",%s\n", i%1500, label)
		fmt.Fprintf(&text, "Paragraph %d has a few sentences. It goes on for a while to fill the part.\n\n", i%300)
	}
	lim := DefaultLimits()
	lim.MaxRecordChars = 1000
	lim.SplitChars = 300
	small := lim
	small.MaxRows = 1234
	tiny := lim
	tiny.MaxRows = 500
	for _, c := range []struct {
		name   string
		data   string
		schema Schema
		lim    Limits
	}{
		{"a.jsonl", jsonl.String(), instr, lim},
		{"b.jsonl", jsonl.String(), instr, small},
		{"c.csv", csv.String(), classf, lim},
		{"d.txt", text.String(), docs, lim},
		{"e.txt", text.String(), docs, tiny},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := parse(t, c.name, []byte(c.data), c.schema, c.lim)
			if res.rep.Records < 50 || res.rep.ProblemCount == 0 {
				t.Fatalf("test file too tame: %d records, %d problems", res.rep.Records, res.rep.ProblemCount)
			}
			checkPipeline(t, c.name, []byte(c.data), c.schema, c.lim)
		})
	}
}
