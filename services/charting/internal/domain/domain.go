// Package domain holds charting's types, rules and errors: patients, chart
// entries and their amendments, and the canonical form a signature seals.
// It imports no infrastructure.
package domain

import (
	"errors"
	"time"
)

// Sentinel errors the HTTP layer maps to status codes in one place.
var (
	// ErrNotFound is a patient or entry that does not exist in the caller's clinic.
	ErrNotFound = errors.New("not found")
	// ErrForbidden is an authenticated caller whose grants do not allow the action.
	ErrForbidden = errors.New("forbidden")
	// ErrConflict is a change that clashes with an existing record.
	ErrConflict = errors.New("conflict")
	// ErrLocked is a change to a signed (locked) chart entry.
	ErrLocked = errors.New("chart entry is signed and locked")
)

// Sex is the sex recorded for a patient (clinical sex, assigned at birth);
// gender identity is the free-text Gender field.
type Sex string

// The recorded sexes. The empty value means not recorded.
const (
	SexFemale   Sex = "female"
	SexMale     Sex = "male"
	SexIntersex Sex = "intersex"
	SexUnknown  Sex = "unknown"
)

// Valid reports whether s is empty or one of the recorded sexes.
func (s Sex) Valid() bool {
	switch s {
	case "", SexFemale, SexMale, SexIntersex, SexUnknown:
		return true
	}
	return false
}

// Address is a patient's postal address. Country is an ISO 3166-1 alpha-2
// code in upper case.
type Address struct {
	Line1      string `json:"line1,omitempty"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city,omitempty"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
}

// IsZero reports whether no part of the address is set.
func (a Address) IsZero() bool { return a == Address{} }

// EmergencyContact is who to call for a patient.
type EmergencyContact struct {
	Name         string `json:"name,omitempty"`
	Phone        string `json:"phone,omitempty"` // E.164
	Relationship string `json:"relationship,omitempty"`
}

// IsZero reports whether no part of the contact is set.
func (c EmergencyContact) IsZero() bool { return c == EmergencyContact{} }

// Patient is a clinic's patient profile. Identity fields (names, date of
// birth, sex, gender) are what patient.read shows; contact fields (Email,
// Phone, Address, EmergencyContact) need patient.contact.read; Alert is
// clinical and needs chart access to the patient.
type Patient struct {
	ID       string
	ClinicID string

	FirstName     string
	LastName      string
	PreferredName string
	DateOfBirth   string // YYYY-MM-DD
	Sex           Sex
	Gender        string

	Email            string // normalised (lower-case), or empty
	Phone            string // E.164, or empty
	Address          Address
	EmergencyContact EmergencyContact

	Alert string

	// Lookups are the keyed hashes search uses; see Lookups.
	Lookups Lookups

	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time

	// MergedInto is set on a duplicate merged into another profile: a
	// tombstone that redirects there.
	MergedInto string
	MergedAt   *time.Time
}

// MergedError is a request for a profile that was merged into another.
type MergedError struct{ Into string }

func (e *MergedError) Error() string { return "patient was merged into " + e.Into }

// Lookups are keyed hashes (fieldcrypt.Crypter.Lookup) of a patient's
// normalised search values; empty when the value is absent.
type Lookups struct {
	Email    string
	Phone    string
	DOB      string
	LastName string
	FullName string
}

// EntryStatus is where a chart entry is in its life.
type EntryStatus string

// Entry states.
const (
	// EntryDraft may still be edited by its author.
	EntryDraft EntryStatus = "draft"
	// EntrySigned is locked: only amendments may follow.
	EntrySigned EntryStatus = "signed"
)

// Entry is one chart entry (a visit note) of a patient, written by a
// practitioner. Once signed it never changes; corrections are Amendments.
type Entry struct {
	ID              string
	ClinicID        string
	PatientID       string
	AuthorID        string
	Notes           string
	Attendees       []string
	AppointmentID   string
	OccurredOn      string // YYYY-MM-DD
	DurationMinutes *int
	Status          EntryStatus
	CreatedAt       time.Time
	UpdatedAt       time.Time

	// Set when signed.
	SignedAt      *time.Time
	SignedBy      string
	ContentSHA256 string
	// SignEventID is the id of the chart.sign audit event that recorded the
	// signature, linking the entry to the tamper-evident activity log.
	SignEventID string

	// Amendments in order (Seq 1, 2, ...).
	Amendments []Amendment
}

// Signed reports whether the entry is locked.
func (e Entry) Signed() bool { return e.Status == EntrySigned }

// Amendment is an addition to a signed entry: dated, authored and signed
// when it is written, never changed afterwards.
type Amendment struct {
	ID            string
	ClinicID      string
	EntryID       string
	Seq           int
	AuthorID      string
	Notes         string
	SignedAt      time.Time
	ContentSHA256 string
	SignEventID   string
}

// LastHash is the hash the next amendment chains to: the latest
// amendment's, or the entry's own.
func (e Entry) LastHash() string {
	if n := len(e.Amendments); n > 0 {
		return e.Amendments[n-1].ContentSHA256
	}
	return e.ContentSHA256
}

// Sign locks a draft entry: it records who signed it and when, and the
// SHA-256 of its canonical content. eventID is the chart.sign audit event.
// A signed entry is ErrLocked.
func (e *Entry) Sign(by string, at time.Time, eventID string) error {
	if e.Signed() {
		return ErrLocked
	}
	t := at.UTC().Truncate(time.Microsecond)
	e.Status, e.SignedAt, e.SignedBy, e.SignEventID, e.UpdatedAt = EntrySigned, &t, by, eventID, t
	e.ContentSHA256 = EntryHash(*e)
	return nil
}

// Amend returns the next amendment of a signed entry, signed at at by
// author. A draft cannot be amended (edit it instead): ErrConflict.
func (e Entry) Amend(id, author, notes string, at time.Time, eventID string) (Amendment, error) {
	if !e.Signed() {
		return Amendment{}, ErrConflict
	}
	a := Amendment{
		ID: id, ClinicID: e.ClinicID, EntryID: e.ID, Seq: len(e.Amendments) + 1, AuthorID: author,
		Notes: notes, SignedAt: at.UTC().Truncate(time.Microsecond), SignEventID: eventID,
	}
	a.ContentSHA256 = AmendmentHash(a, e.LastHash())
	return a, nil
}

// Verify reports whether the stored hashes of a signed entry and its
// amendments match their content: false means the stored record changed
// after signing. A draft verifies trivially.
func (e Entry) Verify() bool {
	if !e.Signed() {
		return true
	}
	if EntryHash(e) != e.ContentSHA256 {
		return false
	}
	prev := e.ContentSHA256
	for _, a := range e.Amendments {
		if AmendmentHash(a, prev) != a.ContentSHA256 {
			return false
		}
		prev = a.ContentSHA256
	}
	return true
}
