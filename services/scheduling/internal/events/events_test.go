package events_test

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
	"github.com/havenhealth/haven/services/scheduling/internal/app"
	"github.com/havenhealth/haven/services/scheduling/internal/domain"
	"github.com/havenhealth/haven/services/scheduling/internal/events"
	"github.com/havenhealth/haven/services/scheduling/internal/store"
	"github.com/havenhealth/haven/services/scheduling/migrations"
)

const region = "montreal"

type fixture struct {
	t       *testing.T
	brokers []string
	store   *store.Store
	app     *app.App
	clinic  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	require.Equal(t, "haven.montreal.charting.v1", events.Topic(region))
	// One partition: a clinic's messages share one anyway, and it makes
	// "everything before this message was applied" observable.
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, events.Topic(region)))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	db := storetest.Open(t, migrations.FS)
	require.NoError(t, audit.Migrate(context.Background(), db))
	s := store.New(db)
	return &fixture{t: t, brokers: c.ListenAddrs(), store: s, app: app.New(app.Deps{Store: s, Region: region}), clinic: uuid.NewString()}
}

// publish writes messages as charting's relay does: keyed by clinic, with
// id and type headers.
func (f *fixture) publish(msgs ...map[string]any) {
	f.t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(f.brokers...), Topic: events.Topic(region), RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond}
	defer func() { _ = w.Close() }()
	var out []kafka.Message
	for _, m := range msgs {
		b, err := json.Marshal(m)
		require.NoError(f.t, err)
		key, _ := m["clinic_id"].(string)
		typ, _ := m["type"].(string)
		out = append(out, kafka.Message{Key: []byte(key), Value: b, Headers: []kafka.Header{{Key: "haven-event-type", Value: []byte(typ)}}})
	}
	require.NoError(f.t, w.WriteMessages(context.Background(), out...))
}

func (f *fixture) signed(clinic, appointment string) map[string]any {
	return map[string]any{"id": uuid.NewString(), "type": "chart.signed", "clinic_id": clinic, "entry_id": uuid.NewString(),
		"patient_id": uuid.NewString(), "appointment_id": appointment, "practitioner_id": uuid.NewString(), "signed_at": time.Now().UTC()}
}

func (f *fixture) book(start time.Time) domain.Appointment {
	f.t.Helper()
	a := domain.Appointment{ID: uuid.NewString(), ClinicID: f.clinic, PractitionerID: uuid.NewString(), PatientID: uuid.NewString(),
		TreatmentID: uuid.NewString(), Start: start, End: start.Add(30 * time.Minute), Status: domain.Booked, CreatedBy: uuid.NewString(),
		CreatedAt: start, UpdatedAt: start}
	require.NoError(f.t, f.store.Book(context.Background(), a, store.Write{}))
	return a
}

func (f *fixture) outstanding() map[string]bool {
	f.t.Helper()
	aps, err := f.store.ChartsOutstanding(context.Background(), f.clinic, nil, time.Now(), 100)
	require.NoError(f.t, err)
	out := map[string]bool{}
	for _, a := range aps {
		out[a.ID] = true
	}
	return out
}

func TestChartConsumer_ListedUntilChartSigned(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	past := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Minute)
	a1, a2 := f.book(past), f.book(past.Add(time.Hour))
	require.Equal(t, map[string]bool{a1.ID: true, a2.ID: true}, f.outstanding())

	kept := uuid.NewString()
	other := uuid.NewString()
	f.publish(
		map[string]any{"type": "chart.signed", "clinic_id": f.clinic, "appointment_id": 7}, // malformed
		f.signed(f.clinic, ""), // an entry of no appointment
		map[string]any{"id": uuid.NewString(), "type": "form.completed", "clinic_id": f.clinic}, // not for scheduling
		f.signed(other, a2.ID), // another clinic's appointment id
		f.signed(f.clinic, a1.ID),
		f.signed(f.clinic, a1.ID), // re-delivered
		map[string]any{"id": uuid.NewString(), "type": "patient.merged", "clinic_id": f.clinic, "duplicate_id": a2.PatientID,
			"kept_id": kept, "merged_at": time.Now().UTC()},
	)
	closer := events.StartChartConsumer(ctx, f.brokers, region, f.app, slog.New(slog.DiscardHandler))
	require.Eventually(t, func() bool {
		got, err := f.store.Appointment(ctx, f.clinic, a2.ID)
		require.NoError(t, err)
		return got.PatientID == kept
	}, 30*time.Second, 20*time.Millisecond, "the merge, published last, is applied")
	require.Equal(t, map[string]bool{a2.ID: true}, f.outstanding(), "a1 is signed; a2 only by another clinic")
	require.NoError(t, closer.Close())

	// Offsets were committed after the writes: forget a1's signature, and
	// a restarted consumer does not bring it back from old messages.
	require.NoError(t, f.store.DB().Exec("DELETE FROM chart_signatures WHERE appointment_id = ?", a1.ID).Error)
	f.publish(f.signed(f.clinic, a2.ID))
	closer = events.StartChartConsumer(ctx, f.brokers, region, f.app, nil)
	defer func() { require.NoError(t, closer.Close()) }()
	require.Eventually(t, func() bool { return !f.outstanding()[a2.ID] }, 30*time.Second, 20*time.Millisecond)
	require.True(t, f.outstanding()[a1.ID], "old messages were not re-read")
}

func TestDecode_RefusesWhatSchedulingCannotApply(t *testing.T) {
	clinic, appt := uuid.NewString(), uuid.NewString()
	msg := func(key string, v map[string]any, headerType string) kafka.Message {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		m := kafka.Message{Key: []byte(key), Value: b}
		if headerType != "" {
			m.Headers = []kafka.Header{{Key: events.HeaderType, Value: []byte(headerType)}}
		}
		return m
	}
	good := map[string]any{"id": "e1", "type": "chart.signed", "clinic_id": clinic, "entry_id": "en1", "appointment_id": appt,
		"signed_at": "2026-03-01T10:00:00Z"}
	e, err := events.Decode(msg(clinic, good, "chart.signed"))
	require.NoError(t, err)
	require.Equal(t, appt, e.AppointmentID)

	for name, m := range map[string]kafka.Message{
		"key of another clinic": msg(uuid.NewString(), good, ""),
		"header disagrees":      msg(clinic, good, "patient.merged"),
		"not JSON":              {Key: []byte(clinic), Value: []byte("{")},
		"bad appointment id":    msg(clinic, map[string]any{"type": "chart.signed", "clinic_id": clinic, "entry_id": "en1", "appointment_id": "a b", "signed_at": "2026-03-01T10:00:00Z"}, ""),
		"no signing time":       msg(clinic, map[string]any{"type": "chart.signed", "clinic_id": clinic, "entry_id": "en1", "appointment_id": appt}, ""),
		"merge into itself":     msg(clinic, map[string]any{"type": "patient.merged", "clinic_id": clinic, "duplicate_id": "p1", "kept_id": "p1"}, ""),
		"unknown type":          msg(clinic, map[string]any{"type": "invoice.paid", "clinic_id": clinic}, ""),
	} {
		_, err := events.Decode(m)
		require.ErrorIs(t, err, events.ErrSkip, name)
	}
}
