package audittest

import (
	"encoding/json"
	"testing"

	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/audit"
)

// Outbox returns the events a service recorded in its audit outbox, oldest
// first, each checked against the event schema.
func Outbox(t testing.TB, db *gorm.DB) []audit.Event {
	t.Helper()
	var payloads []string
	if err := db.Table("audit_outbox").Order("id").Pluck("payload", &payloads).Error; err != nil {
		t.Fatalf("read the audit outbox: %v", err)
	}
	out := make([]audit.Event, len(payloads))
	for i, p := range payloads {
		if err := json.Unmarshal([]byte(p), &out[i]); err != nil {
			t.Fatalf("audit outbox row %d: %v", i, err)
		}
		if err := out[i].Validate(); err != nil {
			t.Fatalf("audit outbox row %d: %v", i, err)
		}
	}
	return out
}
