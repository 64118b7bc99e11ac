package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// CanonicalVersion is the version of the canonical encodings below; it is
// part of what is hashed, so a future encoding cannot collide with this one.
const CanonicalVersion = 1

// timeLayout writes signing times in UTC with exactly six fractional digits,
// so equal instants always encode equally.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// canonicalEntry fixes the key order of an entry's canonical form: the
// struct's field order, every key always present.
type canonicalEntry struct {
	V               int      `json:"v"`
	Kind            string   `json:"kind"`
	ID              string   `json:"id"`
	ClinicID        string   `json:"clinic_id"`
	PatientID       string   `json:"patient_id"`
	AuthorID        string   `json:"author_id"`
	AppointmentID   string   `json:"appointment_id"`
	OccurredOn      string   `json:"occurred_on"`
	DurationMinutes *int     `json:"duration_minutes"`
	Attendees       []string `json:"attendees"`
	Notes           string   `json:"notes"`
	SignedBy        string   `json:"signed_by"`
	SignedAt        string   `json:"signed_at"`
}

type canonicalAmendment struct {
	V        int    `json:"v"`
	Kind     string `json:"kind"`
	ID       string `json:"id"`
	ClinicID string `json:"clinic_id"`
	EntryID  string `json:"entry_id"`
	Seq      int    `json:"seq"`
	AuthorID string `json:"author_id"`
	Notes    string `json:"notes"`
	SignedAt string `json:"signed_at"`
	Previous string `json:"previous_sha256"`
}

// CanonicalEntry is the byte form a signature seals: JSON with a fixed key
// order, no insignificant white space, no HTML escaping, attendees as given
// (an empty list as []), and the signing time in UTC with six fractional
// digits. Notes are sealed byte for byte as stored.
func CanonicalEntry(e Entry) []byte {
	c := canonicalEntry{
		V: CanonicalVersion, Kind: "chart_entry", ID: e.ID, ClinicID: e.ClinicID, PatientID: e.PatientID,
		AuthorID: e.AuthorID, AppointmentID: e.AppointmentID, OccurredOn: e.OccurredOn,
		DurationMinutes: e.DurationMinutes, Attendees: e.Attendees, Notes: e.Notes, SignedBy: e.SignedBy,
	}
	if c.Attendees == nil {
		c.Attendees = []string{}
	}
	if e.SignedAt != nil {
		c.SignedAt = formatTime(*e.SignedAt)
	}
	return encode(c)
}

// CanonicalAmendment is an amendment's sealed form; previous is the hash of
// the entry or amendment before it, so the whole record forms a chain.
func CanonicalAmendment(a Amendment, previous string) []byte {
	return encode(canonicalAmendment{
		V: CanonicalVersion, Kind: "chart_amendment", ID: a.ID, ClinicID: a.ClinicID, EntryID: a.EntryID,
		Seq: a.Seq, AuthorID: a.AuthorID, Notes: a.Notes, SignedAt: formatTime(a.SignedAt), Previous: previous,
	})
}

// EntryHash is the hex SHA-256 of CanonicalEntry(e).
func EntryHash(e Entry) string { return sum(CanonicalEntry(e)) }

// AmendmentHash is the hex SHA-256 of CanonicalAmendment(a, previous).
func AmendmentHash(a Amendment, previous string) string { return sum(CanonicalAmendment(a, previous)) }

func formatTime(t time.Time) string { return t.UTC().Truncate(time.Microsecond).Format(timeLayout) }

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Strings, ints and string slices only: encoding cannot fail.
		panic("domain: canonical encoding: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
