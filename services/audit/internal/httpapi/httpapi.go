// Package httpapi is the audit service's HTTP layer: the activity report
// (JSON and CSV), the integrity check, the signed digests and the region's
// verification keys. Every report is itself an audited access, recorded
// before the answer is sent.
package httpapi

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/problem"
	libstore "github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/services/audit/internal/domain"
)

// Chain is what the API needs of the chain store.
type Chain interface {
	Events(ctx context.Context, clinicID string, f domain.Filter) ([]domain.Record, error)
	Verify(ctx context.Context, clinicID string) (domain.VerifyResult, error)
	Digest(ctx context.Context, clinicID string) (domain.Digest, error)
	Digests(ctx context.Context, clinicID string) ([]domain.Digest, error)
	PublicKeys(ctx context.Context) ([]domain.PublicKey, error)
}

// API holds the handlers' dependencies.
type API struct {
	Chain  Chain
	Region string
	// Outbox is the service's own database, where reads of the log are
	// recorded as activity.read events before they are answered.
	Outbox *libstore.DB
	// Crypter opens the sealed client addresses for the report; without
	// it the report leaves them out.
	Crypter *fieldcrypt.Crypter
	Logger  *slog.Logger
	// Authenticated wraps an endpoint with the router signature, bearer
	// token and live-session checks (service.Deps.Authenticated).
	Authenticated func(http.Handler) http.Handler
	EdgeSecret    []byte
}

// Register adds the audit routes to mux.
func (a *API) Register(mux httpserver.Routes) {
	authed := func(h http.HandlerFunc) http.Handler { return a.Authenticated(h) }
	mux.Handle("GET /v1/events", authed(a.events))
	mux.Handle("GET /v1/events.csv", authed(a.eventsCSV))
	mux.Handle("GET /v1/verify", authed(a.verify))
	mux.Handle("GET /v1/digests", authed(a.digests))
	mux.Handle("POST /v1/digests", authed(a.createDigest))
	// Public: anyone holding a digest can check it offline with this key.
	mux.Handle("GET /v1/digest-keys", edgeauth.Require(a.EdgeSecret, a.Region, http.HandlerFunc(a.keys)))
}

// allow checks that the caller may read the clinic's activity log (owner
// and admin) and records the access before anything is answered: no event,
// no data. A refusal is recorded and answered at once; an allowed read is
// recorded only once valid (valid, when not nil, checks the query first and
// writes its problem), so a malformed query reads and records nothing. It
// writes the problem and reports false when the request must stop.
func (a *API) allow(w http.ResponseWriter, r *http.Request, valid func() bool) (authz.Principal, bool) {
	p, _ := authn.PrincipalFrom(r.Context())
	if d := authz.Decide(p, authz.ActionActivityRead, authz.Resource{ClinicID: p.ClinicID}); !d.Allow {
		if a.record(w, r, p, audit.Denied) {
			problem.Write(w, r, problem.Forbidden("only the clinic's owners and administrators may read its activity log"))
		}
		return p, false
	}
	if valid != nil && !valid() {
		return p, false
	}
	return p, a.record(w, r, p, audit.Allowed)
}

// record writes the activity.read event; on failure it answers 503.
func (a *API) record(w http.ResponseWriter, r *http.Request, p authz.Principal, outcome audit.Outcome) bool {
	e, err := audit.ForRequest(r, a.Region, a.Crypter, p, audit.ActivityRead, outcome)
	if err == nil {
		e.ResourceType, e.ResourceID = "activity_log", p.ClinicID
		err = audit.RecordNow(r.Context(), a.Outbox, e)
	}
	if err != nil {
		a.Logger.ErrorContext(r.Context(), "recording an activity-log read failed", slog.String("error", err.Error()))
		w.Header().Set("Retry-After", "5")
		problem.Write(w, r, problem.Unavailable("the access could not be recorded, so nothing is shown; retry shortly"))
		return false
	}
	return true
}

// noQuery refuses query parameters on endpoints that take none.
func noQuery(w http.ResponseWriter, r *http.Request) func() bool {
	return func() bool {
		if len(r.URL.Query()) > 0 {
			problem.Write(w, r, problem.Validation(problem.FieldError{Field: "query", Reason: "this endpoint takes no parameters"}))
			return false
		}
		return true
	}
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	a.Logger.ErrorContext(r.Context(), "audit request failed", slog.String("error", err.Error()))
	problem.Write(w, r, problem.Internal())
}

// eventJSON is one row of the activity report.
type eventJSON struct {
	Seq          int64     `json:"seq"`
	ID           string    `json:"id"`
	OccurredAt   time.Time `json:"occurred_at"`
	Action       string    `json:"action"`
	Outcome      string    `json:"outcome"`
	Actor        actorJSON `json:"actor"`
	ResourceType string    `json:"resource_type,omitempty"`
	ResourceID   string    `json:"resource_id,omitempty"`
	PatientID    string    `json:"patient_id,omitempty"`
	RequestID    string    `json:"request_id,omitempty"`
	ClientIP     string    `json:"client_ip,omitempty"`
	Hash         string    `json:"hash"`
	ReceivedAt   time.Time `json:"received_at"`
}

type actorJSON struct {
	UserID    string `json:"user_id,omitempty"`
	Role      string `json:"role,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	System    string `json:"system,omitempty"`
}

func (a *API) toJSON(ctx context.Context, rec domain.Record) eventJSON {
	e := rec.Event
	return eventJSON{
		Seq: rec.Link.Seq, ID: e.ID, OccurredAt: e.OccurredAt, Action: e.Action, Outcome: e.Outcome,
		Actor:        actorJSON{UserID: e.Actor.UserID, Role: e.Actor.Role, SessionID: e.Actor.SessionID, System: e.Actor.System},
		ResourceType: e.ResourceType, ResourceID: e.ResourceID, PatientID: e.PatientID, RequestID: e.RequestID,
		ClientIP: a.clientIP(ctx, e), Hash: rec.Link.Hash, ReceivedAt: rec.ReceivedAt,
	}
}

// clientIP opens the sealed client address for the report, or returns ""
// when there is none, no crypter, or the clinic's key is gone.
func (a *API) clientIP(ctx context.Context, e domain.Event) string {
	if e.ClientIP == "" || a.Crypter == nil {
		return ""
	}
	ip, err := audit.OpenClientIP(ctx, a.Crypter, audit.Event{ID: e.ID, ClinicID: e.ClinicID, ClientIP: e.ClientIP})
	if err != nil {
		return ""
	}
	return ip
}

// eventsPage is the body of GET /v1/events.
type eventsPage struct {
	Events     []eventJSON `json:"events"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

func (a *API) events(w http.ResponseWriter, r *http.Request) {
	var f domain.Filter
	p, ok := a.allow(w, r, func() (ok bool) { f, ok = parseFilter(w, r); return ok })
	if !ok {
		return
	}
	recs, err := a.Chain.Events(r.Context(), p.ClinicID, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page := eventsPage{Events: make([]eventJSON, 0, len(recs))}
	for _, rec := range recs {
		page.Events = append(page.Events, a.toJSON(r.Context(), rec))
	}
	if len(recs) == f.Limit {
		page.NextCursor = strconv.FormatInt(recs[len(recs)-1].Link.Seq, 10)
	}
	httpjson.Write(w, http.StatusOK, page)
}

// reportParams are the query parameters of the activity report.
var reportParams = map[string]bool{
	"from": true, "to": true, "user_id": true, "action": true, "patient_id": true,
	"resource_type": true, "resource_id": true, "outcome": true, "cursor": true, "limit": true,
}

// parseFilter reads the activity report's query. An unknown parameter is
// refused rather than ignored: a misspelt filter must not silently show the
// whole log.
func parseFilter(w http.ResponseWriter, r *http.Request) (domain.Filter, bool) {
	q := r.URL.Query()
	var bad []problem.FieldError
	for k := range q {
		if !reportParams[k] {
			bad = append(bad, problem.FieldError{Field: k, Reason: "is not a parameter of this report"})
		} else if len(q[k]) > 1 {
			bad = append(bad, problem.FieldError{Field: k, Reason: "may be given once"})
		}
	}
	f := domain.Filter{
		UserID: q.Get("user_id"), Action: q.Get("action"), PatientID: q.Get("patient_id"),
		ResourceType: q.Get("resource_type"), ResourceID: q.Get("resource_id"), Outcome: q.Get("outcome"),
		Limit: domain.DefaultLimit,
	}
	f.From, bad = parseTime(q, "from", bad)
	f.To, bad = parseTime(q, "to", bad)
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		bad = append(bad, problem.FieldError{Field: "to", Reason: "must be after from"})
	}
	for field, v := range map[string]string{
		"user_id": f.UserID, "patient_id": f.PatientID, "resource_type": f.ResourceType, "resource_id": f.ResourceID,
	} {
		if v != "" && !audit.ValidID(v) {
			bad = append(bad, problem.FieldError{Field: field, Reason: "must be an id (letters, digits and . _ : -, at most 128)"})
		}
	}
	if f.Action != "" && !audit.Action(f.Action).Known() {
		bad = append(bad, problem.FieldError{Field: "action", Reason: "is not one of the audited actions"})
	}
	if f.Outcome != "" && !audit.Outcome(f.Outcome).Known() {
		bad = append(bad, problem.FieldError{Field: "outcome", Reason: "must be allowed, denied or failed"})
	}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			bad = append(bad, problem.FieldError{Field: "cursor", Reason: "is not a cursor this API returned"})
		}
		f.AfterSeq = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > domain.MaxLimit {
			bad = append(bad, problem.FieldError{Field: "limit", Reason: "must be a whole number from 1 to 1000"})
		}
		f.Limit = n
	}
	if len(bad) > 0 {
		problem.Write(w, r, problem.Validation(bad...))
		return domain.Filter{}, false
	}
	return f, true
}

func parseTime(q url.Values, name string, bad []problem.FieldError) (time.Time, []problem.FieldError) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, bad
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, append(bad, problem.FieldError{Field: name, Reason: "must be an RFC 3339 time, e.g. 2026-11-24T09:00:00Z"})
	}
	return t.UTC(), bad
}

// verifyJSON is the body of GET /v1/verify.
type verifyJSON struct {
	OK          bool        `json:"ok"`
	Checked     int         `json:"checked"`
	Head        linkJSON    `json:"head"`
	FirstBroken *brokenJSON `json:"first_broken"`
}

type linkJSON struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

type brokenJSON struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

func (a *API) verify(w http.ResponseWriter, r *http.Request) {
	p, ok := a.allow(w, r, noQuery(w, r))
	if !ok {
		return
	}
	res, err := a.Chain.Verify(r.Context(), p.ClinicID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body := verifyJSON{OK: res.OK, Checked: res.Checked, Head: linkJSON{Seq: res.Head.Seq, Hash: res.Head.Hash}}
	if res.FirstBroken != nil {
		body.FirstBroken = &brokenJSON{Seq: res.FirstBroken.Seq, Reason: res.FirstBroken.Reason}
	}
	httpjson.Write(w, http.StatusOK, body)
}

// digestJSON is a signed digest as published. SignedMessage is the exact
// byte string the signature covers (base64): SHA-256 of it is DigestHash,
// and it is the JSON of clinic_id, created_at, head_hash, head_seq,
// prev_digest_hash and seq.
type digestJSON struct {
	Seq            int64     `json:"seq"`
	HeadSeq        int64     `json:"head_seq"`
	HeadHash       string    `json:"head_hash"`
	CreatedAt      time.Time `json:"created_at"`
	PrevDigestHash string    `json:"prev_digest_hash"`
	DigestHash     string    `json:"digest_hash"`
	KeyID          string    `json:"key_id"`
	Signature      string    `json:"signature"`
	SignedMessage  string    `json:"signed_message"`
}

func toDigestJSON(d domain.Digest) digestJSON {
	return digestJSON{
		Seq: d.Seq, HeadSeq: d.HeadSeq, HeadHash: d.HeadHash, CreatedAt: d.CreatedAt, PrevDigestHash: d.PrevDigestHash,
		DigestHash: d.DigestHash, KeyID: d.KeyID, Signature: base64.StdEncoding.EncodeToString(d.Signature),
		SignedMessage: base64.StdEncoding.EncodeToString(d.SignedBytes()),
	}
}

func (a *API) digests(w http.ResponseWriter, r *http.Request) {
	p, ok := a.allow(w, r, noQuery(w, r))
	if !ok {
		return
	}
	ds, err := a.Chain.Digests(r.Context(), p.ClinicID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]digestJSON, len(ds))
	for i, d := range ds {
		out[i] = toDigestJSON(d)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"digests": out})
}

func (a *API) createDigest(w http.ResponseWriter, r *http.Request) {
	p, ok := a.allow(w, r, noQuery(w, r))
	if !ok {
		return
	}
	d, err := a.Chain.Digest(r.Context(), p.ClinicID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, toDigestJSON(d))
}

// keyJSON is one of the region's digest-verification keys.
type keyJSON struct {
	KeyID     string `json:"key_id"`
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"public_key"` // base64 of the 32-byte Ed25519 key
	PEM       string `json:"public_key_pem"`
}

func (a *API) keys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.Chain.PublicKeys(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]keyJSON, 0, len(keys))
	for _, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k.Key)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out = append(out, keyJSON{
			KeyID: k.ID, Algorithm: "Ed25519", PublicKey: base64.StdEncoding.EncodeToString(k.Key),
			PEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		})
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"region": a.Region, "keys": out})
}
