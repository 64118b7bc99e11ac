package fieldcrypt

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/store"
)

// Ciphertext layout, version 1:
//
//	0x01 | len(keyID) (1 byte) | keyID | nonce (12 bytes) | AES-256-GCM sealed value and tag
//
// The additional authenticated data is the header (everything before the
// nonce) followed by the scope encoding (see appendScope).
const (
	formatV1  = 1
	nonceSize = 12
	tagSize   = 16
	// minCiphertext is the shortest well-formed ciphertext: an empty value
	// under a one-byte key id.
	minCiphertext = 1 + 1 + 1 + nonceSize + tagSize
)

// Options tunes a Crypter. Zero values mean the defaults.
type Options struct {
	// CacheTTL is how long an unwrapped data key stays usable in memory,
	// counted from when it was unwrapped (not from last use). It bounds how
	// long a replica keeps working with Vault down, and how long it keeps
	// decrypting a destroyed clinic's data unless Forget is called.
	// Default 5 minutes.
	CacheTTL time.Duration
	// CacheSize bounds the number of plaintext keys in memory (each clinic
	// has two: data and lookup). Default 10000.
	CacheSize int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Crypter encrypts, decrypts and blind-indexes personal fields under
// per-clinic data keys. It is safe for concurrent use; one per process.
type Crypter struct {
	keys    Keys
	store   keyStore
	dialect store.Dialect
	ttl     time.Duration
	now     func() time.Time
	cache   *keyCache
	flights flightGroup
}

// New returns a Crypter whose data keys are wrapped by keys and stored in db
// (migrated with [Migrate]).
//
// Key look-ups on a cache miss use db's connection pool. A write whose
// transaction holds a connection may need another for the look-up, so a
// pool as small as the number of concurrent write transactions can stall;
// services with heavy concurrent writes can give the Crypter its own
// store.DB opened on the same URL.
func New(keys Keys, db *store.DB, o Options) *Crypter {
	if o.CacheTTL <= 0 {
		o.CacheTTL = 5 * time.Minute
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Crypter{
		keys:    keys,
		store:   keyStore{db: db},
		dialect: db.Dialect(),
		ttl:     o.CacheTTL,
		now:     o.Now,
		cache:   newKeyCache(o.CacheSize, o.Now),
	}
}

// Encrypt seals plaintext for scope under the clinic's active data key,
// creating the key on the clinic's first write. It fails with
// [ErrUnavailable] if Vault is needed and unreachable, and with
// [ErrKeyDestroyed] if the clinic's key is gone; nothing is stored then.
//
// Creating the key writes to the database through the Crypter's own
// connection. On SQLite that needs the single write lock, so the first
// write of a clinic must not happen inside a write transaction; call
// [Crypter.EnsureClinic] beforehand (PostgreSQL has no such limit).
func (c *Crypter) Encrypt(ctx context.Context, scope Scope, plaintext []byte) ([]byte, error) {
	return c.encrypt(ctx, scope, plaintext, true)
}

func (c *Crypter) encrypt(ctx context.Context, scope Scope, plaintext []byte, mayCreate bool) ([]byte, error) {
	if err := scope.validate(); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	e, err := c.activeKey(ctx, scope.ClinicID, purposeData, mayCreate)
	if err != nil {
		return nil, fmt.Errorf("encrypt %s: %w", scope, err)
	}
	defer c.cache.release(e)

	headerLen := 2 + len(e.id)
	out := make([]byte, headerLen+nonceSize, headerLen+nonceSize+len(plaintext)+tagSize)
	out[0] = formatV1
	out[1] = byte(len(e.id))
	copy(out[2:], e.id)
	nonce := out[headerLen:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("encrypt %s: nonce: %w", scope, err)
	}
	buf := aadPool.Get().(*[]byte)
	aad := appendScope(append((*buf)[:0], out[:headerLen]...), scope)
	sealed := e.aead.Seal(out, nonce, plaintext, aad)
	*buf = aad
	aadPool.Put(buf)
	return sealed, nil
}

// aadPool reuses the buffers the additional authenticated data is built in,
// so a cached-key encrypt or decrypt allocates only its result.
var aadPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// Decrypt opens a value sealed by Encrypt for the same scope. It fails with
// [ErrIntegrity] if the value was altered or belongs to another scope,
// [ErrMalformed] if it is not a ciphertext, [ErrKeyDestroyed] if the clinic's
// key is gone and [ErrUnavailable] if the data key is not cached and Vault is
// unreachable.
func (c *Crypter) Decrypt(ctx context.Context, scope Scope, ciphertext []byte) ([]byte, error) {
	if err := scope.validate(); err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	keyID, headerLen, err := parseHeader(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", scope, err)
	}
	e, err := c.keyByID(ctx, keyID, scope.ClinicID)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", scope, err)
	}
	defer c.cache.release(e)

	nonce := ciphertext[headerLen : headerLen+nonceSize]
	buf := aadPool.Get().(*[]byte)
	aad := appendScope(append((*buf)[:0], ciphertext[:headerLen]...), scope)
	pt, err := e.aead.Open(nil, nonce, ciphertext[headerLen+nonceSize:], aad)
	*buf = aad
	aadPool.Put(buf)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %w", scope, ErrIntegrity)
	}
	return pt, nil
}

// parseHeader checks the layout and returns the data key id (aliasing ct)
// and the header length.
func parseHeader(ct []byte) (keyID []byte, headerLen int, err error) {
	if len(ct) < minCiphertext {
		return nil, 0, ErrMalformed
	}
	if ct[0] != formatV1 {
		return nil, 0, fmt.Errorf("%w: unknown version %d", ErrMalformed, ct[0])
	}
	n := int(ct[1])
	headerLen = 2 + n
	if n == 0 || len(ct) < headerLen+nonceSize+tagSize {
		return nil, 0, ErrMalformed
	}
	keyID = ct[2:headerLen]
	if !validIDBytes(keyID) {
		return nil, 0, fmt.Errorf("%w: bad key id", ErrMalformed)
	}
	return keyID, headerLen, nil
}

// appendScope appends the versioned, length-prefixed encoding of a scope:
//
//	0x01 | uvarint len | ClinicID | uvarint len | Table | uvarint len | Column | uvarint len | RowID
func appendScope(b []byte, s Scope) []byte {
	b = append(b, 1)
	for _, f := range [...]string{s.ClinicID, s.Table, s.Column, s.RowID} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// Lookup returns a blind index of a normalized value: hex HMAC-SHA-256 under
// the clinic's lookup key, over the kind (e.g. "email", "phone") and the
// value. Equal inputs give equal results within a clinic and unrelated
// results across clinics, so a service can store it beside the ciphertext
// and search by it. Normalize first (NormalizeEmail, NormalizePhone, …).
//
// The lookup key is a second data key of the clinic (purpose "lookup"),
// generated and wrapped by Vault like the data key and destroyed with the
// clinic's Vault key; it does not change when data keys do.
func (c *Crypter) Lookup(ctx context.Context, clinicID, kind, normalized string) (string, error) {
	if err := checkClinicID(clinicID); err != nil {
		return "", fmt.Errorf("lookup: %w", err)
	}
	if kind == "" || normalized == "" {
		return "", errors.New("fieldcrypt: lookup needs a kind and a value")
	}
	e, err := c.activeKey(ctx, clinicID, purposeLookup, true)
	if err != nil {
		return "", fmt.Errorf("lookup %s for clinic %s: %w", kind, clinicID, err)
	}
	defer c.cache.release(e)
	m := hmac.New(sha256.New, e.key)
	var buf [128]byte
	b := append(buf[:0], 1)
	b = binary.AppendUvarint(b, uint64(len(kind)))
	b = append(b, kind...)
	b = binary.AppendUvarint(b, uint64(len(normalized)))
	m.Write(b)
	m.Write([]byte(normalized))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// EnsureClinic creates the clinic's data and lookup keys if they do not
// exist yet and loads them into the cache. The clinic's Vault key must
// exist ([Keys.CreateKey]). Call it when a clinic is provisioned in a
// service, outside any transaction. On SQLite it is required before the
// clinic's first write through the gorm serializer, because gorm writes
// inside a transaction that holds SQLite's only write lock.
func (c *Crypter) EnsureClinic(ctx context.Context, clinicID string) error {
	if err := checkClinicID(clinicID); err != nil {
		return fmt.Errorf("ensure clinic keys: %w", err)
	}
	for _, p := range [...]string{purposeData, purposeLookup} {
		e, err := c.activeKey(ctx, clinicID, p, true)
		if err != nil {
			return fmt.Errorf("ensure %s key of clinic %s: %w", p, clinicID, err)
		}
		c.cache.release(e)
	}
	return nil
}

// RotateClinic rotates the clinic's Vault key, then rewraps the clinic's
// stored data keys under the new version ([Crypter.RewrapClinic]). Only the
// service allowed to rotate clinic keys (identity) can call it; the others
// call RewrapClinic once told of the rotation.
func (c *Crypter) RotateClinic(ctx context.Context, clinicID string) error {
	if err := checkClinicID(clinicID); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	if err := c.keys.Rotate(ctx, clinicID); err != nil {
		return fmt.Errorf("rotate clinic %s: %w", clinicID, err)
	}
	return c.RewrapClinic(ctx, clinicID)
}

// RewrapClinic rewraps every data key of the clinic stored in this
// service's database under the newest version of the clinic's Vault key.
// Plaintext data keys do not change, so no value needs re-encrypting, and
// reads and writes keep working throughout: until a row is rewrapped, its
// old wrapped form still unwraps. A failure part-way leaves a mix of
// versions, all valid; run it again.
//
// Once every service has rewrapped, operators may raise the Vault key's
// min_decryption_version to retire the old versions.
func (c *Crypter) RewrapClinic(ctx context.Context, clinicID string) error {
	if err := checkClinicID(clinicID); err != nil {
		return fmt.Errorf("rewrap: %w", err)
	}
	rows, err := c.store.clinicKeys(ctx, clinicID)
	if err != nil {
		return fmt.Errorf("rewrap clinic %s: %w", clinicID, err)
	}
	for _, r := range rows {
		for attempt := 0; ; attempt++ {
			wrapped, err := c.keys.Rewrap(ctx, clinicID, r.Wrapped)
			if err != nil {
				return fmt.Errorf("rewrap clinic %s: key %s: %w", clinicID, r.ID, err)
			}
			ok, err := c.store.replaceWrapped(ctx, r.ID, r.Wrapped, wrapped)
			if err != nil {
				return fmt.Errorf("rewrap clinic %s: %w", clinicID, err)
			}
			if ok || attempt == 2 {
				break
			}
			// Rewrapped concurrently by another replica: rewrap what is
			// there now, so the newest version wins.
			cur, found, err := c.store.byID(ctx, r.ID)
			if err != nil {
				return fmt.Errorf("rewrap clinic %s: %w", clinicID, err)
			}
			if !found {
				break
			}
			r = cur
		}
	}
	return nil
}

// Forget drops the clinic's plaintext keys from memory, zeroing them once no
// operation in flight uses them, and keeps loads under way from caching
// theirs. Call it after destroying the clinic's Vault key, so that this
// process fails with ErrKeyDestroyed at once instead of after CacheTTL.
func (c *Crypter) Forget(clinicID string) {
	c.cache.forget(clinicID)
}

// activeKey returns, with a reference held, the clinic's active key for
// purpose, loading or creating it as needed.
func (c *Crypter) activeKey(ctx context.Context, clinicID, purpose string, mayCreate bool) (*keyEntry, error) {
	if e := c.cache.getActive(clinicID, purpose); e != nil {
		return e, nil // the hot path: no allocation
	}
	return c.getKey(ctx,
		func() *keyEntry { return c.cache.getActive(clinicID, purpose) },
		"active\x00"+clinicID+"\x00"+purpose+"\x00"+strconv.FormatBool(mayCreate),
		func() (*keyEntry, bool, error) {
			e, err := c.loadActive(ctx, clinicID, purpose, mayCreate)
			return e, true, err
		})
}

// keyByID returns, with a reference held, the data key id of clinic.
func (c *Crypter) keyByID(ctx context.Context, idBytes []byte, clinicID string) (*keyEntry, error) {
	e := c.cache.getByIDBytes(idBytes) // the hot path: no allocation
	if e == nil {
		id := string(idBytes)
		var err error
		e, err = c.getKey(ctx,
			func() *keyEntry { return c.cache.getByID(id) },
			"id\x00"+id+"\x00"+clinicID,
			func() (*keyEntry, bool, error) {
				e, err := c.loadByID(ctx, id, clinicID)
				return e, false, err
			})
		if err != nil {
			return nil, err
		}
	}
	if e.clinicID != clinicID || e.purpose != purposeData {
		// A value copied from another clinic, or not a field ciphertext.
		c.cache.release(e)
		return nil, ErrIntegrity
	}
	return e, nil
}

// getKey is the cache-aside loop shared by both look-ups: try the cache,
// else load once per key across concurrent callers. A load that overlaps a
// Forget is not cached; after two such collisions the caller uses its own
// uncached load.
func (c *Crypter) getKey(ctx context.Context, cached func() *keyEntry, flightKey string,
	load func() (*keyEntry, bool, error)) (*keyEntry, error) {
	for attempt := 0; ; attempt++ {
		if e := cached(); e != nil {
			return e, nil
		}
		if attempt >= 2 {
			epoch := c.cache.currentEpoch()
			e, active, err := load()
			if err != nil {
				return nil, err
			}
			return c.cache.put(e, active, epoch), nil
		}
		e, err := c.flights.do(ctx, flightKey, func() (*keyEntry, error) {
			if e := cached(); e != nil {
				// Another flight filled the cache after our miss.
				c.cache.release(e)
				return e, nil
			}
			epoch := c.cache.currentEpoch()
			e, active, err := load()
			if err != nil {
				return nil, err
			}
			e = c.cache.put(e, active, epoch)
			// Hand the leader's reference back: followers acquire their own.
			c.cache.release(e)
			return e, nil
		})
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.Canceled) {
				continue // the leader's request was cancelled, not ours
			}
			return nil, err
		}
		if c.cache.acquire(e) {
			return e, nil
		}
		// Dropped (Forget, eviction, expiry) before we got it: try again.
	}
}

// loadActive reads the clinic's active key, creating it if there is none,
// and unwraps it.
func (c *Crypter) loadActive(ctx context.Context, clinicID, purpose string, mayCreate bool) (*keyEntry, error) {
	row, found, err := c.store.active(ctx, clinicID, purpose)
	if err != nil {
		return nil, err
	}
	if !found {
		if !mayCreate {
			return nil, fmt.Errorf("no %s key yet; on SQLite call Crypter.EnsureClinic outside the transaction before the first encrypted write", purpose)
		}
		return c.createActive(ctx, clinicID, purpose)
	}
	return c.unwrap(ctx, row)
}

// createActive makes a data key in Vault and stores it as the clinic's
// active key for purpose. Replicas may race here: each inserts with ON
// CONFLICT DO NOTHING against the one-active-key unique index, then reads
// back the active key; the losers discard theirs and use the winner's.
func (c *Crypter) createActive(ctx context.Context, clinicID, purpose string) (*keyEntry, error) {
	pt, wrapped, err := c.keys.NewDataKey(ctx, clinicID)
	if err != nil {
		return nil, err
	}
	if len(pt) != DataKeySize {
		clear(pt)
		return nil, fmt.Errorf("new data key of clinic %s has %d bytes", clinicID, len(pt))
	}
	mine := keyRow{ID: uuid.NewString(), ClinicID: clinicID, Purpose: purpose, Wrapped: wrapped, CreatedAt: c.now().UTC()}
	if err := c.store.insertActive(ctx, mine); err != nil {
		clear(pt)
		return nil, err
	}
	row, found, err := c.store.active(ctx, clinicID, purpose)
	if err != nil {
		clear(pt)
		return nil, err
	}
	if !found {
		clear(pt)
		return nil, fmt.Errorf("%s key of clinic %s vanished after insert", purpose, clinicID)
	}
	if row.ID != mine.ID {
		clear(pt) // lost the race
		return c.unwrap(ctx, row)
	}
	return newKeyEntry(row, pt, c.now().Add(c.ttl))
}

// loadByID reads a data key of the clinic by id and unwraps it. An id that
// is not in this database, or belongs to another clinic or purpose, is an
// integrity failure: the value was not written there.
func (c *Crypter) loadByID(ctx context.Context, id, clinicID string) (*keyEntry, error) {
	row, found, err := c.store.byID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: unknown data key %s", ErrIntegrity, id)
	}
	if row.ClinicID != clinicID || row.Purpose != purposeData {
		return nil, fmt.Errorf("%w: data key %s is not a data key of this clinic", ErrIntegrity, id)
	}
	return c.unwrap(ctx, row)
}

func (c *Crypter) unwrap(ctx context.Context, row keyRow) (*keyEntry, error) {
	pt, err := c.keys.Unwrap(ctx, row.ClinicID, row.Wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrap %s key %s: %w", row.Purpose, row.ID, err)
	}
	if len(pt) != DataKeySize {
		clear(pt)
		return nil, fmt.Errorf("unwrap %s key %s: got %d bytes", row.Purpose, row.ID, len(pt))
	}
	return newKeyEntry(row, pt, c.now().Add(c.ttl))
}

// flightGroup runs one load per key at a time; concurrent callers for the
// same key wait for it and share its result.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done chan struct{}
	e    *keyEntry
	err  error
}

func (g *flightGroup) do(ctx context.Context, key string, fn func() (*keyEntry, error)) (*keyEntry, error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	if f, ok := g.m[key]; ok {
		g.mu.Unlock()
		select {
		case <-f.done:
			return f.e, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	g.m[key] = f
	g.mu.Unlock()

	defer func() {
		g.mu.Lock()
		delete(g.m, key)
		g.mu.Unlock()
		close(f.done)
	}()
	f.e, f.err = fn()
	return f.e, f.err
}
