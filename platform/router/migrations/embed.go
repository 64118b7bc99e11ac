// Package migrations holds the directory's schema.
package migrations

import "embed"

// FS is the migration set, applied at start-up.
//
//go:embed *.sql
var FS embed.FS
