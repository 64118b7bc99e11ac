package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/havenhealth/haven/libs/outbox"
	"github.com/havenhealth/haven/libs/store"
)

// Message header names. Headers carry ids and versions only.
const (
	HeaderEventID = "haven-event-id"
	HeaderSchema  = "haven-schema"
)

// Topic returns the region's audit topic, "haven.<region>.audit.v1".
func Topic(region string) string { return "haven." + region + ".audit.v1" }

// NewWriter returns the Kafka writer a [Relay] publishes with
// ([outbox.NewWriter]: acknowledged by all in-sync replicas, keyed by clinic
// id, batches flushed after 5ms).
func NewWriter(brokers []string, topic string) *kafka.Writer {
	return outbox.NewWriter(brokers, topic)
}

// Relay publishes a service's audit outbox to Kafka ([outbox.Relay] over
// audit_outbox): in id order, keyed by clinic id, with the event id and
// schema version as headers, each row deleted only after the broker
// acknowledged it. Run one per database: two relays on one outbox stay
// correct (consumers de-duplicate by event id) but publish events twice.
type Relay struct {
	DB         *store.DB     // the service's database, migrated with Migrate
	Writer     *kafka.Writer // from NewWriter, for the region's Topic
	Logger     *slog.Logger  // default: discard
	Batch      int           // rows per pass of the outbox; default 1000
	Idle       time.Duration // poll interval while the outbox is empty; default 100ms
	MaxBackoff time.Duration // longest wait after a failure; default 5s

	// beforeDelete, when set (by tests), runs after the broker acknowledged
	// a batch and before its rows are deleted; an error stands for a crash.
	beforeDelete func(ctx context.Context) error
}

func (r *Relay) outbox() *outbox.Relay {
	return &outbox.Relay{
		DB: r.DB, Writer: r.Writer, Table: outboxTable, Logger: r.Logger, Batch: r.Batch, Idle: r.Idle,
		MaxBackoff: r.MaxBackoff, AfterPublish: r.beforeDelete,
		Headers: func(row outbox.Row) []kafka.Header {
			return []kafka.Header{
				{Key: HeaderEventID, Value: []byte(row.ID)},
				{Key: HeaderSchema, Value: []byte(strconv.Itoa(payloadVersion(row.Payload)))},
			}
		},
	}
}

// Run publishes the outbox until ctx is done, then returns nil; see
// [outbox.Relay.Run].
func (r *Relay) Run(ctx context.Context) error { return r.outbox().Run(ctx) }

// Flush makes one pass over the outbox and returns how many rows it
// published and deleted; see [outbox.Relay.Flush].
func (r *Relay) Flush(ctx context.Context) (int, error) { return r.outbox().Flush(ctx) }

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
