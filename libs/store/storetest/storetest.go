// Package storetest gives each test a fresh, migrated database: a new
// PostgreSQL database when HAVEN_TEST_POSTGRES_URL is set, otherwise a new
// SQLite file in the test's temp directory. Nothing depends on leftovers.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/havenhealth/haven/libs/store"
)

// PostgresURLEnv names the variable pointing tests at a real PostgreSQL
// server (a URL to an administrative database such as postgres).
const PostgresURLEnv = "HAVEN_TEST_POSTGRES_URL"

// URL returns a database URL for a fresh, empty database and registers its
// removal with t.Cleanup.
func URL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresURLEnv)
	if admin == "" {
		return "sqlite://" + filepath.Join(t.TempDir(), "test.db")
	}
	name := "haven_test_" + randomSuffix(t)
	ctx := context.Background()
	adminDB, err := store.Open(ctx, admin, store.Options{})
	if err != nil {
		t.Fatalf("storetest: connect to %s: %v", PostgresURLEnv, err)
	}
	if err := adminDB.Exec("CREATE DATABASE " + name).Error; err != nil {
		_ = adminDB.Close()
		t.Fatalf("storetest: create database: %v", err)
	}
	t.Cleanup(func() {
		defer func() { _ = adminDB.Close() }()
		if err := adminDB.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error; err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("storetest: parse %s: %v", PostgresURLEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open returns a fresh database migrated with migrations, closed at cleanup.
func Open(t testing.TB, migrations fs.FS) *store.DB {
	t.Helper()
	return OpenWith(t, store.Options{Migrations: migrations})
}

// OpenWith is Open with a service's own store options.
func OpenWith(t testing.TB, o store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), URL(t), o)
	if err != nil {
		t.Fatalf("storetest: open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func randomSuffix(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return hex.EncodeToString(b)
}
