package store_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	libstore "github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
	"github.com/havenhealth/haven/services/audit/internal/domain"
	"github.com/havenhealth/haven/services/audit/internal/store"
	"github.com/havenhealth/haven/services/audit/migrations"
)

const clinic = "clinic-1"

func newStore(t testing.TB) (*store.Store, *libstore.DB) {
	t.Helper()
	db := storetest.OpenWith(t, migrations.Options())
	return store.New(db), db
}

func event(i int) domain.Event {
	return domain.Event{
		ID:           fmt.Sprintf("evt-%04d", i),
		ClinicID:     clinic,
		Region:       "eu-west",
		Actor:        domain.Actor{UserID: fmt.Sprintf("user-%d", i%3), Role: "clinician", SessionID: "sess-1"},
		Action:       []string{"patient.read", "chart.update"}[i%2],
		ResourceType: "patient", ResourceID: fmt.Sprintf("pat-%d", i%4), PatientID: fmt.Sprintf("pat-%d", i%4),
		Outcome: "success", RequestID: fmt.Sprintf("req-%d", i), ClientIP: "enc:v1:abcdef",
		OccurredAt: time.Date(2026, 3, 8, 10, 0, i, 123456789, time.UTC),
		Version:    1,
	}
}

// seed appends events 1..n to clinic's chain.
func seed(t *testing.T, s *store.Store, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		l, ok, err := s.Append(context.Background(), event(i))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, int64(i), l.Seq)
	}
}

// tamper runs statements the way an attacker with database access would:
// on SQLite the append-only triggers are dropped first; on PostgreSQL the
// test connection is a superuser, beyond the service role's grants.
func tamper(t *testing.T, db *libstore.DB, stmts ...string) {
	t.Helper()
	if db.Dialect() == libstore.SQLite {
		for _, trg := range []string{"audit_chain_no_update", "audit_chain_no_delete", "audit_digests_no_update", "audit_digests_no_delete"} {
			require.NoError(t, db.Exec("DROP TRIGGER IF EXISTS "+trg).Error)
		}
	}
	for _, q := range stmts {
		require.NoError(t, db.Exec(q).Error, q)
	}
}

func requireBroken(t *testing.T, s *store.Store, seq int64, reasonContains string) domain.VerifyResult {
	t.Helper()
	res, err := s.Verify(context.Background(), clinic)
	require.NoError(t, err)
	require.False(t, res.OK)
	require.NotNil(t, res.FirstBroken)
	require.Equal(t, seq, res.FirstBroken.Seq, res.FirstBroken.Reason)
	require.Contains(t, res.FirstBroken.Reason, reasonContains)
	return res
}

func TestVerify_UntouchedChainIsOK(t *testing.T) {
	s, _ := newStore(t)
	seed(t, s, 6)
	_, err := s.Digest(context.Background(), clinic)
	require.NoError(t, err)
	seed2, _, err := s.Append(context.Background(), event(7))
	require.NoError(t, err)

	res, err := s.Verify(context.Background(), clinic)
	require.NoError(t, err)
	require.True(t, res.OK, "%+v", res.FirstBroken)
	require.Nil(t, res.FirstBroken)
	require.Equal(t, 7, res.Checked)
	require.Equal(t, seed2, res.Head)
}

func TestVerify_EmptyChainIsOK(t *testing.T) {
	s, _ := newStore(t)
	res, err := s.Verify(context.Background(), "nobody")
	require.NoError(t, err)
	require.True(t, res.OK)
	require.Equal(t, 0, res.Checked)
	require.Equal(t, domain.GenesisHash, res.Head.Hash)
}

func TestVerify_DetectsEditedPayload(t *testing.T) {
	s, db := newStore(t)
	seed(t, s, 5)
	tamper(t, db, `UPDATE audit_chain SET payload = REPLACE(payload, '"outcome":"success"', '"outcome":"denied"') WHERE seq = 3`)
	requireBroken(t, s, 3, "hash mismatch")
}

func TestVerify_DetectsEditedColumn(t *testing.T) {
	s, db := newStore(t)
	seed(t, s, 5)
	tamper(t, db, `UPDATE audit_chain SET actor_user_id = 'someone-else' WHERE seq = 2`)
	requireBroken(t, s, 2, "actor_user_id")
}

func TestVerify_DetectsDeletedRow(t *testing.T) {
	s, db := newStore(t)
	seed(t, s, 5)
	tamper(t, db, `DELETE FROM audit_chain WHERE seq = 3`)
	requireBroken(t, s, 3, "seq gap")
}

func TestVerify_DetectsForgedRow(t *testing.T) {
	s, db := newStore(t)
	seed(t, s, 5)
	// The attacker makes room at seq 3 and inserts a forged event correctly
	// linked to seq 2; the next genuine row no longer links.
	tamper(t, db,
		`UPDATE audit_chain SET seq = seq + 1 WHERE seq = 5`,
		`UPDATE audit_chain SET seq = seq + 1 WHERE seq = 4`,
		`UPDATE audit_chain SET seq = seq + 1 WHERE seq = 3`)
	recs, err := s.Events(context.Background(), clinic, domain.Filter{AfterSeq: 1, Limit: 1})
	require.NoError(t, err)
	forged := event(99)
	payload := forged.Canonical()
	l, err := domain.Next(recs[0].Link, payload)
	require.NoError(t, err)
	require.Equal(t, int64(3), l.Seq)
	require.NoError(t, db.Exec(`INSERT INTO audit_chain (clinic_id, seq, event_id, occurred_at, actor_user_id, action, resource_type, resource_id, patient_id, outcome, payload, prev_hash, hash, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		clinic, l.Seq, forged.ID, forged.OccurredAt, forged.Actor.UserID, forged.Action, forged.ResourceType, forged.ResourceID, forged.PatientID, forged.Outcome,
		string(payload), l.PrevHash, l.Hash, time.Now().UTC()).Error)
	requireBroken(t, s, 4, "prev_hash does not match the hash of seq 3")
}

func TestVerify_DetectsForgedRowBeyondHead(t *testing.T) {
	s, db := newStore(t)
	seed(t, s, 3)
	tamper(t, db, `INSERT INTO audit_chain (clinic_id, seq, event_id, occurred_at, actor_user_id, action, resource_type, resource_id, patient_id, outcome, payload, prev_hash, hash, received_at)
		SELECT clinic_id, 9, 'forged', occurred_at, actor_user_id, action, resource_type, resource_id, patient_id, outcome, payload, prev_hash, hash, received_at FROM audit_chain WHERE seq = 3`)
	requireBroken(t, s, 4, "seq gap: expected seq 4, found seq 9")
}

func TestVerify_DetectsSwappedRows(t *testing.T) {
	s, db := newStore(t)
	seed(t, s, 5)
	// Swap the whole content of rows 3 and 4, each keeping its own valid hash.
	tamper(t, db,
		`UPDATE audit_chain SET seq = 100 WHERE seq = 3`,
		`UPDATE audit_chain SET seq = 3 WHERE seq = 4`,
		`UPDATE audit_chain SET seq = 4 WHERE seq = 100`)
	requireBroken(t, s, 3, "prev_hash does not match the hash of seq 2")
}

func TestVerify_DetectsSwappedPayloads(t *testing.T) {
	s, db := newStore(t)
	seed(t, s, 5)
	tamper(t, db,
		`UPDATE audit_chain SET payload = (SELECT payload FROM audit_chain WHERE seq = 4) || ' ' WHERE seq = 3`,
		`UPDATE audit_chain SET payload = (SELECT payload FROM audit_chain WHERE seq = 3) WHERE seq = 4`,
		`UPDATE audit_chain SET payload = RTRIM(payload) WHERE seq = 3`)
	requireBroken(t, s, 3, "hash mismatch")
}

func TestVerify_DetectsTruncationAfterDigest(t *testing.T) {
	s, db := newStore(t)
	seed(t, s, 5)
	_, err := s.Digest(context.Background(), clinic)
	require.NoError(t, err)
	tamper(t, db, `DELETE FROM audit_chain WHERE seq > 3`)
	requireBroken(t, s, 4, "chain truncated: digest 1 is signed over seq 5 but the chain ends at seq 3")
}

func TestVerify_DetectsRewriteBehindDigest(t *testing.T) {
	s, db := newStore(t)
	seed(t, s, 3)
	_, err := s.Digest(context.Background(), clinic)
	require.NoError(t, err)
	// Rebuild a self-consistent chain with an edited event 3.
	edited := event(3)
	edited.Outcome = "denied"
	recs, err := s.Events(context.Background(), clinic, domain.Filter{})
	require.NoError(t, err)
	l, err := domain.Next(recs[1].Link, edited.Canonical())
	require.NoError(t, err)
	tamper(t, db, fmt.Sprintf(`UPDATE audit_chain SET payload = '%s', hash = '%s', outcome = 'denied' WHERE seq = 3`, edited.Canonical(), l.Hash))
	requireBroken(t, s, 3, "differs from signed digest 1")
}

func TestAppendOnly_TriggersRefuseUpdateAndDelete(t *testing.T) {
	s, db := newStore(t)
	if db.Dialect() != libstore.SQLite {
		t.Skip("PostgreSQL relies on the service role's grants: TestAppendOnly_ServiceRoleCannotUpdateOrDelete")
	}
	seed(t, s, 2)
	_, err := s.Digest(context.Background(), clinic)
	require.NoError(t, err)
	for _, q := range []string{
		`UPDATE audit_chain SET outcome = 'denied' WHERE seq = 1`,
		`DELETE FROM audit_chain WHERE seq = 2`,
		`UPDATE audit_digests SET head_seq = 1`,
		`DELETE FROM audit_digests`,
	} {
		err := db.Exec(q).Error
		require.Error(t, err, q)
		require.Contains(t, err.Error(), "is append-only", q)
	}
	res, err := s.Verify(context.Background(), clinic)
	require.NoError(t, err)
	require.True(t, res.OK)
	require.Equal(t, 2, res.Checked)
}

func TestAppendOnly_ServiceRoleCannotUpdateOrDelete(t *testing.T) {
	s, db := newStore(t)
	if db.Dialect() != libstore.Postgres {
		t.Skip("SQLite is protected by triggers: TestAppendOnly_TriggersRefuseUpdateAndDelete")
	}
	seed(t, s, 2)
	_, err := s.Digest(context.Background(), clinic)
	require.NoError(t, err)
	for _, q := range []string{
		`UPDATE audit_chain SET outcome = 'denied' WHERE seq = 1`,
		`DELETE FROM audit_chain WHERE seq = 2`,
		`UPDATE audit_digests SET head_seq = 1`,
		`DELETE FROM audit_digests`,
	} {
		// The role exists only inside this transaction, which always rolls back.
		err := db.Transaction(func(tx *gorm.DB) error {
			for _, setup := range []string{
				`CREATE ROLE audit_service_test NOLOGIN`,
				`GRANT SELECT, INSERT ON audit_chain, audit_digests, audit_signing_keys TO audit_service_test`,
				`SET LOCAL ROLE audit_service_test`,
			} {
				require.NoError(t, tx.Exec(setup).Error, setup)
			}
			require.NoError(t, tx.Exec(`INSERT INTO audit_signing_keys (id, private_key, created_at) VALUES ('k', 'x', now())`).Error)
			return tx.Exec(q).Error
		})
		require.Error(t, err, q)
		require.Contains(t, err.Error(), "permission denied", q)
	}
	res, err := s.Verify(context.Background(), clinic)
	require.NoError(t, err)
	require.True(t, res.OK)
	require.Equal(t, 2, res.Checked)
}

func TestAppend_IsIdempotentByEventID(t *testing.T) {
	s, db := newStore(t)
	first, ok, err := s.Append(context.Background(), event(1))
	require.NoError(t, err)
	require.True(t, ok)
	again, ok, err := s.Append(context.Background(), event(1))
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, first, again)
	var n int64
	require.NoError(t, db.Table("audit_chain").Count(&n).Error)
	require.Equal(t, int64(1), n)
}

func TestAppend_RejectsInvalidEvent(t *testing.T) {
	s, _ := newStore(t)
	e := event(1)
	e.ClinicID = ""
	_, _, err := s.Append(context.Background(), e)
	require.ErrorIs(t, err, domain.ErrInvalidEvent)
}

// concurrently runs fn for workers 0..n-1 at once and fails t on any error.
func concurrently(t *testing.T, n int, fn func(w int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range n {
		wg.Go(func() {
			if err := fn(w); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// requireChainedOnce checks that clinicID's chain verifies and holds want
// distinct events, none twice, and returns the verification.
func requireChainedOnce(t *testing.T, s *store.Store, clinicID string, want int) domain.VerifyResult {
	t.Helper()
	res, err := s.Verify(context.Background(), clinicID)
	require.NoError(t, err)
	require.True(t, res.OK, "%s: %+v", clinicID, res.FirstBroken)
	recs, err := s.Events(context.Background(), clinicID, domain.Filter{Limit: 1000})
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, r := range recs {
		require.False(t, seen[r.Event.ID], "%s chained twice", r.Event.ID)
		seen[r.Event.ID] = true
	}
	require.Len(t, seen, want, clinicID)
	return res
}

func TestAppend_ConcurrentAppendsAreGapFree(t *testing.T) {
	s, _ := newStore(t)
	const workers, each = 8, 10
	concurrently(t, workers, func(w int) error {
		for i := range each {
			if _, _, err := s.Append(context.Background(), event(w*each+i+1)); err != nil {
				return err
			}
		}
		return nil
	})
	res, err := s.Verify(context.Background(), clinic)
	require.NoError(t, err)
	require.True(t, res.OK, "%+v", res.FirstBroken)
	require.Equal(t, workers*each, res.Checked)
	require.Equal(t, int64(workers*each), res.Head.Seq)
}

// Batches that overlap, chained at once (two consumers during a group
// rebalance, a redelivery racing the original): every event is chained
// once, in a gap-free chain per clinic.
// Batches of different events for the same clinic, chained at once, read
// the same chain head; all but one collide on (clinic_id, seq) and are
// chained again after it. None is lost, none chained twice, no seq skipped.
func TestAppendBatch_ConcurrentDisjointBatchesOfOneClinicAreGapFree(t *testing.T) {
	s, _ := newStore(t)
	const workers, batches, size = 4, 5, 10
	concurrently(t, workers, func(w int) error {
		for b := range batches {
			batch := make([]domain.Event, size)
			for j := range batch {
				batch[j] = event(1 + w*batches*size + b*size + j)
			}
			n, err := s.AppendBatch(context.Background(), batch)
			if err != nil {
				return err
			}
			if n != size {
				return fmt.Errorf("worker %d batch %d: %d of %d appended", w, b, n, size)
			}
		}
		return nil
	})
	res := requireChainedOnce(t, s, clinic, workers*batches*size)
	require.EqualValues(t, workers*batches*size, res.Checked)
	require.EqualValues(t, workers*batches*size, res.Head.Seq, "no seq skipped")
}

func TestAppendBatch_ConcurrentOverlappingBatchesChainOnce(t *testing.T) {
	s, _ := newStore(t)
	other := func(i int) domain.Event {
		e := event(i)
		e.ID, e.ClinicID = fmt.Sprintf("other-%04d", i), "clinic-2"
		return e
	}
	const workers, total = 6, 120
	concurrently(t, workers, func(w int) error {
		// Each worker chains a window of events of both clinics that
		// overlaps its neighbours' windows, in several batches.
		for start := w * 15; start < min(w*15+60, total); start += 20 {
			var batch []domain.Event
			for i := start + 1; i <= min(start+20, total); i++ {
				batch = append(batch, event(i), other(i))
			}
			if _, err := s.AppendBatch(context.Background(), batch); err != nil {
				return err
			}
		}
		return nil
	})
	for _, c := range []string{clinic, "clinic-2"} {
		requireChainedOnce(t, s, c, min(total, (workers-1)*15+60))
	}
}

func TestDigest_SignatureVerifiesAndDetectsModification(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	seed(t, s, 3)
	d1, err := s.Digest(ctx, clinic)
	require.NoError(t, err)
	seed2, _, err := s.Append(ctx, event(4))
	require.NoError(t, err)
	d2, err := s.Digest(ctx, clinic)
	require.NoError(t, err)
	require.Equal(t, int64(2), d2.Seq)
	require.Equal(t, d1.DigestHash, d2.PrevDigestHash)
	require.Equal(t, seed2.Hash, d2.HeadHash)

	pub, err := s.PublicKey(ctx)
	require.NoError(t, err)
	require.Equal(t, d1.KeyID, pub.ID)
	stored, err := s.Digests(ctx, clinic)
	require.NoError(t, err)
	require.Len(t, stored, 2)
	for _, d := range stored {
		require.True(t, d.VerifySignature(pub), "digest %d", d.Seq)
		require.True(t, ed25519.Verify(pub.Key, d.SignedBytes(), d.Signature))
	}

	modified := stored[1]
	modified.HeadSeq = 3
	require.False(t, modified.VerifySignature(pub))
	require.False(t, ed25519.Verify(pub.Key, modified.SignedBytes(), modified.Signature))

	_, other, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	require.False(t, stored[0].VerifySignature(domain.PublicKey{ID: pub.ID, Key: other.Public().(ed25519.PublicKey)}))
}

func TestPublicKey_IsStableAcrossStores(t *testing.T) {
	s, db := newStore(t)
	k1, err := s.PublicKey(context.Background())
	require.NoError(t, err)
	k2, err := store.New(db).PublicKey(context.Background())
	require.NoError(t, err)
	require.Equal(t, k1, k2)
}

func TestEvents_FiltersForActivityReport(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	seed(t, s, 12)
	_, _, err := s.Append(ctx, domain.Event{ID: "other", ClinicID: "clinic-2", Action: "patient.read", OccurredAt: time.Now()})
	require.NoError(t, err)

	all, err := s.Events(ctx, clinic, domain.Filter{})
	require.NoError(t, err)
	require.Len(t, all, 12)
	require.Equal(t, event(5), all[4].Event)

	byUser, err := s.Events(ctx, clinic, domain.Filter{UserID: "user-1", Action: "patient.read"})
	require.NoError(t, err)
	require.NotEmpty(t, byUser)
	for _, r := range byUser {
		require.Equal(t, "user-1", r.Event.Actor.UserID)
		require.Equal(t, "patient.read", r.Event.Action)
	}

	window, err := s.Events(ctx, clinic, domain.Filter{From: event(3).OccurredAt, To: event(6).OccurredAt, PatientID: "pat-3"})
	require.NoError(t, err)
	require.Len(t, window, 1)
	require.Equal(t, "evt-0003", window[0].Event.ID)

	page, err := s.Events(ctx, clinic, domain.Filter{AfterSeq: 10, Limit: 5})
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Equal(t, int64(11), page[0].Link.Seq)
}

func TestVerify_DetectsForgedDigest(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	seed(t, s, 4)
	_, err := s.Digest(ctx, clinic)
	require.NoError(t, err)
	_, _, err = s.Append(ctx, event(5))
	require.NoError(t, err)
	_, err = s.Digest(ctx, clinic)
	require.NoError(t, err)
	// Someone with database access re-points digest 2 at seq 4 to hide a
	// rewrite of event 5, but cannot sign it.
	tamper(t, db, `UPDATE audit_digests SET head_seq = 4 WHERE seq = 2`)
	requireBroken(t, s, 5, "digest 2 signature does not verify")
}

func TestVerify_DetectsDeletedDigest(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		_, _, err := s.Append(ctx, event(i))
		require.NoError(t, err)
		_, err = s.Digest(ctx, clinic)
		require.NoError(t, err)
	}
	tamper(t, db, `DELETE FROM audit_digests WHERE seq = 2`)
	requireBroken(t, s, 2, "expected digest 2, found digest 3")
}

func TestVerify_DigestsFromAnotherKeyAreForged(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	seed(t, s, 2)
	_, err := s.Digest(ctx, clinic)
	require.NoError(t, err)
	other := store.New(db).WithSigner(fixedSigner{})
	_, err = other.Digest(ctx, clinic)
	require.NoError(t, err)
	requireBroken(t, s, 3, "not one of the region's keys")
}

// fixedSigner is a key the region does not own.
type fixedSigner struct{}

var otherKey = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

func (fixedSigner) Sign(_ context.Context, msg []byte) ([]byte, string, error) {
	return ed25519.Sign(otherKey, msg), domain.KeyIDFor(otherKey.Public().(ed25519.PublicKey)), nil
}

func (fixedSigner) PublicKeys(context.Context) ([]domain.PublicKey, error) {
	pub := otherKey.Public().(ed25519.PublicKey)
	return []domain.PublicKey{{ID: domain.KeyIDFor(pub), Key: pub}}, nil
}

func TestAppendBatch_IdempotentInterleavedAndOrdered(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	other := func(i int) domain.Event {
		e := event(i)
		e.ID, e.ClinicID = fmt.Sprintf("other-%04d", i), "clinic-2"
		return e
	}
	seed(t, s, 2)
	// Already chained (1, 2), repeated within the batch (3), two clinics interleaved.
	batch := []domain.Event{event(1), other(1), event(3), event(2), other(2), event(3), event(4)}
	n, err := s.AppendBatch(ctx, batch)
	require.NoError(t, err)
	require.Equal(t, 4, n) // 3, 4, other-1, other-2
	n, err = s.AppendBatch(ctx, batch)
	require.NoError(t, err)
	require.Zero(t, n, "a re-delivered batch adds nothing")

	recs, err := s.Events(ctx, clinic, domain.Filter{})
	require.NoError(t, err)
	require.Len(t, recs, 4)
	for i, r := range recs {
		require.Equal(t, event(i+1).ID, r.Event.ID)
	}
	for _, c := range []string{clinic, "clinic-2"} {
		v, err := s.Verify(ctx, c)
		require.NoError(t, err)
		require.True(t, v.OK, "%s: %+v", c, v.FirstBroken)
	}

	// An id chained under another clinic is not chained twice.
	dup := event(9)
	dup.ID = other(1).ID
	n, err = s.AppendBatch(ctx, []domain.Event{dup, event(5)})
	require.NoError(t, err)
	require.Equal(t, 1, n)

	_, err = s.AppendBatch(ctx, []domain.Event{{ID: "x"}})
	require.ErrorIs(t, err, domain.ErrInvalidEvent)
}

// BenchmarkAppendBatch measures the chain store alone: events chained per
// second in batches of 2,000 (the consumer's default), shaped like the
// pipeline benchmark's clinic workload: 50 clinics, each with 20 staff and
// 2,000 patients, a new chart entry read by every event.
func BenchmarkAppendBatch(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	clinics := make([]string, 50)
	for i := range clinics {
		clinics[i] = uuid.NewString()
	}
	id := func(clinic, kind string, k int) string {
		return uuid.NewSHA1(uuid.NameSpaceOID, []byte(clinic+kind+strconv.Itoa(k))).String()
	}
	i := 0
	for b.Loop() {
		b.StopTimer()
		batch := make([]domain.Event, 2000)
		for j := range batch {
			i++
			c := clinics[i%len(clinics)]
			batch[j] = domain.Event{
				Version: 1, ID: uuid.Must(uuid.NewV7()).String(), ClinicID: c, Region: "montreal",
				Actor:  domain.Actor{UserID: id(c, "staff", i*7%20), Role: "practitioner", SessionID: id(c, "session", i*7%20)},
				Action: "chart.read", ResourceType: "chart_entry", ResourceID: uuid.NewString(), PatientID: id(c, "patient", i*13%2000),
				Outcome: "allowed", RequestID: uuid.NewString(), ClientIP: "enc:v1:" + uuid.NewString(), OccurredAt: time.Now().UTC(),
			}
		}
		b.StartTimer()
		if _, err := s.AppendBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppend measures events appended per second to one clinic's chain.
func BenchmarkAppend(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	start := time.Now()
	i := 0
	for b.Loop() {
		i++
		if _, _, err := s.Append(ctx, event(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "events/s")
}

// TestMigration_ResourceIDBackfillExpression checks the expression
// migration 00003 fills existing rows' resource_id with on SQLite, and the
// one its comment gives for PostgreSQL.
func TestMigration_ResourceIDBackfillExpression(t *testing.T) {
	s, db := newStore(t)
	seed(t, s, 3)
	expr := `COALESCE(json_extract(payload, '$.resource_id'), '')`
	if db.Dialect() == libstore.Postgres {
		expr = `COALESCE(payload::json ->> 'resource_id', '')`
	}
	var got []struct{ ResourceID, Backfill string }
	require.NoError(t, db.Raw(`SELECT resource_id, `+expr+` AS backfill FROM audit_chain ORDER BY seq`).Scan(&got).Error)
	require.Len(t, got, 3)
	for i, g := range got {
		require.Equal(t, event(i+1).ResourceID, g.Backfill)
		require.Equal(t, g.ResourceID, g.Backfill)
	}
}

// TestEvents_RareActionsUseTheActionIndexReadsAreNotIndexed: the action
// index leaves reads out (migration 00006), so the report's filter on a
// rare action must still be answered through it, with the same rows as
// without it, and a read filter must still find every read.
func TestEvents_RareActionsUseTheActionIndexReadsAreNotIndexed(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	var events []domain.Event
	for i := 1; i <= 3000; i++ {
		e := event(i)
		e.Action = "chart.read"
		if i%600 == 0 {
			e.Action = "session.fail"
		}
		events = append(events, e)
	}
	n, err := s.AppendBatch(ctx, events)
	require.NoError(t, err)
	require.Equal(t, 3000, n)
	require.NoError(t, db.Exec("ANALYZE").Error)

	fails, err := s.Events(ctx, clinic, domain.Filter{Action: "session.fail"})
	require.NoError(t, err)
	require.Len(t, fails, 5)
	for i, r := range fails {
		require.Equal(t, events[(i+1)*600-1].ID, r.Event.ID)
	}
	reads, err := s.Events(ctx, clinic, domain.Filter{Action: "chart.read", Limit: domain.MaxLimit, AfterSeq: 2000})
	require.NoError(t, err)
	require.Len(t, reads, 998)

	plan, err := s.ExplainEvents(ctx, clinic, domain.Filter{Action: "session.fail"})
	require.NoError(t, err)
	require.Contains(t, plan, "audit_chain_clinic_action", "plan:\n%s", plan)

}

// The audit database's embedded file is created with the chain's page size
// (migrations.SQLitePageSize), whatever the test database.
func TestOptions_EmbeddedChainUsesItsPageSize(t *testing.T) {
	db, err := libstore.Open(context.Background(), "sqlite://"+t.TempDir()+"/audit.db", migrations.Options())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	var pageSize int
	require.NoError(t, db.Raw("PRAGMA page_size").Scan(&pageSize).Error)
	require.Equal(t, migrations.SQLitePageSize, pageSize)
}
