// Package consumer feeds the region's audit topic into the chain. It reads
// with a kafka-go consumer group and commits an offset only after the event
// is in the database, so a crash re-delivers rather than loses; the chain's
// idempotency by event id makes re-delivery harmless: exactly once in the
// chain.
package consumer

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/havenhealth/haven/services/audit/internal/domain"
)

// Appender is where events go: the chain store.
type Appender interface {
	AppendBatch(ctx context.Context, events []domain.Event) (int, error)
}

// Consumer moves events from the topic into the chain.
type Consumer struct {
	Reader *kafka.Reader
	Store  Appender
	Region string
	Logger *slog.Logger
	// MaxBackoff bounds the wait between retries of a failed append.
	MaxBackoff time.Duration
	// Batch is the most messages chained in one database transaction
	// (default 2000); Linger is how long a batch waits to fill once its
	// first message is in (default 10ms).
	Batch  int
	Linger time.Duration
}

// NewReader reads topic as member of group, with synchronous commits.
func NewReader(brokers []string, topic, group string) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:        brokers,
		Topic:          topic,
		GroupID:        group,
		MinBytes:       1,
		MaxBytes:       10 << 20,
		MaxWait:        100 * time.Millisecond,
		QueueCapacity:  4000,
		CommitInterval: 0, // commit exactly when told, after the database commit
		StartOffset:    kafka.FirstOffset,
	})
}

// Run consumes until ctx ends: it fetches a batch, chains it in one
// transaction, and only then commits the batch's offsets.
func (c *Consumer) Run(ctx context.Context) {
	for {
		msgs, err := c.fetch(ctx)
		if ctx.Err() != nil {
			return // shutting down; nothing fetched was committed
		}
		if err != nil {
			c.Logger.Warn("audit fetch failed", slog.String("error", err.Error()))
			if !c.sleep(ctx, time.Second) {
				return
			}
			continue
		}
		if !c.appendWithRetry(ctx, msgs) {
			return
		}
		if err := c.Reader.CommitMessages(ctx, msgs...); err != nil && ctx.Err() == nil {
			// The events are in the chain; a lost commit only re-delivers them.
			c.Logger.Warn("audit offset commit failed", slog.Int("messages", len(msgs)), slog.String("error", err.Error()))
		}
	}
}

// fetch waits for one message, then takes whatever else arrives within
// Linger, up to Batch messages.
func (c *Consumer) fetch(ctx context.Context) ([]kafka.Message, error) {
	m, err := c.Reader.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	msgs := []kafka.Message{m}
	linger, cancel := context.WithTimeout(ctx, c.linger())
	defer cancel()
	for len(msgs) < c.batch() {
		m, err := c.Reader.FetchMessage(linger)
		if err != nil {
			break // the linger ended (or the reader failed: the next fetch says)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// appendWithRetry chains the events in msgs, retrying database failures
// until ctx ends. A message that is not a valid event of this region is
// logged by position and skipped: it can never be chained, and must not
// block the partition. It reports false when ctx ended.
func (c *Consumer) appendWithRetry(ctx context.Context, msgs []kafka.Message) bool {
	events := make([]domain.Event, 0, len(msgs))
	for _, m := range msgs {
		e, err := c.Decode(m)
		if err != nil {
			c.Logger.Error("audit message skipped", slog.Int("partition", m.Partition), slog.Int64("offset", m.Offset),
				slog.String("reason", err.Error()))
			continue
		}
		events = append(events, e)
	}
	backoff := 50 * time.Millisecond
	for {
		_, err := c.Store.AppendBatch(ctx, events)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.Logger.Warn("audit append failed; retrying", slog.Int("events", len(events)), slog.String("error", err.Error()))
		if !c.sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, c.maxBackoff())
	}
}

func (c *Consumer) batch() int {
	if c.Batch > 0 {
		return c.Batch
	}
	return 2000
}

func (c *Consumer) linger() time.Duration {
	if c.Linger > 0 {
		return c.Linger
	}
	return 10 * time.Millisecond
}

// Decode turns a message into an event of this region.
func (c *Consumer) Decode(m kafka.Message) (domain.Event, error) {
	e, err := domain.DecodeEvent(m.Value)
	if err != nil {
		return domain.Event{}, err
	}
	if err := e.Validate(); err != nil {
		return domain.Event{}, err
	}
	if e.Region != c.Region {
		return domain.Event{}, errors.New("event of another region on this region's topic")
	}
	if string(m.Key) != e.ClinicID {
		return domain.Event{}, errors.New("message key is not the event's clinic")
	}
	return e, nil
}

func (c *Consumer) maxBackoff() time.Duration {
	if c.MaxBackoff > 0 {
		return c.MaxBackoff
	}
	return 5 * time.Second
}

func (c *Consumer) sleep(ctx context.Context, d time.Duration) bool {
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
