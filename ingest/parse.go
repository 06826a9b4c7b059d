package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Formats Parse recognises (Report.Format).
const (
	FormatJSONL    = "jsonl"
	FormatCSV      = "csv"
	FormatText     = "txt"
	FormatMarkdown = "markdown"
	FormatPDF      = "pdf"
	FormatDOCX     = "docx"
)

// Problem is something wrong with one line (Line ≥ 1) or with the whole
// file (Line 0). Reason is a sentence for the contributor.
type Problem struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Report sums up one Parse.
type Report struct {
	// Format is the format the file was read as ("" when it could not be
	// told).
	Format string
	// Bytes is how many bytes of the file were read.
	Bytes int64
	// Rows counts data rows: JSON Lines objects, CSV rows after the header,
	// or document parts for TXT, Markdown, PDF and DOCX.
	Rows int
	// Records counts records passed to emit.
	Records int
	// Duplicates counts rows dropped as exact duplicates of an earlier row
	// of the same file.
	Duplicates int
	// Rejected counts rows refused for a problem of their own.
	Rejected int
	// Problems holds the first Limits.MaxProblems problems, in file order;
	// ProblemCount counts them all.
	Problems     []Problem
	ProblemCount int
	// Fatal is set when the file as a whole is refused (garbage, wrong
	// encoding or columns, over a limit, no valid row). Parsing stopped
	// and the caller must keep none of the emitted records.
	Fatal bool
}

// Parse reads an uploaded file as a stream and calls emit for each valid,
// new record in file order. The format comes from the file name's extension
// and the content's first bytes. Row problems (malformed JSON, a missing or
// unknown field, a label outside the label set, a record over the length
// limit, an exact duplicate of an earlier row) reject the row and go into
// the Report; problems with the whole file stop parsing and set
// Report.Fatal, after which the caller must discard everything emitted.
//
// The error is for failures that are not the file's fault: a bad schema or
// limits, a read error from r, ctx cancellation, or an error returned by
// emit (which stops parsing and is returned wrapped).
func Parse(ctx context.Context, r io.Reader, filename string, schema Schema, lim Limits, emit func(Record) error) (Report, error) {
	return parseWorkers(ctx, r, filename, schema, lim, emit, runtime.GOMAXPROCS(0))
}

// parseWorkers is Parse with records built on workers goroutines (none below 2).
func parseWorkers(ctx context.Context, r io.Reader, filename string, schema Schema, lim Limits, emit func(Record) error, workers int) (Report, error) {
	if err := schema.Validate(); err != nil {
		return Report{}, fmt.Errorf("ingest: %w", err)
	}
	if err := lim.Validate(); err != nil {
		return Report{}, err
	}
	cr := &countingReader{r: r, max: lim.MaxFileBytes}
	p := &parser{ctx: ctx, schema: schema, lim: lim, emit: emit, cr: cr, seen: make(map[string]int)}
	p.startPipeline(workers)
	defer p.stopPipeline()
	err := p.run(bufio.NewReaderSize(cr, 64<<10), filename)
	if err == nil {
		err = p.flush()
	}
	p.rep.Bytes = min(cr.n, lim.MaxFileBytes+1)
	if errors.Is(err, errTooLarge) {
		p.fatal(0, fmt.Sprintf("The file is larger than the %s limit.", formatBytes(lim.MaxFileBytes)))
		err = nil
	}
	if err == errStop {
		err = nil
	}
	if err != nil {
		return p.rep, err
	}
	if !p.rep.Fatal {
		switch {
		case p.rep.Rows == 0:
			p.fatal(0, "The file holds no records.")
		case p.rep.Records == 0 && p.rep.Duplicates == 0:
			p.fatal(0, "No row of the file is valid.")
		}
	}
	return p.rep, nil
}

// errStop ends parsing after a fatal problem was recorded.
var errStop = errors.New("ingest: stopped")

// errTooLarge is returned by countingReader past the size limit.
var errTooLarge = errors.New("ingest: file too large")

// countingReader counts bytes and fails once more than max were read.
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	if c.n > c.max {
		return 0, errTooLarge
	}
	if room := c.max + 1 - c.n; int64(len(b)) > room {
		b = b[:room]
	}
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.n > c.max {
		return n, errTooLarge
	}
	return n, err
}

type parser struct {
	ctx    context.Context
	schema Schema
	lim    Limits
	emit   func(Record) error
	cr     *countingReader
	rep    Report
	// seen maps each emitted record's hash to its line, for duplicates
	// within the file; bounded by MaxRows.
	seen map[string]int
	// pl builds records on other goroutines; nil on a single CPU.
	pl *pipeline
}

func (p *parser) problem(line int, reason string) {
	// Rows read earlier may still be building: their problems come first.
	// An error here (emit failed) stops the parser at its next row.
	_ = p.flush()
	p.rep.ProblemCount++
	if len(p.rep.Problems) < p.lim.MaxProblems {
		p.rep.Problems = append(p.rep.Problems, Problem{Line: line, Reason: reason})
	}
}

func (p *parser) reject(line int, reason string) {
	p.rep.Rejected++
	p.problem(line, reason)
}

// fatal records a file-level problem; the caller returns errStop.
func (p *parser) fatal(line int, reason string) {
	p.rep.Fatal = true
	p.problem(line, reason)
}

// row counts a data row, failing the file past MaxRows, and checks ctx now
// and then.
func (p *parser) row() error {
	if p.pl != nil && p.pl.err != nil {
		return p.pl.err
	}
	p.rep.Rows++
	if p.rep.Rows > p.lim.MaxRows {
		p.fatal(0, fmt.Sprintf("The file has more than %d rows, the limit for one file.", p.lim.MaxRows))
		return errStop
	}
	if p.rep.Rows%256 == 0 {
		if err := p.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// record drops exact duplicates and emits the rest.
func (p *parser) record(r Record) error {
	if first, dup := p.seen[r.Hash]; dup {
		p.rep.Duplicates++
		p.problem(r.Line, fmt.Sprintf("Duplicate of line %d.", first))
		return nil
	}
	p.seen[r.Hash] = r.Line
	p.rep.Records++
	if err := p.emit(r); err != nil {
		return fmt.Errorf("ingest: emit record of line %d: %w", r.Line, err)
	}
	return nil
}

// fields validates and emits one JSON Lines or CSV row. Documents longer
// than SplitChars become several records.
func (p *parser) fields(line int, fields map[string]string) error {
	if p.schema.Kind == KindDocuments {
		text, ok := fields["text"]
		if !utf8.ValidString(text) {
			p.reject(line, fmt.Sprintf("Line %d: field \"text\" is not valid UTF-8 text.", line))
			return nil
		}
		text = NormalizeText(text)
		if text == "" {
			what := "empty"
			if !ok {
				what = "missing"
			}
			p.reject(line, fmt.Sprintf("Line %d: field \"text\" is %s.", line, what))
			return nil
		}
		if utf8.RuneCountInString(text) <= p.lim.SplitChars {
			return p.part(line, 1, text)
		}
		for i, part := range Split(text, p.lim.SplitChars) {
			if i > 0 {
				if err := p.row(); err != nil {
					return err
				}
			}
			if err := p.part(line, i+1, part); err != nil {
				return err
			}
		}
		return nil
	}
	return p.submit(line, 1, func() (Record, error) { return BuildRecord(fields, p.schema, p.lim) })
}

// part emits one normalised document part.
func (p *parser) part(line, part int, text string) error {
	return p.submit(line, part, func() (Record, error) {
		return finishRecord(map[string]string{"text": text}, p.schema, p.lim)
	})
}

// run picks the format and parses.
func (p *parser) run(br *bufio.Reader, filename string) error {
	head, err := br.Peek(4096)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return err
	}
	ext := strings.ToLower(path.Ext(strings.ReplaceAll(filename, `\`, "/")))
	content := sniff(head)
	if content.kind == "empty" {
		p.fatal(0, "The file is empty.")
		return errStop
	}
	format, reason := chooseFormat(ext, content, head, p.schema)
	if reason != "" {
		p.fatal(0, reason)
		return errStop
	}
	p.rep.Format = format
	if format != FormatJSONL && format != FormatCSV && p.schema.Kind != KindDocuments {
		p.fatal(0, fmt.Sprintf("%s files can only be added to a documents Datanet; for %s records upload JSON Lines or CSV.", formatName(format), p.schema.Kind))
		return errStop
	}

	var text *bufio.Reader
	switch content.kind {
	case "utf16le", "utf16be":
		order := unicode.LittleEndian
		if content.kind == "utf16be" {
			order = unicode.BigEndian
		}
		dec := unicode.UTF16(order, unicode.ExpectBOM).NewDecoder()
		text = bufio.NewReaderSize(transform.NewReader(br, dec), 64<<10)
	case "utf8bom":
		br.Discard(3)
		text = br
	default:
		text = br
	}
	switch format {
	case FormatJSONL:
		return p.jsonl(text)
	case FormatCSV:
		return p.csv(text)
	case FormatText, FormatMarkdown:
		return p.text(text)
	case FormatPDF:
		return p.pdf(br)
	case FormatDOCX:
		return p.docx(br)
	}
	return fmt.Errorf("ingest: format %q has no parser", format)
}

func formatName(f string) string {
	switch f {
	case FormatJSONL:
		return "JSON Lines"
	case FormatCSV:
		return "CSV"
	case FormatText:
		return "TXT"
	case FormatMarkdown:
		return "Markdown"
	case FormatPDF:
		return "PDF"
	case FormatDOCX:
		return "DOCX"
	}
	return f
}

// sniffed is what the first bytes of a file look like.
type sniffed struct {
	kind string // empty, pdf, zip, binary, notutf8, utf16le, utf16be, utf8bom, text
	what string // for binary: "a PNG image", ...
	line int    // for notutf8: the first line that is not UTF-8
}

var magics = []struct{ prefix, what string }{
	{"\x89PNG\r\n\x1a\n", "a PNG image"},
	{"\xff\xd8\xff", "a JPEG image"},
	{"GIF8", "a GIF image"},
	{"\x1f\x8b", "a gzip archive"},
	{"BZh", "a bzip2 archive"},
	{"\xfd7zXZ\x00", "an xz archive"},
	{"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"},
	{"Rar!", "a RAR archive"},
	{"\x7fELF", "a program (ELF executable)"},
	{"MZ", "a Windows program"},
	{"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document (.doc/.xls); save it as .docx"},
	{"RIFF", "a media file"},
	{"\x00\x00\x01\x00", "an icon"},
	{"SQLite format 3\x00", "an SQLite database"},
	{"PAR1", "a Parquet file"},
	{"{\\rtf", "an RTF document; save it as .docx or .txt"},
}

func sniff(head []byte) sniffed {
	switch {
	case len(head) == 0:
		return sniffed{kind: "empty"}
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return sniffed{kind: "pdf"}
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return sniffed{kind: "zip"}
	case bytes.HasPrefix(head, []byte{0xff, 0xfe}):
		return sniffed{kind: "utf16le"}
	case bytes.HasPrefix(head, []byte{0xfe, 0xff}):
		return sniffed{kind: "utf16be"}
	}
	for _, m := range magics {
		if bytes.HasPrefix(head, []byte(m.prefix)) {
			return sniffed{kind: "binary", what: m.what}
		}
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return sniffed{kind: "binary", what: "binary data"}
	}
	check := head
	if len(check) >= 4096 {
		// The window may end inside a character.
		for i := 0; i < utf8.UTFMax && len(check) > 0 && !utf8.RuneStart(check[len(check)-1]); i++ {
			check = check[:len(check)-1]
		}
		if len(check) > 0 {
			check = check[:len(check)-1]
		}
	}
	if !utf8.Valid(check) {
		bad := 0
		for bad < len(check) {
			r, size := utf8.DecodeRune(check[bad:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			bad += size
		}
		return sniffed{kind: "notutf8", line: 1 + bytes.Count(check[:bad], []byte("\n"))}
	}
	if len(bytes.TrimSpace(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")))) == 0 && len(head) < 4096 {
		return sniffed{kind: "empty"}
	}
	if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		return sniffed{kind: "utf8bom"}
	}
	return sniffed{kind: "text"}
}

var extFormats = map[string]string{
	".jsonl": FormatJSONL, ".ndjson": FormatJSONL, ".json": FormatJSONL,
	".csv": FormatCSV,
	".txt": FormatText, ".text": FormatText,
	".md": FormatMarkdown, ".markdown": FormatMarkdown,
	".pdf":  FormatPDF,
	".docx": FormatDOCX,
}

func contentName(s sniffed) string {
	switch s.kind {
	case "pdf":
		return "a PDF document"
	case "zip":
		return "a zip archive"
	case "binary":
		return s.what
	case "notutf8":
		return "text that is not UTF-8"
	}
	return "text"
}

// chooseFormat picks the format, or explains why the file is refused.
func chooseFormat(ext string, s sniffed, head []byte, schema Schema) (string, string) {
	if s.kind == "notutf8" && extFormats[ext] != FormatPDF && extFormats[ext] != FormatDOCX {
		return "", fmt.Sprintf("Line %d is not valid UTF-8 text; save the file as UTF-8 and upload it again.", s.line)
	}
	if s.kind == "binary" && (ext == "" || extFormats[ext] != FormatPDF && extFormats[ext] != FormatDOCX) {
		return "", fmt.Sprintf("The file looks like %s, not a JSON Lines, CSV, TXT, Markdown, PDF or DOCX file.", s.what)
	}
	isText := s.kind == "text" || s.kind == "utf8bom" || s.kind == "utf16le" || s.kind == "utf16be"
	format, known := extFormats[ext]
	if !known {
		if ext != "" {
			return "", fmt.Sprintf("Files of type %s are not supported; upload JSON Lines (.jsonl), CSV, TXT, Markdown, PDF or DOCX.", ext)
		}
		switch {
		case s.kind == "pdf":
			return FormatPDF, ""
		case s.kind == "zip":
			return FormatDOCX, ""
		}
		return sniffTextFormat(head, schema), ""
	}
	switch format {
	case FormatPDF:
		if s.kind != "pdf" {
			return "", fmt.Sprintf("The file is named %s but is not a PDF document (its content looks like %s).", ext, contentName(s))
		}
	case FormatDOCX:
		if s.kind != "zip" {
			return "", fmt.Sprintf("The file is named %s but is not a Word document (its content looks like %s).", ext, contentName(s))
		}
	default:
		if !isText {
			return "", fmt.Sprintf("The file is named %s but its content looks like %s.", ext, contentName(s))
		}
		if format == FormatJSONL && s.kind != "utf16le" && s.kind != "utf16be" {
			t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
			if len(t) > 0 && t[0] == '[' {
				return "", "The file is a JSON array; upload JSON Lines instead: one JSON object per line, no enclosing [ ]."
			}
		}
	}
	return format, ""
}

// sniffTextFormat tells JSON Lines, CSV and plain text apart for a file
// without an extension: a first character '{' means JSON Lines; a first
// line naming the schema's fields, separated by commas, means CSV.
func sniffTextFormat(head []byte, schema Schema) string {
	t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(t) > 0 && t[0] == '{' {
		return FormatJSONL
	}
	first, _, _ := bytes.Cut(t, []byte("\n"))
	cols := strings.Split(strings.TrimSpace(string(first)), ",")
	if len(cols) > 0 {
		all := true
		for _, c := range cols {
			if !schemaHas(schema, strings.ToLower(strings.TrimSpace(c))) {
				all = false
				break
			}
		}
		if all {
			return FormatCSV
		}
	}
	return FormatText
}

// readLine reads one line (without its "\n") into buf, up to max bytes;
// a longer line is consumed and reported as too long.
func readLine(br *bufio.Reader, buf []byte, max int) (line []byte, tooLong bool, err error) {
	buf = buf[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > max+1 {
				tooLong = true
				buf = buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil || (err == io.EOF && (len(buf) > 0 || tooLong)) {
			buf = bytes.TrimSuffix(buf, []byte("\n"))
			return buf, tooLong, nil
		}
		return buf, tooLong, err
	}
}

// textLineProblem checks a line of a text format for garbage: a NUL byte
// (binary content) or invalid UTF-8 (another encoding). Both refuse the
// whole file.
func (p *parser) textLineProblem(n int, line []byte) bool {
	if bytes.IndexByte(line, 0) >= 0 {
		p.fatal(n, fmt.Sprintf("Line %d contains binary data (a NUL byte); this is not a text file.", n))
		return true
	}
	if !utf8.Valid(line) {
		p.fatal(n, fmt.Sprintf("Line %d is not valid UTF-8 text; save the file as UTF-8 and upload it again.", n))
		return true
	}
	return false
}
