package outbox_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit/audittest"
	"github.com/havenhealth/haven/libs/outbox"
	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
)

var migrations = fstest.MapFS{"00001_things_outbox.sql": {Data: []byte(`-- +goose Up
CREATE TABLE things_outbox (id TEXT PRIMARY KEY, clinic_id TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL);
-- +goose Down
DROP TABLE things_outbox;
`)}}

func count(t *testing.T, db *store.DB) int64 {
	t.Helper()
	var n int64
	require.NoError(t, db.Table("things_outbox").Count(&n).Error)
	return n
}

// A relay over any outbox table: rows go out in id order, keyed by clinic,
// with the headers the service chose, and are deleted only once the broker
// has them; a failure after publishing leaves them to be published again.
func TestRelay_PublishesInIDOrderAndDeletesOnlyAfterTheBroker(t *testing.T) {
	ctx := context.Background()
	const topic = "haven.test.things.v1"
	b := audittest.StartBroker(t, 1, topic)
	db := storetest.Open(t, migrations)
	w := outbox.NewWriter(b.Addrs(), topic)
	t.Cleanup(func() { _ = w.Close() })

	var ids []string
	for i := range 25 {
		id := uuid.Must(uuid.NewV7()).String()
		ids = append(ids, id)
		require.NoError(t, db.Exec("INSERT INTO things_outbox (id, clinic_id, kind, payload) VALUES (?, ?, ?, ?)",
			id, "clinic-1", []string{"made", "broken"}[i%2], `{"n":`+string(rune('a'+i))+`}`).Error)
	}
	crash := errors.New("crashed after publishing")
	relay := &outbox.Relay{DB: db, Writer: w, Table: "things_outbox", KindColumn: "kind", Batch: 10,
		AfterPublish: func(context.Context) error { return crash },
		Headers: func(r outbox.Row) []kafka.Header {
			return []kafka.Header{{Key: "id", Value: []byte(r.ID)}, {Key: "kind", Value: []byte(r.Kind)}}
		}}
	n, err := relay.Flush(ctx)
	require.ErrorIs(t, err, crash)
	require.Zero(t, n)
	require.EqualValues(t, 25, count(t, db), "nothing is deleted when the relay fails after publishing")

	relay.AfterPublish = nil
	n, err = relay.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 25, n)
	require.Zero(t, count(t, db))

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.Addrs(), Topic: topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	t.Cleanup(func() { _ = r.Close() })
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var got []string
	for len(got) < 35 { // the first 10, published before the crash, and then all 25
		m, err := r.ReadMessage(rctx)
		require.NoError(t, err)
		require.Equal(t, "clinic-1", string(m.Key))
		require.Len(t, m.Headers, 2)
		require.Contains(t, []string{"made", "broken"}, string(m.Headers[1].Value))
		got = append(got, string(m.Headers[0].Value))
	}
	require.Equal(t, ids[:10], got[:10], "the first batch, in id order")
	require.Equal(t, ids, got[10:], "every row again, in id order")
}
