package fieldcrypt_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/libs/store/storetest"
)

// fakeClock is a controllable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	ctx    context.Context
	db     *store.DB
	keys   *fieldcrypttest.MemoryKeys
	clock  *fakeClock
	c      *fieldcrypt.Crypter
	clinic string
}

// newEnv opens a fresh migrated database (SQLite, or PostgreSQL when
// HAVEN_TEST_POSTGRES_URL is set), an in-memory Keys with one clinic, and a
// Crypter on a fake clock.
func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, serviceMigrations)
	require.NoError(t, fieldcrypt.Migrate(ctx, db))
	e := &env{ctx: ctx, db: db, keys: fieldcrypttest.NewMemoryKeys(), clock: newFakeClock()}
	e.clinic = e.newClinic(t)
	e.c = e.newCrypter()
	return e
}

func (e *env) newClinic(t testing.TB) string {
	t.Helper()
	id := fieldcrypttest.NewClinicID(t)
	require.NoError(t, e.keys.CreateKey(e.ctx, id))
	return id
}

func (e *env) newCrypter() *fieldcrypt.Crypter {
	return fieldcrypt.New(e.keys, e.db, fieldcrypt.Options{CacheTTL: 5 * time.Minute, Now: e.clock.Now})
}

func (e *env) scope() fieldcrypt.Scope {
	return fieldcrypt.Scope{ClinicID: e.clinic, Table: "patients", Column: "email", RowID: "0d9e2c5a-6f0b-4b8e-9c3d-2a1b0c9d8e7f"}
}

func (e *env) countKeys(t testing.TB, clinic string) int {
	t.Helper()
	var n int64
	require.NoError(t, e.db.Raw("SELECT COUNT(*) FROM fieldcrypt_data_keys WHERE clinic_id = ?", clinic).Scan(&n).Error)
	return int(n)
}

// requireNoSecret fails if an error message repeats a plaintext.
func requireNoSecret(t testing.TB, err error, secret []byte) {
	t.Helper()
	if err != nil && len(secret) > 0 && strings.Contains(err.Error(), string(secret)) {
		t.Fatalf("error message contains the plaintext")
	}
}

func TestCrypter_RoundTrips(t *testing.T) {
	e := newEnv(t)
	big := make([]byte, 4096)
	_, _ = rand.Read(big)
	for name, pt := range map[string][]byte{
		"empty":  {},
		"byte":   {0},
		"email":  []byte("maria.gonzalez@example.com"),
		"binary": big,
	} {
		t.Run(name, func(t *testing.T) {
			ct1, err := e.c.Encrypt(e.ctx, e.scope(), pt)
			require.NoError(t, err)
			ct2, err := e.c.Encrypt(e.ctx, e.scope(), pt)
			require.NoError(t, err)
			require.NotEqual(t, ct1, ct2, "same plaintext must not give the same ciphertext")
			if len(pt) >= 4 {
				require.False(t, bytes.Contains(ct1, pt), "ciphertext contains the plaintext")
			}
			got, err := e.c.Decrypt(e.ctx, e.scope(), ct1)
			require.NoError(t, err)
			require.True(t, bytes.Equal(pt, got), "round trip changed the value")

			// A fresh process (empty cache) reads it too.
			got, err = e.newCrypter().Decrypt(e.ctx, e.scope(), ct2)
			require.NoError(t, err)
			require.True(t, bytes.Equal(pt, got), "round trip through a fresh Crypter changed the value")
		})
	}
	require.Equal(t, 1, e.countKeys(t, e.clinic), "one data key for the clinic")
}

func TestCrypter_BindsCiphertextToScope(t *testing.T) {
	e := newEnv(t)
	other := e.newClinic(t)
	pt := []byte("maria.gonzalez@example.com")
	base := e.scope()
	ct, err := e.c.Encrypt(e.ctx, base, pt)
	require.NoError(t, err)
	// The other clinic has keys of its own.
	_, err = e.c.Encrypt(e.ctx, fieldcrypt.Scope{ClinicID: other, Table: "t", Column: "c", RowID: "r"}, []byte("x"))
	require.NoError(t, err)

	for name, mutate := range map[string]func(*fieldcrypt.Scope){
		"another row":    func(s *fieldcrypt.Scope) { s.RowID = "6b1f0a2e-0000-4000-8000-000000000001" },
		"another column": func(s *fieldcrypt.Scope) { s.Column = "phone" },
		"another table":  func(s *fieldcrypt.Scope) { s.Table = "staff" },
		"another clinic": func(s *fieldcrypt.Scope) { s.ClinicID = other },
		"shifted fields": func(s *fieldcrypt.Scope) { s.Table, s.Column = "patientse", "mail" },
	} {
		t.Run(name, func(t *testing.T) {
			s := base
			mutate(&s)
			for _, c := range []*fieldcrypt.Crypter{e.c, e.newCrypter()} { // cached and cold
				got, err := c.Decrypt(e.ctx, s, ct)
				require.ErrorIs(t, err, fieldcrypt.ErrIntegrity)
				require.Nil(t, got)
				requireNoSecret(t, err, pt)
			}
		})
	}
	got, err := e.c.Decrypt(e.ctx, base, ct)
	require.NoError(t, err)
	require.True(t, bytes.Equal(pt, got))
}

func TestCrypter_TamperingFailsIntegrity(t *testing.T) {
	e := newEnv(t)
	pt := []byte("maria.gonzalez@example.com")
	ct, err := e.c.Encrypt(e.ctx, e.scope(), pt)
	require.NoError(t, err)
	headerLen := 2 + int(ct[1])

	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		_, err := e.c.Decrypt(e.ctx, e.scope(), bad)
		if i >= headerLen {
			require.ErrorIs(t, err, fieldcrypt.ErrIntegrity, "flipped byte %d", i)
		} else {
			require.True(t, errors.Is(err, fieldcrypt.ErrIntegrity) || errors.Is(err, fieldcrypt.ErrMalformed),
				"flipped header byte %d: %v", i, err)
		}
		requireNoSecret(t, err, pt)
	}
	for n := 0; n < len(ct); n++ {
		_, err := e.c.Decrypt(e.ctx, e.scope(), ct[:n])
		require.True(t, errors.Is(err, fieldcrypt.ErrIntegrity) || errors.Is(err, fieldcrypt.ErrMalformed),
			"truncated to %d: %v", n, err)
	}
	_, err = e.c.Decrypt(e.ctx, e.scope(), append(bytes.Clone(ct), 0))
	require.ErrorIs(t, err, fieldcrypt.ErrIntegrity, "appended byte")
}

func TestCrypter_DestroyedClinicKeyFailsClearly(t *testing.T) {
	e := newEnv(t)
	pt := []byte("maria.gonzalez@example.com")
	ct, err := e.c.Encrypt(e.ctx, e.scope(), pt)
	require.NoError(t, err)
	_, err = e.c.Lookup(e.ctx, e.clinic, "email", string(pt))
	require.NoError(t, err)

	require.NoError(t, e.keys.Destroy(e.ctx, e.clinic))

	// Until Forget (or CacheTTL), this process still holds the keys.
	_, err = e.c.Decrypt(e.ctx, e.scope(), ct)
	require.NoError(t, err, "cached key before Forget")

	e.c.Forget(e.clinic)
	_, err = e.c.Decrypt(e.ctx, e.scope(), ct)
	require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed, "after Forget")
	_, err = e.c.Encrypt(e.ctx, e.scope(), pt)
	require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed, "encrypt after Forget")
	_, err = e.c.Lookup(e.ctx, e.clinic, "email", string(pt))
	require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed, "lookup after Forget")

	fresh := e.newCrypter()
	_, err = fresh.Decrypt(e.ctx, e.scope(), ct)
	require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed, "fresh Crypter")
	requireNoSecret(t, err, pt)

	// A clinic whose key never existed (or is gone before its first write)
	// gets no data key row.
	gone := fieldcrypttest.NewClinicID(t)
	_, err = fresh.Encrypt(e.ctx, fieldcrypt.Scope{ClinicID: gone, Table: "t", Column: "c", RowID: "r"}, pt)
	require.ErrorIs(t, err, fieldcrypt.ErrKeyDestroyed)
	require.Zero(t, e.countKeys(t, gone))
}

func TestCrypter_VaultDown(t *testing.T) {
	e := newEnv(t)
	pt := []byte("maria.gonzalez@example.com")
	ct, err := e.c.Encrypt(e.ctx, e.scope(), pt) // caches the data key
	require.NoError(t, err)
	cold := e.newClinic(t)
	coldScope := fieldcrypt.Scope{ClinicID: cold, Table: "patients", Column: "email", RowID: "r1"}

	e.keys.Down.Store(true)

	_, err = e.c.Encrypt(e.ctx, coldScope, pt)
	require.ErrorIs(t, err, fieldcrypt.ErrUnavailable, "encrypt without a cached key")
	require.Zero(t, e.countKeys(t, cold), "nothing stored for a failed first write")

	e.clock.Advance(4 * time.Minute)
	got, err := e.c.Decrypt(e.ctx, e.scope(), ct)
	require.NoError(t, err, "cached key within TTL")
	require.True(t, bytes.Equal(pt, got))
	_, err = e.c.Encrypt(e.ctx, e.scope(), pt)
	require.NoError(t, err, "encrypt with a cached key within TTL")

	e.clock.Advance(time.Minute + time.Second)
	_, err = e.c.Decrypt(e.ctx, e.scope(), ct)
	require.ErrorIs(t, err, fieldcrypt.ErrUnavailable, "after TTL")
	_, err = e.c.Encrypt(e.ctx, e.scope(), pt)
	require.ErrorIs(t, err, fieldcrypt.ErrUnavailable, "encrypt after TTL")

	e.keys.Down.Store(false)
	got, err = e.c.Decrypt(e.ctx, e.scope(), ct)
	require.NoError(t, err, "Vault back")
	require.True(t, bytes.Equal(pt, got))
}

func TestCrypter_RotateWhileDecrypting(t *testing.T) {
	e := newEnv(t)
	const values = 16
	cts := make([][]byte, values)
	for i := range cts {
		var err error
		cts[i], err = e.c.Encrypt(e.ctx, e.scope(), fmt.Appendf(nil, "value-%02d", i))
		require.NoError(t, err)
	}
	_, err := e.c.Lookup(e.ctx, e.clinic, "email", "a@example.com")
	require.NoError(t, err)

	var (
		stop     atomic.Bool
		failures atomic.Int64
		reads    atomic.Int64
		wg       sync.WaitGroup
	)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				want := fmt.Appendf(nil, "value-%02d", i%values)
				got, err := e.c.Decrypt(e.ctx, e.scope(), cts[i%values])
				if err != nil || !bytes.Equal(got, want) {
					failures.Add(1)
				}
				reads.Add(1)
			}
		}()
	}
	// A forgetter keeps dropping the cache so readers go back to the
	// database and Vault throughout, seeing old and new wraps (and loads
	// that overlap a Forget).
	rotating := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-rotating:
				return
			default:
				e.c.Forget(e.clinic)
				runtime.Gosched()
			}
		}
	}()
	// readersProgress waits until readers have done n more reads.
	readersProgress := func(n int64) {
		deadline := time.Now().Add(10 * time.Second)
		for start := reads.Load(); reads.Load() < start+n; {
			require.True(t, time.Now().Before(deadline), "readers stalled")
			runtime.Gosched()
		}
	}
	const rotations = 10
	base := e.keys.Unwraps.Load()
	for r := 0; r < rotations; r++ {
		e.c.Forget(e.clinic)
		readersProgress(50)
		require.NoError(t, e.c.RotateClinic(e.ctx, e.clinic))
		e.c.Forget(e.clinic)
		readersProgress(50)
	}
	close(rotating)
	stop.Store(true)
	wg.Wait()
	// Each Forget followed by reads forced at least one reload.
	require.GreaterOrEqual(t, e.keys.Unwraps.Load()-base, int64(2*rotations), "readers did not reload keys")
	t.Logf("%d reads, %d unwraps", reads.Load(), e.keys.Unwraps.Load())
	require.Zero(t, failures.Load(), "failed reads out of %d", reads.Load())
	require.Greater(t, reads.Load(), int64(0))

	// Every stored key is now wrapped under the newest version.
	var wrapped []string
	require.NoError(t, e.db.Raw("SELECT wrapped FROM fieldcrypt_data_keys WHERE clinic_id = ?", e.clinic).Scan(&wrapped).Error)
	require.Len(t, wrapped, 2, "data and lookup key")
	for _, w := range wrapped {
		require.True(t, strings.HasPrefix(w, fmt.Sprintf("mem:v%d:", rotations+1)), "not rewrapped to the newest version")
	}
}

func TestCrypter_RewrapClinicAfterRotationByAnotherService(t *testing.T) {
	e := newEnv(t)
	ct, err := e.c.Encrypt(e.ctx, e.scope(), []byte("v"))
	require.NoError(t, err)
	require.NoError(t, e.keys.Rotate(e.ctx, e.clinic)) // identity rotates
	require.NoError(t, e.c.RewrapClinic(e.ctx, e.clinic))

	var wrapped []string
	require.NoError(t, e.db.Raw("SELECT wrapped FROM fieldcrypt_data_keys WHERE clinic_id = ?", e.clinic).Scan(&wrapped).Error)
	require.Len(t, wrapped, 1)
	require.True(t, strings.HasPrefix(wrapped[0], "mem:v2:"), "rewrapped under the new version")
	got, err := e.newCrypter().Decrypt(e.ctx, e.scope(), ct)
	require.NoError(t, err)
	require.Equal(t, "v", string(got))
}

func TestCrypter_ReplicasRacingFirstWriteShareOneKey(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t)
	keys := fieldcrypttest.NewMemoryKeys()
	clinic := fieldcrypttest.NewClinicID(t)
	require.NoError(t, keys.CreateKey(ctx, clinic))

	var replicas []*fieldcrypt.Crypter
	for i := 0; i < 2; i++ {
		db, err := store.Open(ctx, url, store.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		require.NoError(t, fieldcrypt.Migrate(ctx, db))
		replicas = append(replicas, fieldcrypt.New(keys, db, fieldcrypt.Options{}))
	}
	scope := fieldcrypt.Scope{ClinicID: clinic, Table: "patients", Column: "email", RowID: "r1"}
	const perReplica = 4
	cts := make([][]byte, 2*perReplica)
	errs := make([]error, 2*perReplica)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range cts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			cts[i], errs[i] = replicas[i%2].Encrypt(ctx, scope, []byte("same value"))
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	db, err := store.Open(ctx, url, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	var n int64
	require.NoError(t, db.Raw("SELECT COUNT(*) FROM fieldcrypt_data_keys WHERE clinic_id = ? AND purpose = 'data'", clinic).Scan(&n).Error)
	require.EqualValues(t, 1, n, "exactly one data key after the race")
	for i, ct := range cts {
		got, err := replicas[(i+1)%2].Decrypt(ctx, scope, ct) // read by the other replica
		require.NoError(t, err)
		require.Equal(t, "same value", string(got))
	}
}

func TestCrypter_LookupIsStablePerClinicAndDiffersAcrossClinics(t *testing.T) {
	e := newEnv(t)
	other := e.newClinic(t)
	email, ok := fieldcrypt.NormalizeEmail("  Maria.Gonzalez@Example.com ")
	require.True(t, ok)

	a1, err := e.c.Lookup(e.ctx, e.clinic, "email", email)
	require.NoError(t, err)
	require.Len(t, a1, 64)
	require.NotContains(t, a1, email)

	again, err := e.c.Lookup(e.ctx, e.clinic, "email", "maria.gonzalez@example.com")
	require.NoError(t, err)
	require.Equal(t, a1, again, "same clinic, same value")

	fresh, err := e.newCrypter().Lookup(e.ctx, e.clinic, "email", email)
	require.NoError(t, err)
	require.Equal(t, a1, fresh, "stable across processes")

	require.NoError(t, e.c.RotateClinic(e.ctx, e.clinic))
	e.c.Forget(e.clinic)
	rotated, err := e.c.Lookup(e.ctx, e.clinic, "email", email)
	require.NoError(t, err)
	require.Equal(t, a1, rotated, "stable across key rotation")

	b, err := e.c.Lookup(e.ctx, other, "email", email)
	require.NoError(t, err)
	require.NotEqual(t, a1, b, "two clinics must not share lookups")

	kind, err := e.c.Lookup(e.ctx, e.clinic, "phone", email)
	require.NoError(t, err)
	require.NotEqual(t, a1, kind, "kinds are separated")

	// Length prefixes keep (kind, value) pairs apart.
	x, err := e.c.Lookup(e.ctx, e.clinic, "ab", "c")
	require.NoError(t, err)
	y, err := e.c.Lookup(e.ctx, e.clinic, "a", "bc")
	require.NoError(t, err)
	require.NotEqual(t, x, y)

	_, err = e.c.Lookup(e.ctx, e.clinic, "email", "")
	require.Error(t, err)
	_, err = e.c.Lookup(e.ctx, "Not-A-Clinic", "email", email)
	require.ErrorIs(t, err, fieldcrypt.ErrInvalidClinicID)
}

func TestCrypter_CachesKeysForTTLAndLoadsOncePerKey(t *testing.T) {
	e := newEnv(t)
	ct, err := e.c.Encrypt(e.ctx, e.scope(), []byte("v"))
	require.NoError(t, err)
	cold := e.newCrypter()
	base := e.keys.Unwraps.Load()

	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = cold.Decrypt(e.ctx, e.scope(), ct)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, e.keys.Unwraps.Load()-base, "concurrent cold reads unwrap once")

	e.clock.Advance(5*time.Minute - time.Second)
	_, err = cold.Decrypt(e.ctx, e.scope(), ct)
	require.NoError(t, err)
	require.EqualValues(t, 1, e.keys.Unwraps.Load()-base, "cached within TTL")

	e.clock.Advance(time.Second)
	_, err = cold.Decrypt(e.ctx, e.scope(), ct)
	require.NoError(t, err)
	require.EqualValues(t, 2, e.keys.Unwraps.Load()-base, "unwrapped again after TTL")
}

func TestCrypter_CacheSizeIsBounded(t *testing.T) {
	e := newEnv(t)
	c := fieldcrypt.New(e.keys, e.db, fieldcrypt.Options{CacheSize: 2, Now: e.clock.Now})
	var clinics []string
	var cts [][]byte
	for i := 0; i < 3; i++ {
		clinic := e.newClinic(t)
		ct, err := c.Encrypt(e.ctx, fieldcrypt.Scope{ClinicID: clinic, Table: "t", Column: "c", RowID: "r"}, []byte("v"))
		require.NoError(t, err)
		clinics, cts = append(clinics, clinic), append(cts, ct)
	}
	base := e.keys.Unwraps.Load()
	// The most recent two are cached; the first was evicted.
	for i := 2; i >= 0; i-- {
		_, err := c.Decrypt(e.ctx, fieldcrypt.Scope{ClinicID: clinics[i], Table: "t", Column: "c", RowID: "r"}, cts[i])
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, e.keys.Unwraps.Load()-base, "only the evicted key is unwrapped again")
}

func TestCrypter_RejectsIncompleteScope(t *testing.T) {
	e := newEnv(t)
	for name, s := range map[string]fieldcrypt.Scope{
		"no clinic":  {Table: "t", Column: "c", RowID: "r"},
		"bad clinic": {ClinicID: "../../sys", Table: "t", Column: "c", RowID: "r"},
		"no table":   {ClinicID: e.clinic, Column: "c", RowID: "r"},
		"no column":  {ClinicID: e.clinic, Table: "t", RowID: "r"},
		"no row":     {ClinicID: e.clinic, Table: "t", Column: "c"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.c.Encrypt(e.ctx, s, []byte("v"))
			require.True(t, errors.Is(err, fieldcrypt.ErrInvalidScope) || errors.Is(err, fieldcrypt.ErrInvalidClinicID), "%v", err)
		})
	}
	require.Equal(t, 0, e.countKeys(t, e.clinic))
}

func TestMigrate_KeepsItsOwnVersionTable(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t)
	for i := 0; i < 2; i++ { // idempotent
		db, err := store.Open(ctx, url, store.Options{Migrations: serviceMigrations})
		require.NoError(t, err)
		require.NoError(t, fieldcrypt.Migrate(ctx, db))
		var service, own int64
		require.NoError(t, db.Raw("SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0").Scan(&service).Error)
		require.NoError(t, db.Raw("SELECT COUNT(*) FROM "+fieldcrypt.VersionTable+" WHERE version_id > 0").Scan(&own).Error)
		require.EqualValues(t, 1, service, "service migrations")
		require.EqualValues(t, 1, own, "fieldcrypt migrations")
		require.NoError(t, db.Close())
	}
}

// FuzzDecrypt feeds arbitrary bytes to Decrypt: it must never panic, and
// never return a value without an error unless the input is a genuine
// ciphertext.
func FuzzDecrypt(f *testing.F) {
	e := newEnv(f)
	ct, err := e.c.Encrypt(e.ctx, e.scope(), []byte("maria.gonzalez@example.com"))
	require.NoError(f, err)
	f.Add(ct)
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 255})
	f.Add([]byte{2, 36})
	f.Add(append([]byte{1, 36}, make([]byte, 64)...))
	f.Add(ct[:len(ct)-1])
	f.Add(bytes.Repeat([]byte{0xff}, 100))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := e.c.Decrypt(e.ctx, e.scope(), in)
		if err == nil && !bytes.Equal(in, ct) {
			// Only an authentic ciphertext opens; any other input that does
			// would be a forgery.
			t.Fatalf("forged input decrypted (%d bytes)", len(got))
		}
	})
}

const fortyBytes = "maria.gonzalez+appointments@example.com!"

func BenchmarkEncryptDecrypt(b *testing.B) {
	pt := []byte(fortyBytes)
	b.Run("fieldcrypt-cached", func(b *testing.B) {
		e := newEnv(b)
		s := e.scope()
		_, err := e.c.Encrypt(e.ctx, s, pt) // warm the cache
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			ct, err := e.c.Encrypt(e.ctx, s, pt)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.c.Decrypt(e.ctx, s, ct); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=raw-aes-gcm", func(b *testing.B) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			b.Fatal(err)
		}
		block, err := aes.NewCipher(key)
		require.NoError(b, err)
		aead, err := cipher.NewGCM(block)
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			nonce := make([]byte, aead.NonceSize())
			if _, err := rand.Read(nonce); err != nil {
				b.Fatal(err)
			}
			ct := aead.Seal(nil, nonce, pt, nil)
			if _, err := aead.Open(nil, nonce, ct, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkColdDataKey(b *testing.B) {
	fieldcrypttest.BenchmarkColdDataKey(b, fieldcrypttest.NewMemoryKeys())
}
