package fieldcrypt

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/havenhealth/haven/libs/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// VersionTable is the goose version table of fieldcrypt's own migrations,
// kept apart from the service's goose_db_version so both sets evolve
// independently in one database.
const VersionTable = "fieldcrypt_db_version"

// Migrate creates or upgrades fieldcrypt's tables (fieldcrypt_data_keys) in
// the service's database. Call it at start-up after store.Open; on
// PostgreSQL replicas starting together take turns.
func Migrate(ctx context.Context, db *store.DB) error {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("fieldcrypt migrate: %w", err)
	}
	if err := store.MigrateSet(ctx, db, fsys, VersionTable); err != nil {
		return fmt.Errorf("fieldcrypt migrate: %w", err)
	}
	return nil
}

// Key purposes in fieldcrypt_data_keys.purpose.
const (
	purposeData   = "data"
	purposeLookup = "lookup"
)

// keyRow is a row of fieldcrypt_data_keys.
type keyRow struct {
	ID        string
	ClinicID  string
	Purpose   string
	Wrapped   string
	CreatedAt time.Time
	RetiredAt *time.Time
}

// keyStore reads and writes wrapped data keys. It never sees a plaintext key.
type keyStore struct {
	db *store.DB
}

const keyColumns = "id, clinic_id, purpose, wrapped, created_at, retired_at"

// active returns the clinic's active key for purpose. Should two ever be
// active (the unique index makes it impossible), the oldest wins everywhere.
func (s *keyStore) active(ctx context.Context, clinicID, purpose string) (keyRow, bool, error) {
	var rows []keyRow
	err := s.db.WithContext(ctx).Raw(
		"SELECT "+keyColumns+" FROM fieldcrypt_data_keys"+
			" WHERE clinic_id = ? AND purpose = ? AND retired_at IS NULL"+
			" ORDER BY created_at, id LIMIT 1", clinicID, purpose).Scan(&rows).Error
	if err != nil {
		return keyRow{}, false, fmt.Errorf("read active %s key of clinic %s: %w", purpose, clinicID, err)
	}
	if len(rows) == 0 {
		return keyRow{}, false, nil
	}
	return rows[0], true, nil
}

// byID returns a key by id.
func (s *keyStore) byID(ctx context.Context, id string) (keyRow, bool, error) {
	var rows []keyRow
	err := s.db.WithContext(ctx).Raw(
		"SELECT "+keyColumns+" FROM fieldcrypt_data_keys WHERE id = ?", id).Scan(&rows).Error
	if err != nil {
		return keyRow{}, false, fmt.Errorf("read data key %s: %w", id, err)
	}
	if len(rows) == 0 {
		return keyRow{}, false, nil
	}
	return rows[0], true, nil
}

// insertActive adds r as the active key of its clinic and purpose unless one
// exists already; the caller reads back the winner with active.
func (s *keyStore) insertActive(ctx context.Context, r keyRow) error {
	err := s.db.WithContext(ctx).Exec(
		"INSERT INTO fieldcrypt_data_keys (id, clinic_id, purpose, wrapped, created_at)"+
			" VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
		r.ID, r.ClinicID, r.Purpose, r.Wrapped, r.CreatedAt).Error
	if err != nil {
		return fmt.Errorf("store %s key %s of clinic %s: %w", r.Purpose, r.ID, r.ClinicID, err)
	}
	return nil
}

// clinicKeys lists every key of a clinic, active and retired.
func (s *keyStore) clinicKeys(ctx context.Context, clinicID string) ([]keyRow, error) {
	var rows []keyRow
	err := s.db.WithContext(ctx).Raw(
		"SELECT "+keyColumns+" FROM fieldcrypt_data_keys WHERE clinic_id = ? ORDER BY created_at, id",
		clinicID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list keys of clinic %s: %w", clinicID, err)
	}
	return rows, nil
}

// replaceWrapped swaps a key's wrapped form if it is still old; it reports
// whether it did.
func (s *keyStore) replaceWrapped(ctx context.Context, id, old, wrapped string) (bool, error) {
	res := s.db.WithContext(ctx).Exec(
		"UPDATE fieldcrypt_data_keys SET wrapped = ? WHERE id = ? AND wrapped = ?", wrapped, id, old)
	if res.Error != nil {
		return false, fmt.Errorf("store rewrapped key %s: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}
