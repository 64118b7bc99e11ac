package fieldcrypt

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time { return c.t }

func testEntry(t *testing.T, id, clinic string, expires time.Time) (*keyEntry, []byte) {
	t.Helper()
	key := bytes.Repeat([]byte{0xA5}, DataKeySize)
	e, err := newKeyEntry(keyRow{ID: id, ClinicID: clinic, Purpose: purposeData}, key, expires)
	require.NoError(t, err)
	return e, key // key aliases e.key: it shows whether the bytes were zeroed
}

func zeroed(b []byte) bool { return len(b) > 0 && bytes.Count(b, []byte{0}) == len(b) }

func TestKeyCache_EvictionZeroesLeastRecentlyUsed(t *testing.T) {
	clock := &testClock{t: time.Unix(0, 0)}
	c := newKeyCache(2, clock.Now)
	exp := clock.t.Add(time.Minute)
	a, aKey := testEntry(t, "a", "c1", exp)
	b, bKey := testEntry(t, "b", "c1", exp)
	d, dKey := testEntry(t, "d", "c2", exp)

	c.release(c.put(a, true, c.currentEpoch()))
	c.release(c.put(b, false, c.currentEpoch()))
	got := c.getByID("a") // a is now most recent
	require.Same(t, a, got)
	c.release(got)
	c.release(c.put(d, true, c.currentEpoch()))

	require.Equal(t, 2, c.len())
	require.Nil(t, c.getByID("b"), "least recently used is evicted")
	require.True(t, zeroed(bKey), "evicted key bytes are zeroed")
	require.False(t, zeroed(aKey))
	require.False(t, zeroed(dKey))
}

func TestKeyCache_KeyInUseIsZeroedOnLastRelease(t *testing.T) {
	clock := &testClock{t: time.Unix(0, 0)}
	c := newKeyCache(10, clock.Now)
	a, aKey := testEntry(t, "a", "c1", clock.t.Add(time.Minute))
	held := c.put(a, true, c.currentEpoch()) // an operation in flight

	c.forget("c1")
	require.Nil(t, c.getActive("c1", purposeData), "forgotten")
	require.Nil(t, c.getByID("a"), "forgotten")
	require.False(t, zeroed(aKey), "not zeroed while in use")
	require.NotNil(t, held.aead)

	c.release(held)
	require.True(t, zeroed(aKey), "zeroed when the last user is done")
	require.Nil(t, held.aead)
}

func TestKeyCache_ExpiresAfterTTL(t *testing.T) {
	clock := &testClock{t: time.Unix(0, 0)}
	c := newKeyCache(10, clock.Now)
	a, aKey := testEntry(t, "a", "c1", clock.t.Add(time.Minute))
	c.release(c.put(a, true, c.currentEpoch()))

	clock.t = clock.t.Add(time.Minute - time.Nanosecond)
	e := c.getActive("c1", purposeData)
	require.NotNil(t, e)
	c.release(e)

	clock.t = clock.t.Add(time.Nanosecond)
	require.Nil(t, c.getActive("c1", purposeData))
	require.True(t, zeroed(aKey))
	require.Equal(t, 0, c.len())
}

func TestKeyCache_LoadOverlappingForgetIsNotCached(t *testing.T) {
	clock := &testClock{t: time.Unix(0, 0)}
	c := newKeyCache(10, clock.Now)
	epoch := c.currentEpoch() // load starts
	c.forget("c1")            // clinic destroyed meanwhile
	a, aKey := testEntry(t, "a", "c1", clock.t.Add(time.Minute))
	held := c.put(a, true, epoch)
	require.Nil(t, c.getByID("a"), "not cached")
	require.False(t, zeroed(aKey), "usable by the caller once")
	c.release(held)
	require.True(t, zeroed(aKey))
}
