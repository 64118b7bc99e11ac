package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

type settingsRow struct {
	ClinicID         string `gorm:"primaryKey"`
	TimeZone         string
	ReminderOffsets  string
	ReminderChannels string
	UpdatedAt        time.Time
}

func (settingsRow) TableName() string { return "clinic_settings" }

// Settings returns the clinic's saved settings; domain.ErrNotFound when it
// has saved none.
func (s *Store) Settings(ctx context.Context, clinicID string) (domain.Settings, error) {
	var r settingsRow
	if err := s.db.WithContext(ctx).Where("clinic_id = ?", clinicID).Take(&r).Error; err != nil {
		return domain.Settings{}, translate(err)
	}
	var minutes []int
	var channels []string
	if err := json.Unmarshal([]byte(r.ReminderOffsets), &minutes); err != nil {
		return domain.Settings{}, fmt.Errorf("settings of clinic %s: reminder offsets: %w", clinicID, err)
	}
	if err := json.Unmarshal([]byte(r.ReminderChannels), &channels); err != nil {
		return domain.Settings{}, fmt.Errorf("settings of clinic %s: reminder channels: %w", clinicID, err)
	}
	out := domain.Settings{ClinicID: r.ClinicID, TimeZone: r.TimeZone, ReminderChannels: channels, UpdatedAt: r.UpdatedAt.UTC(),
		ReminderOffsets: make([]time.Duration, len(minutes))}
	for i, m := range minutes {
		out.ReminderOffsets[i] = time.Duration(m) * time.Minute
	}
	return out, nil
}

// PutSettings saves the clinic's settings with their audit events.
func (s *Store) PutSettings(ctx context.Context, st domain.Settings, events ...audit.Event) error {
	minutes := make([]int, len(st.ReminderOffsets))
	for i, d := range st.ReminderOffsets {
		minutes[i] = int(d / time.Minute)
	}
	channels := st.ReminderChannels
	if channels == nil {
		channels = []string{}
	}
	offsets, err := json.Marshal(minutes)
	if err != nil {
		return err
	}
	chans, err := json.Marshal(channels)
	if err != nil {
		return err
	}
	row := settingsRow{ClinicID: st.ClinicID, TimeZone: st.TimeZone, ReminderOffsets: string(offsets), ReminderChannels: string(chans),
		UpdatedAt: st.UpdatedAt.UTC()}
	return audit.Write(s.db.WithContext(ctx), events, func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "clinic_id"}}, UpdateAll: true}).Create(&row).Error
	})
}
