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
	Append(ctx context.Context, e domain.Event) (domain.Link, bool, error)
}

// Consumer moves events from the topic into the chain.
type Consumer struct {
	Reader *kafka.Reader
	Store  Appender
	Region string
	Logger *slog.Logger
	// MaxBackoff bounds the wait between retries of a failed append.
	MaxBackoff time.Duration
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
		CommitInterval: 0, // commit exactly when told, after the database commit
		StartOffset:    kafka.FirstOffset,
	})
}

// Run consumes until ctx ends.
func (c *Consumer) Run(ctx context.Context) {
	for {
		m, err := c.Reader.FetchMessage(ctx)
		if ctx.Err() != nil {
			return // shutting down
		}
		if err != nil {
			c.Logger.Warn("audit fetch failed", slog.String("error", err.Error()))
			if !c.sleep(ctx, time.Second) {
				return
			}
			continue
		}
		if !c.appendWithRetry(ctx, m) {
			return
		}
		if err := c.Reader.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
			// The event is in the chain; a lost commit only re-delivers it.
			c.Logger.Warn("audit offset commit failed", slog.Int("partition", m.Partition), slog.Int64("offset", m.Offset),
				slog.String("error", err.Error()))
		}
	}
}

// appendWithRetry stores m's event, retrying database failures until ctx
// ends. A message that is not a valid event of this region is logged by
// position and skipped: it can never be chained, and must not block the
// partition. It reports false when ctx ended.
func (c *Consumer) appendWithRetry(ctx context.Context, m kafka.Message) bool {
	e, err := c.Decode(m)
	if err != nil {
		c.Logger.Error("audit message skipped", slog.Int("partition", m.Partition), slog.Int64("offset", m.Offset),
			slog.String("reason", err.Error()))
		return true
	}
	backoff := 50 * time.Millisecond
	for {
		_, _, err := c.Store.Append(ctx, e)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.Logger.Warn("audit append failed; retrying", slog.String("event_id", e.ID), slog.String("error", err.Error()))
		if !c.sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, c.maxBackoff())
	}
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
