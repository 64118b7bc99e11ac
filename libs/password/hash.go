package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash reports a stored hash that Verify cannot use: not an
// argon2id PHC string of version 19, or with parameters outside the limits
// this package accepts. It points at corrupt or foreign data, not at a wrong
// password.
var ErrMalformedHash = errors.New("password: malformed or unsupported password hash")

// Params are the argon2id cost parameters and sizes used to hash a password.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Iterations is the number of passes over the memory (time cost).
	Iterations uint32
	// Parallelism is the number of lanes (threads).
	Parallelism uint8
	// SaltLen is the length of the random salt in bytes.
	SaltLen uint32
	// KeyLen is the length of the derived key in bytes.
	KeyLen uint32
}

// currentParams are OWASP's recommended argon2id parameters (Password
// Storage Cheat Sheet: m=19 MiB, t=2, p=1) with a 16-byte salt and a 32-byte
// key. Hash uses them and Verify asks for a rehash when a hash differs.
var currentParams = Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// DefaultParams are the parameters Hash and Verify use, exported for
// reference and for NewHasher. It is a copy: assigning to it does not
// change what Hash and Verify do.
var DefaultParams = currentParams

// Limits on the parameters of hashes this package makes or accepts. They keep
// a corrupt or hostile stored hash from costing unbounded memory or time in
// Verify; raise them together with DefaultParams if policy ever needs to.
const (
	maxMemory      = 256 * 1024 // KiB, 256 MiB
	maxIterations  = 16
	maxParallelism = 16
	minSaltLen     = 8
	maxSaltLen     = 64
	minKeyLen      = 16
	maxKeyLen      = 64
	maxEncodedLen  = 512
)

// validate checks p against the limits above and argon2's own rules. Its
// errors name the offending field and never the hash.
func (p Params) validate() error {
	switch {
	case p.Parallelism < 1 || p.Parallelism > maxParallelism:
		return errors.New("parallelism out of range")
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return errors.New("iterations out of range")
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxMemory:
		return errors.New("memory out of range")
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return errors.New("salt length out of range")
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return errors.New("key length out of range")
	}
	return nil
}

// Hasher hashes and verifies passwords with a fixed set of Params. Most code
// should use the package functions Hash and Verify; a Hasher with cheaper
// parameters is for tests. The zero Hasher uses DefaultParams.
type Hasher struct {
	params Params
}

// NewHasher returns a Hasher that hashes with p. It fails if p is outside
// the limits that Verify accepts.
func NewHasher(p Params) (*Hasher, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("password: invalid params: %w", err)
	}
	return &Hasher{params: p}, nil
}

// Params returns the parameters h hashes with.
func (h *Hasher) Params() Params {
	if h == nil || h.params == (Params{}) {
		return currentParams
	}
	return h.params
}

// defaultHasher backs Hash and Verify.
var defaultHasher = &Hasher{params: currentParams}

// Hash returns an argon2id hash of pw, with a fresh random salt, in the PHC
// string format "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>" (unpadded
// standard base64). pw is NFKC-normalised first. Hash does not apply the
// password policy; call Validate for a newly chosen password. It returns
// ErrTooLong if pw is longer than MaxLength bytes.
func Hash(pw string) (string, error) {
	return defaultHasher.Hash(pw)
}

// Verify reports whether pw matches the stored hash encoded, in constant
// time. ok is true exactly when err is nil; a wrong password yields
// ErrMismatch, and a hash that cannot be used yields an error wrapping
// ErrMalformedHash. When ok, needsRehash reports that encoded was made with
// parameters other than DefaultParams, so the caller should store a new
// Hash(pw). Verify never panics on malformed input.
func Verify(pw, encoded string) (ok bool, needsRehash bool, err error) {
	return defaultHasher.Verify(pw, encoded)
}

// Hash is like the package function Hash, with h's parameters.
func (h *Hasher) Hash(pw string) (string, error) {
	if len(pw) > MaxLength {
		return "", ErrTooLong
	}
	p := h.Params()
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(normalize(pw)), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	return encode(p, salt, key), nil
}

// Verify is like the package function Verify; needsRehash compares against
// h's parameters.
func (h *Hasher) Verify(pw, encoded string) (ok bool, needsRehash bool, err error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	if len(pw) > MaxLength {
		// Hash never accepts such a password, so it cannot match.
		return false, false, ErrMismatch
	}
	got := argon2.IDKey([]byte(normalize(pw)), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, ErrMismatch
	}
	return true, p != h.Params(), nil
}

// b64 is the PHC string format's base64: standard alphabet, no padding,
// and (when decoding) no stray bits after the last character.
var b64 = base64.RawStdEncoding.Strict()

// encode formats a hash as a PHC string.
func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode parses a PHC string made by encode. It accepts only the canonical
// form encode writes, so any change to the text is either rejected here or
// changes the result of the comparison.
func decode(encoded string) (p Params, salt, key []byte, err error) {
	if len(encoded) > maxEncodedLen {
		return Params{}, nil, nil, fmt.Errorf("%w: too long", ErrMalformedHash)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return Params{}, nil, nil, fmt.Errorf("%w: not a PHC string", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return Params{}, nil, nil, fmt.Errorf("%w: algorithm is not argon2id", ErrMalformedHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("%w: unsupported argon2 version", ErrMalformedHash)
	}
	if p, err = decodeParams(parts[3]); err != nil {
		return Params{}, nil, nil, err
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: bad salt encoding", ErrMalformedHash)
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: bad key encoding", ErrMalformedHash)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.validate(); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	return p, salt, key, nil
}

// decodeParams parses "m=<memory>,t=<iterations>,p=<parallelism>".
func decodeParams(s string) (Params, error) {
	var p Params
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return Params{}, fmt.Errorf("%w: bad parameters", ErrMalformedHash)
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		n, err := strconv.ParseUint(v, 10, 32)
		// Only canonical decimal: no sign, no leading zeros.
		if !ok || err != nil || strconv.FormatUint(n, 10) != v {
			return Params{}, fmt.Errorf("%w: bad parameters", ErrMalformedHash)
		}
		vals[i] = n
	}
	if vals[2] > maxParallelism {
		return Params{}, fmt.Errorf("%w: parallelism out of range", ErrMalformedHash)
	}
	p.Memory, p.Iterations, p.Parallelism = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	return p, nil
}
