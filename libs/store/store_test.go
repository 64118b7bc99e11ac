package store_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
)

type widget struct {
	ID        string
	ClinicID  string
	Name      string
	CreatedAt time.Time
}

func TestOpen_MigratesAndRoundTripsUTC(t *testing.T) {
	db := storetest.Open(t, os.DirFS("testdata/migrations"))
	if os.Getenv(storetest.PostgresURLEnv) != "" {
		require.Equal(t, store.Postgres, db.Dialect())
	} else {
		require.Equal(t, store.SQLite, db.Dialect())
	}
	created := time.Date(2026, 3, 8, 10, 30, 0, 123000000, time.UTC)
	require.NoError(t, db.Create(&widget{ID: "w1", ClinicID: "c1", Name: "a", CreatedAt: created}).Error)

	var got widget
	require.NoError(t, db.First(&got, "id = ?", "w1").Error)
	require.True(t, created.Equal(got.CreatedAt), "got %s", got.CreatedAt)
	require.Equal(t, time.UTC, got.CreatedAt.Location())
}

func TestOpen_DuplicateKeyIsTranslated(t *testing.T) {
	db := storetest.Open(t, os.DirFS("testdata/migrations"))
	w := widget{ID: "w1", ClinicID: "c1", Name: "a", CreatedAt: time.Now()}
	require.NoError(t, db.Create(&w).Error)
	w.ID = "w2"
	err := db.Create(&w).Error
	require.True(t, errors.Is(err, gorm.ErrDuplicatedKey), "got %v", err)
}

func TestOpen_MigrationsAreIdempotent(t *testing.T) {
	url := storetest.URL(t)
	for i := 0; i < 2; i++ {
		db, err := store.Open(context.Background(), url, store.Options{Migrations: os.DirFS("testdata/migrations")})
		require.NoError(t, err)
		require.NoError(t, db.Ping(context.Background()))
		require.NoError(t, db.Close())
	}
}

func TestOpen_RejectsUnknownScheme(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql://root@localhost/x", store.Options{})
	require.ErrorIs(t, err, store.ErrUnsupportedURL)
}

func TestOpen_SQLitePageSizeCacheAndTempStore(t *testing.T) {
	// SQLite whatever the test database: these are SQLite's settings.
	db, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/p.db", store.Options{Migrations: os.DirFS("testdata/migrations")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	var pageSize, cacheSize, tempStore int
	require.NoError(t, db.Raw("PRAGMA page_size").Scan(&pageSize).Error)
	require.NoError(t, db.Raw("PRAGMA cache_size").Scan(&cacheSize).Error)
	require.NoError(t, db.Raw("PRAGMA temp_store").Scan(&tempStore).Error)
	require.Equal(t, 16384, pageSize)
	require.Equal(t, -32768, cacheSize)
	require.Equal(t, 2, tempStore, "temporary storage (and statement journals) in memory")
}

func TestOpen_SQLitePageSizeOption(t *testing.T) {
	path := t.TempDir() + "/big.db"
	db, err := store.Open(context.Background(), "sqlite://"+path, store.Options{SQLitePageSize: 64 << 10, Migrations: os.DirFS("testdata/migrations")})
	require.NoError(t, err)
	var pageSize int
	require.NoError(t, db.Raw("PRAGMA page_size").Scan(&pageSize).Error)
	require.Equal(t, 65536, pageSize)
	require.NoError(t, db.Close())

	// A file keeps the page size it was created with.
	db, err = store.Open(context.Background(), "sqlite://"+path, store.Options{})
	require.NoError(t, err)
	require.NoError(t, db.Raw("PRAGMA page_size").Scan(&pageSize).Error)
	require.Equal(t, 65536, pageSize)
	require.NoError(t, db.Close())

	for _, bad := range []int{256, 1000, 1 << 17, -4096} {
		_, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/bad.db", store.Options{SQLitePageSize: bad})
		require.ErrorContains(t, err, "page size", "%d", bad)
	}
}
