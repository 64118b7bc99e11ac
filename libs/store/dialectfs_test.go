package store_test

import (
	"context"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
)

// TestOpen_RunsEachDialectsOwnMigrations: common migrations and those in the
// engine's own directory run, in version order; the other engine's never
// (its syntax would not even parse here).
func TestOpen_RunsEachDialectsOwnMigrations(t *testing.T) {
	db := storetest.Open(t, os.DirFS("testdata/dialects"))
	ctx := context.Background()
	t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	require.NoError(t, db.WithContext(ctx).Exec("INSERT INTO things VALUES ('a', ?, ?)", t0, t0.Add(time.Hour)).Error)
	err := db.WithContext(ctx).Exec("INSERT INTO things VALUES ('b', ?, ?)", t0.Add(30*time.Minute), t0.Add(90*time.Minute)).Error
	require.Error(t, err, "the dialect's own no-overlap guarantee is in place")
	require.NoError(t, db.WithContext(ctx).Exec("INSERT INTO things VALUES ('c', ?, ?)", t0.Add(time.Hour), t0.Add(2*time.Hour)).Error)
}

func TestOpen_RefusesAMigrationBothCommonAndDialectOnly(t *testing.T) {
	fsys := fstest.MapFS{
		"00001_a.sql":          {Data: []byte("-- +goose Up\nCREATE TABLE a (id TEXT);\n")},
		"postgres/00001_a.sql": {Data: []byte("-- +goose Up\nCREATE TABLE a (id TEXT);\n")},
		"sqlite/00001_a.sql":   {Data: []byte("-- +goose Up\nCREATE TABLE a (id TEXT);\n")},
	}
	_, err := store.Open(context.Background(), storetest.URL(t), store.Options{Migrations: fsys})
	require.ErrorContains(t, err, "both common and")
}
