package mfa

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"
)

// One-time code limits. The caller enforces both: a code is good for CodeTTL
// after it is sent and for at most MaxCodeAttempts wrong answers.
const (
	CodeTTL         = 5 * time.Minute
	MaxCodeAttempts = 5
)

// CodeDigits is the length of a one-time code.
const CodeDigits = 6

// MinCodeKeyLen is the shortest key a CodeHasher accepts, in bytes.
const MinCodeKeyLen = 32

// codeSpace is 10^CodeDigits, the number of distinct codes.
var codeSpace = big.NewInt(1_000_000)

// CodeHasher makes and checks the one-time codes sent by SMS or e-mail. It
// keeps only a keyed hash of each code, so a leaked database row is useless
// without the server-side Key.
type CodeHasher struct {
	// Key is the HMAC-SHA-256 key, at least MinCodeKeyLen random bytes, kept
	// out of the database.
	Key []byte
}

// NewCode draws a uniformly random 6-digit code and returns it with the hash
// to store. Send the code; store only the hash.
func (h CodeHasher) NewCode() (code string, hash string, err error) {
	if len(h.Key) < MinCodeKeyLen {
		return "", "", ErrShortKey
	}
	n, err := rand.Int(rand.Reader, codeSpace)
	if err != nil {
		return "", "", fmt.Errorf("draw one-time code: %w", err)
	}
	code = fmt.Sprintf("%0*d", CodeDigits, n.Int64())
	return code, hex.EncodeToString(h.mac(code)), nil
}

// Match reports whether code is the one hash was made from. Anything but
// exactly six ASCII digits, a malformed hash or a short key is false. The
// comparison takes the same time wherever the inputs differ.
func (h CodeHasher) Match(code, hash string) bool {
	if len(h.Key) < MinCodeKeyLen || !isDigits(code, CodeDigits) {
		return false
	}
	want, err := hex.DecodeString(hash)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	return hmac.Equal(h.mac(code), want)
}

func (h CodeHasher) mac(code string) []byte {
	m := hmac.New(sha256.New, h.Key)
	m.Write([]byte(code))
	return m.Sum(nil)
}

// isDigits reports whether s is exactly n ASCII digits.
func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
