// Package migrations holds ModelFactory's SQL schema changes, applied in
// order by goose. River's own tables are migrated separately by rivermigrate
// (see store.Migrate).
package migrations

import "embed"

// FS holds the numbered goose migrations.
//
//go:embed *.sql
var FS embed.FS
