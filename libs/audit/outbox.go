package audit

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// VersionTable is the goose version table of this package's own migrations,
// kept apart from the service's goose_db_version so both sets evolve
// independently in one database.
const VersionTable = "audit_db_version"

// Migrate creates or upgrades the outbox table (audit_outbox) in the
// service's database. Call it at start-up after store.Open; on PostgreSQL
// replicas starting together take turns.
func Migrate(ctx context.Context, db *store.DB) error {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("audit migrate: %w", err)
	}
	if err := store.MigrateSet(ctx, db, fsys, VersionTable); err != nil {
		return fmt.Errorf("audit migrate: %w", err)
	}
	return nil
}

// outboxTable is the outbox's table name.
const outboxTable = "audit_outbox"

// outboxRow is a row of audit_outbox.
type outboxRow struct {
	ID        string `gorm:"primaryKey"`
	ClinicID  string
	Payload   string
	CreatedAt time.Time
}

// TableName names the outbox table for gorm.
func (outboxRow) TableName() string { return outboxTable }

// Record validates e and adds it to the outbox inside the caller's
// transaction tx, so the event commits with the change it describes or not
// at all. It fails with [ErrInvalidEvent] for an event that is not valid.
func Record(tx *gorm.DB, e Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	row := outboxRow{
		ID:        e.ID,
		ClinicID:  e.ClinicID,
		Payload:   string(e.Canonical()),
		CreatedAt: time.Now().UTC(),
	}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("audit: record event %s: %w", e.ID, err)
	}
	return nil
}

// RecordNow adds e to the outbox on its own. It is for reads, which change
// nothing to commit with: record the event before answering, and answer
// with an error if recording fails.
func RecordNow(ctx context.Context, db *store.DB, e Event) error {
	return Record(db.WithContext(ctx), e)
}

// Write runs change in one transaction on db and, once it succeeded, records
// events in the same transaction: the events commit with the change or not
// at all. It is how a service's store makes an audited change.
func Write(db *gorm.DB, events []Event, change func(tx *gorm.DB) error) error {
	return db.Transaction(func(tx *gorm.DB) error {
		if err := change(tx); err != nil {
			return err
		}
		for _, e := range events {
			if err := Record(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}
