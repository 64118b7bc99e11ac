package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/audit/audittest"
	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
	"github.com/havenhealth/haven/libs/httpserver"
	libstore "github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/audit/internal/domain"
	"github.com/havenhealth/haven/services/audit/internal/httpapi"
	"github.com/havenhealth/haven/services/audit/internal/store"
	"github.com/havenhealth/haven/services/audit/migrations"
)

const (
	region = "london"
	clinic = "0195a3b0-7c1e-7000-8000-00000000c001"
	owner  = "0195a3b0-7c1e-7000-8000-0000000000a1"
	nurse  = "0195a3b0-7c1e-7000-8000-0000000000b2"
)

var secret = []byte("test-edge-secret-0123456789abcdef")

type fixture struct {
	t       testing.TB
	db      *libstore.DB
	chain   *store.Store
	crypter *fieldcrypt.Crypter
	handler http.Handler
	events  []audit.Event // appended to the chain, in order
}

// principalHeader names the test's principal; the wrapper below stands in
// for the bearer-token check (tested in libs/authn) and keeps the router
// signature check real.
const principalHeader = "X-Test-Principal"

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db := storetest.OpenWith(t, migrations.Options())
	require.NoError(t, audit.Migrate(context.Background(), db))
	f := &fixture{t: t, db: db, chain: store.New(db)}
	require.NoError(t, fieldcrypt.Migrate(context.Background(), db))
	keys := fieldcrypttest.NewMemoryKeys()
	require.NoError(t, keys.CreateKey(context.Background(), clinic)) // identity does this at sign-up
	f.crypter = fieldcrypt.New(keys, db, fieldcrypt.Options{})
	require.NoError(t, f.crypter.EnsureClinic(context.Background(), clinic))
	api := &httpapi.API{
		Chain: f.chain, Region: region, Outbox: db, Crypter: f.crypter, Logger: slog.New(slog.DiscardHandler),
		EdgeSecret: secret,
		Authenticated: func(h http.Handler) http.Handler {
			return edgeauth.Require(secret, region, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var p authz.Principal
				if err := json.Unmarshal([]byte(r.Header.Get(principalHeader)), &p); err != nil {
					http.Error(w, "test principal missing", http.StatusTeapot)
					return
				}
				h.ServeHTTP(w, r.WithContext(authn.WithPrincipal(r.Context(), p)))
			}))
		},
	}
	mux := http.NewServeMux()
	api.Register(mux)
	f.handler = httpserver.New(mux, httpserver.Options{Logger: slog.New(slog.DiscardHandler)}).Handler()
	return f
}

func principal(userID string, role authz.Role) authz.Principal {
	return authz.Principal{ClinicID: clinic, UserID: userID, SessionID: "sess-" + userID[len(userID)-2:], Role: role, Grants: authz.RoleGrants(role)}
}

// seed chains n events of the clinic: users alternate, actions cycle.
func (f *fixture) seed(n int, start time.Time) {
	f.t.Helper()
	ctx := context.Background()
	actions := []audit.Action{audit.SessionFail, audit.SessionCreate, audit.UserCreate}
	for i := range n {
		user := []string{owner, nurse}[i%2]
		e := audit.New(clinic, region, audit.Actor{UserID: user, Role: "owner", SessionID: "s1"}, actions[i%3], audit.Allowed)
		e.OccurredAt = start.Add(time.Duration(i) * time.Minute)
		e.ResourceType, e.ResourceID = "user", nurse
		require.NoError(f.t, audit.SealClientIP(ctx, f.crypter, &e, fmt.Sprintf("203.0.113.%d", i)))
		de, err := domain.DecodeEvent(e.Canonical())
		require.NoError(f.t, err)
		_, ok, err := f.chain.Append(ctx, de)
		require.NoError(f.t, err)
		require.True(f.t, ok)
		f.events = append(f.events, e)
	}
}

func (f *fixture) do(method, target string, p authz.Principal) *httptest.ResponseRecorder {
	f.t.Helper()
	r := httptest.NewRequest(method, target, nil)
	pj, err := json.Marshal(p)
	require.NoError(f.t, err)
	r.Header.Set(principalHeader, string(pj))
	edgeauth.Sign(r, secret, clinic, region, time.Now())
	r.Header.Set(edgeauth.HeaderClientIP, "198.51.100.7") // the router sets it after signing
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

// outbox returns the activity.read events recorded so far.
func (f *fixture) reads() []audit.Event {
	f.t.Helper()
	var out []audit.Event
	for _, e := range audittest.Outbox(f.t, f.db.DB) {
		if e.Action == audit.ActivityRead {
			out = append(out, e)
		}
	}
	return out
}

type page struct {
	Events []struct {
		Seq        int64     `json:"seq"`
		ID         string    `json:"id"`
		OccurredAt time.Time `json:"occurred_at"`
		Action     string    `json:"action"`
		Outcome    string    `json:"outcome"`
		Actor      struct {
			UserID string `json:"user_id"`
		} `json:"actor"`
		ClientIP string `json:"client_ip"`
		Hash     string `json:"hash"`
	} `json:"events"`
	NextCursor string `json:"next_cursor"`
}

func decodePage(t *testing.T, w *httptest.ResponseRecorder) page {
	t.Helper()
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var p page
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	return p
}

func TestEvents_FiltersPagesAndRecordsTheRead(t *testing.T) {
	f := newFixture(t)
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	f.seed(30, start)
	own := principal(owner, authz.RoleOwner)

	all := decodePage(t, f.do("GET", "/v1/events", own))
	require.Len(t, all.Events, 30)
	require.Empty(t, all.NextCursor)
	for i, e := range all.Events {
		require.Equal(t, int64(i+1), e.Seq)
		require.Equal(t, f.events[i].ID, e.ID)
		require.Equal(t, fmt.Sprintf("203.0.113.%d", i), e.ClientIP, "sealed address opened for the owner")
	}

	q := url.Values{"user_id": {nurse}, "action": {"session.create"}}
	byUser := decodePage(t, f.do("GET", "/v1/events?"+q.Encode(), own))
	require.NotEmpty(t, byUser.Events)
	for _, e := range byUser.Events {
		require.Equal(t, nurse, e.Actor.UserID)
		require.Equal(t, "session.create", e.Action)
	}
	want := 0
	for i := range 30 {
		if i%2 == 1 && i%3 == 1 {
			want++
		}
	}
	require.Len(t, byUser.Events, want)

	target := decodePage(t, f.do("GET", "/v1/events?resource_type=user&resource_id="+nurse, own))
	require.Len(t, target.Events, 30, "every seeded event was done to the nurse's account")
	none := decodePage(t, f.do("GET", "/v1/events?resource_id="+owner, own))
	require.Empty(t, none.Events)

	q = url.Values{"from": {start.Add(10 * time.Minute).Format(time.RFC3339)}, "to": {start.Add(20 * time.Minute).Format(time.RFC3339)}}
	window := decodePage(t, f.do("GET", "/v1/events?"+q.Encode(), own))
	require.Len(t, window.Events, 10)
	require.Equal(t, int64(11), window.Events[0].Seq)

	p1 := decodePage(t, f.do("GET", "/v1/events?limit=12", own))
	require.Len(t, p1.Events, 12)
	require.Equal(t, "12", p1.NextCursor)
	p2 := decodePage(t, f.do("GET", "/v1/events?limit=12&cursor="+p1.NextCursor, own))
	require.Equal(t, int64(13), p2.Events[0].Seq)

	reads := f.reads()
	require.Len(t, reads, 7, "every report read is recorded")
	for _, e := range reads {
		require.Equal(t, audit.Allowed, e.Outcome)
		require.Equal(t, owner, e.Actor.UserID)
		require.Equal(t, "activity_log", e.ResourceType)
		ip, err := audit.OpenClientIP(context.Background(), f.crypter, e)
		require.NoError(t, err)
		require.Equal(t, "198.51.100.7", ip)
	}
}

func TestEventsCSV_MatchesTheJSONReport(t *testing.T) {
	f := newFixture(t)
	f.seed(2500, time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)) // more than one page of 1000
	own := principal(owner, authz.RoleOwner)
	q := "user_id=" + nurse + "&action=session.fail"

	var jsonRows []string
	cursor := ""
	for {
		p := decodePage(t, f.do("GET", "/v1/events?limit=1000&"+q+cursor, own))
		for _, e := range p.Events {
			jsonRows = append(jsonRows, fmt.Sprintf("%d|%s|%s|%s|%s", e.Seq, e.ID, e.Action, e.Actor.UserID, e.Hash))
		}
		if p.NextCursor == "" {
			break
		}
		cursor = "&cursor=" + p.NextCursor
	}
	require.Len(t, jsonRows, 417) // i%2==1 && i%3==0 for i < 2500

	w := f.do("GET", "/v1/events.csv?"+q, own)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "text/csv; charset=utf-8", w.Header().Get("Content-Type"))
	require.Contains(t, w.Header().Get("Content-Disposition"), "attachment")
	rows, err := csv.NewReader(w.Body).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "seq", rows[0][0])
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var csvRows []string
	for _, r := range rows[1:] {
		csvRows = append(csvRows, fmt.Sprintf("%s|%s|%s|%s|%s", r[col["seq"]], r[col["event_id"]], r[col["action"]], r[col["actor_user_id"]], r[col["hash"]]))
	}
	require.Equal(t, jsonRows, csvRows)

	capped := f.do("GET", "/v1/events.csv?limit=5", own)
	rows, err = csv.NewReader(capped.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 6)
}

func TestReport_DeniedForStaffAndRecordedAsDenied(t *testing.T) {
	f := newFixture(t)
	f.seed(3, time.Now())
	for _, role := range []authz.Role{authz.RolePractitioner, authz.RoleFrontDesk, authz.RoleBilling} {
		for _, target := range []string{"/v1/events", "/v1/events.csv", "/v1/verify", "/v1/digests"} {
			w := f.do("GET", target, principal(nurse, role))
			require.Equal(t, http.StatusForbidden, w.Code, "%s %s", role, target)
			require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
			require.NotContains(t, w.Body.String(), f.events[0].ID)
		}
	}
	w := f.do("POST", "/v1/digests", principal(nurse, authz.RolePractitioner))
	require.Equal(t, http.StatusForbidden, w.Code)
	reads := f.reads()
	require.Len(t, reads, 13)
	for _, e := range reads {
		require.Equal(t, audit.Denied, e.Outcome)
		require.Equal(t, nurse, e.Actor.UserID)
	}
	admin := f.do("GET", "/v1/events", principal(nurse, authz.RoleAdmin))
	require.Equal(t, http.StatusOK, admin.Code)
}

func TestReport_NoEventNoData(t *testing.T) {
	f := newFixture(t)
	f.seed(3, time.Now())
	require.NoError(t, f.db.Exec("DROP TABLE audit_outbox").Error)
	w := f.do("GET", "/v1/events", principal(owner, authz.RoleOwner))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.NotContains(t, w.Body.String(), f.events[0].ID)
}

func TestEvents_RefusesBadQueries(t *testing.T) {
	f := newFixture(t)
	own := principal(owner, authz.RoleOwner)
	for query, field := range map[string]string{
		"user=x":              "user",
		"action=chart.delete": "action",
		"action=session.fail&action=session.create": "action",
		"outcome=success": "outcome",
		"from=yesterday":  "from",
		"from=2026-11-24T10:00:00Z&to=2026-11-24T09:00:00Z": "to",
		"user_id=jane@example.com":                          "user_id",
		"patient_id=" + url.QueryEscape("Jane Doe"):         "patient_id",
		"cursor=abc": "cursor",
		"cursor=-4":  "cursor",
		"limit=0":    "limit",
		"limit=5000": "limit",
	} {
		for _, path := range []string{"/v1/events?", "/v1/events.csv?"} {
			w := f.do("GET", path+query, own)
			require.Equal(t, http.StatusBadRequest, w.Code, query)
			require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
			require.Contains(t, w.Body.String(), `"field":"`+field+`"`, query)
			require.NotContains(t, w.Body.String(), "jane@example.com")
		}
	}
	require.Empty(t, f.reads(), "a refused query reads nothing, so records nothing")

	// A caller who may not read the log is refused (and recorded) whatever the query.
	w := f.do("GET", "/v1/events?user=x", principal(nurse, authz.RolePractitioner))
	require.Equal(t, http.StatusForbidden, w.Code)
	reads := f.reads()
	require.Len(t, reads, 1)
	require.Equal(t, audit.Denied, reads[0].Outcome)
}

func FuzzEventsQuery(f *testing.F) {
	fx := newFixture(f)
	for _, s := range []string{"", "limit=3", "from=2026-11-24T09:00:00Z", "action=%ff", "cursor=9999999999999999999999", "to=&from="} {
		f.Add(s)
	}
	own := principal(owner, authz.RoleOwner)
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest("GET", "/v1/events", nil)
		r.URL.RawQuery = query
		pj, _ := json.Marshal(own)
		r.Header.Set(principalHeader, string(pj))
		edgeauth.Sign(r, secret, clinic, region, time.Now())
		w := httptest.NewRecorder()
		fx.handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("query %q: status %d: %s", query, w.Code, w.Body)
		}
	})
}

func TestVerifyAndDigests_CheckableOffline(t *testing.T) {
	f := newFixture(t)
	f.seed(7, time.Now())
	own := principal(owner, authz.RoleOwner)

	w := f.do("GET", "/v1/verify", own)
	require.Equal(t, http.StatusOK, w.Code)
	var v struct {
		OK          bool `json:"ok"`
		Checked     int  `json:"checked"`
		Head        struct{ Seq int64 }
		FirstBroken json.RawMessage `json:"first_broken"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v))
	require.True(t, v.OK)
	require.Equal(t, 7, v.Checked)
	require.Equal(t, int64(7), v.Head.Seq)
	require.Equal(t, "null", string(v.FirstBroken))

	require.Equal(t, http.StatusCreated, f.do("POST", "/v1/digests", own).Code)
	w = f.do("GET", "/v1/digests", own)
	require.Equal(t, http.StatusOK, w.Code)
	var ds struct {
		Digests []struct {
			HeadSeq       int64  `json:"head_seq"`
			HeadHash      string `json:"head_hash"`
			DigestHash    string `json:"digest_hash"`
			KeyID         string `json:"key_id"`
			Signature     string `json:"signature"`
			SignedMessage string `json:"signed_message"`
		} `json:"digests"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &ds))
	require.Len(t, ds.Digests, 1)
	d := ds.Digests[0]

	// The keys are public: no principal, only the router's signature.
	r := httptest.NewRequest("GET", "/v1/digest-keys", nil)
	edgeauth.Sign(r, secret, clinic, region, time.Now())
	kw := httptest.NewRecorder()
	f.handler.ServeHTTP(kw, r)
	require.Equal(t, http.StatusOK, kw.Code)
	var keys struct {
		Keys []struct {
			KeyID     string `json:"key_id"`
			PublicKey string `json:"public_key"`
			PEM       string `json:"public_key_pem"`
		} `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(kw.Body.Bytes(), &keys))
	require.Len(t, keys.Keys, 1)
	require.Equal(t, d.KeyID, keys.Keys[0].KeyID)
	require.True(t, strings.HasPrefix(keys.Keys[0].PEM, "-----BEGIN PUBLIC KEY-----"))

	// Offline check, from the published JSON alone.
	msg, err := base64.StdEncoding.DecodeString(d.SignedMessage)
	require.NoError(t, err)
	sig, err := base64.StdEncoding.DecodeString(d.Signature)
	require.NoError(t, err)
	pub, err := base64.StdEncoding.DecodeString(keys.Keys[0].PublicKey)
	require.NoError(t, err)
	sum := sha256.Sum256(msg)
	require.Equal(t, d.DigestHash, hex.EncodeToString(sum[:]))
	require.True(t, ed25519.Verify(pub, msg, sig))
	var signed struct {
		HeadSeq  int64  `json:"head_seq"`
		HeadHash string `json:"head_hash"`
		ClinicID string `json:"clinic_id"`
	}
	require.NoError(t, json.Unmarshal(msg, &signed))
	require.Equal(t, int64(7), signed.HeadSeq)
	require.Equal(t, d.HeadHash, signed.HeadHash)
	require.Equal(t, clinic, signed.ClinicID)
	require.False(t, ed25519.Verify(pub, bytes.Replace(msg, []byte(`"head_seq":7`), []byte(`"head_seq":6`), 1), sig))

	require.Equal(t, http.StatusBadRequest, f.do("GET", "/v1/verify?deep=1", own).Code)
}

func TestReport_RefusesUnsignedRequests(t *testing.T) {
	f := newFixture(t)
	for _, target := range []string{"/v1/events", "/v1/verify", "/v1/digest-keys"} {
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		require.Equal(t, http.StatusUnauthorized, w.Code, target)
	}
}

func TestVerify_ReportsTheFirstBrokenSeq(t *testing.T) {
	f := newFixture(t)
	f.seed(6, time.Now())
	own := principal(owner, authz.RoleOwner)
	if f.db.Dialect() == libstore.SQLite {
		require.NoError(t, f.db.Exec("DROP TRIGGER audit_chain_no_update").Error)
	}
	// Someone with database access rewrites event 4's outcome in its payload.
	require.NoError(t, f.db.Exec(`UPDATE audit_chain SET payload = REPLACE(payload, '"outcome":"allowed"', '"outcome":"denied"') WHERE seq = 4`).Error)

	w := f.do("GET", "/v1/verify", own)
	require.Equal(t, http.StatusOK, w.Code)
	var v struct {
		OK          bool `json:"ok"`
		Checked     int  `json:"checked"`
		Head        struct{ Seq int64 }
		FirstBroken *struct {
			Seq    int64  `json:"seq"`
			Reason string `json:"reason"`
		} `json:"first_broken"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v))
	require.False(t, v.OK)
	require.Equal(t, 3, v.Checked)
	require.Equal(t, int64(3), v.Head.Seq)
	require.NotNil(t, v.FirstBroken)
	require.Equal(t, int64(4), v.FirstBroken.Seq)
	require.Contains(t, v.FirstBroken.Reason, "hash mismatch")
}
