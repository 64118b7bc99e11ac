package events_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/audit/audittest"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/charting/internal/events"
	"github.com/havenhealth/haven/services/charting/migrations"
)

func TestNewChartSigned_CarriesIDsOnly(t *testing.T) {
	clinic, entry, patient, author := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	at := time.Date(2024, 5, 1, 10, 30, 0, 123456000, time.UTC)
	m, err := events.NewChartSigned(clinic, entry, patient, "", author, at)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(m.Payload, &got))
	require.Equal(t, map[string]any{"id": m.ID, "type": "chart.signed", "clinic_id": clinic, "entry_id": entry,
		"patient_id": patient, "practitioner_id": author, "signed_at": "2024-05-01T10:30:00.123456Z"}, got)

	for _, bad := range [][5]string{
		{clinic, entry, "Aroha Ngata", "", author},
		{clinic, entry, patient, "aroha@example.org", author},
		{clinic, "", patient, "", author},
		{clinic, entry, patient, "", "+6493001234"},
	} {
		_, err := events.NewChartSigned(bad[0], bad[1], bad[2], bad[3], bad[4], at)
		require.ErrorIs(t, err, events.ErrInvalid, bad)
	}
}

func TestRelay_PublishesKeyedByClinicAndSurvivesABrokerOutage(t *testing.T) {
	ctx := context.Background()
	topic := events.Topic("sydney")
	require.Equal(t, "haven.sydney.charting.v1", topic)
	broker := audittest.StartBroker(t, 1, topic)
	db := storetest.Open(t, migrations.FS)
	writer := events.NewWriter(broker.Addrs(), topic)
	t.Cleanup(func() { _ = writer.Close() })
	relay := &events.Relay{DB: db, Writer: writer}

	clinic := uuid.NewString()
	record := func() events.Message {
		m, err := events.NewChartSigned(clinic, uuid.NewString(), uuid.NewString(), "appt-1", uuid.NewString(), time.Now())
		require.NoError(t, err)
		require.NoError(t, db.Transaction(func(tx *gorm.DB) error { return events.Record(tx, m) }))
		return m
	}
	unpublished := func() int64 {
		var n int64
		require.NoError(t, db.Table("charting_outbox").Count(&n).Error)
		return n
	}

	first := record()
	n, err := relay.Flush(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, unpublished())

	// The broker is down: the message waits in the outbox.
	broker.Stop()
	second := record()
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = relay.Flush(fctx)
	cancel()
	require.Error(t, err)
	require.Equal(t, int64(1), unpublished())

	broker.Start()
	require.Eventually(t, func() bool {
		_, err := relay.Flush(ctx)
		return err == nil && unpublished() == 0
	}, 20*time.Second, 100*time.Millisecond)

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: broker.Addrs(), Topic: topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	t.Cleanup(func() { _ = r.Close() })
	seen := map[string]bool{}
	rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
	defer rcancel()
	for !seen[first.ID] || !seen[second.ID] {
		msg, err := r.ReadMessage(rctx)
		require.NoError(t, err)
		require.Equal(t, clinic, string(msg.Key), "keyed by clinic id")
		var p events.ChartSigned
		require.NoError(t, json.Unmarshal(msg.Value, &p))
		require.Equal(t, events.TypeChartSigned, p.Type)
		headers := map[string]string{}
		for _, h := range msg.Headers {
			headers[h.Key] = string(h.Value)
		}
		require.Equal(t, map[string]string{events.HeaderID: p.ID, events.HeaderType: events.TypeChartSigned}, headers,
			"headers carry the id and type only")
		seen[p.ID] = true
	}
}
