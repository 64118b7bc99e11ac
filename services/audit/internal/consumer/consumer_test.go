package consumer

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/audit/internal/domain"
	"github.com/havenhealth/haven/services/audit/internal/store"
	"github.com/havenhealth/haven/services/audit/migrations"
)

const region = "sydney"

type fixture struct {
	brokers []string
	topic   string
	store   *store.Store
	clinic  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	topic := audit.Topic(region)
	// One partition: a clinic's events are keyed to one partition anyway,
	// and it makes "everything before this event was processed" observable.
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return &fixture{brokers: c.ListenAddrs(), topic: topic, store: store.New(storetest.OpenWith(t, migrations.Options())), clinic: uuid.NewString()}
}

func (f *fixture) produce(t *testing.T, n int) []string {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(f.brokers...), Topic: f.topic, RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	var ids []string
	var msgs []kafka.Message
	for i := 0; i < n; i++ {
		e := audit.New(f.clinic, region, audit.Actor{UserID: "u1", Role: "owner", SessionID: "s1"}, audit.UserCreate, audit.Allowed)
		e.ResourceType, e.ResourceID = "user", uuid.NewString()
		b, err := json.Marshal(e)
		require.NoError(t, err)
		msgs = append(msgs, kafka.Message{Key: []byte(f.clinic), Value: b})
		ids = append(ids, e.ID)
	}
	require.NoError(t, w.WriteMessages(context.Background(), msgs...))
	return ids
}

func (f *fixture) chain(t *testing.T) []domain.Record {
	t.Helper()
	recs, err := f.store.Events(context.Background(), f.clinic, domain.Filter{Limit: 1000})
	require.NoError(t, err)
	return recs
}

func (f *fixture) consumer() *Consumer {
	return &Consumer{Reader: NewReader(f.brokers, f.topic, "haven-audit"), Store: f.store, Region: region,
		Logger: slog.New(slog.DiscardHandler)}
}

func (f *fixture) waitFor(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(f.chain(t)) >= n }, 30*time.Second, 20*time.Millisecond)
}

func TestConsumer_ChainsEveryEventExactlyOnceAcrossACrash(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := f.produce(t, 20)

	c := f.consumer()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, 1)
	go func() { c.Run(runCtx); done <- struct{}{} }()
	f.waitFor(t, 20)
	stop()
	<-done
	require.NoError(t, c.Reader.Close())

	// A crash between the database insert and the offset commit: five
	// events are chained but their offsets are never committed.
	crashed := f.produce(t, 5)
	r := NewReader(f.brokers, f.topic, "haven-audit")
	crash := &Consumer{Reader: r, Store: f.store, Region: region, Logger: slog.New(slog.DiscardHandler)}
	var fetched []kafka.Message
	for range crashed {
		m, err := r.FetchMessage(ctx)
		require.NoError(t, err)
		fetched = append(fetched, m)
	}
	require.True(t, crash.appendAll(ctx, crash.decodeAll(fetched)))
	require.NoError(t, r.Close()) // gone without committing
	require.Len(t, f.chain(t), 25)

	// The restarted consumer gets the five again, then a sentinel.
	sentinel := f.produce(t, 1)
	c = f.consumer()
	runCtx, stop = context.WithCancel(ctx)
	go func() { c.Run(runCtx); done <- struct{}{} }()
	f.waitFor(t, 26)
	stop()
	<-done
	_ = c.Reader.Close()

	recs := f.chain(t)
	require.Len(t, recs, 26, "exactly once in the chain")
	seen := map[string]bool{}
	for _, rec := range recs {
		require.False(t, seen[rec.Event.ID], "duplicate %s", rec.Event.ID)
		seen[rec.Event.ID] = true
	}
	for _, id := range append(append(first, crashed...), sentinel...) {
		require.True(t, seen[id], "event %s missing", id)
	}
	v, err := f.store.Verify(ctx, f.clinic)
	require.NoError(t, err)
	require.True(t, v.OK, "%+v", v.FirstBroken)
}

func TestConsumer_DecodeRefusesForeignAndMalformedMessages(t *testing.T) {
	c := &Consumer{Region: region}
	e := audit.New(uuid.NewString(), "london", audit.Actor{System: "router"}, audit.ClinicSignup, audit.Allowed)
	b, err := json.Marshal(e)
	require.NoError(t, err)
	_, err = c.Decode(kafka.Message{Key: []byte(e.ClinicID), Value: b})
	require.Error(t, err, "another region's event")

	e.Region = region
	b, _ = json.Marshal(e)
	_, err = c.Decode(kafka.Message{Key: []byte("some-other-clinic"), Value: b})
	require.Error(t, err, "key must be the clinic")
	_, err = c.Decode(kafka.Message{Key: []byte(e.ClinicID), Value: []byte(`{"not":"an event"}`)})
	require.Error(t, err)
	got, err := c.Decode(kafka.Message{Key: []byte(e.ClinicID), Value: b})
	require.NoError(t, err)
	require.Equal(t, e.ID, got.ID)

	// Personal data, whoever wrote the event, never reaches the chain.
	for name, mut := range map[string]func(*audit.Event){
		"e-mail as patient id": func(e *audit.Event) { e.PatientID = "jane.doe@example.com" },
		"name as user id":      func(e *audit.Event) { e.Actor = audit.Actor{UserID: "Jane Doe"} },
		"bare client address":  func(e *audit.Event) { e.ClientIP = "203.0.113.9" },
		"note as resource id":  func(e *audit.Event) { e.ResourceID = "reports chest pain" },
	} {
		bad := e
		mut(&bad)
		b, err := json.Marshal(bad)
		require.NoError(t, err)
		_, err = c.Decode(kafka.Message{Key: []byte(e.ClinicID), Value: b})
		require.ErrorIs(t, err, audit.ErrInvalidEvent, name)
	}
}
