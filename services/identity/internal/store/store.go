// Package store is identity's gorm implementation of app.Store.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/services/identity/internal/app"
	"github.com/havenhealth/haven/services/identity/internal/domain"
)

// Store persists identity's records. Personal fields (names, e-mails,
// phones, TOTP secrets, IP addresses, user agents) are fieldcrypt.String
// columns: encrypted under the clinic's key by the gorm serializer, so this
// package never writes plaintext.
type Store struct {
	db      *store.DB
	crypter *fieldcrypt.Crypter
}

// New wraps an opened, migrated database and the region's field crypter.
func New(db *store.DB, crypter *fieldcrypt.Crypter) *Store { return &Store{db: db, crypter: crypter} }

// with puts the crypter where the serializer looks for it.
func (s *Store) with(ctx context.Context) context.Context {
	return fieldcrypt.WithCrypter(ctx, s.crypter)
}

var _ app.Store = (*Store)(nil)

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.ErrNotFound
	}
	return err
}

func conflict(err error) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return fmt.Errorf("already exists: %w", domain.ErrConflict)
	}
	return err
}

// write runs fn in one transaction and, once fn succeeded, records events in
// the same transaction: the events commit with the change they describe or
// not at all.
func (s *Store) write(ctx context.Context, events []audit.Event, fn func(tx *gorm.DB) error) error {
	return audit.Write(s.db.WithContext(s.with(ctx)), events, fn)
}

// RecordAudit implements app.Store: events of reads and of changes kept
// outside this database, each recorded on its own.
func (s *Store) RecordAudit(ctx context.Context, events ...audit.Event) error {
	for _, e := range events {
		if err := audit.RecordNow(ctx, s.db, e); err != nil {
			return err
		}
	}
	return nil
}

type clinicRow struct {
	ID        string `gorm:"primaryKey"`
	Slug      string
	Name      string
	Country   string
	TimeZone  string
	CreatedAt time.Time
	Status    string
	ClosesAt  *time.Time
	ClosedAt  *time.Time
}

func (clinicRow) TableName() string { return "clinics" }

func clinicToDB(c domain.Clinic) clinicRow {
	status := string(c.Status)
	if status == "" {
		status = string(domain.ClinicActive)
	}
	return clinicRow{ID: c.ID, Slug: c.Slug, Name: c.Name, Country: c.Country, TimeZone: c.TimeZone, CreatedAt: c.CreatedAt.UTC(),
		Status: status, ClosesAt: utcPtr(c.ClosesAt), ClosedAt: utcPtr(c.ClosedAt)}
}

func clinicToDomain(r clinicRow) domain.Clinic {
	return domain.Clinic{ID: r.ID, Slug: r.Slug, Name: r.Name, Country: r.Country, TimeZone: r.TimeZone, CreatedAt: r.CreatedAt.UTC(),
		Status: domain.ClinicStatus(r.Status), ClosesAt: utcPtr(r.ClosesAt), ClosedAt: utcPtr(r.ClosedAt)}
}

type settingsRow struct {
	ClinicID           string `gorm:"primaryKey"`
	IdleTimeoutMinutes int
	SessionMaxHours    int
	RequireTwoStep     bool
	PatientSelfSignup  bool
	UpdatedAt          time.Time
}

func (settingsRow) TableName() string { return "clinic_settings" }

func settingsToDB(s domain.Settings) settingsRow {
	return settingsRow{ClinicID: s.ClinicID, IdleTimeoutMinutes: int(s.IdleTimeout / time.Minute),
		SessionMaxHours: int(s.SessionMax / time.Hour), RequireTwoStep: s.RequireTwoStep, PatientSelfSignup: s.PatientSelfSignup,
		UpdatedAt: s.UpdatedAt.UTC()}
}

func settingsToDomain(r settingsRow) domain.Settings {
	return domain.Settings{ClinicID: r.ClinicID, IdleTimeout: time.Duration(r.IdleTimeoutMinutes) * time.Minute,
		SessionMax: time.Duration(r.SessionMaxHours) * time.Hour, RequireTwoStep: r.RequireTwoStep, PatientSelfSignup: r.PatientSelfSignup,
		UpdatedAt: r.UpdatedAt.UTC()}
}

// CreateClinicWithOwner implements app.Store.
func (s *Store) CreateClinicWithOwner(ctx context.Context, c domain.Clinic, owner domain.User, st domain.Settings, events ...audit.Event) error {
	err := s.write(ctx, events, func(tx *gorm.DB) error {
		cr, ur, sr := clinicToDB(c), userToDB(owner), settingsToDB(st)
		if err := tx.Create(&cr).Error; err != nil {
			return err
		}
		if err := tx.Create(&sr).Error; err != nil {
			return err
		}
		return tx.Create(&ur).Error
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return fmt.Errorf("clinic id or slug taken: %w", domain.ErrConflict)
	}
	return err
}

// Clinic implements app.Store.
func (s *Store) Clinic(ctx context.Context, id string) (domain.Clinic, error) {
	var r clinicRow
	if err := s.db.WithContext(s.with(ctx)).Where("id = ?", id).Take(&r).Error; err != nil {
		return domain.Clinic{}, notFound(err)
	}
	return clinicToDomain(r), nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// UpdateClinic implements app.Store.
func (s *Store) UpdateClinic(ctx context.Context, id string, fn func(*domain.Clinic) error, events ...audit.Event) (domain.Clinic, error) {
	var out domain.Clinic
	err := s.write(ctx, events, func(tx *gorm.DB) error {
		var r clinicRow
		if err := s.db.ForUpdate(tx).Where("id = ?", id).Take(&r).Error; err != nil {
			return notFound(err)
		}
		c := clinicToDomain(r)
		if err := fn(&c); err != nil {
			return err
		}
		nr := clinicToDB(c)
		if err := tx.Save(&nr).Error; err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// ClinicsToClose implements app.Store.
func (s *Store) ClinicsToClose(ctx context.Context, now time.Time) ([]domain.Clinic, error) {
	var rows []clinicRow
	err := s.db.WithContext(s.with(ctx)).Where("status = ? AND closes_at <= ?", string(domain.ClinicClosing), now.UTC()).
		Limit(100).Find(&rows).Error
	out := make([]domain.Clinic, len(rows))
	for i, r := range rows {
		out[i] = clinicToDomain(r)
	}
	return out, err
}

// ClosedClinics implements app.Store.
func (s *Store) ClosedClinics(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.db.WithContext(s.with(ctx)).Model(&clinicRow{}).Where("status = ?", string(domain.ClinicClosed)).Pluck("id", &ids).Error
	return ids, err
}

// UserIDs implements app.Store.
func (s *Store) UserIDs(ctx context.Context, clinicID string) ([]string, error) {
	var ids []string
	err := s.db.WithContext(s.with(ctx)).Model(&userRow{}).Where("clinic_id = ?", clinicID).Pluck("id", &ids).Error
	return ids, err
}

// Owner implements app.Store.
func (s *Store) Owner(ctx context.Context, clinicID string) (domain.User, error) {
	var r userRow
	err := s.db.WithContext(s.with(ctx)).Where("clinic_id = ? AND role = ?", clinicID, string(domain.RoleOwner)).
		Order("created_at").Take(&r).Error
	if err != nil {
		return domain.User{}, notFound(err)
	}
	return userToDomain(r), nil
}

// DeleteClinic implements app.Store.
func (s *Store) DeleteClinic(ctx context.Context, id string) error {
	return s.db.WithContext(s.with(ctx)).Transaction(func(tx *gorm.DB) error {
		users := tx.Model(&userRow{}).Select("id").Where("clinic_id = ?", id)
		for _, q := range []struct {
			table string
			where string
			arg   any
		}{
			{"recovery_codes", "user_id IN (?)", users},
			{"webauthn_credentials", "user_id IN (?)", users},
			{"account_tokens", "clinic_id = ?", id},
			{"two_step_challenges", "clinic_id = ?", id},
			{"login_attempts", "clinic_id = ?", id},
			{"clinic_settings", "clinic_id = ?", id},
			{"users", "clinic_id = ?", id},
			{"clinics", "id = ?", id},
		} {
			if err := tx.Table(q.table).Where(q.where, q.arg).Delete(nil).Error; err != nil {
				return fmt.Errorf("delete from %s: %w", q.table, err)
			}
		}
		return nil
	})
}

// Settings implements app.Store.
func (s *Store) Settings(ctx context.Context, clinicID string) (domain.Settings, error) {
	var r settingsRow
	err := s.db.WithContext(s.with(ctx)).Where("clinic_id = ?", clinicID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		// Clinics provisioned before settings existed get the defaults.
		return domain.DefaultSettings(clinicID, time.Now().UTC()), nil
	}
	if err != nil {
		return domain.Settings{}, err
	}
	return settingsToDomain(r), nil
}

// SaveSettings implements app.Store.
func (s *Store) SaveSettings(ctx context.Context, st domain.Settings, events ...audit.Event) error {
	r := settingsToDB(st)
	return s.write(ctx, events, func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&r).Error
	})
}

type userRow struct {
	ID           string `gorm:"primaryKey"`
	ClinicID     string
	Name         fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	Email        fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	EmailLookup  *string
	PasswordHash string
	Role         string
	Grants       string
	Status       string
	Phone        fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	TOTPSecret   fieldcrypt.String `gorm:"column:totp_secret;serializer:fieldcrypt"`
	TOTPLastStep int64             `gorm:"column:totp_last_step"`
	PatientID    string
	CreatedAt    time.Time
	UpdatedAt    *time.Time
}

func (userRow) TableName() string { return "users" }

func userToDB(u domain.User) userRow {
	grants, _ := json.Marshal(u.Grants)
	r := userRow{ID: u.ID, ClinicID: u.ClinicID, Name: fieldcrypt.String(u.Name), Email: fieldcrypt.String(u.Email), PasswordHash: u.PasswordHash,
		Role: string(u.Role), Grants: string(grants), Status: string(u.Status), Phone: fieldcrypt.String(u.Phone),
		TOTPSecret: fieldcrypt.String(u.TOTPSecret), TOTPLastStep: u.TOTPLastStep, PatientID: u.PatientID, CreatedAt: u.CreatedAt.UTC()}
	if u.EmailLookup != "" {
		r.EmailLookup = &u.EmailLookup
	}
	if !u.UpdatedAt.IsZero() {
		t := u.UpdatedAt.UTC()
		r.UpdatedAt = &t
	}
	return r
}

func userToDomain(r userRow) domain.User {
	u := domain.User{ID: r.ID, ClinicID: r.ClinicID, Name: string(r.Name), Email: string(r.Email), PasswordHash: r.PasswordHash,
		Role: domain.Role(r.Role), Status: domain.UserStatus(r.Status), Phone: string(r.Phone), TOTPSecret: string(r.TOTPSecret),
		TOTPLastStep: r.TOTPLastStep, PatientID: r.PatientID, CreatedAt: r.CreatedAt.UTC()}
	_ = json.Unmarshal([]byte(r.Grants), &u.Grants)
	if r.EmailLookup != nil {
		u.EmailLookup = *r.EmailLookup
	}
	if r.UpdatedAt != nil {
		u.UpdatedAt = r.UpdatedAt.UTC()
	}
	return u
}

// CreateUser implements app.Store.
func (s *Store) CreateUser(ctx context.Context, u domain.User, events ...audit.Event) error {
	r := userToDB(u)
	if err := s.write(ctx, events, func(tx *gorm.DB) error { return tx.Create(&r).Error }); err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return fmt.Errorf("an account with this e-mail or patient profile exists: %w", domain.ErrConflict)
		}
		return err
	}
	return nil
}

// User implements app.Store.
func (s *Store) User(ctx context.Context, clinicID, id string) (domain.User, error) {
	var r userRow
	if err := s.db.WithContext(s.with(ctx)).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
		return domain.User{}, notFound(err)
	}
	return userToDomain(r), nil
}

// UserByEmailLookup implements app.Store.
func (s *Store) UserByEmailLookup(ctx context.Context, clinicID, lookup string) (domain.User, error) {
	var r userRow
	if err := s.db.WithContext(s.with(ctx)).Where("clinic_id = ? AND email_lookup = ?", clinicID, lookup).Take(&r).Error; err != nil {
		return domain.User{}, notFound(err)
	}
	return userToDomain(r), nil
}

// ListUsers implements app.Store.
func (s *Store) ListUsers(ctx context.Context, clinicID, after string, limit int) ([]domain.User, error) {
	var rows []userRow
	q := s.db.WithContext(s.with(ctx)).Where("clinic_id = ?", clinicID)
	if after != "" {
		q = q.Where("id > ?", after)
	}
	if err := q.Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.User, len(rows))
	for i, r := range rows {
		out[i] = userToDomain(r)
	}
	return out, nil
}

// UpdateUser implements app.Store.
func (s *Store) UpdateUser(ctx context.Context, clinicID, id string, fn func(*domain.User, int) error, events ...audit.Event) (domain.User, error) {
	var out domain.User
	err := s.write(ctx, events, func(tx *gorm.DB) error {
		var owners []userRow
		if err := s.db.ForUpdate(tx).Where("clinic_id = ? AND role = ? AND status = ?", clinicID, "owner", string(domain.UserActive)).
			Find(&owners).Error; err != nil {
			return err
		}
		var r userRow
		if err := s.db.ForUpdate(tx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
			return notFound(err)
		}
		u := userToDomain(r)
		if err := fn(&u, len(owners)); err != nil {
			return err
		}
		nr := userToDB(u)
		if err := tx.Save(&nr).Error; err != nil {
			return conflict(err)
		}
		out = u
		return nil
	})
	return out, err
}

// loginRow is one login history entry.
type loginRow struct {
	ID         string `gorm:"primaryKey"`
	ClinicID   string
	UserID     string
	Outcome    string
	Method     string
	IP         fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	UserAgent  fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	OccurredAt time.Time
}

func (loginRow) TableName() string { return "login_attempts" }

// RecordLogin implements app.Store.
func (s *Store) RecordLogin(ctx context.Context, a domain.LoginAttempt, events ...audit.Event) error {
	r := loginRow{ID: a.ID, ClinicID: a.ClinicID, UserID: a.UserID, Outcome: string(a.Outcome), Method: a.Method,
		IP: fieldcrypt.String(a.IP), UserAgent: fieldcrypt.String(a.UserAgent), OccurredAt: a.OccurredAt.UTC()}
	return s.write(ctx, events, func(tx *gorm.DB) error { return tx.Create(&r).Error })
}

// LoginHistory implements app.Store: newest first, keyset-paginated by
// (occurred_at, id).
func (s *Store) LoginHistory(ctx context.Context, clinicID string, f app.HistoryFilter) ([]domain.LoginAttempt, error) {
	q := s.db.WithContext(s.with(ctx)).Where("clinic_id = ?", clinicID)
	if !f.From.IsZero() {
		q = q.Where("occurred_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("occurred_at < ?", f.To.UTC())
	}
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.Outcome != "" {
		q = q.Where("outcome = ?", string(f.Outcome))
	}
	if f.AfterID != "" {
		t := f.AfterTime.UTC()
		q = q.Where("occurred_at < ? OR (occurred_at = ? AND id < ?)", t, t, f.AfterID)
	}
	var rows []loginRow
	if err := q.Order("occurred_at DESC, id DESC").Limit(f.Limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.LoginAttempt, len(rows))
	for i, r := range rows {
		out[i] = domain.LoginAttempt{ID: r.ID, ClinicID: r.ClinicID, UserID: r.UserID, Outcome: domain.Outcome(r.Outcome),
			Method: r.Method, IP: string(r.IP), UserAgent: string(r.UserAgent), OccurredAt: r.OccurredAt.UTC()}
	}
	return out, nil
}

type challengeRow struct {
	ID              string `gorm:"primaryKey"`
	ClinicID        string
	UserID          string
	Methods         string
	SMSCodeHash     string `gorm:"column:sms_code_hash"`
	WebauthnSession string
	Attempts        int
	IP              fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	UserAgent       fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	CreatedAt       time.Time
	ExpiresAt       time.Time
	CompletedAt     *time.Time
}

func (challengeRow) TableName() string { return "two_step_challenges" }

func challengeToDB(c domain.Challenge) challengeRow {
	r := challengeRow{ID: c.ID, ClinicID: c.ClinicID, UserID: c.UserID, Methods: strings.Join(c.Methods, ","),
		SMSCodeHash: c.SMSCodeHash, WebauthnSession: string(c.WebAuthnSession), Attempts: c.Attempts, IP: fieldcrypt.String(c.IP),
		UserAgent: fieldcrypt.String(c.UserAgent), CreatedAt: c.CreatedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC()}
	if c.CompletedAt != nil {
		t := c.CompletedAt.UTC()
		r.CompletedAt = &t
	}
	return r
}

func challengeToDomain(r challengeRow) domain.Challenge {
	c := domain.Challenge{ID: r.ID, ClinicID: r.ClinicID, UserID: r.UserID, SMSCodeHash: r.SMSCodeHash,
		Attempts: r.Attempts, IP: string(r.IP), UserAgent: string(r.UserAgent), CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
	if r.Methods != "" {
		c.Methods = strings.Split(r.Methods, ",")
	}
	if r.WebauthnSession != "" {
		c.WebAuthnSession = []byte(r.WebauthnSession)
	}
	if r.CompletedAt != nil {
		t := r.CompletedAt.UTC()
		c.CompletedAt = &t
	}
	return c
}

// CreateChallenge implements app.Store.
func (s *Store) CreateChallenge(ctx context.Context, c domain.Challenge) error {
	r := challengeToDB(c)
	return s.db.WithContext(s.with(ctx)).Create(&r).Error
}

// Challenge implements app.Store.
func (s *Store) Challenge(ctx context.Context, clinicID, id string) (domain.Challenge, error) {
	var r challengeRow
	if err := s.db.WithContext(s.with(ctx)).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
		return domain.Challenge{}, notFound(err)
	}
	return challengeToDomain(r), nil
}

// UpdateChallenge implements app.Store.
func (s *Store) UpdateChallenge(ctx context.Context, clinicID, id string, fn func(*domain.Challenge) error, events ...audit.Event) (domain.Challenge, error) {
	var out domain.Challenge
	err := s.write(ctx, events, func(tx *gorm.DB) error {
		var r challengeRow
		if err := s.db.ForUpdate(tx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
			return notFound(err)
		}
		c := challengeToDomain(r)
		if err := fn(&c); err != nil {
			return err
		}
		nr := challengeToDB(c)
		if err := tx.Save(&nr).Error; err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

type recoveryRow struct {
	UserID string `gorm:"primaryKey"`
	Idx    int    `gorm:"primaryKey"`
	Hash   string
	UsedAt *time.Time
}

func (recoveryRow) TableName() string { return "recovery_codes" }

// ReplaceRecoveryCodes implements app.Store.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, events ...audit.Event) error {
	return s.write(ctx, events, func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", userID).Delete(&recoveryRow{}).Error; err != nil {
			return err
		}
		for i, h := range hashes {
			if err := tx.Create(&recoveryRow{UserID: userID, Idx: i, Hash: h}).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// UseRecoveryCode implements app.Store.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, idx int, at time.Time) (bool, error) {
	res := s.db.WithContext(s.with(ctx)).Model(&recoveryRow{}).Where("user_id = ? AND idx = ? AND used_at IS NULL", userID, idx).
		Update("used_at", at.UTC())
	return res.RowsAffected == 1, res.Error
}

// UnusedRecoveryCodes implements app.Store.
func (s *Store) UnusedRecoveryCodes(ctx context.Context, userID string) (map[int]string, error) {
	var rows []recoveryRow
	if err := s.db.WithContext(s.with(ctx)).Where("user_id = ? AND used_at IS NULL", userID).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[int]string, len(rows))
	for _, r := range rows {
		out[r.Idx] = r.Hash
	}
	return out, nil
}

type passkeyRow struct {
	ID        string `gorm:"primaryKey"`
	UserID    string
	Data      string
	CreatedAt time.Time
}

func (passkeyRow) TableName() string { return "webauthn_credentials" }

// AddPasskey implements app.Store.
func (s *Store) AddPasskey(ctx context.Context, userID, credentialID string, data []byte, at time.Time, events ...audit.Event) error {
	return conflict(s.write(ctx, events, func(tx *gorm.DB) error {
		return tx.Create(&passkeyRow{ID: credentialID, UserID: userID, Data: string(data), CreatedAt: at.UTC()}).Error
	}))
}

// Passkeys implements app.Store.
func (s *Store) Passkeys(ctx context.Context, userID string) ([][]byte, error) {
	var rows []passkeyRow
	if err := s.db.WithContext(s.with(ctx)).Where("user_id = ?", userID).Order("created_at").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([][]byte, len(rows))
	for i, r := range rows {
		out[i] = []byte(r.Data)
	}
	return out, nil
}

// UpdatePasskey implements app.Store.
func (s *Store) UpdatePasskey(ctx context.Context, credentialID string, data []byte) error {
	return s.db.WithContext(s.with(ctx)).Model(&passkeyRow{}).Where("id = ?", credentialID).Update("data", string(data)).Error
}

type tokenRow struct {
	TokenHash string `gorm:"primaryKey"`
	ClinicID  string
	UserID    string
	Purpose   string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

func (tokenRow) TableName() string { return "account_tokens" }

// CreateAccountToken implements app.Store.
func (s *Store) CreateAccountToken(ctx context.Context, t app.AccountToken, events ...audit.Event) error {
	return s.write(ctx, events, func(tx *gorm.DB) error {
		return tx.Create(&tokenRow{TokenHash: t.Hash, ClinicID: t.ClinicID, UserID: t.UserID, Purpose: t.Purpose,
			ExpiresAt: t.ExpiresAt.UTC(), CreatedAt: t.CreatedAt.UTC()}).Error
	})
}

// UseAccountToken implements app.Store.
func (s *Store) UseAccountToken(ctx context.Context, clinicID, hash, purpose string, now time.Time) (app.AccountToken, error) {
	var out app.AccountToken
	err := s.db.WithContext(s.with(ctx)).Transaction(func(tx *gorm.DB) error {
		var r tokenRow
		err := s.db.ForUpdate(tx).Where("token_hash = ? AND clinic_id = ? AND purpose = ?", hash, clinicID, purpose).Take(&r).Error
		if err != nil || r.UsedAt != nil || !now.Before(r.ExpiresAt) {
			return domain.ErrInvalidLink
		}
		t := now.UTC()
		if err := tx.Model(&tokenRow{}).Where("token_hash = ?", hash).Update("used_at", t).Error; err != nil {
			return err
		}
		out = app.AccountToken{Hash: r.TokenHash, ClinicID: r.ClinicID, UserID: r.UserID, Purpose: r.Purpose,
			ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC()}
		return nil
	})
	return out, err
}
