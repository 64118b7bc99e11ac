package store

import (
	"context"

	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// InsertUnchecked writes a's row into table with its audit event, as Book
// does but without Book's rule: the benchmarks' baseline.
func InsertUnchecked(ctx context.Context, s *Store, table string, a domain.Appointment, ev audit.Event) error {
	row := toRow(a)
	return audit.Write(s.db.WithContext(ctx), []audit.Event{ev}, func(tx *gorm.DB) error { return tx.Table(table).Create(&row).Error })
}
