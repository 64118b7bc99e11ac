// Package domain holds the audit service's tamper-evident log model: the
// events it receives, their canonical encoding, the per-clinic hash chain
// that links them and the signed digests that pin the chain's head. It
// imports no infrastructure.
package domain

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
)

// GenesisHash is the prev_hash of the first link in every clinic's chain.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Sentinel errors.
var (
	// ErrInvalidEvent is returned for an event missing a field the chain needs.
	ErrInvalidEvent = errors.New("audit: invalid event")
	// ErrCorrupt is returned when stored data cannot be decoded at all.
	ErrCorrupt = errors.New("audit: stored data is corrupt")
)

// Actor is who (or what) performed an audited action.
type Actor struct {
	UserID    string `json:"user_id"`
	Role      string `json:"role"`
	SessionID string `json:"session_id"`
	System    string `json:"system"`
}

// Event is one audited action as the service receives it from the region's
// audit topic. ClientIP is opaque ciphertext; the audit service never sees
// the address itself.
//
// The JSON field order below is alphabetical: it is the canonical key order.
type Event struct {
	Action       string    `json:"action"`
	Actor        Actor     `json:"actor"`
	ClientIP     string    `json:"client_ip"`
	ClinicID     string    `json:"clinic_id"`
	ID           string    `json:"id"`
	OccurredAt   time.Time `json:"occurred_at"`
	Outcome      string    `json:"outcome"`
	PatientID    string    `json:"patient_id"`
	Region       string    `json:"region"`
	RequestID    string    `json:"request_id"`
	ResourceID   string    `json:"resource_id"`
	ResourceType string    `json:"resource_type"`
	Version      int       `json:"version"`
}

// Validate reports whether e carries what the chain needs.
func (e Event) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("%w: id is required", ErrInvalidEvent)
	case e.ClinicID == "":
		return fmt.Errorf("%w: clinic_id is required", ErrInvalidEvent)
	case e.Action == "":
		return fmt.Errorf("%w: action is required", ErrInvalidEvent)
	case e.OccurredAt.IsZero():
		return fmt.Errorf("%w: occurred_at is required", ErrInvalidEvent)
	}
	for _, v := range []string{e.Action, e.Actor.UserID, e.Actor.Role, e.Actor.SessionID, e.Actor.System, e.ClientIP,
		e.ClinicID, e.ID, e.Outcome, e.PatientID, e.Region, e.RequestID, e.ResourceID, e.ResourceType} {
		if !utf8.ValidString(v) {
			// Its canonical encoding would not say what it says.
			return fmt.Errorf("%w: a field is not valid UTF-8", ErrInvalidEvent)
		}
	}
	return nil
}

// Canonical is e's canonical encoding: JSON with keys in a fixed
// (alphabetical) order at every level, no insignificant whitespace, every key
// present, occurred_at as RFC 3339 UTC with nanoseconds. The same event
// always encodes to the same bytes, which is what the chain hashes.
func (e Event) Canonical() []byte {
	e.OccurredAt = e.OccurredAt.UTC()
	if b, ok := e.appendCanonical(make([]byte, 0, 1024)); ok {
		return b
	}
	b, err := json.Marshal(e)
	if err != nil {
		// Only strings, an int and a UTC time: marshalling cannot fail.
		panic(fmt.Sprintf("audit: canonical encoding: %v", err))
	}
	return b
}

// appendCanonical appends what encoding/json makes of e (members in struct
// order, strings escaped for HTML, time as RFC 3339 with nanoseconds) for
// the events every producer sends: strings of printable ASCII that need no
// escaping, a year of four digits. It reports false for anything else,
// which Canonical leaves to encoding/json. It spends an eighth of
// encoding/json's time on the consumer's busiest path; the fuzz test
// FuzzCanonical_MatchesEncodingJSON keeps the two byte-identical.
func (e Event) appendCanonical(b []byte) ([]byte, bool) {
	if y := e.OccurredAt.Year(); y < 0 || y > 9999 {
		return nil, false
	}
	b = appendField(b, `{"action":`, e.Action)
	b = appendField(b, `,"actor":{"user_id":`, e.Actor.UserID)
	b = appendField(b, `,"role":`, e.Actor.Role)
	b = appendField(b, `,"session_id":`, e.Actor.SessionID)
	b = appendField(b, `,"system":`, e.Actor.System)
	b = appendField(b, `},"client_ip":`, e.ClientIP)
	b = appendField(b, `,"clinic_id":`, e.ClinicID)
	b = appendField(b, `,"id":`, e.ID)
	if b == nil {
		return nil, false
	}
	b = append(b, `,"occurred_at":"`...)
	b = e.OccurredAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendField(b, `,"outcome":`, e.Outcome)
	b = appendField(b, `,"patient_id":`, e.PatientID)
	b = appendField(b, `,"region":`, e.Region)
	b = appendField(b, `,"request_id":`, e.RequestID)
	b = appendField(b, `,"resource_id":`, e.ResourceID)
	b = appendField(b, `,"resource_type":`, e.ResourceType)
	if b == nil {
		return nil, false
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	b = append(b, '}')
	return b, b != nil
}

// verbatim are the bytes encoding/json copies into a string as they are:
// printable ASCII but for the quote, the backslash and HTML's < > &.
var verbatim = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = !strings.ContainsRune(`"\\<>&`, rune(c))
	}
	return t
}()

// appendField appends name and v quoted, or returns nil (and keeps
// returning nil) when v needs escaping.
func appendField(b []byte, name, v string) []byte {
	if b == nil {
		return nil
	}
	for i := 0; i < len(v); i++ {
		if !verbatim[v[i]] {
			return nil
		}
	}
	b = append(b, name...)
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

// DecodeEvent parses an encoded event: the canonical encoding, or the one
// producers publish (libs/audit: the same members in another order). It is
// strict: one JSON object with members named exactly as in Event, each at
// most once, valid UTF-8, nothing after it. It decodes with the JSON v2
// implementation (github.com/go-json-experiment/json), about four times as
// fast as encoding/json here, where decoding is the busiest step of
// consuming. That module mirrors encoding/json/v2 (standard from Go 1.27).
func DecodeEvent(payload []byte) (Event, error) {
	var e Event
	if err := jsonv2.Unmarshal(payload, &e, jsonv2.RejectUnknownMembers(true)); err != nil {
		return Event{}, fmt.Errorf("%w: decode event: %w", ErrCorrupt, err)
	}
	e.OccurredAt = e.OccurredAt.UTC()
	return e, nil
}

// Link is one event's place in its clinic's chain.
type Link struct {
	Seq      int64  // 1 for the clinic's first event, gap-free after that
	PrevHash string // hex; GenesisHash for Seq 1
	Hash     string // hex SHA-256(prev_hash bytes || canonical event)
}

// ChainHash returns hex(SHA-256(prevHash decoded from hex || payload)).
func ChainHash(prevHash string, payload []byte) (string, error) {
	prev, err := hex.DecodeString(prevHash)
	if err != nil || len(prev) != sha256.Size {
		return "", fmt.Errorf("%w: prev_hash %q is not a hex SHA-256", ErrCorrupt, prevHash)
	}
	h := sha256.New()
	h.Write(prev)
	h.Write(payload)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Next returns the link that follows prev for payload.
func Next(prev Link, payload []byte) (Link, error) {
	hash, err := ChainHash(prev.Hash, payload)
	if err != nil {
		return Link{}, err
	}
	return Link{Seq: prev.Seq + 1, PrevHash: prev.Hash, Hash: hash}, nil
}

// Genesis is the virtual link before a clinic's first event.
func Genesis() Link { return Link{Seq: 0, Hash: GenesisHash} }

// Record is a stored event with its place in the chain, for the activity report.
type Record struct {
	Event      Event
	Link       Link
	ReceivedAt time.Time
}

// Filter selects events for the activity report. Zero fields do not filter.
// From is inclusive and To exclusive on OccurredAt; results are in chain
// order and AfterSeq pages through them.
type Filter struct {
	From, To     time.Time
	UserID       string
	Action       string
	PatientID    string
	ResourceType string
	ResourceID   string
	Outcome      string
	AfterSeq     int64
	Limit        int // 0 means DefaultLimit; capped at MaxLimit
}

// Page sizes for the activity report.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Broken says where and why a chain failed verification.
type Broken struct {
	Seq    int64
	Reason string
}

// VerifyResult is the outcome of walking a clinic's chain.
type VerifyResult struct {
	OK          bool
	Checked     int     // links walked before stopping
	Head        Link    // last link that verified
	FirstBroken *Broken // nil when OK
}

// Digest is a signed statement of a clinic chain's head at a moment. Each
// digest also links to the previous one, so digests form their own chain.
type Digest struct {
	ClinicID       string
	Seq            int64 // digest number, 1-based per clinic
	HeadSeq        int64
	HeadHash       string
	CreatedAt      time.Time
	PrevDigestHash string // GenesisHash for the first digest
	DigestHash     string // hex SHA-256 of SignedBytes
	Signature      []byte // Ed25519 over SignedBytes
	KeyID          string
}

// SignedBytes is the canonical message a digest's signature covers.
func (d Digest) SignedBytes() []byte {
	msg := struct {
		ClinicID       string `json:"clinic_id"`
		CreatedAt      string `json:"created_at"`
		HeadHash       string `json:"head_hash"`
		HeadSeq        int64  `json:"head_seq"`
		PrevDigestHash string `json:"prev_digest_hash"`
		Seq            int64  `json:"seq"`
	}{d.ClinicID, d.CreatedAt.UTC().Format(time.RFC3339Nano), d.HeadHash, d.HeadSeq, d.PrevDigestHash, d.Seq}
	b, err := json.Marshal(msg)
	if err != nil {
		panic(fmt.Sprintf("audit: digest encoding: %v", err))
	}
	return b
}

// Sign fills DigestHash, Signature and KeyID.
func (d *Digest) Sign(k SigningKey) {
	d.Seal(ed25519.Sign(k.Private, d.SignedBytes()), k.ID)
}

// Seal fills DigestHash and records sig, made by the key keyID over
// SignedBytes, as the digest's signature.
func (d *Digest) Seal(sig []byte, keyID string) {
	sum := sha256.Sum256(d.SignedBytes())
	d.DigestHash = hex.EncodeToString(sum[:])
	d.Signature = sig
	d.KeyID = keyID
}

// Signer signs digests with the region's audit key. In production the key
// lives in the region's Vault (transit, Ed25519) and never leaves it.
type Signer interface {
	// Sign returns an Ed25519 signature over msg and the id of the key
	// that made it.
	Sign(ctx context.Context, msg []byte) (sig []byte, keyID string, err error)
	// PublicKeys returns every key that has signed or may sign digests,
	// oldest first, so that old digests stay verifiable after a rotation.
	PublicKeys(ctx context.Context) ([]PublicKey, error)
}

// VerifySignature reports whether d is intact and signed by pub.
func (d Digest) VerifySignature(pub PublicKey) bool {
	if d.KeyID != pub.ID || len(pub.Key) != ed25519.PublicKeySize {
		return false
	}
	msg := d.SignedBytes()
	sum := sha256.Sum256(msg)
	if hex.EncodeToString(sum[:]) != d.DigestHash {
		return false
	}
	return ed25519.Verify(pub.Key, msg, d.Signature)
}

// SigningKey is the region's digest-signing key.
type SigningKey struct {
	ID        string
	Private   ed25519.PrivateKey
	CreatedAt time.Time
}

// Public returns the key's public half.
func (k SigningKey) Public() PublicKey {
	return PublicKey{ID: k.ID, Key: k.Private.Public().(ed25519.PublicKey)}
}

// PublicKey is what an auditor needs to check digests.
type PublicKey struct {
	ID  string
	Key ed25519.PublicKey
}

// KeyIDFor derives a stable key id from a public key.
func KeyIDFor(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "audit-ed25519-" + hex.EncodeToString(sum[:8])
}
