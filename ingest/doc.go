// Package ingest turns an uploaded file into validated, normalised, hashed
// Datanet records: it picks the format (JSON Lines, CSV, TXT, Markdown, PDF,
// DOCX) from the file name and the sniffed content, parses it as a stream,
// validates every row against the Datanet's schema, normalises text (UTF-8,
// Unicode NFC, whitespace), splits long documents at paragraph and sentence
// boundaries, computes each record's canonical JSON and SHA-256 hash, its
// MinHash signature for near-duplicate search, and flags likely PII.
//
// The package knows nothing of HTTP, SQL or jobs: Parse reads an io.Reader
// and hands records to a callback, collecting per-line problems in a
// Report. docs/ingest.md describes the record-hash contract that scripts
// rely on.
package ingest
