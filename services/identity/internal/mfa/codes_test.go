package mfa_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/services/identity/internal/mfa"
)

func testHasher() mfa.CodeHasher {
	return mfa.CodeHasher{Key: bytes.Repeat([]byte{0x5a}, mfa.MinCodeKeyLen)}
}

func TestNewCode_IsSixDigitsAndMatchesItsHash(t *testing.T) {
	h := testHasher()
	code, hash, err := h.NewCode()
	require.NoError(t, err)
	require.Regexp(t, `^[0-9]{6}$`, code)
	require.Regexp(t, `^[0-9a-f]{64}$`, hash)
	require.True(t, h.Match(code, hash))

	m := hmac.New(sha256.New, h.Key)
	m.Write([]byte(code))
	require.Equal(t, hex.EncodeToString(m.Sum(nil)), hash, "hash is HMAC-SHA-256 of the code under the key")
}

func TestNewCode_DrawsAreDistinctAndEvenlySpread(t *testing.T) {
	h := testHasher()
	const draws = 20000
	seen := make(map[string]bool, draws)
	var first [10]int
	for range draws {
		code, _, err := h.NewCode()
		require.NoError(t, err)
		seen[code] = true
		first[code[0]-'0']++
	}
	// 20000 draws from 10^6 codes repeat about 200 times by the birthday
	// bound; a broken generator repeats far more.
	require.Greater(t, len(seen), draws-600)
	// Each leading digit (0 included: codes keep leading zeros) is expected
	// 2000 times with a standard deviation near 42.
	for d, n := range first {
		require.InDelta(t, draws/10, n, 300, "leading digit %d", d)
	}
}

func TestMatch_RefusesAnythingButTheCode(t *testing.T) {
	h := testHasher()
	code, hash, err := h.NewCode()
	require.NoError(t, err)
	other := string('0'+(code[0]-'0'+1)%10) + code[1:]

	cases := map[string]struct{ code, hash string }{
		"other code":          {other, hash},
		"too short":           {code[:5], hash},
		"too long":            {code + "0", hash},
		"empty":               {"", hash},
		"letters":             {"12a456", hash},
		"spaces":              {" " + code[:5], hash},
		"non-ASCII digits":    {"١٢٣٤٥٦", hash},
		"hash not hex":        {code, strings.Repeat("z", 64)},
		"hash truncated":      {code, hash[:62]},
		"hash empty":          {code, ""},
		"hash from other key": {code, hashWith(bytes.Repeat([]byte{1}, 32), code)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.False(t, h.Match(c.code, c.hash))
		})
	}
	require.True(t, h.Match(code, strings.ToUpper(hash)), "hex case does not matter")
}

func TestCodeHasher_RefusesShortKey(t *testing.T) {
	short := mfa.CodeHasher{Key: []byte("short")}
	_, _, err := short.NewCode()
	require.True(t, errors.Is(err, mfa.ErrShortKey))
	require.False(t, short.Match("123456", hashWith(short.Key, "123456")))
}

func hashWith(key []byte, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

func BenchmarkCodeHasher_Match(b *testing.B) {
	h := testHasher()
	code, hash, err := h.NewCode()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		h.Match(code, hash)
	}
}
