package store_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
)

// awkward are ids a text[] literal must quote or escape.
var awkward = []string{`plain`, `with,comma`, `with "quote"`, `back\slash`, `{brace}`, `sp ace`, ``, `NULL`, `é`, `<a&b>`, "line\u2028sep", "tab\there"}

func TestWhereIn_MatchesExactlyTheValues(t *testing.T) {
	db := storetest.Open(t, os.DirFS("testdata/migrations"))
	for i, id := range append(slices.Clone(awkward), "other") {
		require.NoError(t, db.Create(&widget{ID: id, ClinicID: "c1", Name: string(rune('a' + i)), CreatedAt: time.Now()}).Error)
	}
	var got []string
	require.NoError(t, db.WhereIn(db.Model(&widget{}), "id", awkward).Order("id").Pluck("id", &got).Error)
	want := slices.Sorted(slices.Values(awkward))
	if db.Dialect() == store.Postgres {
		// The database's collation orders them; compare as sets.
		slices.Sort(got)
	}
	require.Equal(t, want, got)

	require.NoError(t, db.WhereIn(db.Model(&widget{}), "id", nil).Pluck("id", &got).Error)
	require.Empty(t, got, "no values select nothing")

	if db.Dialect() == store.SQLite {
		// SQLite stores what it is given; JSON cannot carry invalid UTF-8.
		require.NoError(t, db.Create(&widget{ID: "bad\xff", ClinicID: "c1", Name: "z", CreatedAt: time.Now()}).Error)
		require.NoError(t, db.WhereIn(db.Model(&widget{}), "id", []string{"bad\xff", "plain"}).Order("id").Pluck("id", &got).Error)
		require.Equal(t, []string{"bad\xff", "plain"}, got)
	}
}

func TestPgxTx_CommitsOrRollsBack(t *testing.T) {
	db := storetest.Open(t, os.DirFS("testdata/migrations"))
	ctx := context.Background()
	if db.Dialect() != store.Postgres {
		require.ErrorIs(t, db.PgxTx(ctx, func(pgx.Tx) error { return nil }), store.ErrNotPostgres)
		return
	}
	rows := [][]any{{"w1", "c1", "a", time.Now().UTC()}, {"w2", "c1", "b", time.Now().UTC()}}
	boom := errors.New("boom")
	err := db.PgxTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"widgets"}, []string{"id", "clinic_id", "name", "created_at"}, pgx.CopyFromRows(rows))
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	var n int64
	require.NoError(t, db.Model(&widget{}).Count(&n).Error)
	require.Zero(t, n, "rolled back")

	require.NoError(t, db.PgxTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"widgets"}, []string{"id", "clinic_id", "name", "created_at"}, pgx.CopyFromRows(rows))
		return err
	}))
	require.NoError(t, db.Model(&widget{}).Count(&n).Error)
	require.EqualValues(t, 2, n)

	err = db.PgxTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO widgets (id, clinic_id, name, created_at) VALUES ('w3', 'c1', 'a', now())")
		return err
	})
	require.True(t, store.IsUniqueViolation(err), "%v", err)
	require.False(t, store.IsUniqueViolation(boom))
}
