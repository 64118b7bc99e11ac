// Package migrations holds scheduling's versioned schema: goose SQL that
// runs on PostgreSQL and SQLite alike at the root, and the steps only one
// engine can express in postgres/ and sqlite/ (libs/store runs each
// engine's own with the common ones).
package migrations

import "embed"

// FS is the migration set, applied at start-up.
//
//go:embed *.sql postgres/*.sql sqlite/*.sql
var FS embed.FS
