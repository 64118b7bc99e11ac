package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// ErrNotPostgres is returned by [DB.PgxTx] on a database that is not
// PostgreSQL.
var ErrNotPostgres = errors.New("store: not a PostgreSQL database")

// PgxTx runs fn in a transaction on one of the pool's PostgreSQL
// connections with pgx's own API, for what database/sql cannot do or does
// slowly: COPY (pgx.Tx.CopyFrom) and several statements in one round trip
// (pgx.Tx.SendBatch). The transaction commits if fn returns nil and rolls
// back otherwise. It fails with [ErrNotPostgres] on SQLite.
func (d *DB) PgxTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if d.dialect != Postgres {
		return ErrNotPostgres
	}
	sqlDB, err := d.DB.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: take a connection: %w", err)
	}
	defer func() { _ = conn.Close() }() // returns it to the pool
	return conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: driver connection is %T, not pgx", driverConn)
		}
		return pgx.BeginFunc(ctx, c.Conn(), fn)
	})
}

// IsUniqueViolation reports whether err is a unique-constraint violation,
// from gorm (gorm.ErrDuplicatedKey, with TranslateError) or from pgx
// directly (SQLSTATE 23505).
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, gorm.ErrDuplicatedKey) || (errors.As(err, &pgErr) && pgErr.Code == "23505")
}

// TextArray is values as a PostgreSQL text[] literal, each element quoted,
// for one `?::text[]` parameter in place of a list of parameters (gorm
// expands a slice into one parameter per element, which PostgreSQL then
// parses and binds one by one).
func TextArray(values []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for _, r := range v {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// WhereIn adds "column is one of values" to q with one parameter however
// many values: on PostgreSQL `column = ANY(?::text[])`, on SQLite
// `column IN (SELECT value FROM json_each(?))` (its driver binds parameters
// one by one, at a cost that grows with the square of their number). Values
// that are not valid UTF-8, which JSON cannot carry, fall back to
// `column IN (?, …)`. The column name must be a constant.
func (d *DB) WhereIn(q *gorm.DB, column string, values []string) *gorm.DB {
	if d.dialect == Postgres {
		return q.Where(column+" = ANY(?::text[])", TextArray(values))
	}
	for _, v := range values {
		if !utf8.ValidString(v) {
			return q.Where(column+" IN ?", values)
		}
	}
	doc, err := json.Marshal(values)
	if err != nil {
		return q.Where(column+" IN ?", values)
	}
	return q.Where(column+" IN (SELECT value FROM json_each(?))", string(doc))
}
