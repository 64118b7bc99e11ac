package stack_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// auditEvent is one row of the audit service's activity report.
type auditEvent struct {
	Seq        int64     `json:"seq"`
	ID         string    `json:"id"`
	OccurredAt time.Time `json:"occurred_at"`
	Action     string    `json:"action"`
	Outcome    string    `json:"outcome"`
	Actor      struct {
		UserID    string `json:"user_id"`
		Role      string `json:"role"`
		SessionID string `json:"session_id"`
		System    string `json:"system"`
	} `json:"actor"`
	ResourceType string    `json:"resource_type"`
	ResourceID   string    `json:"resource_id"`
	PatientID    string    `json:"patient_id"`
	RequestID    string    `json:"request_id"`
	ClientIP     string    `json:"client_ip"`
	Hash         string    `json:"hash"`
	ReceivedAt   time.Time `json:"received_at"`
}

// auditDigest is a signed digest of a clinic's chain.
type auditDigest struct {
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

// getRaw is a GET through the router returning the status, content type
// and body as they came.
func getRaw(t testing.TB, url, token string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), raw
}

// auditEvents reads every page of the activity report for query.
func auditEvents(t testing.TB, base, token string, query url.Values) []auditEvent {
	t.Helper()
	var all []auditEvent
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	for {
		events, next := auditPage(t, base, token, q)
		all = append(all, events...)
		if next == "" {
			return all
		}
		q.Set("cursor", next)
	}
}

// auditPage reads one page of the activity report and its next cursor.
// (Every read of the report is itself recorded, so following cursors to the
// end can keep finding the reads' own events.)
func auditPage(t testing.TB, base, token string, q url.Values) ([]auditEvent, string) {
	t.Helper()
	status, ctype, raw := getRaw(t, base+"/audit/v1/events?"+q.Encode(), token)
	require.Equal(t, http.StatusOK, status, "activity report %s: %s", q.Encode(), raw)
	require.Equal(t, "application/json", strings.Split(ctype, ";")[0])
	var page struct {
		Events     []auditEvent `json:"events"`
		NextCursor string       `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal(raw, &page))
	return page.Events, page.NextCursor
}

func findEvents(events []auditEvent, match func(auditEvent) bool) []auditEvent {
	var out []auditEvent
	for _, e := range events {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

func TestDevstack_AuditTrail(t *testing.T) {
	d, _, _, _ := bootDevstack(t)
	router := d.manifest.RouterURL
	run := token(t)
	const ownerPW, staffPW, wrongPW = "owner passphrase for the audit e2e", "front desk passphrase 7731", "quite the wrong passphrase 0"
	windowStart := time.Now().UTC().Truncate(time.Second)

	// 1. A London clinic; its owner signs in.
	gb := signup{country: "GB", zone: "Europe/London", region: "london", slug: "aud-gb-" + run,
		ownerName: "OwnerAudit" + run, ownerEmail: "owner-audit-" + run + "@example.org"}
	r := call(t, http.MethodPost, router+"/v1/clinics", signupBody(gb, ownerPW))
	require.Equal(t, http.StatusCreated, r.status, "%v", r.body)
	require.Equal(t, "london", r.body["region"])
	base := router + "/c/" + gb.slug
	owner := signInAs(t, base, gb.ownerEmail, ownerPW)
	me := callAs(t, http.MethodGet, base+"/identity/v1/me", owner, nil)
	require.Equal(t, http.StatusOK, me.status, "%v", me.body)
	ownerID := me.body["user"].(map[string]any)["id"].(string)

	// 2. The owner creates a front-desk user with a password.
	staffName, staffEmail := "Front Desk "+run, "front-desk-"+run+"@example.org"
	created := callAs(t, http.MethodPost, base+"/identity/v1/users", owner, map[string]string{
		"name": staffName, "email": staffEmail, "role": "front_desk", "password": staffPW})
	require.Equal(t, http.StatusCreated, created.status, "%v", created.body)
	staffID := created.body["id"].(string)
	require.NotEmpty(t, staffID)

	// 3. One failed sign-in, then a successful one.
	fail := call(t, http.MethodPost, base+"/identity/v1/sessions", map[string]string{"email": staffEmail, "password": wrongPW})
	require.Equal(t, http.StatusUnauthorized, fail.status, "%v", fail.body)
	signInStart := time.Now()
	staff := signInAs(t, base, staffEmail, staffPW)
	signedIn := time.Now()

	// 4. Both sign-ins and the owner's creation of the user appear in the
	// owner's activity report within 2 s of the successful sign-in.
	byStaff := url.Values{"user_id": {staffID}}
	creations := url.Values{"action": {"user.create"}, "resource_type": {"user"}, "resource_id": {staffID}}
	var staffEvents []auditEvent
	var fails, creates, userCreates []auditEvent
	polls := 1
	for ; ; polls++ {
		staffEvents = auditEvents(t, base, owner, byStaff)
		fails = findEvents(staffEvents, func(e auditEvent) bool { return e.Action == "session.fail" })
		creates = findEvents(staffEvents, func(e auditEvent) bool { return e.Action == "session.create" })
		userCreates = findEvents(auditEvents(t, base, owner, creations), func(e auditEvent) bool { return e.ResourceID == staffID })
		if len(fails) > 0 && len(creates) > 0 && len(userCreates) > 0 {
			break
		}
		require.Less(t, time.Since(signInStart), 10*time.Second,
			"after %d polls the report still lacks the sign-ins or the creation: %+v", polls, staffEvents)
		time.Sleep(20 * time.Millisecond)
	}
	sinceResponse, sinceRequest := time.Since(signedIn), time.Since(signInStart)
	t.Logf("audit latency: successful sign-in → session.fail, session.create and user.create in the report: %v after the sign-in answered (%v after it was sent, %d polls)",
		sinceResponse, sinceRequest, polls)
	fmt.Printf("AUDIT_LATENCY since_signin_response=%v since_signin_request=%v\n", sinceResponse, sinceRequest)
	require.Less(t, sinceRequest, 2*time.Second, "the sign-ins must be in the activity report within 2 s")

	require.Len(t, fails, 1, "one failed sign-in: %+v", fails)
	require.Len(t, creates, 1, "one successful sign-in: %+v", creates)
	require.Len(t, userCreates, 1, "one creation of the user: %+v", userCreates)
	require.Equal(t, "denied", fails[0].Outcome)
	require.Equal(t, staffID, fails[0].Actor.UserID, "a failed sign-in on a known e-mail is the account's")
	require.Equal(t, "allowed", creates[0].Outcome)
	require.Equal(t, staffID, creates[0].Actor.UserID)
	require.Less(t, fails[0].Seq, creates[0].Seq, "the chain keeps the order they happened in")
	require.Equal(t, ownerID, userCreates[0].Actor.UserID, "the owner created the user")
	require.Equal(t, "owner", userCreates[0].Actor.Role)
	require.Equal(t, "allowed", userCreates[0].Outcome)
	require.Equal(t, "user", userCreates[0].ResourceType)
	require.Less(t, userCreates[0].Seq, fails[0].Seq)
	for _, e := range append(append([]auditEvent{}, staffEvents...), userCreates...) {
		require.NotEmpty(t, e.ID)
		require.Len(t, e.Hash, 64, "a SHA-256 link")
		require.False(t, e.OccurredAt.Before(windowStart), "%s occurred at %v, before the test began", e.Action, e.OccurredAt)
		require.False(t, e.ReceivedAt.Before(e.OccurredAt), "%s received before it occurred", e.Action)
	}

	// 5. Filters.
	onlyFail := auditEvents(t, base, owner, url.Values{"action": {"session.fail"}, "user_id": {staffID}})
	require.Len(t, onlyFail, 1)
	require.Equal(t, fails[0].ID, onlyFail[0].ID)
	require.Equal(t, fails[0].Hash, onlyFail[0].Hash)

	windowEnd := time.Now().UTC().Add(time.Minute)
	inWindow := auditEvents(t, base, owner, url.Values{"user_id": {staffID},
		"from": {windowStart.Format(time.RFC3339Nano)}, "to": {windowEnd.Format(time.RFC3339Nano)}})
	require.Len(t, findEvents(inWindow, func(e auditEvent) bool { return e.ID == fails[0].ID || e.ID == creates[0].ID }), 2,
		"the test's window holds both sign-ins: %+v", inWindow)
	past := auditEvents(t, base, owner, url.Values{"user_id": {staffID},
		"from": {windowStart.Add(-2 * time.Hour).Format(time.RFC3339)}, "to": {windowStart.Add(-time.Hour).Format(time.RFC3339)}})
	require.Empty(t, past, "nothing of this user happened an hour before the test")
	pastCreations := findEvents(auditEvents(t, base, owner, url.Values{"action": {"user.create"},
		"from": {windowStart.Add(-2 * time.Hour).Format(time.RFC3339)}, "to": {windowStart.Add(-time.Hour).Format(time.RFC3339)}}),
		func(e auditEvent) bool { return e.ResourceID == staffID })
	require.Empty(t, pastCreations)

	denied := auditEvents(t, base, owner, url.Values{"user_id": {staffID}, "outcome": {"denied"}})
	require.NotEmpty(t, findEvents(denied, func(e auditEvent) bool { return e.ID == fails[0].ID }), "outcome=denied holds the failure")
	require.Empty(t, findEvents(denied, func(e auditEvent) bool { return e.ID == creates[0].ID }), "outcome=denied leaves out the success")
	for _, e := range denied {
		require.Equal(t, "denied", e.Outcome)
	}

	// Refusals of the query itself.
	for _, q := range []string{"colour=blue", "outcome=maybe", "action=session.nap", "from=yesterday",
		"from=" + url.QueryEscape(windowEnd.Format(time.RFC3339)) + "&to=" + url.QueryEscape(windowStart.Format(time.RFC3339))} {
		status, ctype, raw := getRaw(t, base+"/audit/v1/events?"+q, owner)
		require.Equal(t, http.StatusBadRequest, status, "%s: %s", q, raw)
		require.Equal(t, "application/problem+json", ctype, q)
	}

	// 6. The CSV download matches the JSON report, row for row.
	status, ctype, raw := getRaw(t, base+"/audit/v1/events.csv?"+byStaff.Encode(), owner)
	require.Equal(t, http.StatusOK, status, "%s", raw)
	require.True(t, strings.HasPrefix(ctype, "text/csv"), ctype)
	jsonRows := auditEvents(t, base, owner, byStaff) // nothing new for this user since: it only reads
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"seq", "occurred_at", "action", "outcome", "actor_user_id", "actor_role", "actor_session_id",
		"actor_system", "resource_type", "resource_id", "patient_id", "request_id", "client_ip", "event_id", "hash", "received_at"}, rows[0])
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	rows = rows[1:]
	require.Len(t, rows, len(jsonRows), "CSV and JSON report the same events")
	require.GreaterOrEqual(t, len(rows), 2)
	for i, row := range rows {
		e := jsonRows[i]
		require.Equal(t, strconv.FormatInt(e.Seq, 10), row[col["seq"]], "row %d", i)
		require.Equal(t, e.ID, row[col["event_id"]], "row %d", i)
		require.Equal(t, e.Action, row[col["action"]], "row %d", i)
		require.Equal(t, e.Outcome, row[col["outcome"]], "row %d", i)
		require.Equal(t, e.Actor.UserID, row[col["actor_user_id"]], "row %d", i)
		require.Equal(t, e.Hash, row[col["hash"]], "row %d", i)
		at, err := time.Parse(time.RFC3339Nano, row[col["occurred_at"]])
		require.NoError(t, err, "row %d", i)
		require.True(t, e.OccurredAt.Equal(at), "row %d: occurred_at %v in CSV, %v in JSON", i, at, e.OccurredAt)
	}

	// 7. Only owners and administrators read the log; every attempt is
	// itself recorded, refusals included.
	for _, path := range []string{"/audit/v1/events", "/audit/v1/events.csv", "/audit/v1/verify", "/audit/v1/digests"} {
		status, ctype, raw := getRaw(t, base+path, staff)
		require.Equal(t, http.StatusForbidden, status, "%s as front desk: %s", path, raw)
		require.Equal(t, "application/problem+json", ctype, path)
		status, ctype, raw = getRaw(t, base+path, "")
		require.Equal(t, http.StatusUnauthorized, status, "%s with no token: %s", path, raw)
		require.Equal(t, "application/problem+json", ctype, path)
	}
	forged := callAs(t, http.MethodPost, base+"/audit/v1/digests", staff, nil)
	require.Equal(t, http.StatusForbidden, forged.status, "%v", forged.body)
	refusalsQuery := url.Values{"user_id": {staffID}, "action": {"activity.read"}, "outcome": {"denied"}}
	deadline := time.Now().Add(10 * time.Second)
	var refusals []auditEvent
	for {
		refusals = auditEvents(t, base, owner, refusalsQuery)
		if len(refusals) >= 5 { // four GETs and one POST
			break
		}
		require.True(t, time.Now().Before(deadline), "the front desk's refused reads are not in the report: %+v", refusals)
		time.Sleep(50 * time.Millisecond)
	}
	require.Len(t, refusals, 5)
	for _, e := range refusals {
		require.Equal(t, "front_desk", e.Actor.Role)
		require.Equal(t, "activity_log", e.ResourceType)
	}

	// 8. Integrity: the chain verifies, and a signed digest checks offline
	// with the region's public key.
	everything := auditEvents(t, base, owner, url.Values{"limit": {"1000"}})
	require.GreaterOrEqual(t, len(everything), 8, "sign-up, sign-ins, creation and reads")
	for i := 1; i < len(everything); i++ {
		require.Greater(t, everything[i].Seq, everything[i-1].Seq, "chain order")
	}
	v := callAs(t, http.MethodGet, base+"/audit/v1/verify", owner, nil)
	require.Equal(t, http.StatusOK, v.status, "%v", v.body)
	require.Equal(t, true, v.body["ok"], "%v", v.body)
	require.Nil(t, v.body["first_broken"])
	require.GreaterOrEqual(t, int(v.body["checked"].(float64)), len(everything))
	require.GreaterOrEqual(t, int64(v.body["head"].(map[string]any)["seq"].(float64)), everything[len(everything)-1].Seq)

	dr := callAs(t, http.MethodPost, base+"/audit/v1/digests", owner, nil)
	require.Equal(t, http.StatusCreated, dr.status, "%v", dr.body)
	var digest auditDigest
	b, err := json.Marshal(dr.body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &digest))
	require.GreaterOrEqual(t, digest.HeadSeq, everything[len(everything)-1].Seq)

	// The key list is public: the router lets a token-less call through and
	// the service checks only the router's signature.
	kr := call(t, http.MethodGet, base+"/audit/v1/digest-keys", nil)
	require.Equal(t, http.StatusOK, kr.status, "%v", kr.body)
	require.Equal(t, "london", kr.body["region"])
	var pub ed25519.PublicKey
	for _, k := range kr.body["keys"].([]any) {
		k := k.(map[string]any)
		if k["key_id"] != digest.KeyID {
			continue
		}
		require.Equal(t, "Ed25519", k["algorithm"])
		raw, err := base64.StdEncoding.DecodeString(k["public_key"].(string))
		require.NoError(t, err)
		require.Len(t, raw, ed25519.PublicKeySize)
		pub = raw
		block, _ := pem.Decode([]byte(k["public_key_pem"].(string)))
		require.NotNil(t, block, "public_key_pem")
		fromPEM, err := x509.ParsePKIXPublicKey(block.Bytes)
		require.NoError(t, err)
		require.True(t, pub.Equal(fromPEM), "the PEM and raw forms are the same key")
	}
	require.NotNil(t, pub, "the digest's key %q is not among the region's keys %v", digest.KeyID, kr.body)
	msg, err := base64.StdEncoding.DecodeString(digest.SignedMessage)
	require.NoError(t, err)
	sig, err := base64.StdEncoding.DecodeString(digest.Signature)
	require.NoError(t, err)
	require.True(t, ed25519.Verify(pub, msg, sig), "the digest's signature verifies with the region's public key")
	sum := sha256.Sum256(msg)
	require.Equal(t, hex.EncodeToString(sum[:]), digest.DigestHash)
	var signed struct {
		CreatedAt      string `json:"created_at"`
		HeadHash       string `json:"head_hash"`
		HeadSeq        int64  `json:"head_seq"`
		PrevDigestHash string `json:"prev_digest_hash"`
		Seq            int64  `json:"seq"`
	}
	require.NoError(t, json.Unmarshal(msg, &signed))
	require.Equal(t, digest.HeadHash, signed.HeadHash)
	require.Equal(t, digest.HeadSeq, signed.HeadSeq)
	require.Equal(t, digest.Seq, signed.Seq)
	require.Equal(t, digest.PrevDigestHash, signed.PrevDigestHash)
	signedAt, err := time.Parse(time.RFC3339Nano, signed.CreatedAt)
	require.NoError(t, err)
	require.True(t, digest.CreatedAt.Equal(signedAt))
	tampered := append([]byte{}, msg...)
	tampered[len(tampered)/2] ^= 1
	require.False(t, ed25519.Verify(pub, tampered, sig), "a changed message does not verify")
	// The digest anchors the chain: its head is the event at head_seq.
	headEv, _ := auditPage(t, base, owner, url.Values{"cursor": {strconv.FormatInt(digest.HeadSeq-1, 10)}, "limit": {"1"}})
	require.Len(t, headEv, 1)
	require.Equal(t, digest.HeadSeq, headEv[0].Seq)
	require.Equal(t, digest.HeadHash, headEv[0].Hash)
	list := callAs(t, http.MethodGet, base+"/audit/v1/digests", owner, nil)
	require.Equal(t, http.StatusOK, list.status, "%v", list.body)
	var listed []string
	for _, x := range list.body["digests"].([]any) {
		listed = append(listed, x.(map[string]any)["digest_hash"].(string))
	}
	require.Contains(t, listed, digest.DigestHash)
	t.Logf("chain: %d events reported, verify checked %v; digest %d over head %d signed with %s",
		len(everything), v.body["checked"], digest.Seq, digest.HeadSeq, digest.KeyID)

	// 9 and 10. Residency and no personal data, read from the files once
	// the devstack has stopped and flushed them.
	d.stop(t)
	home := d.manifest.Regions["london"].Dir
	require.NotEmpty(t, home)
	auditDB := func(hits []string) []string {
		var out []string
		for _, h := range hits {
			if strings.HasPrefix(filepath.Base(h), "audit.db") {
				out = append(out, h)
			}
		}
		return out
	}
	inDB := auditDB(filesContaining(t, home, staffID))
	require.NotEmpty(t, inDB, "the user's events are in London's audit database")
	inKafka := filesContaining(t, filepath.Join(home, "kafka"), staffID)
	require.NotEmpty(t, inKafka, "the user's events went through London's Kafka")
	t.Logf("the user's id is in %v and %v", inDB, inKafka)
	for name, reg := range d.manifest.Regions {
		if name == "london" {
			continue
		}
		require.NotEmpty(t, reg.Dir)
		require.Empty(t, filesContaining(t, reg.Dir, staffID, ownerID), "the clinic's audit trail is readable in %s", name)
	}
	personal := []string{staffEmail, staffName, gb.ownerEmail, gb.ownerName, staffPW, wrongPW, ownerPW}
	require.Empty(t, auditDB(filesContaining(t, home, personal...)), "personal data in London's audit database")
	require.Empty(t, filesContaining(t, filepath.Join(home, "kafka"), personal...), "personal data in London's Kafka")
	require.Empty(t, filesContaining(t, filepath.Join(home, "logs"), personal...), "personal data in London's logs")
}
