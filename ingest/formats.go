package ingest

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
)

// maxLineBytes is the longest JSON Lines line read: a documents line may be
// as long as the file (it is split), other rows hold one record.
func (p *parser) maxLineBytes() int {
	if p.schema.Kind == KindDocuments {
		return int(min(p.lim.MaxFileBytes, 1<<30))
	}
	return 8*p.lim.MaxRecordChars + 64<<10
}

func (p *parser) jsonl(br *bufio.Reader) error {
	var buf []byte
	var members []jsonField
	fields := make(map[string]string, 4)
	maxLine := p.maxLineBytes()
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br, buf, maxLine)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		buf = line[:0]
		if tooLong {
			if err := p.row(); err != nil {
				return err
			}
			p.reject(n, fmt.Sprintf("Line %d is longer than %s.", n, formatBytes(int64(maxLine))))
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if p.textLineProblem(n, line) {
			return errStop
		}
		if err := p.row(); err != nil {
			return err
		}
		members = members[:0]
		members, jerr := parseJSONObject(line, members)
		if jerr != nil {
			col := utf8.RuneCount(line[:min(jerr.off, len(line))]) + 1
			p.reject(n, fmt.Sprintf("Line %d: malformed JSON at column %d: %s.", n, col, jerr.msg))
			continue
		}
		clear(fields)
		if reason := checkMembers(members, fields, p.schema); reason != "" {
			p.reject(n, fmt.Sprintf("Line %d: %s", n, reason))
			continue
		}
		// fields is reused: hand BuildRecord its own copy.
		own := make(map[string]string, len(fields))
		for k, v := range fields {
			own[k] = v
		}
		if err := p.fields(n, own); err != nil {
			return err
		}
	}
}

// checkMembers turns an object's members into fields, or explains what is
// wrong: a repeated or unknown field, or a value that is not a string.
func checkMembers(members []jsonField, fields map[string]string, schema Schema) string {
	var unknown []string
	for _, m := range members {
		if !schemaHas(schema, m.key) {
			unknown = append(unknown, m.key)
			continue
		}
		if _, dup := fields[m.key]; dup {
			return fmt.Sprintf("field %q appears twice.", m.key)
		}
		switch m.kind {
		case "string":
			fields[m.key] = m.value
		case "null":
			// Treated as absent: fine for optional fields, "missing" for
			// required ones.
		default:
			return fmt.Sprintf("field %q must be a string, not %s %s.", m.key, aAn(m.kind), m.kind)
		}
	}
	if len(unknown) > 0 {
		return unknownFieldsProblem(unknown, schema).Reason
	}
	return ""
}

func aAn(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func (p *parser) csv(br *bufio.Reader) error {
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return err
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			p.fatal(1, fmt.Sprintf("The CSV header is malformed: %s.", pe.Err))
			return errStop
		}
		if err == io.EOF {
			p.fatal(0, "The file is empty.")
			return errStop
		}
		return err
	}
	cols := make([]string, len(header))
	for i, h := range header {
		if p.textLineProblem(1, []byte(h)) {
			return errStop
		}
		cols[i] = strings.ToLower(strings.TrimSpace(h))
	}
	if reason := p.checkHeader(cols); reason != "" {
		p.fatal(1, reason)
		return errStop
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if errors.Is(err, errTooLarge) {
				return err
			}
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return err
			}
			if rerr := p.row(); rerr != nil {
				return rerr
			}
			p.reject(pe.StartLine, fmt.Sprintf("Line %d: malformed CSV: %s.", pe.StartLine, pe.Err))
			continue
		}
		line, _ := cr.FieldPos(0)
		if err := p.row(); err != nil {
			return err
		}
		for _, v := range rec {
			if p.textLineProblem(line, []byte(v)) {
				return errStop
			}
		}
		if len(rec) != len(cols) {
			p.reject(line, fmt.Sprintf("Line %d has %d values; the header has %d columns.", line, len(rec), len(cols)))
			continue
		}
		own := make(map[string]string, len(cols))
		for i, c := range cols {
			own[c] = rec[i]
		}
		if err := p.fields(line, own); err != nil {
			return err
		}
	}
}

// checkHeader compares CSV columns with the schema.
func (p *parser) checkHeader(cols []string) string {
	seen := make(map[string]bool, len(cols))
	var extra, missing []string
	for _, c := range cols {
		if seen[c] {
			return fmt.Sprintf("The CSV header names the column %q twice.", c)
		}
		seen[c] = true
		if !schemaHas(p.schema, c) {
			extra = append(extra, c)
		}
	}
	for _, f := range p.schema.Fields() {
		if f.Required && !seen[f.Name] {
			missing = append(missing, f.Name)
		}
	}
	var hint string
	if len(cols) == 1 && (strings.ContainsAny(cols[0], ";\t|")) {
		hint = " Separate columns with commas."
	}
	switch {
	case len(missing) > 0 && len(extra) > 0:
		return fmt.Sprintf("The CSV header lacks %s and has %s, which %s not part of the %s schema (columns: %s).%s",
			quoteList(missing, 5), quoteList(extra, 5), isAre(len(extra)), p.schema.Kind, p.schema.fieldNames(), hint)
	case len(missing) > 0:
		return fmt.Sprintf("The CSV header lacks %s (the %s schema's columns: %s).%s", quoteList(missing, 5), p.schema.Kind, p.schema.fieldNames(), hint)
	case len(extra) > 0:
		return fmt.Sprintf("The CSV header has %s, which %s not part of the %s schema (columns: %s).", quoteList(extra, 5), isAre(len(extra)), p.schema.Kind, p.schema.fieldNames())
	}
	return ""
}

// docEmitter numbers a document's parts and emits them.
func (p *parser) docEmitter() emitFunc {
	part := 0
	return func(text string, line int) error {
		if err := p.row(); err != nil {
			return err
		}
		part++
		return p.part(line, part, text)
	}
}

// text reads a TXT or Markdown file: one document, split into records.
func (p *parser) text(br *bufio.Reader) error {
	d := docBuilder{max: p.lim.SplitChars}
	emit := p.docEmitter()
	var buf []byte
	for n := 1; ; n++ {
		line, _, err := readLine(br, buf, int(min(p.lim.MaxFileBytes, 1<<30)))
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		buf = line[:0]
		if p.textLineProblem(n, line) {
			return errStop
		}
		d.n.feed(string(line))
		d.n.feed("\n")
		if err := d.drain(false, emit); err != nil {
			return err
		}
	}
	return d.close(emit)
}

// extractedWriter feeds extracted text into a document, failing past the
// extraction limit.
type extractedWriter struct {
	p    *parser
	d    docBuilder
	emit emitFunc
	n    int64
}

var errExtractedTooLarge = errors.New("ingest: extracted text too large")

func (w *extractedWriter) write(s string) error {
	w.n += int64(len(s))
	if w.n > w.p.lim.MaxExtractedBytes {
		return errExtractedTooLarge
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return w.d.write(s, w.emit)
}

func (p *parser) newExtractedWriter() *extractedWriter {
	return &extractedWriter{p: p, d: docBuilder{max: p.lim.SplitChars}, emit: p.docEmitter()}
}

// readAll reads the whole (size-limited) file: PDF and ZIP keep their
// index at the end, so these formats cannot be streamed.
func readAll(br *bufio.Reader) ([]byte, error) {
	return io.ReadAll(br)
}

const maxPDFPages = 10_000

func (p *parser) pdf(br *bufio.Reader) error {
	data, err := readAll(br)
	if err != nil {
		return err
	}
	w := p.newExtractedWriter()
	pages, perr, werr := extractPDF(data, w)
	switch {
	case errors.Is(werr, errExtractedTooLarge):
		p.fatal(0, fmt.Sprintf("The PDF's text is larger than the %s limit.", formatBytes(p.lim.MaxExtractedBytes)))
		return errStop
	case werr != nil:
		return werr
	case perr != nil && w.n == 0:
		p.fatal(0, fmt.Sprintf("The PDF could not be read: %s.", perr))
		return errStop
	case perr != nil:
		p.fatal(0, fmt.Sprintf("The PDF could not be read past page %d: %s.", pages, perr))
		return errStop
	}
	if err := w.d.close(w.emit); err != nil {
		return err
	}
	if p.rep.Rows == 0 {
		p.fatal(0, "The PDF has no text that can be extracted (is it scanned images?).")
		return errStop
	}
	return nil
}

// extractPDF writes the text of every page, pages separated by a blank
// line. The PDF library panics on some malformed files; that is turned
// into an error. perr is the file's fault, werr comes from writing the
// text (limits, emit, cancellation).
func extractPDF(data []byte, w *extractedWriter) (pages int, perr, werr error) {
	defer func() {
		if r := recover(); r != nil {
			perr = fmt.Errorf("malformed PDF (%v)", r)
		}
	}()
	rd, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0, errors.New(strings.TrimPrefix(err.Error(), "malformed PDF: ")), nil
	}
	n := rd.NumPage()
	if n > maxPDFPages {
		return 0, fmt.Errorf("it claims %d pages; the limit is %d", n, maxPDFPages), nil
	}
	for i := 1; i <= n; i++ {
		page := rd.Page(i)
		if page.V.IsNull() {
			continue
		}
		text, err := page.GetPlainText(nil)
		if err != nil {
			return i - 1, fmt.Errorf("page %d: %v", i, err), nil
		}
		if err := w.write(text); err != nil {
			return i, nil, err
		}
		if err := w.write("\n\n"); err != nil {
			return i, nil, err
		}
	}
	return n, nil, nil
}

const maxZipEntries = 10_000

func (p *parser) docx(br *bufio.Reader) error {
	data, err := readAll(br)
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		p.fatal(0, "The file is named .docx but is not a valid Word document (a broken zip archive).")
		return errStop
	}
	if len(zr.File) > maxZipEntries {
		p.fatal(0, fmt.Sprintf("The DOCX archive has %d entries; a Word document has far fewer (limit %d).", len(zr.File), maxZipEntries))
		return errStop
	}
	var doc *zip.File
	names := make(map[string]bool, len(zr.File))
	for _, f := range zr.File {
		names[f.Name] = true
		if f.Name == "word/document.xml" {
			doc = f
		}
	}
	if doc == nil {
		what := "a zip archive"
		switch {
		case names["xl/workbook.xml"]:
			what = "an Excel workbook"
		case names["ppt/presentation.xml"]:
			what = "a PowerPoint presentation"
		case names["content.xml"] && names["mimetype"]:
			what = "an OpenDocument file"
		}
		p.fatal(0, fmt.Sprintf("The file is named .docx but is %s, not a Word document.", what))
		return errStop
	}
	bomb := fmt.Sprintf("The DOCX file expands to more than allowed (over %s or compressed more than %d:1); it looks like a zip bomb.", formatBytes(p.lim.MaxExtractedBytes), p.lim.MaxCompressionRatio)
	if doc.UncompressedSize64 > uint64(p.lim.MaxExtractedBytes) ||
		(doc.CompressedSize64 > 0 && doc.UncompressedSize64/doc.CompressedSize64 > uint64(p.lim.MaxCompressionRatio)) {
		p.fatal(0, bomb)
		return errStop
	}
	rc, err := doc.Open()
	if err != nil {
		p.fatal(0, fmt.Sprintf("The DOCX file's text could not be read: %v.", err))
		return errStop
	}
	defer rc.Close()
	// The declared sizes can lie: count what is actually inflated.
	limit := min(p.lim.MaxExtractedBytes, int64(doc.CompressedSize64)*p.lim.MaxCompressionRatio+64<<10)
	g := &guardReader{r: rc, max: limit}
	w := p.newExtractedWriter()
	derr, werr := extractDOCX(g, w)
	switch {
	case g.over || errors.Is(werr, errExtractedTooLarge):
		p.fatal(0, bomb)
		return errStop
	case werr != nil:
		return werr
	case errors.Is(derr, zip.ErrFormat):
		p.fatal(0, "The DOCX archive is damaged: its text is larger than its header declares (a forged header, as in a zip bomb).")
		return errStop
	case derr != nil:
		p.fatal(0, fmt.Sprintf("The DOCX file's text is malformed: %v.", derr))
		return errStop
	}
	if err := w.d.close(w.emit); err != nil {
		return err
	}
	if p.rep.Rows == 0 {
		p.fatal(0, "The Word document has no text.")
		return errStop
	}
	return nil
}

// guardReader fails once more than max bytes were read.
type guardReader struct {
	r    io.Reader
	n    int64
	max  int64
	over bool
}

var errInflateLimit = errors.New("ingest: inflated size over the limit")

func (g *guardReader) Read(b []byte) (int, error) {
	if g.n >= g.max {
		// Probe one byte: only more data than allowed is an error.
		var one [1]byte
		if n, _ := g.r.Read(one[:]); n > 0 {
			g.over = true
			return 0, errInflateLimit
		}
		return 0, io.EOF
	}
	if int64(len(b)) > g.max-g.n {
		b = b[:g.max-g.n]
	}
	n, err := g.r.Read(b)
	g.n += int64(n)
	return n, err
}

// extractDOCX writes the text of word/document.xml: the text runs (w:t),
// tabs as spaces, line breaks, and a blank line after each paragraph.
// Deleted text (w:delText) and field codes (w:instrText) are left out.
// derr is the file's fault, werr comes from writing the text.
func extractDOCX(r io.Reader, w *extractedWriter) (derr, werr error) {
	dec := xml.NewDecoder(r)
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				inText = true
			case "tab":
				err = w.write(" ")
			case "br", "cr":
				err = w.write("\n")
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				err = w.write("\n\n")
			}
		case xml.CharData:
			if inText {
				err = w.write(string(t))
			}
		}
		if err != nil {
			return nil, err
		}
	}
}
