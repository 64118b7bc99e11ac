// Package migrations holds audit's versioned schema (goose SQL that runs on
// PostgreSQL and SQLite alike).
package migrations

import "embed"

// FS is the migration set, applied at start-up.
//
//go:embed *.sql
var FS embed.FS
