// Package store opens a service's gorm database from a URL — PostgreSQL in
// production and CI, pure-Go SQLite embedded — and applies the service's
// versioned goose migrations, one set that runs on both.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	gormlogger "gorm.io/gorm/logger"
)

// Dialect names the SQL engine behind a DB.
type Dialect string

// The two engines Haven runs on.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// ErrUnsupportedURL is returned for a database URL of an unknown scheme.
var ErrUnsupportedURL = errors.New("store: database URL must start with postgres://, postgresql:// or sqlite://")

// DB is a service's database handle.
type DB struct {
	*gorm.DB
	dialect Dialect
}

// Options configures Open.
type Options struct {
	Logger *slog.Logger
	// Migrations holds the service's goose SQL files (NNNNN_name.sql) at its root.
	Migrations fs.FS
	// SlowQuery is the duration above which a query is logged (without SQL or values).
	SlowQuery time.Duration
	// SQLitePageSize is the page size, in bytes, of a new SQLite file: a
	// power of two from 512 to 65536, default 16 KiB. A file keeps the page
	// size it was created with. Ignored on PostgreSQL.
	SQLitePageSize int
}

// Open connects to rawURL and migrates the schema to the latest version.
//
//	postgres://user@host:5432/db?sslmode=verify-full   (PGPASSWORD is honoured)
//	sqlite:///absolute/path/file.db
//	sqlite://relative/path/file.db
func Open(ctx context.Context, rawURL string, o Options) (*DB, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SlowQuery == 0 {
		o.SlowQuery = 500 * time.Millisecond
	}
	if o.SQLitePageSize == 0 {
		o.SQLitePageSize = 16 << 10
	}
	dialect, dialector, err := dialectorFor(rawURL, o.SQLitePageSize)
	if err != nil {
		return nil, err
	}
	gdb, err := gorm.Open(dialector, &gorm.Config{
		Logger:                                   &quietLogger{log: o.Logger, slow: o.SlowQuery},
		NowFunc:                                  func() time.Time { return time.Now().UTC() },
		TranslateError:                           true,
		DisableForeignKeyConstraintWhenMigrating: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if dialect == SQLite {
		// One writer at a time is SQLite's model; BEGIN IMMEDIATE plus a busy
		// timeout makes concurrent writers queue instead of failing.
		sqlDB.SetMaxOpenConns(4)
	} else {
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(5)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	db := &DB{DB: gdb, dialect: dialect}
	if err := db.Ping(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if o.Migrations != nil {
		if err := migrate(ctx, sqlDB, dialect, o.Migrations, ""); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
	}
	return db, nil
}

// MigrateSet applies a library's own migrations (fieldcrypt's key table,
// audit's outbox) to a service's database, tracked in their own goose
// version table so each set evolves on its own.
func MigrateSet(ctx context.Context, db *DB, fsys fs.FS, versionTable string) error {
	sqlDB, err := db.DB.DB()
	if err != nil {
		return fmt.Errorf("migrate %s: %w", versionTable, err)
	}
	return migrate(ctx, sqlDB, db.dialect, fsys, versionTable)
}

func dialectorFor(rawURL string, pageSize int) (Dialect, gorm.Dialector, error) {
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		if _, err := url.Parse(rawURL); err != nil {
			return "", nil, fmt.Errorf("store: malformed postgres URL")
		}
		return Postgres, postgres.New(postgres.Config{DSN: rawURL}), nil
	case strings.HasPrefix(rawURL, "sqlite://"):
		path, query, _ := strings.Cut(strings.TrimPrefix(rawURL, "sqlite://"), "?")
		if path == "" {
			return "", nil, fmt.Errorf("store: sqlite URL needs a file path")
		}
		if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
			return "", nil, fmt.Errorf("store: SQLite page size %d is not a power of two from 512 to 65536", pageSize)
		}
		// 16 KiB pages by default (set before WAL, so a new file gets them)
		// and a 32 MiB page cache per connection: a transaction that adds
		// rows to several indexes then writes a quarter as many pages as
		// with 4 KiB ones and does not spill them mid-transaction. Temporary
		// storage in memory keeps the statement journal of a multi-row
		// INSERT (its undo log should a constraint fail midway) out of a
		// temporary file: a tenth of the audit chain's append time.
		params := []string{
			"_pragma=temp_store(MEMORY)",
			fmt.Sprintf("_pragma=page_size(%d)", pageSize),
			"_pragma=busy_timeout(10000)",
			"_pragma=journal_mode(WAL)",
			"_pragma=foreign_keys(1)",
			"_pragma=synchronous(NORMAL)",
			"_pragma=cache_size(-32768)",
			"_txlock=immediate",
		}
		if query != "" {
			params = append(params, query)
		}
		return SQLite, sqlite.Open(path + "?" + strings.Join(params, "&")), nil
	default:
		return "", nil, ErrUnsupportedURL
	}
}

func migrate(ctx context.Context, sqlDB *sql.DB, dialect Dialect, fsys fs.FS, versionTable string) error {
	gd := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if versionTable != "" {
		opts = append(opts, goose.WithTableName(versionTable))
	}
	if dialect == Postgres {
		gd = goose.DialectPostgres
		// Replicas starting together take turns instead of racing.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	files, err := forDialect(fsys, dialect)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	p, err := goose.NewProvider(gd, sqlDB, files, opts...)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Dialect reports the engine.
func (d *DB) Dialect() Dialect { return d.dialect }

// Ping checks the connection; it is the store's readiness check.
func (d *DB) Ping(ctx context.Context) error {
	sqlDB, err := d.DB.DB()
	if err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close releases the connections.
func (d *DB) Close() error {
	sqlDB, err := d.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// quietLogger is gorm's logger without SQL text or bound values, which can
// hold personal data. It reports errors and slow queries by duration only.
type quietLogger struct {
	log  *slog.Logger
	slow time.Duration
}

func (l *quietLogger) LogMode(gormlogger.LogLevel) gormlogger.Interface { return l }
func (l *quietLogger) Info(context.Context, string, ...any)             {}
func (l *quietLogger) Warn(ctx context.Context, msg string, _ ...any) {
	l.log.WarnContext(ctx, "gorm warning", slog.String("kind", msg))
}
func (l *quietLogger) Error(ctx context.Context, msg string, _ ...any) {
	l.log.ErrorContext(ctx, "gorm error", slog.String("kind", msg))
}
func (l *quietLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, gorm.ErrDuplicatedKey):
		l.log.WarnContext(ctx, "query failed", slog.Duration("duration", elapsed), slog.String("error_type", fmt.Sprintf("%T", err)))
	case elapsed > l.slow:
		_, rows := fc()
		l.log.WarnContext(ctx, "slow query", slog.Duration("duration", elapsed), slog.Int64("rows", rows))
	}
}

// ForUpdate locks the rows tx selects until the transaction ends, on
// PostgreSQL; SQLite needs nothing, as its transactions start with BEGIN
// IMMEDIATE and so already serialise writers.
func (db *DB) ForUpdate(tx *gorm.DB) *gorm.DB {
	if db.dialect == Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}
