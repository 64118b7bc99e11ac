// Package store is messaging's gorm implementation of app.Store, on
// PostgreSQL or SQLite. A message's recipient and rendered content are
// fieldcrypt.String columns sealed under the clinic's key by the gorm
// serializer, so this package never writes them in plaintext; the content
// is dropped once the message is final.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/services/messaging/internal/app"
	"github.com/havenhealth/haven/services/messaging/internal/domain"
)

// Store persists messaging's records.
type Store struct {
	db      *store.DB
	crypter *fieldcrypt.Crypter
}

// New wraps an opened, migrated database and the region's field crypter.
func New(db *store.DB, crypter *fieldcrypt.Crypter) *Store { return &Store{db: db, crypter: crypter} }

var _ app.Store = (*Store)(nil)

// with puts the crypter where the serializer looks for it.
func (s *Store) with(ctx context.Context) *gorm.DB {
	return s.db.WithContext(fieldcrypt.WithCrypter(ctx, s.crypter))
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.ErrNotFound
	}
	return err
}

// RecordAudit implements app.Store.
func (s *Store) RecordAudit(ctx context.Context, evs ...audit.Event) error {
	return audit.Write(s.with(ctx), evs, func(*gorm.DB) error { return nil })
}

// messageRow is a row of messages without its sealed columns.
type messageRow struct {
	ID             string `gorm:"primaryKey"`
	ClinicID       string
	PatientID      string
	UserID         string
	Channel        string
	Template       string
	Trigger        string `gorm:"column:triggered_by"`
	IdempotencyKey string
	Status         string
	ProviderID     string
	ErrorCode      string
	CallbackURL    string `gorm:"column:callback_url"`
	Attempts       int
	NextAttemptAt  time.Time
	ClaimedUntil   *time.Time
	CreatedAt      time.Time
	SentAt         *time.Time
	DeliveredAt    *time.Time
	FailedAt       *time.Time
	UpdatedAt      time.Time
}

func (messageRow) TableName() string { return "messages" }

// sealedRow is the sealed columns of a row of messages.
type sealedRow struct {
	ID        string `gorm:"primaryKey"`
	ClinicID  string
	Recipient fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	Content   fieldcrypt.String `gorm:"serializer:fieldcrypt"`
}

func (sealedRow) TableName() string { return "messages" }

// updatable are the columns UpdateMessage and ClaimMessage save.
var updatable = []string{"status", "provider_id", "error_code", "attempts", "next_attempt_at", "claimed_until",
	"sent_at", "delivered_at", "failed_at", "updated_at"}

type eventRow struct {
	ID        string `gorm:"primaryKey"`
	MessageID string
	ClinicID  string
	Status    string
	Detail    string
	Source    string
	At        time.Time
}

func (eventRow) TableName() string { return "message_events" }

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func toRow(m domain.Message) messageRow {
	return messageRow{
		ID: m.ID, ClinicID: m.ClinicID, PatientID: m.PatientID, UserID: m.UserID, Channel: string(m.Channel),
		Template: m.Template, Trigger: string(m.Trigger), IdempotencyKey: m.IdempotencyKey, Status: string(m.Status),
		ProviderID: m.ProviderID, ErrorCode: m.ErrorCode, CallbackURL: m.CallbackURL, Attempts: m.Attempts,
		NextAttemptAt: m.NextAttemptAt.UTC(), ClaimedUntil: utc(m.ClaimedUntil), CreatedAt: m.CreatedAt.UTC(),
		SentAt: utc(m.SentAt), DeliveredAt: utc(m.DeliveredAt), FailedAt: utc(m.FailedAt), UpdatedAt: m.UpdatedAt.UTC(),
	}
}

func (r messageRow) toDomain() domain.Message {
	return domain.Message{
		ID: r.ID, ClinicID: r.ClinicID, PatientID: r.PatientID, UserID: r.UserID, Channel: domain.Channel(r.Channel),
		Template: r.Template, Trigger: domain.Trigger(r.Trigger), IdempotencyKey: r.IdempotencyKey, Status: domain.Status(r.Status),
		ProviderID: r.ProviderID, ErrorCode: r.ErrorCode, CallbackURL: r.CallbackURL, Attempts: r.Attempts,
		NextAttemptAt: r.NextAttemptAt.UTC(), ClaimedUntil: utc(r.ClaimedUntil), CreatedAt: r.CreatedAt.UTC(),
		SentAt: utc(r.SentAt), DeliveredAt: utc(r.DeliveredAt), FailedAt: utc(r.FailedAt), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func eventToRow(e domain.Event) eventRow {
	return eventRow{ID: uuid.Must(uuid.NewV7()).String(), MessageID: e.MessageID, ClinicID: e.ClinicID, Status: string(e.Status),
		Detail: e.Detail, Source: string(e.Source), At: e.At.UTC()}
}

func (r eventRow) toDomain() domain.Event {
	return domain.Event{ID: r.ID, MessageID: r.MessageID, ClinicID: r.ClinicID, Status: domain.Status(r.Status),
		Detail: r.Detail, Source: domain.Source(r.Source), At: r.At.UTC()}
}

func insertEvents(tx *gorm.DB, evs []domain.Event) error {
	if len(evs) == 0 {
		return nil
	}
	rows := make([]eventRow, len(evs))
	for i, e := range evs {
		rows[i] = eventToRow(e)
	}
	return tx.Create(&rows).Error
}

// CreateMessage implements app.Store.
func (s *Store) CreateMessage(ctx context.Context, m domain.Message, recipient string, content *domain.Content) error {
	row := toRow(m)
	sealed := sealedRow{ID: m.ID, ClinicID: m.ClinicID, Recipient: fieldcrypt.String(recipient)}
	if content != nil {
		b, err := json.Marshal(content)
		if err != nil {
			return fmt.Errorf("encode message %s content: %w", m.ID, err)
		}
		sealed.Content = fieldcrypt.String(b)
	}
	err := s.with(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if sealed.Recipient != "" || sealed.Content != "" {
			if err := tx.Model(&sealed).Select("recipient", "content").Updates(&sealed).Error; err != nil {
				return err
			}
		}
		return insertEvents(tx, m.History)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return domain.ErrDuplicate
	}
	if err != nil {
		return fmt.Errorf("create message %s: %w", m.ID, err)
	}
	return nil
}

// history loads the events of the given messages, oldest first.
func history(tx *gorm.DB, ids []string) (map[string][]domain.Event, error) {
	out := map[string][]domain.Event{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []eventRow
	if err := tx.Where("message_id IN ?", ids).Order("at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.MessageID] = append(out[r.MessageID], r.toDomain())
	}
	return out, nil
}

// one reads a message with its history; lock holds the row until tx ends
// (PostgreSQL; SQLite's write transactions hold the database already).
func (s *Store) one(tx *gorm.DB, lock bool, clinicID, where string, arg any) (domain.Message, error) {
	var r messageRow
	q := tx
	if lock {
		q = s.db.ForUpdate(tx)
	}
	if err := q.Where("clinic_id = ? AND "+where, clinicID, arg).Take(&r).Error; err != nil {
		return domain.Message{}, notFound(err)
	}
	h, err := history(tx, []string{r.ID})
	if err != nil {
		return domain.Message{}, err
	}
	m := r.toDomain()
	m.History = h[r.ID]
	return m, nil
}

// MessageByKey implements app.Store.
func (s *Store) MessageByKey(ctx context.Context, clinicID, key string) (domain.Message, error) {
	return s.one(s.db.WithContext(ctx), false, clinicID, "idempotency_key = ?", key)
}

// Message implements app.Store.
func (s *Store) Message(ctx context.Context, clinicID, id string) (domain.Message, error) {
	return s.one(s.db.WithContext(ctx), false, clinicID, "id = ?", id)
}

// Messages implements app.Store. Ids are UUIDv7, so id order is time order.
func (s *Store) Messages(ctx context.Context, clinicID string, q app.MessageQuery) ([]domain.Message, error) {
	db := s.db.WithContext(ctx)
	tx := db.Where("clinic_id = ?", clinicID)
	if q.PatientID != "" {
		tx = tx.Where("patient_id = ?", q.PatientID)
	}
	if q.BeforeID != "" {
		tx = tx.Where("id < ?", q.BeforeID)
	}
	var rows []messageRow
	if err := tx.Order("id DESC").Limit(q.Limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	h, err := history(db, ids)
	if err != nil {
		return nil, fmt.Errorf("list message history: %w", err)
	}
	out := make([]domain.Message, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
		out[i].History = h[r.ID]
	}
	return out, nil
}

// UpdateMessage implements app.Store.
func (s *Store) UpdateMessage(ctx context.Context, clinicID, id string, fn func(*domain.Message) ([]domain.Event, error)) (domain.Message, error) {
	var out domain.Message
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		m, err := s.one(tx, true, clinicID, "id = ?", id)
		if err != nil {
			return err
		}
		evs, err := fn(&m)
		if err != nil {
			return err
		}
		row := toRow(m)
		if err := tx.Model(&row).Select(updatable).Updates(&row).Error; err != nil {
			return err
		}
		if m.Status.Final() {
			// Sent or not, the rendered message is no longer needed.
			if err := tx.Model(&messageRow{}).Where("id = ?", id).Update("content", "").Error; err != nil {
				return err
			}
		}
		if err := insertEvents(tx, evs); err != nil {
			return err
		}
		out = m
		return nil
	})
	if err != nil {
		return domain.Message{}, fmt.Errorf("update message %s: %w", id, err)
	}
	return out, nil
}

// ClaimMessage implements app.Store.
func (s *Store) ClaimMessage(ctx context.Context, clinicID, id string, now, until time.Time) (domain.Outgoing, bool, error) {
	var (
		out     domain.Outgoing
		claimed bool
	)
	err := s.with(ctx).Transaction(func(tx *gorm.DB) error {
		var r messageRow
		if err := s.db.ForUpdate(tx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
			return notFound(err)
		}
		m := r.toDomain()
		if !m.Claim(now, until) {
			return nil
		}
		row := toRow(m)
		if err := tx.Model(&row).Select(updatable).Updates(&row).Error; err != nil {
			return err
		}
		var sr sealedRow
		if err := tx.Where("clinic_id = ? AND id = ?", clinicID, id).Take(&sr).Error; err != nil {
			return err
		}
		out = domain.Outgoing{Message: m, Recipient: string(sr.Recipient)}
		if sr.Content != "" {
			if err := json.Unmarshal([]byte(sr.Content), &out.Content); err != nil {
				return fmt.Errorf("decode content: %w", err)
			}
		}
		claimed = true
		return nil
	})
	if err != nil {
		return domain.Outgoing{}, false, fmt.Errorf("claim message %s: %w", id, err)
	}
	return out, claimed, nil
}

func refs(tx *gorm.DB, limit int) ([]app.MessageRef, error) {
	var rows []messageRow
	if err := tx.Select("clinic_id", "id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]app.MessageRef, len(rows))
	for i, r := range rows {
		out[i] = app.MessageRef{ClinicID: r.ClinicID, ID: r.ID}
	}
	return out, nil
}

// Due implements app.Store.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]app.MessageRef, error) {
	return refs(s.db.WithContext(ctx).Where("status = ? AND next_attempt_at <= ?", string(domain.Queued), now.UTC()).
		Order("next_attempt_at, id"), limit)
}

// Expired implements app.Store.
func (s *Store) Expired(ctx context.Context, now time.Time, limit int) ([]app.MessageRef, error) {
	return refs(s.db.WithContext(ctx).Where("status = ? AND claimed_until < ?", string(domain.Sending), now.UTC()).
		Order("claimed_until, id"), limit)
}

type optOutRow struct {
	ClinicID  string `gorm:"primaryKey"`
	PatientID string `gorm:"primaryKey"`
	Channel   string `gorm:"primaryKey"`
	Source    string
	CreatedBy string
	CreatedAt time.Time
}

func (optOutRow) TableName() string { return "opt_outs" }

func (r optOutRow) toDomain() domain.OptOut {
	return domain.OptOut{ClinicID: r.ClinicID, PatientID: r.PatientID, Channel: domain.Channel(r.Channel),
		Source: domain.OptOutSource(r.Source), CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}
}

// OptedOut implements app.Store.
func (s *Store) OptedOut(ctx context.Context, clinicID, patientID string, ch domain.Channel) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&optOutRow{}).
		Where("clinic_id = ? AND patient_id = ? AND channel = ?", clinicID, patientID, string(ch)).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("opt-out lookup: %w", err)
	}
	return n > 0, nil
}

// OptOuts implements app.Store.
func (s *Store) OptOuts(ctx context.Context, clinicID, patientID string) ([]domain.OptOut, error) {
	var rows []optOutRow
	if err := s.db.WithContext(ctx).Where("clinic_id = ? AND patient_id = ?", clinicID, patientID).Order("channel").
		Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list opt-outs: %w", err)
	}
	out := make([]domain.OptOut, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// SetOptOut implements app.Store.
func (s *Store) SetOptOut(ctx context.Context, o domain.OptOut, evs ...audit.Event) (domain.OptOut, error) {
	var out optOutRow
	err := audit.Write(s.with(ctx), evs, func(tx *gorm.DB) error {
		row := optOutRow{ClinicID: o.ClinicID, PatientID: o.PatientID, Channel: string(o.Channel), Source: string(o.Source),
			CreatedBy: o.CreatedBy, CreatedAt: o.CreatedAt.UTC()}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return err
		}
		return tx.Where("clinic_id = ? AND patient_id = ? AND channel = ?", o.ClinicID, o.PatientID, string(o.Channel)).Take(&out).Error
	})
	if err != nil {
		return domain.OptOut{}, fmt.Errorf("set opt-out: %w", err)
	}
	return out.toDomain(), nil
}

// DeleteOptOut implements app.Store.
func (s *Store) DeleteOptOut(ctx context.Context, clinicID, patientID string, ch domain.Channel, evs ...audit.Event) error {
	err := audit.Write(s.with(ctx), evs, func(tx *gorm.DB) error {
		return tx.Where("clinic_id = ? AND patient_id = ? AND channel = ?", clinicID, patientID, string(ch)).Delete(&optOutRow{}).Error
	})
	if err != nil {
		return fmt.Errorf("delete opt-out: %w", err)
	}
	return nil
}

type templateRow struct {
	ID        string `gorm:"primaryKey"`
	ClinicID  string
	Channel   string
	Name      string
	Subject   string
	Body      string
	UpdatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (templateRow) TableName() string { return "message_templates" }

func (r templateRow) toDomain() domain.Template {
	return domain.Template{ID: r.ID, ClinicID: r.ClinicID, Channel: domain.Channel(r.Channel), Name: r.Name, Subject: r.Subject,
		Body: r.Body, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt.UTC()}
}

// Templates implements app.Store.
func (s *Store) Templates(ctx context.Context, clinicID string) ([]domain.Template, error) {
	var rows []templateRow
	if err := s.db.WithContext(ctx).Where("clinic_id = ?", clinicID).Order("name, channel").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	out := make([]domain.Template, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// Template implements app.Store.
func (s *Store) Template(ctx context.Context, clinicID string, ch domain.Channel, name string) (domain.Template, error) {
	var r templateRow
	if err := s.db.WithContext(ctx).Where("clinic_id = ? AND channel = ? AND name = ?", clinicID, string(ch), name).
		Take(&r).Error; err != nil {
		return domain.Template{}, notFound(err)
	}
	return r.toDomain(), nil
}

// SaveTemplate implements app.Store: one row per clinic, channel and name.
func (s *Store) SaveTemplate(ctx context.Context, t domain.Template, evs ...audit.Event) (domain.Template, error) {
	var out templateRow
	err := audit.Write(s.with(ctx), evs, func(tx *gorm.DB) error {
		row := templateRow{ID: t.ID, ClinicID: t.ClinicID, Channel: string(t.Channel), Name: t.Name, Subject: t.Subject, Body: t.Body,
			UpdatedBy: t.UpdatedBy, CreatedAt: t.UpdatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
		if err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "clinic_id"}, {Name: "channel"}, {Name: "name"}},
			DoUpdates: clause.AssignmentColumns([]string{"subject", "body", "updated_by", "updated_at"}),
		}).Create(&row).Error; err != nil {
			return err
		}
		return tx.Where("clinic_id = ? AND channel = ? AND name = ?", t.ClinicID, string(t.Channel), t.Name).Take(&out).Error
	})
	if err != nil {
		return domain.Template{}, fmt.Errorf("save template: %w", err)
	}
	return out.toDomain(), nil
}
