package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// fuzzLimits are small so that fuzzing explores the limits too.
func fuzzLimits() Limits {
	lim := DefaultLimits()
	lim.MaxFileBytes = 64 << 10
	lim.MaxRows = 50
	lim.MaxRecordChars = 200
	lim.SplitChars = 100
	lim.MaxExtractedBytes = 256 << 10
	lim.MaxProblems = 10
	return lim
}

// checkParse runs Parse and checks invariants that hold for any input.
func checkParse(t *testing.T, name string, data []byte, schema Schema) {
	lim := fuzzLimits()
	var recs []Record
	rep, err := Parse(context.Background(), bytes.NewReader(data), name, schema, lim, func(r Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Parse error on file input: %v", err)
	}
	if rep.Records != len(recs) || rep.Rows > lim.MaxRows+1 || len(rep.Problems) > lim.MaxProblems || rep.Bytes > lim.MaxFileBytes+1 {
		t.Fatalf("report out of bounds: %+v", rep)
	}
	if !rep.Fatal && rep.Records == 0 && rep.Duplicates == 0 {
		t.Fatalf("no records but not fatal: %+v", rep)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Chars > lim.MaxRecordChars || seen[r.Hash] {
			t.Fatalf("bad record %+v", r)
		}
		seen[r.Hash] = true
		for k, v := range r.Fields {
			if !utf8.ValidString(v) || NormalizeText(v) != v && k != "label" || v == "" {
				t.Fatalf("field %s not normal: %q", k, v)
			}
		}
		if c, h := Hash(r.Fields, schema); h != r.Hash || !bytes.Equal(c, r.Canonical) {
			t.Fatal("hash mismatch")
		}
		if !json.Valid(r.Canonical) {
			t.Fatalf("canonical JSON invalid: %s", r.Canonical)
		}
	}
	checkPipeline(t, name, data, schema, lim)
}

// checkPipeline parses data with records built in line and on four
// goroutines: records, problems and counts must be identical.
func checkPipeline(t *testing.T, name string, data []byte, schema Schema, lim Limits) {
	t.Helper()
	run := func(workers int) ([]Record, Report) {
		var recs []Record
		rep, err := parseWorkers(context.Background(), bytes.NewReader(data), name, schema, lim, func(r Record) error {
			recs = append(recs, r)
			return nil
		}, workers)
		if err != nil {
			t.Fatalf("parse with %d workers: %v", workers, err)
		}
		return recs, rep
	}
	seqRecs, seqRep := run(1)
	parRecs, parRep := run(4)
	if !reflect.DeepEqual(seqRep, parRep) {
		t.Fatalf("reports differ:\nin line:  %+v\npipeline: %+v", seqRep, parRep)
	}
	if !reflect.DeepEqual(seqRecs, parRecs) {
		t.Fatalf("records differ: %d in line, %d from the pipeline", len(seqRecs), len(parRecs))
	}
}

func FuzzParseJSONL(f *testing.F) {
	f.Add([]byte("{\"instruction\":\"a\",\"response\":\"b\"}\n{\"instruction\":\"a\\u00e9\",\"input\":null,\"response\":\"b\"}\n"))
	f.Add([]byte("{\"instruction\":\"x\",\"response\":1}\n[1]\n{\"a\":{\"b\":[1,2,{}]}}"))
	f.Add([]byte("\xff\xfe{\x00}\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, "f.jsonl", data, instr)
	})
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("text,label\nhello,positive\n\"multi\nline\",negative\n"))
	f.Add([]byte("text,label\n\"bad\"quote,positive\nx\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, "f.csv", data, classf)
	})
}

func FuzzParseDOCX(f *testing.F) {
	f.Add(makeDOCX(f, map[string]string{"word/document.xml": docxXML("Hello world.", "Second.")}))
	f.Add(makeDOCX(f, map[string]string{"word/document.xml": "<w:document><w:p>x"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, "f.docx", data, docs)
	})
}

func FuzzParsePDF(f *testing.F) {
	f.Add(makePDF([][]string{{"Hello PDF."}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, "f.pdf", data, docs)
	})
}

// FuzzJSONObject checks the line parser against encoding/json: both accept
// the same objects of strings, with the same values.
func FuzzJSONObject(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{"a":"\ud83d\ude00","b":"\u00e9\n"}`, `{"a":1.5e3,"b":[true,null]}`, `{"a":"\ud800"}`, `{}`, `{"a":"b",}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return
		}
		members, jerr := parseJSONObject(data, nil)
		var std map[string]any
		stdErr := json.Unmarshal(data, &std)
		if stdErr == nil && std == nil {
			stdErr = errNull // "null" decodes into a nil map without error
		}
		if (jerr == nil) != (stdErr == nil) {
			t.Fatalf("%q: ours %v, encoding/json %v", data, jerr, stdErr)
		}
		if jerr != nil {
			return
		}
		last := map[string]jsonField{}
		for _, m := range members {
			last[m.key] = m
		}
		for k, m := range last {
			if s, ok := std[k].(string); ok && (m.kind != "string" || m.value != s) {
				t.Fatalf("%q: field %q = %q, encoding/json %q", data, k, m.value, s)
			}
		}
	})
}

var errNull = errors.New("null")
