// Package migrations holds audit's versioned schema: goose SQL that runs on
// PostgreSQL and SQLite alike, and in postgres/ what only PostgreSQL runs.
package migrations

import "embed"

// FS is the migration set, applied at start-up.
//
//go:embed *.sql postgres/*.sql
var FS embed.FS
