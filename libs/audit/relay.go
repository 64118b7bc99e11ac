package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/havenhealth/haven/libs/store"
)

// Message header names. Headers carry ids and versions only.
const (
	HeaderEventID = "haven-event-id"
	HeaderSchema  = "haven-schema"
)

// Topic returns the region's audit topic, "haven.<region>.audit.v1".
func Topic(region string) string { return "haven." + region + ".audit.v1" }

// NewWriter returns the Kafka writer a [Relay] publishes with: every message
// acknowledged by all in-sync replicas, keyed by clinic id (hash balancer,
// so a clinic's events share a partition), batches flushed after 5ms, no
// topic auto-creation, and few attempts because the relay retries itself.
func NewWriter(brokers []string, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           5 * time.Millisecond,
		BatchSize:              defaultBatch,
		MaxAttempts:            2,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        200 * time.Millisecond,
		AllowAutoTopicCreation: false,
	}
}

// Relay defaults.
const (
	defaultBatch      = 1000
	defaultIdle       = 100 * time.Millisecond
	defaultMaxBackoff = 5 * time.Second
	minBackoff        = 100 * time.Millisecond
)

// Relay publishes a service's outbox to Kafka. Run one per database: two
// relays on one outbox stay correct (consumers de-duplicate by event id) but
// publish events twice.
type Relay struct {
	DB         *store.DB     // the service's database, migrated with Migrate
	Writer     *kafka.Writer // from NewWriter, for the region's Topic
	Logger     *slog.Logger  // default: discard
	Batch      int           // rows per pass of the outbox; default 500
	Idle       time.Duration // poll interval while the outbox is empty; default 100ms
	MaxBackoff time.Duration // longest wait after a failure; default 5s

	// beforeDelete, when set (by tests), runs after the broker acknowledged
	// a batch and before its rows are deleted; an error stands for a crash.
	beforeDelete func(ctx context.Context) error
}

func (r *Relay) batch() int {
	if r.Batch <= 0 {
		return defaultBatch
	}
	return r.Batch
}

func (r *Relay) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Run publishes the outbox until ctx is done, then returns nil. It polls
// every Idle while the outbox is empty, goes straight on while it is not, and
// after a failure waits an exponentially growing, jittered delay of up to
// MaxBackoff. Failures are logged with counts and error text only.
func (r *Relay) Run(ctx context.Context) error {
	idle := r.Idle
	if idle <= 0 {
		idle = defaultIdle
	}
	maxBackoff := r.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = defaultMaxBackoff
	}
	backoff := minBackoff
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		n, err := r.Flush(ctx)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			// Full jitter on an exponentially growing ceiling.
			wait = backoff/2 + rand.N(backoff/2+1)
			r.logger().WarnContext(ctx, "audit relay: publish failed",
				slog.Int("published", n), slog.Duration("retry_in", wait), slog.String("error", err.Error()))
			backoff = min(backoff*2, maxBackoff)
		case n == 0:
			backoff = minBackoff
			wait = idle
		default:
			backoff = minBackoff
		}
		timer.Reset(wait)
	}
}

// Flush makes one pass over the outbox: it publishes every row in id order,
// in batches of Batch, deletes each row only after the broker acknowledged
// it, and returns how many rows it deleted. On an error it returns the rows
// deleted so far; the others stay for the next pass (and may have reached
// the broker: delivery is at-least-once).
func (r *Relay) Flush(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more, err := r.flushBatch(ctx)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// flushBatch publishes up to Batch rows; more reports a full batch.
func (r *Relay) flushBatch(ctx context.Context) (published int, more bool, err error) {
	limit := r.batch()
	var rows []outboxRow
	if err := r.DB.WithContext(ctx).Select("id", "clinic_id", "payload").
		Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return 0, false, fmt.Errorf("audit relay: read outbox: %w", err)
	}
	if len(rows) == 0 {
		return 0, false, nil
	}
	msgs := make([]kafka.Message, len(rows))
	for i, row := range rows {
		msgs[i] = kafka.Message{
			Key:   []byte(row.ClinicID),
			Value: []byte(row.Payload),
			Headers: []kafka.Header{
				{Key: HeaderEventID, Value: []byte(row.ID)},
				{Key: HeaderSchema, Value: []byte(strconv.Itoa(payloadVersion(row.Payload)))},
			},
		}
	}
	acked := rows
	writeErr := r.Writer.WriteMessages(ctx, msgs...)
	if writeErr != nil {
		var werrs kafka.WriteErrors
		if !errors.As(writeErr, &werrs) || len(werrs) != len(rows) {
			return 0, false, fmt.Errorf("audit relay: publish %d events: %w", len(rows), writeErr)
		}
		acked = make([]outboxRow, 0, len(rows))
		for i, row := range rows {
			if werrs[i] == nil {
				acked = append(acked, row)
			}
		}
		writeErr = fmt.Errorf("audit relay: publish: %d of %d events failed: %w", len(rows)-len(acked), len(rows), firstError(werrs))
	}
	if r.beforeDelete != nil {
		if err := r.beforeDelete(ctx); err != nil {
			return 0, false, err
		}
	}
	if len(acked) > 0 {
		ids := make([]string, len(acked))
		for i, row := range acked {
			ids[i] = row.ID
		}
		// A fresh context: the broker has the events, so deleting them should
		// not be cut short by the caller's cancellation.
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.DB.WhereIn(r.DB.WithContext(mctx), "id", ids).Delete(&outboxRow{}).Error; err != nil {
			return 0, false, fmt.Errorf("audit relay: delete %d published events: %w", len(ids), err)
		}
	}
	if writeErr != nil {
		return len(acked), false, writeErr
	}
	return len(acked), len(rows) == limit, nil
}

func firstError(errs kafka.WriteErrors) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// payloadVersion reads the schema version of an outbox payload; it returns
// SchemaVersion for a payload it cannot read (Record only writes valid ones).
// Canonical payloads start with the version, so that is read without a
// full JSON decode.
func payloadVersion(payload string) int {
	if rest, ok := strings.CutPrefix(payload, `{"version":`); ok {
		if end := strings.IndexByte(rest, ','); end > 0 {
			if v, err := strconv.Atoi(rest[:end]); err == nil && v > 0 {
				return v
			}
		}
	}
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal([]byte(payload), &v); err != nil || v.Version == 0 {
		return SchemaVersion
	}
	return v.Version
}
