package audit_test

import (
	"context"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
)

// An outbox from before the relay deleted published rows: the upgrade drops
// the published ones and keeps the rest for the relay, which then publishes
// exactly those.
func TestMigrate_UpgradeKeepsOnlyUnpublishedRows(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, nil)
	v1, err := os.ReadFile("migrations/00001_audit_outbox.sql")
	require.NoError(t, err)
	require.NoError(t, store.MigrateSet(ctx, db, fstest.MapFS{"00001_audit_outbox.sql": {Data: v1}}, audit.VersionTable))

	events := make([]audit.Event, 4)
	for i := range events {
		events[i] = validEvent()
		var published *time.Time
		if i%2 == 0 {
			at := time.Now().UTC()
			published = &at
		}
		require.NoError(t, db.Exec("INSERT INTO audit_outbox (id, clinic_id, payload, created_at, published_at) VALUES (?, ?, ?, ?, ?)",
			events[i].ID, events[i].ClinicID, string(events[i].Canonical()), time.Now().UTC(), published).Error)
	}
	require.NoError(t, audit.Migrate(ctx, db))

	var ids []string
	require.NoError(t, db.Table("audit_outbox").Order("id").Pluck("id", &ids).Error)
	require.ElementsMatch(t, []string{events[1].ID, events[3].ID}, ids)
	require.False(t, db.Migrator().HasColumn("audit_outbox", "published_at"))
}
