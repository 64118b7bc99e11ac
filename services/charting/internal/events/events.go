// Package events publishes charting's facts for other services (today
// chart.signed, which scheduling's "charts outstanding" view needs) through
// a transactional outbox: a message is written to charting_outbox in the
// same transaction as the change it reports ([Record]), and the [Relay]
// (libs/outbox) publishes the rows to the region's topic ([Topic]), keyed by
// clinic id, deleting each row only after the broker acknowledged it.
// Delivery is at-least-once; consumers de-duplicate by message id.
//
// Payloads carry ids and times only, never names, contact details or notes:
// [Record] refuses a message whose id fields are not ids.
//
// The schema belongs in libs/ once a consumer exists (CONVENTIONS: a shared
// event schema lives in libs/); until then it is defined here.
package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"gorm.io/gorm"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/outbox"
	"github.com/havenhealth/haven/libs/store"
)

// TypeChartSigned is the type of the message published when a chart entry
// is signed.
const TypeChartSigned = "chart.signed"

// Header names on published messages (ids and types only).
const (
	HeaderID   = "haven-event-id"
	HeaderType = "haven-event-type"
)

// ErrInvalid is returned for a message that would carry something other
// than ids.
var ErrInvalid = errors.New("events: invalid message")

// Topic is the region's charting topic, "haven.<region>.charting.v1".
func Topic(region string) string { return "haven." + region + ".charting.v1" }

// ChartSigned is the payload of a chart.signed message.
type ChartSigned struct {
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	ClinicID       string    `json:"clinic_id"`
	EntryID        string    `json:"entry_id"`
	PatientID      string    `json:"patient_id"`
	AppointmentID  string    `json:"appointment_id,omitempty"`
	PractitionerID string    `json:"practitioner_id"`
	SignedAt       time.Time `json:"signed_at"`
}

// Message is one outbox row to be.
type Message struct {
	ID       string
	ClinicID string
	Type     string
	Payload  []byte
}

// NewChartSigned builds the chart.signed message of an entry signed at
// signedAt by practitionerID; it fails with ErrInvalid unless every id is
// an id (audit.ValidID).
func NewChartSigned(clinicID, entryID, patientID, appointmentID, practitionerID string, signedAt time.Time) (Message, error) {
	p := ChartSigned{
		ID: uuid.Must(uuid.NewV7()).String(), Type: TypeChartSigned, ClinicID: clinicID, EntryID: entryID,
		PatientID: patientID, AppointmentID: appointmentID, PractitionerID: practitionerID, SignedAt: signedAt.UTC(),
	}
	for name, v := range map[string]string{"clinic_id": clinicID, "entry_id": entryID, "patient_id": patientID, "practitioner_id": practitionerID} {
		if !audit.ValidID(v) {
			return Message{}, fmt.Errorf("%w: %s is not an id", ErrInvalid, name)
		}
	}
	if appointmentID != "" && !audit.ValidID(appointmentID) {
		return Message{}, fmt.Errorf("%w: appointment_id is not an id", ErrInvalid)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return Message{}, fmt.Errorf("events: encode chart.signed: %w", err)
	}
	return Message{ID: p.ID, ClinicID: clinicID, Type: TypeChartSigned, Payload: bytes.TrimSuffix(buf.Bytes(), []byte("\n"))}, nil
}

// outboxRow is a row of charting_outbox.
type outboxRow struct {
	ID        string `gorm:"primaryKey"`
	ClinicID  string
	Type      string
	Payload   string
	CreatedAt time.Time
}

func (outboxRow) TableName() string { return "charting_outbox" }

// Record adds m to the outbox inside the caller's transaction tx.
func Record(tx *gorm.DB, m Message) error {
	if m.ID == "" || m.Type == "" || !audit.ValidID(m.ClinicID) {
		return fmt.Errorf("%w: id, type and clinic id are required", ErrInvalid)
	}
	row := outboxRow{ID: m.ID, ClinicID: m.ClinicID, Type: m.Type, Payload: string(m.Payload), CreatedAt: time.Now().UTC()}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("events: record %s %s: %w", m.Type, m.ID, err)
	}
	return nil
}

// NewWriter returns the Kafka writer a Relay publishes with
// ([outbox.NewWriter]: acknowledged by all in-sync replicas, keyed by clinic
// id).
func NewWriter(brokers []string, topic string) *kafka.Writer {
	return outbox.NewWriter(brokers, topic)
}

// Relay publishes the outbox ([outbox.Relay] over charting_outbox, with the
// message id and type as headers). Run one per database; two stay correct
// but publish messages twice.
type Relay struct {
	DB     *store.DB
	Writer *kafka.Writer
	Logger *slog.Logger
	Batch  int // rows per pass; default outbox.DefaultBatch
}

// Flush publishes every row in id order (ids are UUIDv7, so id order is
// time order), in batches, and returns how many it published and deleted.
// Rows the broker did not acknowledge stay for the next pass.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	o := &outbox.Relay{
		DB: r.DB, Writer: r.Writer, Table: "charting_outbox", KindColumn: "type", Logger: r.Logger, Batch: r.Batch,
		Headers: func(row outbox.Row) []kafka.Header {
			return []kafka.Header{{Key: HeaderID, Value: []byte(row.ID)}, {Key: HeaderType, Value: []byte(row.Kind)}}
		},
	}
	return o.Flush(ctx)
}

// Poll is one tick of the relay for service.Every: it flushes and logs a
// failure (counts and error text only).
func (r *Relay) Poll(ctx context.Context) {
	if n, err := r.Flush(ctx); err != nil && ctx.Err() == nil {
		log := r.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		log.WarnContext(ctx, "charting events relay: publish failed; will retry", slog.Int("published", n), slog.String("error", err.Error()))
	}
}

// TypePatientMerged is the type of the message published when a duplicate
// patient profile is merged into the one kept: scheduling and billing
// re-point their references from DuplicateID to KeptID.
const TypePatientMerged = "patient.merged"

// PatientMerged is the payload of a patient.merged message.
type PatientMerged struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	ClinicID    string    `json:"clinic_id"`
	DuplicateID string    `json:"duplicate_id"`
	KeptID      string    `json:"kept_id"`
	MergedAt    time.Time `json:"merged_at"`
}

// NewPatientMerged builds the patient.merged message; ErrInvalid unless
// every id is an id.
func NewPatientMerged(clinicID, duplicateID, keptID string, at time.Time) (Message, error) {
	for name, v := range map[string]string{"clinic_id": clinicID, "duplicate_id": duplicateID, "kept_id": keptID} {
		if !audit.ValidID(v) {
			return Message{}, fmt.Errorf("%w: %s is not an id", ErrInvalid, name)
		}
	}
	p := PatientMerged{ID: uuid.Must(uuid.NewV7()).String(), Type: TypePatientMerged, ClinicID: clinicID,
		DuplicateID: duplicateID, KeptID: keptID, MergedAt: at.UTC()}
	b, err := json.Marshal(p)
	if err != nil {
		return Message{}, err
	}
	return Message{ID: p.ID, ClinicID: clinicID, Type: TypePatientMerged, Payload: b}, nil
}
