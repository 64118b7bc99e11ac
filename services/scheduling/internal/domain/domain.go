// Package domain holds scheduling's model: appointments and the rules that
// keep a practitioner's time from being booked twice. It imports no
// infrastructure.
package domain

import (
	"errors"
	"time"
)

// Sentinel errors.
var (
	// ErrSlotTaken is a booking that overlaps another appointment of the
	// same practitioner holding the time (409).
	ErrSlotTaken = errors.New("the practitioner is already booked at that time")
	// ErrNotFound is an appointment that does not exist in the clinic.
	ErrNotFound = errors.New("not found")
	// ErrInvalid is an appointment that ends before it starts.
	ErrInvalid = errors.New("invalid appointment")
	// ErrNotOffered is a time the practitioner's availability does not
	// offer for the treatment (online booking only books offered times).
	ErrNotOffered = errors.New("that time is not open for booking")
)

// Status is where an appointment stands.
type Status string

// The statuses. Every status but cancelled holds the practitioner's time.
const (
	Booked    Status = "booked"
	Arrived   Status = "arrived"
	Completed Status = "completed"
	NoShow    Status = "no_show"
	Cancelled Status = "cancelled"
)

// Appointment is a patient's time with a practitioner. Times are UTC; End
// is exclusive.
type Appointment struct {
	ID             string
	ClinicID       string
	PractitionerID string
	PatientID      string
	TreatmentID    string
	LocationID     string
	Start, End     time.Time
	Status         Status
	CreatedBy      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Overlaps reports whether a and b hold the same practitioner's time at
// once.
func (a Appointment) Overlaps(b Appointment) bool {
	return a.ClinicID == b.ClinicID && a.PractitionerID == b.PractitionerID &&
		a.Status != Cancelled && b.Status != Cancelled && a.Start.Before(b.End) && b.Start.Before(a.End)
}

// Holds reports whether the appointment holds the practitioner's time
// (every status but cancelled does).
func (a Appointment) Holds() bool { return a.Status != Cancelled }

// ErrConflict is a record that clashes with an existing one.
var ErrConflict = errors.New("conflict")

// Practitioner is an identity user who sees patients.
type Practitioner struct {
	ID, ClinicID, UserID string
	CreatedAt            time.Time
}

// Treatment is what can be booked.
type Treatment struct {
	ID, ClinicID    string
	Name            string
	DurationMinutes int
	PriceCents      int64
	OnlineBookable  bool
	CreatedAt       time.Time
}

// Location is where a clinic sees patients. Every location keeps the
// clinic's time zone (Settings.TimeZone).
type Location struct {
	ID, ClinicID string
	Name         string
	CreatedAt    time.Time
}

// ReminderChange is what happened to an appointment that its reminder
// workflow must follow.
type ReminderChange string

// The changes reminders follow.
const (
	ReminderBooked      ReminderChange = "booked"
	ReminderRescheduled ReminderChange = "rescheduled"
	ReminderCancelled   ReminderChange = "cancelled"
)

// ReminderSync is a change not yet passed on to the reminder workflow.
type ReminderSync struct {
	ID, ClinicID, AppointmentID string
	Change                      ReminderChange
	CreatedAt                   time.Time
	Attempts                    int
}
