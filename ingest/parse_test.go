package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"unicode/utf16"

	"compress/flate"
)

type result struct {
	rep     Report
	records []Record
}

func parse(t testing.TB, name string, data []byte, schema Schema, lim Limits) result {
	t.Helper()
	var res result
	rep, err := Parse(context.Background(), bytes.NewReader(data), name, schema, lim, func(r Record) error {
		res.records = append(res.records, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	res.rep = rep
	return res
}

var (
	docs   = Schema{Kind: KindDocuments}
	instr  = Schema{Kind: KindInstruction}
	classf = Schema{Kind: KindClassification, Labels: []string{"positive", "negative"}}
)

// hasProblem reports whether a problem at line mentions every fragment.
func hasProblem(rep Report, line int, fragments ...string) bool {
	for _, p := range rep.Problems {
		if p.Line != line {
			continue
		}
		ok := true
		for _, f := range fragments {
			ok = ok && strings.Contains(p.Reason, f)
		}
		if ok {
			return true
		}
	}
	return false
}

func TestParseJSONL(t *testing.T) {
	t.Parallel()
	data := strings.Join([]string{
		`{"instruction":"What is 2+2?","response":"4"}`,
		`{"instruction":"Translate","input":"hola","response":"hello"}`,
		``,
		`{"instruction":"broken", "response": }`,
		`{"instruction":"x","response":"y","extra":1,"more":"z"}`,
		`{"instruction":"What is 2+2?","response":"4"}`,
		`{"instruction":"  What  is 2+2?\r\n","response":"4"}`,
		`{"instruction":"no response"}`,
		`{"instruction":"n","response":5}`,
		`{"instruction":"a","response":"b","instruction":"c"}`,
		`["not","an","object"]`,
		`{"instruction":"nul input","input":null,"response":"ok"}`,
		`{"instruction":"mail me at bob@example.com","response":"ok"}`,
	}, "\n")
	res := parse(t, "data.jsonl", []byte(data), instr, DefaultLimits())
	rep := res.rep
	if rep.Fatal || rep.Format != FormatJSONL {
		t.Fatalf("report %+v", rep)
	}
	if rep.Records != 4 || rep.Rows != 12 || rep.Duplicates != 2 || rep.Rejected != 6 {
		t.Errorf("records %d rows %d duplicates %d rejected %d; problems %+v", rep.Records, rep.Rows, rep.Duplicates, rep.Rejected, rep.Problems)
	}
	checks := []struct {
		line  int
		frags []string
	}{
		{4, []string{"malformed JSON", "column"}},
		{5, []string{`"extra"`, `"more"`, "not part of the instruction schema"}},
		{6, []string{"Duplicate of line 1"}},
		{7, []string{"Duplicate of line 1"}},
		{8, []string{`"response"`, "missing"}},
		{9, []string{`"response"`, "must be a string", "number"}},
		{10, []string{`"instruction"`, "twice"}},
		{11, []string{"array"}},
	}
	for _, c := range checks {
		if !hasProblem(rep, c.line, c.frags...) {
			t.Errorf("no problem at line %d with %q; problems %+v", c.line, c.frags, rep.Problems)
		}
	}
	if res.records[1].Line != 2 || res.records[1].Fields["input"] != "hola" {
		t.Errorf("record 2: %+v", res.records[1])
	}
	if _, ok := res.records[2].Fields["input"]; ok || res.records[2].Line != 12 {
		t.Errorf("null input kept: %+v", res.records[2])
	}
	if pii := res.records[3].PII; len(pii) != 1 || pii[0].Kind != PIIEmail || pii[0].Field != "instruction" {
		t.Errorf("PII %+v", pii)
	}
	for _, r := range res.records {
		c, h := Hash(r.Fields, instr)
		if h != r.Hash || string(c) != string(r.Canonical) {
			t.Errorf("record hash mismatch")
		}
	}
}

func TestParseClassificationLabels(t *testing.T) {
	t.Parallel()
	data := "{\"text\":\"great\",\"label\":\"positive\"}\n{\"text\":\"bad\",\"label\":\"meh\"}\n{\"text\":\"awful\",\"label\":\" negative \"}\n"
	res := parse(t, "c.jsonl", []byte(data), classf, DefaultLimits())
	if res.rep.Records != 2 || !hasProblem(res.rep, 2, `"meh"`, "not one of this Datanet's labels") {
		t.Errorf("%+v", res.rep)
	}
	if res.records[1].Fields["label"] != "negative" {
		t.Errorf("label not normalised: %q", res.records[1].Fields["label"])
	}
}

func TestParseCSV(t *testing.T) {
	t.Parallel()
	data := "Instruction,response,input\n" +
		"\"Say hi\",\"hi\",\n" +
		"\"Multi\nline\",\"ok\",\"ctx\"\n" +
		"only,two\n" +
		"\"bad \"quote\",x,y\n" +
		"Say hi,hi,\n"
	res := parse(t, "data.csv", []byte(data), instr, DefaultLimits())
	rep := res.rep
	if rep.Fatal || rep.Records != 2 || rep.Duplicates != 1 {
		t.Fatalf("%+v", rep)
	}
	if res.records[1].Fields["instruction"] != "Multi\nline" || res.records[1].Line != 3 {
		t.Errorf("multi-line row: %+v", res.records[1])
	}
	if !hasProblem(rep, 5, "has 2 values", "3 columns") || !hasProblem(rep, 6, "malformed CSV") || !hasProblem(rep, 7, "Duplicate of line 2") {
		t.Errorf("problems %+v", rep.Problems)
	}

	for _, tc := range []struct{ header, frag string }{
		{"instruction,answer\n", `lacks "response" and has "answer"`},
		{"instruction,response,notes\n", `has "notes", which is not part`},
		{"instruction\n", `lacks "response"`},
		{"instruction;response\n", "Separate columns with commas"},
		{"instruction,response,instruction\n", "twice"},
	} {
		res := parse(t, "h.csv", []byte(tc.header+"a,b\n"), instr, DefaultLimits())
		if !res.rep.Fatal || !hasProblem(res.rep, 1, tc.frag) {
			t.Errorf("header %q: %+v", tc.header, res.rep)
		}
	}
}

func TestParseText(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "Paragraph %d starts here. It has a second sentence with some words.\n\n\n", i)
	}
	lim := DefaultLimits()
	lim.SplitChars = 300
	lim.MaxRecordChars = 300
	res := parse(t, "notes.txt", []byte(b.String()), docs, lim)
	if res.rep.Fatal || res.rep.Format != FormatText || res.rep.Records < 10 {
		t.Fatalf("%+v", res.rep)
	}
	for i, r := range res.records {
		if r.Chars > 300 || r.Part != i+1 || !strings.HasPrefix(r.Fields["text"], "Paragraph") {
			t.Errorf("part %d: %+v", i, r)
		}
	}
	// Parts start on the line of their first paragraph (3 lines a paragraph).
	if r := res.records[1]; !strings.HasPrefix(r.Fields["text"], fmt.Sprintf("Paragraph %d ", (r.Line-1)/3)) {
		t.Errorf("part 2 line %d: %q", r.Line, r.Fields["text"][:20])
	}
	md := parse(t, "README.md", []byte("# Title\n\nSome *markdown* text.\n"), docs, DefaultLimits())
	if md.rep.Format != FormatMarkdown || md.rep.Records != 1 || md.records[0].Fields["text"] != "# Title\n\nSome *markdown* text." {
		t.Errorf("markdown: %+v %+v", md.rep, md.records)
	}
	if res := parse(t, "notes.txt", []byte("text"), instr, DefaultLimits()); !res.rep.Fatal || !hasProblem(res.rep, 0, "only be added to a documents Datanet") {
		t.Errorf("txt into instruction: %+v", res.rep)
	}
}

func TestParseEncodings(t *testing.T) {
	t.Parallel()
	// UTF-16 LE with BOM is transcoded.
	u := utf16.Encode([]rune("{\"text\":\"héllo wörld\"}\n"))
	b := []byte{0xff, 0xfe}
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	res := parse(t, "u16.jsonl", b, docs, DefaultLimits())
	if res.rep.Records != 1 || res.records[0].Fields["text"] != "héllo wörld" {
		t.Errorf("UTF-16: %+v", res.rep)
	}
	// UTF-8 BOM is dropped.
	res = parse(t, "bom.csv", []byte("\xef\xbb\xbftext\nhello\n"), docs, DefaultLimits())
	if res.rep.Records != 1 {
		t.Errorf("BOM CSV: %+v", res.rep)
	}
	// Latin-1 is refused with the line.
	res = parse(t, "latin1.txt", []byte("ok line\ncaf\xe9\n"), docs, DefaultLimits())
	if !res.rep.Fatal || !hasProblem(res.rep, 0, "Line 2 is not valid UTF-8") || len(res.records) != 0 {
		t.Errorf("Latin-1: %+v", res.rep)
	}
}

func TestParseGarbage(t *testing.T) {
	t.Parallel()
	big := DefaultLimits()
	big.MaxFileBytes = 1000
	cases := []struct {
		name   string
		data   []byte
		schema Schema
		lim    Limits
		frag   string
	}{
		{"empty.jsonl", nil, instr, DefaultLimits(), "empty"},
		{"blank.txt", []byte("  \n\n \t\n"), docs, DefaultLimits(), "empty"},
		{"img.jsonl", []byte("\x89PNG\r\n\x1a\nrest"), instr, DefaultLimits(), "PNG image"},
		{"bin.csv", []byte("text\nabc\x00def\n"), docs, DefaultLimits(), "binary"},
		{"doc.pdf", []byte("just text"), docs, DefaultLimits(), "not a PDF"},
		{"doc.docx", []byte("just text"), docs, DefaultLimits(), "not a Word document"},
		{"data.jsonl", []byte("%PDF-1.4 ..."), docs, DefaultLimits(), "named .jsonl but its content looks like a PDF"},
		{"data.xlsx", []byte("x"), docs, DefaultLimits(), "not supported"},
		{"arr.json", []byte(`[{"text":"a"}]`), docs, DefaultLimits(), "JSON array"},
		{"all-bad.jsonl", []byte("nope\nnope either\n"), docs, DefaultLimits(), "No row of the file is valid"},
		{"big.jsonl", bytes.Repeat([]byte("{\"text\":\"hello world again\"}\n"), 100), docs, big, "larger than the 1000 bytes limit"},
	}
	for _, c := range cases {
		res := parse(t, c.name, c.data, c.schema, c.lim)
		if !res.rep.Fatal || !hasProblem(res.rep, 0, c.frag) {
			t.Errorf("%s: %+v", c.name, res.rep)
		}
	}
	// Row limit.
	lim := DefaultLimits()
	lim.MaxRows = 3
	var b strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, "{\"text\":\"row %d\"}\n", i)
	}
	res := parse(t, "rows.jsonl", []byte(b.String()), docs, lim)
	if !res.rep.Fatal || !hasProblem(res.rep, 0, "more than 3 rows") {
		t.Errorf("row limit: %+v", res.rep)
	}
	// Record length limit rejects the row.
	lim = DefaultLimits()
	lim.MaxRecordChars, lim.SplitChars = 10, 10
	res = parse(t, "long.jsonl", []byte("{\"instruction\":\"a very long instruction\",\"response\":\"x\"}\n{\"instruction\":\"a\",\"response\":\"b\"}\n"), instr, lim)
	if res.rep.Records != 1 || !hasProblem(res.rep, 1, "characters long", "limit is 10") {
		t.Errorf("length limit: %+v", res.rep)
	}
}

func TestParseNoExtensionSniffs(t *testing.T) {
	t.Parallel()
	if r := parse(t, "upload", []byte(`{"text":"a"}`), docs, DefaultLimits()); r.rep.Format != FormatJSONL {
		t.Errorf("got %s", r.rep.Format)
	}
	if r := parse(t, "upload", []byte("text,label\nhi,positive\n"), classf, DefaultLimits()); r.rep.Format != FormatCSV || r.rep.Records != 1 {
		t.Errorf("got %+v", r.rep)
	}
	if r := parse(t, "upload", []byte("Just prose."), docs, DefaultLimits()); r.rep.Format != FormatText {
		t.Errorf("got %s", r.rep.Format)
	}
}

// makePDF writes a minimal valid PDF with one page per entry, each line of
// a page in its own text object.
func makePDF(pages [][]string) []byte {
	var objs []string
	n := len(pages)
	// 1 catalog, 2 pages, 3 font, then page/content pairs.
	kids := make([]string, n)
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	objs = append(objs, "<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	for i, lines := range pages {
		var content strings.Builder
		for j, l := range lines {
			l = strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(l)
			fmt.Fprintf(&content, "BT /F1 12 Tf 72 %d Td (%s) Tj ET\n", 720-14*j, l)
		}
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i),
			fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()))
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func TestParsePDF(t *testing.T) {
	t.Parallel()
	data := makePDF([][]string{{"Hello from page one.", "Second line (with parens)."}, {"Page two text."}})
	res := parse(t, "paper.pdf", data, docs, DefaultLimits())
	if res.rep.Fatal || res.rep.Format != FormatPDF || res.rep.Records != 1 {
		t.Fatalf("%+v", res.rep)
	}
	text := res.records[0].Fields["text"]
	for _, want := range []string{"Hello from page one.", "Second line (with parens).", "Page two text."} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text %q lacks %q", text, want)
		}
	}
	// A truncated PDF is a clear problem, not a panic.
	res = parse(t, "cut.pdf", data[:len(data)/2], docs, DefaultLimits())
	if !res.rep.Fatal || !hasProblem(res.rep, 0, "PDF") {
		t.Errorf("truncated: %+v", res.rep)
	}
	// A PDF without text.
	res = parse(t, "scan.pdf", makePDF([][]string{{}}), docs, DefaultLimits())
	if !res.rep.Fatal || !hasProblem(res.rep, 0, "no text") {
		t.Errorf("no text: %+v", res.rep)
	}
}

const docxTypes = `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`

func docxXML(paras ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	for _, p := range paras {
		fmt.Fprintf(&b, `<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r><w:r><w:tab/><w:t>end</w:t></w:r><w:r><w:delText>deleted</w:delText></w:r></w:p>`, p)
	}
	b.WriteString(`</w:body></w:document>`)
	return b.String()
}

func makeDOCX(t testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseDOCX(t *testing.T) {
	t.Parallel()
	data := makeDOCX(t, map[string]string{"[Content_Types].xml": docxTypes, "word/document.xml": docxXML("First paragraph &amp; more.", "Second paragraph.")})
	res := parse(t, "report.docx", data, docs, DefaultLimits())
	if res.rep.Fatal || res.rep.Format != FormatDOCX || res.rep.Records != 1 {
		t.Fatalf("%+v", res.rep)
	}
	if got := res.records[0].Fields["text"]; got != "First paragraph & more. end\n\nSecond paragraph. end" {
		t.Errorf("DOCX text %q", got)
	}
	xlsx := makeDOCX(t, map[string]string{"xl/workbook.xml": "<x/>"})
	if res := parse(t, "sheet.docx", xlsx, docs, DefaultLimits()); !res.rep.Fatal || !hasProblem(res.rep, 0, "Excel workbook") {
		t.Errorf("xlsx: %+v", res.rep)
	}
	bad := makeDOCX(t, map[string]string{"word/document.xml": "<w:document><w:p>unclosed"})
	if res := parse(t, "bad.docx", bad, docs, DefaultLimits()); !res.rep.Fatal || !hasProblem(res.rep, 0, "malformed") {
		t.Errorf("bad XML: %+v", res.rep)
	}
}

// TestParseZipBomb: a DOCX whose document.xml inflates far beyond its size
// is refused, whether its header tells the truth or lies.
func TestParseZipBomb(t *testing.T) {
	t.Parallel()
	inner := docxXML(strings.Repeat("a", 20<<20))
	honest := makeDOCX(t, map[string]string{"word/document.xml": inner})
	if res := parse(t, "bomb.docx", honest, docs, DefaultLimits()); !res.rep.Fatal || !hasProblem(res.rep, 0, "zip bomb") {
		t.Errorf("honest bomb: %+v", res.rep)
	}

	// Lying header: claims 1000 bytes uncompressed.
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write([]byte(inner))
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "word/document.xml", Method: zip.Deflate,
		CRC32: crc32.ChecksumIEEE([]byte(inner)), CompressedSize64: uint64(comp.Len()), UncompressedSize64: uint64(comp.Len())})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	// archive/zip itself stops at the declared size; we report it.
	if res := parse(t, "liar.docx", buf.Bytes(), docs, DefaultLimits()); !res.rep.Fatal || !hasProblem(res.rep, 0, "zip bomb") {
		t.Errorf("lying bomb: %+v", res.rep)
	}
}

func TestParseRecordJSON(t *testing.T) {
	t.Parallel()
	r, err := ParseRecordJSON([]byte(`{"text":" Fine  day ","label":"positive"}`), classf, DefaultLimits())
	if err != nil || r.Fields["text"] != "Fine day" || r.Line != 0 {
		t.Fatalf("%+v %v", r, err)
	}
	for raw, frag := range map[string]string{
		`{"text":"x","label":"nope"}`:           "not one of",
		`{"text":"x","label":"positive","z":1}`: `"z" is not part`,
		`{"text":1,"label":"positive"}`:         "must be a string",
		`{"text":`:                              "Malformed JSON",
	} {
		_, err := ParseRecordJSON([]byte(raw), classf, DefaultLimits())
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

func TestParseCancelAndEmitError(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "{\"text\":\"row %d\"}\n", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Parse(ctx, strings.NewReader(b.String()), "a.jsonl", docs, DefaultLimits(), func(Record) error { return nil }); err == nil {
		t.Error("cancelled parse succeeded")
	}
	boom := fmt.Errorf("boom")
	_, err := Parse(context.Background(), strings.NewReader(b.String()), "a.jsonl", docs, DefaultLimits(), func(Record) error { return boom })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("emit error: %v", err)
	}
}
