package store

import (
	"context"
	"strings"

	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/services/audit/internal/domain"
	"gorm.io/gorm"
)

// ExplainEvents returns the database's plan for the report query of f.
func (s *Store) ExplainEvents(ctx context.Context, clinicID string, f domain.Filter) (string, error) {
	var rows []chainRow
	stmt := s.eventsQuery(ctx, clinicID, f).Session(&gorm.Session{DryRun: true}).Find(&rows).Statement
	explain := "EXPLAIN "
	if s.db.Dialect() == store.SQLite {
		explain = "EXPLAIN QUERY PLAN "
	}
	res, err := s.db.WithContext(ctx).Raw(explain+stmt.SQL.String(), stmt.Vars...).Rows()
	if err != nil {
		return "", err
	}
	defer res.Close()
	cols, err := res.Columns()
	if err != nil {
		return "", err
	}
	var plan strings.Builder
	for res.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(any)
		}
		if err := res.Scan(vals...); err != nil {
			return "", err
		}
		for _, v := range vals {
			if b, ok := (*v.(*any)).([]byte); ok {
				plan.Write(b)
			} else if s, ok := (*v.(*any)).(string); ok {
				plan.WriteString(s)
			}
			plan.WriteByte(' ')
		}
		plan.WriteByte('\n')
	}
	return plan.String(), res.Err()
}
