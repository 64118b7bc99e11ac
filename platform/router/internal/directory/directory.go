// Package directory is the global clinic directory: id, slug, region,
// status and creation time — nothing personal — and the idempotency
// records of sign-up.
package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/libs/store"
)

// Status is a clinic's lifecycle state in the directory.
type Status string

// Directory statuses.
const (
	// StatusProvisioning reserves a slug while the region creates the clinic.
	StatusProvisioning Status = "provisioning"
	StatusActive       Status = "active"
	StatusClosed       Status = "closed"
)

// Errors the directory returns.
var (
	ErrNotFound  = errors.New("directory: no such clinic")
	ErrSlugTaken = errors.New("directory: slug taken")
	ErrKeyTaken  = errors.New("directory: idempotency key in use")
)

// Entry is one clinic's directory record.
type Entry struct {
	ID        string
	Slug      string
	Region    residency.Region
	Status    Status
	CreatedAt time.Time
}

// Store is the gorm-backed directory.
type Store struct{ db *store.DB }

// New wraps an opened, migrated directory database.
func New(db *store.DB) *Store { return &Store{db: db} }

type clinicRow struct {
	ID        string `gorm:"primaryKey"`
	Slug      string
	Region    string
	Status    string
	CreatedAt time.Time
}

func (clinicRow) TableName() string { return "clinics" }

func toDomain(r clinicRow) Entry {
	return Entry{ID: r.ID, Slug: r.Slug, Region: residency.Region(r.Region), Status: Status(r.Status), CreatedAt: r.CreatedAt.UTC()}
}

// Reserve inserts e (normally in StatusProvisioning); a taken slug is ErrSlugTaken.
func (s *Store) Reserve(ctx context.Context, e Entry) error {
	r := clinicRow{ID: e.ID, Slug: e.Slug, Region: string(e.Region), Status: string(e.Status), CreatedAt: e.CreatedAt.UTC()}
	err := s.db.WithContext(ctx).Create(&r).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrSlugTaken
	}
	if err != nil {
		return fmt.Errorf("reserve slug: %w", err)
	}
	return nil
}

// SetStatus moves a clinic to status.
func (s *Store) SetStatus(ctx context.Context, id string, status Status) error {
	res := s.db.WithContext(ctx).Model(&clinicRow{}).Where("id = ?", id).Update("status", string(status))
	if res.Error != nil {
		return fmt.Errorf("set clinic %s status: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// Delete removes a clinic's entry (sign-up compensation).
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := s.db.WithContext(ctx).Where("id = ?", id).Delete(&clinicRow{}).Error; err != nil {
		return fmt.Errorf("delete clinic %s: %w", id, err)
	}
	return nil
}

// BySlug returns the entry for slug, whatever its status.
func (s *Store) BySlug(ctx context.Context, slug string) (Entry, error) {
	var r clinicRow
	err := s.db.WithContext(ctx).Where("slug = ?", slug).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("look up slug: %w", err)
	}
	return toDomain(r), nil
}

// ByID returns the entry with id.
func (s *Store) ByID(ctx context.Context, id string) (Entry, error) {
	var r clinicRow
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("look up clinic: %w", err)
	}
	return toDomain(r), nil
}

// StaleProvisioning lists entries stuck in StatusProvisioning since before.
func (s *Store) StaleProvisioning(ctx context.Context, before time.Time) ([]Entry, error) {
	var rows []clinicRow
	err := s.db.WithContext(ctx).Where("status = ? AND created_at < ?", string(StatusProvisioning), before.UTC()).
		Order("created_at").Limit(100).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list stale provisioning: %w", err)
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = toDomain(r)
	}
	return out, nil
}

// Ping is the directory's readiness check.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Remembered is a stored answer to an idempotent request.
type Remembered struct {
	Fingerprint string
	StatusCode  int // 0 while the first request is still in flight
	Body        string
	CreatedAt   time.Time
}

type idemRow struct {
	KeyHash     string `gorm:"primaryKey"`
	Fingerprint string
	StatusCode  int
	Body        string
	CreatedAt   time.Time
}

func (idemRow) TableName() string { return "idempotency_keys" }

// ClaimKey records that a request with keyHash is in flight. If the key is
// known it returns the remembered record and ErrKeyTaken.
func (s *Store) ClaimKey(ctx context.Context, keyHash, fingerprint string, now time.Time) (Remembered, error) {
	r := idemRow{KeyHash: keyHash, Fingerprint: fingerprint, CreatedAt: now.UTC()}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&r)
	if res.Error != nil {
		return Remembered{}, fmt.Errorf("claim idempotency key: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return Remembered{}, nil
	}
	var existing idemRow
	if err := s.db.WithContext(ctx).Where("key_hash = ?", keyHash).Take(&existing).Error; err != nil {
		return Remembered{}, fmt.Errorf("read idempotency key: %w", err)
	}
	return Remembered{Fingerprint: existing.Fingerprint, StatusCode: existing.StatusCode, Body: existing.Body,
		CreatedAt: existing.CreatedAt.UTC()}, ErrKeyTaken
}

// RememberAnswer stores the final answer for a claimed key.
func (s *Store) RememberAnswer(ctx context.Context, keyHash string, status int, body string) error {
	err := s.db.WithContext(ctx).Model(&idemRow{}).Where("key_hash = ?", keyHash).
		Updates(map[string]any{"status_code": status, "body": body}).Error
	if err != nil {
		return fmt.Errorf("remember idempotent answer: %w", err)
	}
	return nil
}

// ReleaseKey forgets a claim whose request failed transiently, so a retry
// can run again.
func (s *Store) ReleaseKey(ctx context.Context, keyHash string) error {
	return s.db.WithContext(ctx).Where("key_hash = ? AND status_code = 0", keyHash).Delete(&idemRow{}).Error
}

// ExpireKeys deletes idempotency records created before cutoff.
func (s *Store) ExpireKeys(ctx context.Context, cutoff time.Time) error {
	return s.db.WithContext(ctx).Where("created_at < ?", cutoff.UTC()).Delete(&idemRow{}).Error
}
