package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

type reminderSyncRow struct {
	ID            string `gorm:"primaryKey"`
	ClinicID      string
	AppointmentID string
	Kind          string
	CreatedAt     time.Time
	NextAttemptAt time.Time
	Attempts      int
	DoneAt        *time.Time
}

func (reminderSyncRow) TableName() string { return "reminder_sync" }

// PendingReminders returns up to limit reminder_sync rows not done whose
// next attempt is due at now, oldest first.
func (s *Store) PendingReminders(ctx context.Context, now time.Time, limit int) ([]domain.ReminderSync, error) {
	var rows []reminderSyncRow
	if err := s.db.WithContext(ctx).Where("done_at IS NULL AND next_attempt_at <= ?", now.UTC()).
		Order("id").Limit(max(limit, 1)).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("pending reminder syncs: %w", err)
	}
	out := make([]domain.ReminderSync, len(rows))
	for i, r := range rows {
		out[i] = domain.ReminderSync{ID: r.ID, ClinicID: r.ClinicID, AppointmentID: r.AppointmentID,
			Change: domain.ReminderChange(r.Kind), CreatedAt: r.CreatedAt.UTC(), Attempts: r.Attempts}
	}
	return out, nil
}

// MarkRemindersDone marks the rows done.
func (s *Store) MarkRemindersDone(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	return s.db.WithContext(ctx).Model(&reminderSyncRow{}).Where("id IN ? AND done_at IS NULL", ids).
		Update("done_at", at.UTC()).Error
}

// DeferReminders counts a failed attempt on the rows and sets when they
// are next due.
func (s *Store) DeferReminders(ctx context.Context, ids []string, next time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	return s.db.WithContext(ctx).Model(&reminderSyncRow{}).Where("id IN ? AND done_at IS NULL", ids).
		Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "next_attempt_at": next.UTC()}).Error
}

// PruneReminders deletes rows done before cutoff and returns how many.
func (s *Store) PruneReminders(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("done_at IS NOT NULL AND done_at < ?", cutoff.UTC()).Delete(&reminderSyncRow{})
	return res.RowsAffected, res.Error
}
