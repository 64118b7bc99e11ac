package fieldcrypt

import (
	"container/list"
	"crypto/aes"
	"crypto/cipher"
	"sync"
	"time"
)

// keyEntry is a plaintext data key held in memory. Users hold a reference
// (acquire/release) while they use it; once the entry is dropped from the
// cache and the last reference is released, its bytes are zeroed.
//
// The AES key schedule inside aead is built once per entry. Go offers no way
// to wipe it; it becomes unreachable when the entry is dropped.
type keyEntry struct {
	id       string
	clinicID string
	purpose  string
	key      []byte      // DataKeySize bytes; zeroed by wipe
	aead     cipher.AEAD // purpose data only
	expires  time.Time

	// Guarded by keyCache.mu.
	refs   int
	dead   bool // no longer in the cache; wipe when refs reaches 0
	wiped  bool
	elem   *list.Element
	active bool // the active key of its clinic and purpose when loaded
}

func newKeyEntry(r keyRow, key []byte, expires time.Time) (*keyEntry, error) {
	e := &keyEntry{id: r.ID, clinicID: r.ClinicID, purpose: r.Purpose, key: key, expires: expires}
	if r.Purpose == purposeData {
		block, err := aes.NewCipher(key)
		if err != nil {
			clear(key)
			return nil, err
		}
		if e.aead, err = cipher.NewGCM(block); err != nil {
			clear(key)
			return nil, err
		}
	}
	return e, nil
}

func (e *keyEntry) wipe() {
	clear(e.key)
	e.key = nil
	e.aead = nil
	e.wiped = true
}

// keyCache is a size-bounded LRU of plaintext keys with an absolute TTL per
// entry, indexed by key id and by (clinic, purpose) for the active key.
type keyCache struct {
	mu     sync.Mutex
	size   int
	now    func() time.Time
	byID   map[string]*keyEntry
	active map[activeRef]*keyEntry
	lru    *list.List // front = most recently used
	epoch  uint64     // bumped by forget; loads started earlier are not cached
}

type activeRef struct{ clinicID, purpose string }

func newKeyCache(size int, now func() time.Time) *keyCache {
	return &keyCache{
		size:   size,
		now:    now,
		byID:   make(map[string]*keyEntry),
		active: make(map[activeRef]*keyEntry),
		lru:    list.New(),
	}
}

// currentEpoch is read before a load; put refuses the load's result if a
// forget happened meanwhile.
func (c *keyCache) currentEpoch() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// getByID acquires the live entry for a key id, or returns nil.
func (c *keyCache) getByID(id string) *keyEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acquireLocked(c.byID[id])
}

// getByIDBytes is getByID for an id still inside a ciphertext, without
// allocating a string.
func (c *keyCache) getByIDBytes(id []byte) *keyEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acquireLocked(c.byID[string(id)])
}

// getActive acquires the live active entry of a clinic and purpose, or
// returns nil.
func (c *keyCache) getActive(clinicID, purpose string) *keyEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acquireLocked(c.active[activeRef{clinicID, purpose}])
}

func (c *keyCache) acquireLocked(e *keyEntry) *keyEntry {
	if e == nil || e.dead {
		return nil
	}
	if !c.now().Before(e.expires) {
		c.dropLocked(e)
		return nil
	}
	e.refs++
	c.lru.MoveToFront(e.elem)
	return e
}

// acquire takes a reference on e if it is still live.
func (c *keyCache) acquire(e *keyEntry) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acquireLocked(e) != nil
}

// release gives back a reference taken by get*, acquire or put.
func (c *keyCache) release(e *keyEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.dead && e.refs == 0 && !e.wiped {
		e.wipe()
	}
}

// put caches e (as the active key of its clinic and purpose when active is
// true) and returns it with one reference held by the caller. If a forget
// happened since epoch, e is not cached: the caller may use it once, and it
// is wiped on release.
func (c *keyCache) put(e *keyEntry, active bool, epoch uint64) *keyEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs = 1
	if c.epoch != epoch {
		e.dead = true
		return e
	}
	if old := c.acquireLocked(c.byID[e.id]); old != nil {
		// Loaded twice (by id and as the active key): keep the cached copy.
		e.wipe()
		e = old
	} else {
		e.elem = c.lru.PushFront(e)
		c.byID[e.id] = e
	}
	if active {
		e.active = true
		ref := activeRef{e.clinicID, e.purpose}
		if old := c.active[ref]; old != nil && old != e {
			old.active = false
		}
		c.active[ref] = e
	}
	for c.lru.Len() > c.size {
		c.dropLocked(c.lru.Back().Value.(*keyEntry))
	}
	return e
}

// forget drops every entry of a clinic and stops loads already under way
// from caching their result.
func (c *keyCache) forget(clinicID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for _, e := range c.byID {
		if e.clinicID == clinicID {
			c.dropLocked(e)
		}
	}
}

// len reports the number of cached entries.
func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *keyCache) dropLocked(e *keyEntry) {
	if e.dead {
		return
	}
	e.dead = true
	c.lru.Remove(e.elem)
	if c.byID[e.id] == e {
		delete(c.byID, e.id)
	}
	if e.active {
		ref := activeRef{e.clinicID, e.purpose}
		if c.active[ref] == e {
			delete(c.active, ref)
		}
	}
	if e.refs == 0 {
		e.wipe()
	}
}
