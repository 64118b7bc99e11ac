package audit_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/audit/audittest"
	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
)

const testRegion = "london"

var testTopic = audit.Topic(testRegion)

// setup returns a migrated outbox database and a relay writing to a fresh broker.
func setup(t testing.TB) (*store.DB, *audit.Relay, *audittest.Broker) {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, nil)
	require.NoError(t, audit.Migrate(ctx, db))
	b := audittest.StartBroker(t, 3, testTopic)
	w := audit.NewWriter(b.Addrs(), testTopic)
	t.Cleanup(func() { _ = w.Close() })
	return db, &audit.Relay{DB: db, Writer: w}, b
}

func recordN(t testing.TB, db *store.DB, clinics []string, n int) []audit.Event {
	t.Helper()
	events := make([]audit.Event, 0, n)
	err := db.Transaction(func(tx *gorm.DB) error {
		for i := range n {
			e := audit.New(clinics[i%len(clinics)], testRegion, audit.Actor{UserID: "u-" + strconv.Itoa(i)},
				audit.PatientRead, audit.Allowed)
			e.PatientID = "p-" + strconv.Itoa(i)
			if err := audit.Record(tx, e); err != nil {
				return err
			}
			events = append(events, e)
		}
		return nil
	})
	require.NoError(t, err)
	return events
}

func unpublished(t testing.TB, db *store.DB) int64 {
	t.Helper()
	var n int64
	require.NoError(t, db.Table("audit_outbox").Count(&n).Error)
	return n
}

// consumeAll reads every message of every partition of the topic with a
// kafka-go Reader, up to each partition's high watermark.
func consumeAll(t testing.TB, b *audittest.Broker) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []kafka.Message
	for p := range 3 {
		conn, err := kafka.DialLeader(ctx, "tcp", b.Addrs()[0], testTopic, p)
		require.NoError(t, err)
		last, err := conn.ReadLastOffset()
		_ = conn.Close()
		require.NoError(t, err)
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.Addrs(), Topic: testTopic, Partition: p, MaxWait: 50 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			require.NoError(t, err, "partition %d", p)
			out = append(out, m)
			if m.Offset >= last-1 {
				break
			}
		}
		require.NoError(t, r.Close())
	}
	return out
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

var clinics = []string{
	"0b9d7c1e-4a57-4f0c-9a43-2f1f3c8f6d21",
	"5d3e2a10-7c44-4e1b-8f0a-6b9c1d2e3f40",
	"9a8b7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d",
}

func TestRecord_RolledBackTransactionLeavesNoRow(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, nil)
	require.NoError(t, audit.Migrate(ctx, db))
	boom := errors.New("change failed")
	err := db.Transaction(func(tx *gorm.DB) error {
		require.NoError(t, audit.Record(tx, validEvent()))
		return boom
	})
	require.ErrorIs(t, err, boom)
	var n int64
	require.NoError(t, db.Table("audit_outbox").Count(&n).Error)
	require.Zero(t, n)

	require.NoError(t, db.Transaction(func(tx *gorm.DB) error { return audit.Record(tx, validEvent()) }))
	require.NoError(t, audit.RecordNow(ctx, db, validEvent()))
	require.NoError(t, db.Table("audit_outbox").Count(&n).Error)
	require.EqualValues(t, 2, n)
}

func TestRecord_RefusesInvalidEvent(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, nil)
	require.NoError(t, audit.Migrate(ctx, db))
	e := validEvent()
	e.PatientID = "jane.doe@example.com"
	require.ErrorIs(t, audit.RecordNow(ctx, db, e), audit.ErrInvalidEvent)
}

func TestFlush_PublishesInOrderPerClinicKeyedWithIDHeadersOnly(t *testing.T) {
	ctx := context.Background()
	db, relay, b := setup(t)
	relay.Batch = 64 // several passes
	events := recordN(t, db, clinics, 300)

	n, err := relay.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 300, n)
	require.Zero(t, unpublished(t, db))
	n, err = relay.Flush(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a second pass publishes nothing")

	byID := make(map[string]audit.Event, len(events))
	for _, e := range events {
		byID[e.ID] = e
	}
	msgs := consumeAll(t, b)
	require.Len(t, msgs, 300)
	lastID := map[string]string{}
	partitionOf := map[string]int{}
	for _, m := range msgs {
		var got audit.Event
		require.NoError(t, got.UnmarshalJSON(m.Value))
		want, ok := byID[got.ID]
		require.True(t, ok)
		require.Equal(t, want, got)
		require.Equal(t, want.ClinicID, string(m.Key), "key is the clinic id")
		require.True(t, audit.ValidID(string(m.Key)), "key is an id")
		require.Len(t, m.Headers, 2)
		require.Equal(t, got.ID, header(m, audit.HeaderEventID))
		require.Equal(t, "1", header(m, audit.HeaderSchema))
		for _, h := range m.Headers {
			require.True(t, audit.ValidID(string(h.Value)), "header %s is not id-shaped", h.Key)
		}
		if p, seen := partitionOf[got.ClinicID]; seen {
			require.Equal(t, p, m.Partition, "a clinic's events share a partition")
		}
		partitionOf[got.ClinicID] = m.Partition
		require.Greater(t, got.ID, lastID[got.ClinicID], "events of a clinic are in id order")
		lastID[got.ClinicID] = got.ID
	}
}

func TestFlush_BrokerDownLosesNothing(t *testing.T) {
	ctx := context.Background()
	db, relay, b := setup(t)
	before := recordN(t, db, clinics, 10)
	n, err := relay.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 10, n)

	b.Stop()
	events := recordN(t, db, clinics, 500)
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	n, err = relay.Flush(fctx)
	cancel()
	require.Error(t, err, "publishing to a stopped broker must fail")
	require.Zero(t, n)
	require.EqualValues(t, 500, unpublished(t, db), "rows stay unpublished")

	b.Start()
	deadline := time.Now().Add(30 * time.Second)
	total := 0
	for unpublished(t, db) > 0 {
		require.True(t, time.Now().Before(deadline), "outbox not drained after restart: %v", err)
		n, err = relay.Flush(ctx)
		total += n
	}
	require.Equal(t, 500, total)

	want := map[string]bool{}
	for _, e := range events {
		want[e.ID] = true
	}
	got := map[string]bool{}
	earlier := 0
	for _, m := range consumeAll(t, b) {
		id := header(m, audit.HeaderEventID)
		if want[id] {
			got[id] = true
		} else {
			earlier++
		}
	}
	require.Len(t, got, 500, "every event recorded while the broker was down arrives")
	require.Equal(t, len(before), earlier, "events published before the stop survive the restart")
}

func TestFlush_CrashBeforeDeleteRepublishes(t *testing.T) {
	ctx := context.Background()
	db, relay, b := setup(t)
	events := recordN(t, db, clinics, 50)

	crash := errors.New("simulated crash")
	audit.SetBeforeDelete(relay, func(context.Context) error { return crash })
	n, err := relay.Flush(ctx)
	require.ErrorIs(t, err, crash)
	require.Zero(t, n)
	require.EqualValues(t, 50, unpublished(t, db))

	audit.SetBeforeDelete(relay, nil)
	n, err = relay.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 50, n)
	require.Zero(t, unpublished(t, db))

	seen := map[string]int{}
	for _, m := range consumeAll(t, b) {
		seen[header(m, audit.HeaderEventID)]++
	}
	require.Len(t, seen, 50)
	dups := 0
	for _, e := range events {
		require.Equal(t, 2, seen[e.ID], "each event is delivered once per publish")
		dups += seen[e.ID] - 1
	}
	require.Equal(t, 50, dups, "duplicates are exactly the re-published events, by id")
}

func TestRun_PublishesUntilCancelled(t *testing.T) {
	db, relay, _ := setup(t)
	relay.Idle = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	recordN(t, db, clinics, 20)
	require.Eventually(t, func() bool { return unpublished(t, db) == 0 }, 20*time.Second, 5*time.Millisecond,
		"Run did not publish")
	cancel()
	require.NoError(t, <-done)
}

func payloads(t testing.TB, n int) []kafka.Message {
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		e := audit.New(clinics[i%len(clinics)], testRegion, audit.Actor{UserID: "u-1"}, audit.ChartRead, audit.Allowed)
		msgs[i] = kafka.Message{Key: []byte(e.ClinicID), Value: e.Canonical(), Headers: []kafka.Header{
			{Key: audit.HeaderEventID, Value: []byte(e.ID)}, {Key: audit.HeaderSchema, Value: []byte("1")}}}
	}
	return msgs
}

// BenchmarkRelay measures events per second from the outbox to the broker's
// acknowledgement (rows deleted), in passes of 500.
func BenchmarkRelay(b *testing.B) {
	ctx := context.Background()
	db, relay, _ := setup(b)
	b.StopTimer()
	for done := 0; done < b.N; done += 5000 {
		recordN(b, db, clinics, min(5000, b.N-done))
	}
	b.StartTimer()
	start := time.Now()
	n, err := relay.Flush(ctx)
	elapsed := time.Since(start)
	require.NoError(b, err)
	require.Equal(b, b.N, n)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
}

// BenchmarkRawProduce writes the same payloads straight to the same kind of
// broker with the relay's writer, in batches of 500, for comparison.
func BenchmarkRawProduce(b *testing.B) {
	ctx := context.Background()
	_, relay, _ := setup(b)
	msgs := payloads(b, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(msgs); i += 500 {
		require.NoError(b, relay.Writer.WriteMessages(ctx, msgs[i:min(i+500, len(msgs))]...))
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
