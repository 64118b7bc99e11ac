// Package events consumes charting's events for scheduling: chart.signed
// feeds the "charts outstanding" view, patient.merged re-points
// appointments to the patient profile kept. It reads the region's charting
// topic with a kafka-go consumer group and commits a message's offset only
// after the database write, so a crash re-delivers rather than loses; both
// handlers are idempotent, so re-delivery is harmless.
//
// The payloads mirror charting's (services/charting/internal/events) until
// the schema moves to libs/: ids and times only.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/havenhealth/haven/libs/audit"
)

// Group is scheduling's consumer group on the charting topic.
const Group = "scheduling-charts"

// Message types scheduling acts on; others are skipped.
const (
	TypeChartSigned   = "chart.signed"
	TypePatientMerged = "patient.merged"
)

// HeaderType is the message header naming its type.
const HeaderType = "haven-event-type"

// Topic is the region's charting topic, "haven.<region>.charting.v1".
func Topic(region string) string { return "haven." + region + ".charting.v1" }

// Handler applies charting's events.
type Handler interface {
	// ChartSigned notes a signed chart entry of an appointment.
	ChartSigned(ctx context.Context, clinicID, appointmentID, entryID string, signedAt time.Time) error
	// PatientMerged moves appointments from the duplicate profile to the
	// one kept and returns how many moved.
	PatientMerged(ctx context.Context, clinicID, duplicateID, keptID string) (int, error)
}

// Event is a charting message as scheduling reads it: the union of
// chart.signed and patient.merged (ids and times only).
type Event struct {
	ID            string    `json:"id"`
	Type          string    `json:"type"`
	ClinicID      string    `json:"clinic_id"`
	EntryID       string    `json:"entry_id"`
	AppointmentID string    `json:"appointment_id"`
	SignedAt      time.Time `json:"signed_at"`
	DuplicateID   string    `json:"duplicate_id"`
	KeptID        string    `json:"kept_id"`
}

// ErrSkip marks a message that can never be applied (malformed, another
// clinic's key, an unknown type): it is logged by position and passed.
var ErrSkip = errors.New("message skipped")

// Decode reads a message; ErrSkip for one scheduling does not act on or
// cannot read.
func Decode(m kafka.Message) (Event, error) {
	var p Event
	if err := json.Unmarshal(m.Value, &p); err != nil {
		return p, fmt.Errorf("%w: not a JSON event", ErrSkip)
	}
	for _, h := range m.Headers {
		if h.Key == HeaderType && string(h.Value) != p.Type {
			return p, fmt.Errorf("%w: type header and Event differ", ErrSkip)
		}
	}
	if !audit.ValidID(p.ClinicID) || string(m.Key) != p.ClinicID {
		return p, fmt.Errorf("%w: no clinic id, or the key is not the clinic's", ErrSkip)
	}
	switch p.Type {
	case TypeChartSigned:
		if p.AppointmentID == "" {
			return p, fmt.Errorf("%w: chart entry of no appointment", ErrSkip)
		}
		if !audit.ValidID(p.AppointmentID) || !audit.ValidID(p.EntryID) || p.SignedAt.IsZero() {
			return p, fmt.Errorf("%w: chart.signed without appointment id, entry id or time", ErrSkip)
		}
	case TypePatientMerged:
		if !audit.ValidID(p.DuplicateID) || !audit.ValidID(p.KeptID) || p.DuplicateID == p.KeptID {
			return p, fmt.Errorf("%w: patient.merged without two profile ids", ErrSkip)
		}
	default:
		return p, fmt.Errorf("%w: type not for scheduling", ErrSkip)
	}
	return p, nil
}

// Consumer applies the charting topic's messages to a Handler.
type Consumer struct {
	Reader  *kafka.Reader
	Handler Handler
	Logger  *slog.Logger
	// MaxBackoff bounds the wait between retries of a failed write
	// (default 5s).
	MaxBackoff time.Duration
}

// NewReader reads the region's charting topic as member of Group, from the
// first offset when the group has none, committing only when told.
func NewReader(brokers []string, region string) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: Topic(region), GroupID: Group,
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond,
		CommitInterval: 0, StartOffset: kafka.FirstOffset,
	})
}

// StartChartConsumer consumes the region's charting topic into h until
// ctx ends or the returned closer is closed (Close waits for the consumer
// and closes its reader).
func StartChartConsumer(ctx context.Context, brokers []string, region string, h Handler, logger *slog.Logger) io.Closer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Consumer{Reader: NewReader(brokers, region), Handler: h, Logger: logger}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	return closer(func() error {
		cancel()
		<-done
		return c.Reader.Close()
	})
}

type closer func() error

func (f closer) Close() error { return f() }

// Run fetches, applies and commits messages one by one until ctx ends or
// the reader is closed. A write that fails is retried (backing off) before
// the offset moves on; a message that can never be applied is skipped.
func (c *Consumer) Run(ctx context.Context) {
	for {
		m, err := c.Reader.FetchMessage(ctx)
		if ctx.Err() != nil || errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			c.Logger.WarnContext(ctx, "charting events: fetch failed", slog.String("error", err.Error()))
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		if !c.applyWithRetry(ctx, m) {
			return
		}
		if err := c.Reader.CommitMessages(ctx, m); err != nil && ctx.Err() == nil {
			// The write is done and idempotent; a lost commit only re-delivers.
			c.Logger.WarnContext(ctx, "charting events: offset commit failed", slog.Int("partition", m.Partition),
				slog.Int64("offset", m.Offset), slog.String("error", err.Error()))
		}
	}
}

// applyWithRetry applies m, retrying until it succeeds or ctx ends (false).
func (c *Consumer) applyWithRetry(ctx context.Context, m kafka.Message) bool {
	backoff := 50 * time.Millisecond
	for {
		err := c.Apply(ctx, m)
		if errors.Is(err, ErrSkip) {
			c.Logger.DebugContext(ctx, "charting events: message skipped", slog.Int("partition", m.Partition),
				slog.Int64("offset", m.Offset), slog.String("reason", err.Error()))
			return true
		}
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.Logger.WarnContext(ctx, "charting events: write failed; retrying", slog.Int("partition", m.Partition),
			slog.Int64("offset", m.Offset), slog.String("error", err.Error()))
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, c.maxBackoff())
	}
}

// Apply hands one message to the Handler; ErrSkip when scheduling does not
// act on it.
func (c *Consumer) Apply(ctx context.Context, m kafka.Message) error {
	p, err := Decode(m)
	if err != nil {
		return err
	}
	switch p.Type {
	case TypeChartSigned:
		return c.Handler.ChartSigned(ctx, p.ClinicID, p.AppointmentID, p.EntryID, p.SignedAt)
	default:
		n, err := c.Handler.PatientMerged(ctx, p.ClinicID, p.DuplicateID, p.KeptID)
		if err == nil && n > 0 {
			c.Logger.InfoContext(ctx, "appointments moved to the kept patient profile", slog.String("clinic_id", p.ClinicID),
				slog.String("event_id", p.ID), slog.Int("appointments", n))
		}
		return err
	}
}

func (c *Consumer) maxBackoff() time.Duration {
	if c.MaxBackoff > 0 {
		return c.MaxBackoff
	}
	return 5 * time.Second
}

func sleep(ctx context.Context, d time.Duration) bool {
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
