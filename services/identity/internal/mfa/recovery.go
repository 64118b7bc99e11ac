package mfa

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// RecoveryCodeCount is how many recovery codes a user is given at a time.
const RecoveryCodeCount = 10

// recoveryAlphabet is Crockford's base32 in lower case: no i, l, o or u, so no
// character can be mistaken for another. 32 symbols give 5 bits each.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// Recovery code shape: three groups of four, 12 symbols, 60 random bits.
const (
	recoveryGroups    = 3
	recoveryGroupLen  = 4
	recoverySymbols   = recoveryGroups * recoveryGroupLen
	maxRecoveryCodes  = 100
	recoveryBitsPerCh = 5
)

// RecoveryCodeBits is the entropy of one recovery code.
const RecoveryCodeBits = recoverySymbols * recoveryBitsPerCh

// NewRecoveryCodes makes n distinct single-use recovery codes, formatted
// "xxxx-xxxx-xxxx" to show the user once, and the SHA-256 hex hash of each
// code's normalised form to store in the same order. Use RecoveryCodeCount
// for n.
func NewRecoveryCodes(n int) (codes []string, hashes []string, err error) {
	if n <= 0 || n > maxRecoveryCodes {
		return nil, nil, fmt.Errorf("recovery codes: count %d out of range 1..%d", n, maxRecoveryCodes)
	}
	codes, hashes = make([]string, 0, n), make([]string, 0, n)
	seen := make(map[string]bool, n)
	buf := make([]byte, recoverySymbols)
	for len(codes) < n {
		if _, err := rand.Read(buf); err != nil {
			return nil, nil, fmt.Errorf("recovery codes: %w", err)
		}
		var b strings.Builder
		for i, r := range buf {
			if i > 0 && i%recoveryGroupLen == 0 {
				b.WriteByte('-')
			}
			// 256 is a multiple of 32, so masking keeps the draw uniform.
			b.WriteByte(recoveryAlphabet[r&31])
		}
		code := b.String()
		if seen[code] {
			continue
		}
		seen[code] = true
		codes = append(codes, code)
		hashes = append(hashes, hashRecoveryCode(NormalizeRecoveryCode(code)))
	}
	return codes, hashes, nil
}

// NormalizeRecoveryCode puts a code as typed into the form that is hashed:
// lower case, without spaces or dashes, and with the letters a reader may
// type for a digit read back as that digit (o as 0; i and l as 1).
func NormalizeRecoveryCode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToLower(s) {
		switch r {
		case ' ', '\t', '\n', '\r', '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
			continue
		case 'o':
			r = '0'
		case 'i', 'l':
			r = '1'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// MatchRecoveryCode finds code among the stored hashes and returns its index.
// Each candidate is compared in constant time and all are compared, so the
// time taken does not reveal which one matched. The caller marks the code at
// index used (atomically, so it answers only once) and passes only unused
// hashes next time.
func MatchRecoveryCode(code string, hashes []string) (index int, ok bool) {
	norm := NormalizeRecoveryCode(code)
	if !isRecoveryCode(norm) {
		return -1, false
	}
	sum := sha256.Sum256([]byte(norm))
	index = -1
	for i, h := range hashes {
		want, err := hex.DecodeString(h)
		if err != nil || len(want) != sha256.Size {
			continue
		}
		if subtle.ConstantTimeCompare(sum[:], want) == 1 && index < 0 {
			index = i
		}
	}
	return index, index >= 0
}

func hashRecoveryCode(norm string) string {
	sum := sha256.Sum256([]byte(norm))
	return hex.EncodeToString(sum[:])
}

// isRecoveryCode reports whether norm is a normalised code's shape.
func isRecoveryCode(norm string) bool {
	if len(norm) != recoverySymbols {
		return false
	}
	for i := 0; i < len(norm); i++ {
		if strings.IndexByte(recoveryAlphabet, norm[i]) < 0 {
			return false
		}
	}
	return true
}
