// Package outbox relays a service's transactional outbox to Kafka. A
// service writes a message into an outbox table in the same database
// transaction as the change it reports, so the message exists if and only
// if the change committed; the [Relay] publishes the table's rows in id
// order (ids are UUIDv7, so id order is time order), keyed by clinic id so a
// clinic's messages share a partition, and deletes each row only after the
// broker acknowledged it with all in-sync replicas. A crash, a timeout or a
// lost acknowledgement between publishing and deleting publishes the row
// again: delivery is at-least-once and consumers de-duplicate by id.
//
// The audit log (libs/audit) and charting's events use it.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/segmentio/kafka-go"
	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/store"
)

// Defaults.
const (
	DefaultBatch      = 1000
	defaultIdle       = 100 * time.Millisecond
	defaultMaxBackoff = 5 * time.Second
	minBackoff        = 100 * time.Millisecond
)

// NewWriter returns the Kafka writer a [Relay] publishes with: every message
// acknowledged by all in-sync replicas, keyed by clinic id (hash balancer,
// so a clinic's messages share a partition), batches flushed after 5ms (the
// 1s default makes synchronous writes slow), no topic auto-creation, and few
// attempts because the relay retries itself.
func NewWriter(brokers []string, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           5 * time.Millisecond,
		BatchSize:              DefaultBatch,
		MaxAttempts:            2,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        200 * time.Millisecond,
		AllowAutoTopicCreation: false,
	}
}

// Row is one outbox row.
type Row struct {
	ID       string // primary key, a UUIDv7
	ClinicID string // the message key
	Kind     string // the value of Relay.KindColumn; "" without one
	Payload  string // the message value
}

// Relay publishes one outbox table. Run one per database: two relays on one
// outbox stay correct (consumers de-duplicate) but publish rows twice.
type Relay struct {
	DB     *store.DB     // the service's database
	Writer *kafka.Writer // from NewWriter, for the message's topic
	// Table is the outbox: id (text primary key), clinic_id, payload and,
	// if KindColumn is set, that column.
	Table      string
	KindColumn string
	// Headers are a row's message headers: ids, types and versions only.
	Headers    func(Row) []kafka.Header
	Logger     *slog.Logger  // default: discard
	Batch      int           // rows per pass; default DefaultBatch
	Idle       time.Duration // poll interval while the outbox is empty; default 100ms
	MaxBackoff time.Duration // longest wait after a failure; default 5s
	// AfterPublish, when set, runs after the broker acknowledged a batch
	// and before its rows are deleted; an error leaves them for the next
	// pass, as a crash there would (tests use it to stand for one).
	AfterPublish func(ctx context.Context) error
}

func (r *Relay) batch() int {
	if r.Batch <= 0 {
		return DefaultBatch
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
			r.logger().WarnContext(ctx, "outbox relay: publish failed", slog.String("table", r.Table),
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

// read returns up to limit rows in id order.
func (r *Relay) read(ctx context.Context, limit int) ([]Row, error) {
	cols := "id, clinic_id, payload"
	if r.KindColumn != "" {
		cols += ", " + r.KindColumn
	}
	rs, err := r.DB.WithContext(ctx).Table(r.Table).Select(cols).Order("id").Limit(limit).Rows()
	if err != nil {
		return nil, err
	}
	defer func() { _ = rs.Close() }()
	rows := make([]Row, 0, limit)
	for rs.Next() {
		var row Row
		dest := []any{&row.ID, &row.ClinicID, &row.Payload}
		if r.KindColumn != "" {
			dest = append(dest, &row.Kind)
		}
		if err := rs.Scan(dest...); err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, rs.Err()
}

// flushBatch publishes up to Batch rows; more reports a full batch.
func (r *Relay) flushBatch(ctx context.Context) (published int, more bool, err error) {
	limit := r.batch()
	rows, err := r.read(ctx, limit)
	if err != nil {
		return 0, false, fmt.Errorf("outbox relay: read %s: %w", r.Table, err)
	}
	if len(rows) == 0 {
		return 0, false, nil
	}
	msgs := make([]kafka.Message, len(rows))
	for i, row := range rows {
		msgs[i] = kafka.Message{Key: []byte(row.ClinicID), Value: []byte(row.Payload)}
		if r.Headers != nil {
			msgs[i].Headers = r.Headers(row)
		}
	}
	acked := rows
	writeErr := r.Writer.WriteMessages(ctx, msgs...)
	if writeErr != nil {
		var werrs kafka.WriteErrors
		if !errors.As(writeErr, &werrs) || len(werrs) != len(rows) {
			return 0, false, fmt.Errorf("outbox relay: publish %d messages: %w", len(rows), writeErr)
		}
		acked = make([]Row, 0, len(rows))
		for i, row := range rows {
			if werrs[i] == nil {
				acked = append(acked, row)
			}
		}
		writeErr = fmt.Errorf("outbox relay: publish: %d of %d messages failed: %w", len(rows)-len(acked), len(rows), firstError(werrs))
	}
	if r.AfterPublish != nil {
		if err := r.AfterPublish(ctx); err != nil {
			return 0, false, err
		}
	}
	if len(acked) > 0 {
		ids := make([]string, len(acked))
		for i, row := range acked {
			ids[i] = row.ID
		}
		// A fresh context: the broker has the messages, so deleting them
		// should not be cut short by the caller's cancellation.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.delete(dctx, ids); err != nil {
			return 0, false, fmt.Errorf("outbox relay: delete %d published rows of %s: %w", len(ids), r.Table, err)
		}
	}
	if writeErr != nil {
		return len(acked), false, writeErr
	}
	return len(acked), len(rows) == limit, nil
}

// delete removes published rows. On PostgreSQL it commits without waiting
// for the WAL flush (synchronous_commit off for this transaction only): a
// crash can undo only a delete, never an event, and an undone delete just
// publishes those rows again, which consumers de-duplicate. The relay's
// loop then does not wait on a disk flush per batch.
func (r *Relay) delete(ctx context.Context, ids []string) error {
	return r.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if r.DB.Dialect() == store.Postgres {
			if err := tx.Exec("SET LOCAL synchronous_commit = off").Error; err != nil {
				return err
			}
		}
		return r.DB.WhereIn(tx.Table(r.Table), "id", ids).Delete(map[string]any{}).Error
	})
}

func firstError(errs kafka.WriteErrors) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
