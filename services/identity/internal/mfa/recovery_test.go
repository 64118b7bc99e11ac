package mfa_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/services/identity/internal/mfa"
)

func TestNewRecoveryCodes_AreDistinctUnambiguousAndHashed(t *testing.T) {
	codes, hashes, err := mfa.NewRecoveryCodes(mfa.RecoveryCodeCount)
	require.NoError(t, err)
	require.Len(t, codes, 10)
	require.Len(t, hashes, 10)
	require.GreaterOrEqual(t, mfa.RecoveryCodeBits, 60)

	seen := map[string]bool{}
	for i, c := range codes {
		require.Regexp(t, `^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$`, c)
		require.False(t, seen[c], "duplicate %s", c)
		seen[c] = true
		sum := sha256.Sum256([]byte(strings.ReplaceAll(c, "-", "")))
		require.Equal(t, hex.EncodeToString(sum[:]), hashes[i])
	}
}

func TestNewRecoveryCodes_DoNotRepeatAcrossSets(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		codes, _, err := mfa.NewRecoveryCodes(mfa.RecoveryCodeCount)
		require.NoError(t, err)
		for _, c := range codes {
			require.False(t, seen[c])
			seen[c] = true
		}
	}
}

func TestNewRecoveryCodes_RefusesBadCount(t *testing.T) {
	for _, n := range []int{0, -1, 101} {
		_, _, err := mfa.NewRecoveryCodes(n)
		require.Error(t, err, "n=%d", n)
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	for in, want := range map[string]string{
		"abcd-efgh-jkmn":      "abcdefghjkmn",
		"ABCD-EFGH-JKMN":      "abcdefghjkmn",
		" abcd efgh jkmn\n":   "abcdefghjkmn",
		"abcd – efgh — jkmn":  "abcdefghjkmn",
		"abcdefghjkmn":        "abcdefghjkmn",
		"Oo1I-lL00-0000":      "001111000000",
		"":                    "",
		"zzzz-zzzz-zzzz-zzzz": "zzzzzzzzzzzzzzzz",
	} {
		require.Equal(t, want, mfa.NormalizeRecoveryCode(in), in)
	}
}

func TestMatchRecoveryCode_ReturnsTheIndex(t *testing.T) {
	codes, hashes, err := mfa.NewRecoveryCodes(mfa.RecoveryCodeCount)
	require.NoError(t, err)
	for i, c := range codes {
		idx, ok := mfa.MatchRecoveryCode(c, hashes)
		require.True(t, ok)
		require.Equal(t, i, idx)
	}

	typed := " " + strings.ToUpper(strings.ReplaceAll(codes[3], "-", " ")) + " "
	idx, ok := mfa.MatchRecoveryCode(typed, hashes)
	require.True(t, ok, "typed in capitals with spaces")
	require.Equal(t, 3, idx)
}

func TestMatchRecoveryCode_RefusesUnknownAndUsedCodes(t *testing.T) {
	codes, hashes, err := mfa.NewRecoveryCodes(mfa.RecoveryCodeCount)
	require.NoError(t, err)
	others, _, err := mfa.NewRecoveryCodes(1)
	require.NoError(t, err)

	for name, c := range map[string]string{
		"other set":   others[0],
		"truncated":   codes[0][:13],
		"extra char":  codes[0] + "a",
		"not a code":  "hello",
		"empty":       "",
		"bad letters": "uuuu-uuuu-uuuu",
	} {
		idx, ok := mfa.MatchRecoveryCode(c, hashes)
		require.False(t, ok, name)
		require.Equal(t, -1, idx, name)
	}

	// The caller passes only unused hashes; a used code then no longer matches.
	unused := append(append([]string{}, hashes[:2]...), hashes[3:]...)
	_, ok := mfa.MatchRecoveryCode(codes[2], unused)
	require.False(t, ok)

	// Corrupt stored hashes are skipped, not fatal.
	idx, ok := mfa.MatchRecoveryCode(codes[1], []string{"zz", "", hashes[1]})
	require.True(t, ok)
	require.Equal(t, 2, idx)
}
