package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/services/charting/internal/domain"
)

type formTemplateRow struct {
	ID        string `gorm:"primaryKey"`
	Version   int    `gorm:"primaryKey"`
	ClinicID  string
	Name      string
	Questions string
	CreatedBy string
	CreatedAt time.Time
}

func (formTemplateRow) TableName() string { return "form_templates" }

func (r formTemplateRow) toDomain() (domain.FormTemplate, error) {
	t := domain.FormTemplate{ID: r.ID, ClinicID: r.ClinicID, Name: r.Name, Version: r.Version, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}
	if err := json.Unmarshal([]byte(r.Questions), &t.Questions); err != nil {
		return domain.FormTemplate{}, fmt.Errorf("form template %s v%d: questions: %w", r.ID, r.Version, err)
	}
	return t, nil
}

// CreateFormTemplate implements app.Store: stores a template version.
func (s *Store) CreateFormTemplate(ctx context.Context, t domain.FormTemplate, evs ...audit.Event) error {
	q, err := json.Marshal(t.Questions)
	if err != nil {
		return err
	}
	row := formTemplateRow{ID: t.ID, Version: t.Version, ClinicID: t.ClinicID, Name: t.Name, Questions: string(q),
		CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt.UTC()}
	return s.write(ctx, evs, func(tx *gorm.DB) error { return conflict(tx.Create(&row).Error) })
}

// FormTemplate implements app.Store: one version, or the latest when
// version is 0.
func (s *Store) FormTemplate(ctx context.Context, clinicID, id string, version int) (domain.FormTemplate, error) {
	q := s.with(ctx).Where("clinic_id = ? AND id = ?", clinicID, id)
	if version > 0 {
		q = q.Where("version = ?", version)
	}
	var rows []formTemplateRow
	if err := q.Order("version DESC").Limit(1).Find(&rows).Error; err != nil {
		return domain.FormTemplate{}, err
	}
	if len(rows) == 0 {
		return domain.FormTemplate{}, domain.ErrNotFound
	}
	return rows[0].toDomain()
}

// FormTemplates implements app.Store: the latest version of each template.
func (s *Store) FormTemplates(ctx context.Context, clinicID string) ([]domain.FormTemplate, error) {
	var rows []formTemplateRow
	if err := s.with(ctx).Where("clinic_id = ? AND version = (SELECT MAX(version) FROM form_templates t2 WHERE t2.id = form_templates.id)", clinicID).
		Order("name, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.FormTemplate, 0, len(rows))
	for _, r := range rows {
		t, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

type formRequestRow struct {
	ID              string `gorm:"primaryKey"`
	ClinicID        string
	PatientID       string
	TemplateID      string
	TemplateVersion int
	TokenHash       string
	SentBy          string
	CreatedAt       time.Time
	ExpiresAt       time.Time
	CompletedAt     *time.Time
	Answers         fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	SignedName      fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	SignedIP        fieldcrypt.String `gorm:"serializer:fieldcrypt;column:signed_ip"`
	ContentSHA256   string            `gorm:"column:content_sha256"`
}

func (formRequestRow) TableName() string { return "form_requests" }

func formRequestToDB(f domain.FormRequest) (formRequestRow, error) {
	answers := ""
	if f.Answers != nil {
		b, err := json.Marshal(f.Answers)
		if err != nil {
			return formRequestRow{}, err
		}
		answers = string(b)
	}
	return formRequestRow{
		ID: f.ID, ClinicID: f.ClinicID, PatientID: f.PatientID, TemplateID: f.TemplateID, TemplateVersion: f.TemplateVersion,
		TokenHash: f.TokenHash, SentBy: f.SentBy, CreatedAt: f.CreatedAt.UTC(), ExpiresAt: f.ExpiresAt.UTC(), CompletedAt: f.CompletedAt,
		Answers: fieldcrypt.String(answers), SignedName: fieldcrypt.String(f.SignedName), SignedIP: fieldcrypt.String(f.SignedIP),
		ContentSHA256: f.ContentSHA256,
	}, nil
}

func (r formRequestRow) toDomain() (domain.FormRequest, error) {
	f := domain.FormRequest{
		ID: r.ID, ClinicID: r.ClinicID, PatientID: r.PatientID, TemplateID: r.TemplateID, TemplateVersion: r.TemplateVersion,
		TokenHash: r.TokenHash, SentBy: r.SentBy, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		SignedName: string(r.SignedName), SignedIP: string(r.SignedIP), ContentSHA256: r.ContentSHA256,
	}
	if r.CompletedAt != nil {
		at := r.CompletedAt.UTC()
		f.CompletedAt = &at
	}
	if r.Answers != "" {
		if err := json.Unmarshal([]byte(r.Answers), &f.Answers); err != nil {
			return domain.FormRequest{}, fmt.Errorf("form %s: answers: %w", r.ID, err)
		}
	}
	return f, nil
}

// CreateFormRequest implements app.Store.
func (s *Store) CreateFormRequest(ctx context.Context, f domain.FormRequest, evs ...audit.Event) error {
	row, err := formRequestToDB(f)
	if err != nil {
		return err
	}
	return s.write(ctx, evs, func(tx *gorm.DB) error { return conflict(tx.Create(&row).Error) })
}

// FormRequest implements app.Store.
func (s *Store) FormRequest(ctx context.Context, clinicID, id string) (domain.FormRequest, error) {
	var row formRequestRow
	if err := s.with(ctx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&row).Error; err != nil {
		return domain.FormRequest{}, notFound(err)
	}
	return row.toDomain()
}

// FormRequestByToken implements app.Store: the request a link's token
// names, or domain.ErrLinkInvalid.
func (s *Store) FormRequestByToken(ctx context.Context, clinicID, tokenHash string) (domain.FormRequest, error) {
	var rows []formRequestRow
	if err := s.with(ctx).Where("clinic_id = ? AND token_hash = ?", clinicID, tokenHash).Limit(1).Find(&rows).Error; err != nil {
		return domain.FormRequest{}, err
	}
	if len(rows) == 0 {
		return domain.FormRequest{}, domain.ErrLinkInvalid
	}
	return rows[0].toDomain()
}

// FormRequests implements app.Store: a patient's forms, newest first.
func (s *Store) FormRequests(ctx context.Context, clinicID, patientID string) ([]domain.FormRequest, error) {
	fam, err := family(s.with(ctx), clinicID, patientID)
	if err != nil {
		return nil, err
	}
	var rows []formRequestRow
	if err := s.with(ctx).Where("clinic_id = ? AND patient_id IN ?", clinicID, fam).Order("created_at DESC, id DESC").
		Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]domain.FormRequest, 0, len(rows))
	for _, r := range rows {
		f, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// CompleteFormRequest implements app.Store: stores the completion of f if
// the request is still open (not completed, not expired at f.CompletedAt);
// otherwise domain.ErrLinkInvalid and nothing changes. The conditional
// UPDATE makes a link usable exactly once, even when two submissions race.
func (s *Store) CompleteFormRequest(ctx context.Context, f domain.FormRequest, evs ...audit.Event) error {
	row, err := formRequestToDB(f)
	if err != nil {
		return err
	}
	return s.write(ctx, evs, func(tx *gorm.DB) error {
		res := tx.Model(&row).Where("clinic_id = ? AND completed_at IS NULL AND expires_at > ?", f.ClinicID, f.CompletedAt.UTC()).
			Select("completed_at", "answers", "signed_name", "signed_ip", "content_sha256").Updates(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return domain.ErrLinkInvalid
		}
		return nil
	})
}

// conflict maps a duplicate key to domain.ErrConflict.
func conflict(err error) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return fmt.Errorf("already exists: %w", domain.ErrConflict)
	}
	return err
}
