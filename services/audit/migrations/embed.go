// Package migrations holds audit's versioned schema: goose SQL that runs on
// PostgreSQL and SQLite alike, and in postgres/ what only PostgreSQL runs.
package migrations

import (
	"embed"

	"github.com/havenhealth/haven/libs/store"
)

// FS is the migration set, applied at start-up.
//
//go:embed *.sql postgres/*.sql
var FS embed.FS

// SQLitePageSize is the page size of a new embedded (SQLite) audit
// database: 64 KiB, SQLite's largest, against libs/store's 16 KiB default.
// The chain is written in batches of thousands of rows, each adding an entry
// to the table and to six or seven indexes, and read by ranges (reports,
// verify); a batch's cost is mostly per page it dirties (the b-tree
// balancing, the WAL frame, its checkpoint), so fewer, larger pages chain
// about a tenth more events per second end to end (BenchmarkPipeline).
// PostgreSQL is not affected.
const SQLitePageSize = 64 << 10

// Options are the store options of an audit database.
func Options() store.Options {
	return store.Options{Migrations: FS, SQLitePageSize: SQLitePageSize}
}
