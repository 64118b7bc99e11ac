// Package consumer feeds the region's audit topic into the chain. It reads
// with a kafka-go consumer group and commits an offset only after the event
// is in the database, so a crash re-delivers rather than loses; the chain's
// idempotency by event id makes re-delivery harmless: exactly once in the
// chain.
package consumer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/store"
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
	// Parallel chains up to this many partitions' events of a batch at
	// once (default 1). A clinic's events share a partition, so parallel
	// transactions never touch the same chain; it pays on PostgreSQL, not on
	// SQLite's single writer.
	Parallel int
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
// transaction, and only then commits the batch's offsets. Fetching and
// decoding the next batch overlaps with chaining the current one.
func (c *Consumer) Run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // also stops the fetcher if chaining ends early
	batches := make(chan batch, 1)
	go c.fetchLoop(ctx, batches)
	for b := range batches {
		if !c.appendAll(ctx, b.events) {
			return // shutting down; nothing of this batch was committed
		}
		if err := c.Reader.CommitMessages(ctx, b.msgs...); err != nil && ctx.Err() == nil {
			// The events are in the chain; a lost commit only re-delivers them.
			c.Logger.Warn("audit offset commit failed", slog.Int("messages", len(b.msgs)), slog.String("error", err.Error()))
		}
	}
}

// batch is fetched messages and the valid events among them.
type batch struct {
	msgs   []kafka.Message
	events []partitioned
}

// fetchLoop fetches and decodes batches until ctx ends or the reader is
// closed, then closes out.
func (c *Consumer) fetchLoop(ctx context.Context, out chan<- batch) {
	defer close(out)
	for {
		msgs, err := c.fetch(ctx)
		if ctx.Err() != nil || errors.Is(err, io.EOF) {
			return // shutting down, or the reader was closed
		}
		if err != nil {
			c.Logger.Warn("audit fetch failed", slog.String("error", err.Error()))
			if !c.sleep(ctx, time.Second) {
				return
			}
			continue
		}
		select {
		case out <- batch{msgs: msgs, events: c.decodeAll(msgs)}:
		case <-ctx.Done():
			return
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

// decodeAll returns the valid events of this region among msgs. A message
// that is not one is logged by position and skipped: it can never be
// chained, and must not block the partition.
func (c *Consumer) decodeAll(msgs []kafka.Message) []partitioned {
	events := make([]partitioned, 0, len(msgs))
	for _, m := range msgs {
		e, err := c.Decode(m)
		if err != nil {
			c.Logger.Error("audit message skipped", slog.Int("partition", m.Partition), slog.Int64("offset", m.Offset),
				slog.String("reason", err.Error()))
			continue
		}
		events = append(events, partitioned{Event: e, partition: m.Partition})
	}
	return events
}

// appendAll chains a batch's events, one transaction per partition group
// with up to Parallel groups at once; it reports false when ctx ended.
func (c *Consumer) appendAll(ctx context.Context, events []partitioned) bool {
	if c.Parallel <= 1 {
		return c.appendWithRetry(ctx, eventsOf(events))
	}
	groups := map[int][]domain.Event{}
	for _, e := range events {
		groups[e.partition] = append(groups[e.partition], e.Event)
	}
	sem := make(chan struct{}, c.Parallel)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for _, g := range groups {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if !c.appendWithRetry(ctx, g) {
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	return !failed.Load()
}

// partitioned is an event and the partition it came from.
type partitioned struct {
	domain.Event
	partition int
}

func eventsOf(ps []partitioned) []domain.Event {
	out := make([]domain.Event, len(ps))
	for i, p := range ps {
		out[i] = p.Event
	}
	return out
}

// appendWithRetry chains events, retrying database failures until ctx
// ends. It reports false when ctx ended.
func (c *Consumer) appendWithRetry(ctx context.Context, events []domain.Event) bool {
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
	if err := asProduced(e).CheckShape(); err != nil {
		// No personal data enters the chain, which can never be edited:
		// an event whose ids are not id-shaped, or whose client address is
		// not sealed, is refused however its producer was written.
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

// asProduced is e as libs/audit, which wrote it, has it.
func asProduced(e domain.Event) audit.Event {
	return audit.Event{
		Version: e.Version, ID: e.ID, ClinicID: e.ClinicID, Region: e.Region,
		Actor:  audit.Actor{UserID: e.Actor.UserID, Role: e.Actor.Role, SessionID: e.Actor.SessionID, System: e.Actor.System},
		Action: audit.Action(e.Action), ResourceType: e.ResourceType, ResourceID: e.ResourceID, PatientID: e.PatientID,
		Outcome: audit.Outcome(e.Outcome), RequestID: e.RequestID, ClientIP: e.ClientIP, OccurredAt: e.OccurredAt,
	}
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

// ParallelFor is the Parallel setting for a chain database: 4 on
// PostgreSQL, 1 on SQLite (one writer at a time).
func ParallelFor(db *store.DB) int {
	if db.Dialect() == store.Postgres {
		return 4
	}
	return 1
}
