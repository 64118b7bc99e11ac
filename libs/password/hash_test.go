package password

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// cheapParams keep the unit tests fast; the package functions use
// DefaultParams.
var cheapParams = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func cheapHasher(t testing.TB) *Hasher {
	t.Helper()
	h, err := NewHasher(cheapParams)
	if err != nil {
		t.Fatalf("NewHasher(%+v) error = %v", cheapParams, err)
	}
	return h
}

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHash_UsesOWASPParamsInPHCFormat(t *testing.T) {
	want := Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	if DefaultParams != want {
		t.Fatalf("DefaultParams = %+v, want %+v", DefaultParams, want)
	}
	encoded, err := Hash("correct horse battery staple")
	if err != nil {
		t.Fatalf("Hash error = %v", err)
	}
	if !phcPattern.MatchString(encoded) {
		t.Fatalf("Hash = %q, does not match %v", encoded, phcPattern)
	}
	ok, rehash, err := Verify("correct horse battery staple", encoded)
	if !ok || rehash || err != nil {
		t.Errorf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = Verify("correct horse battery stapler", encoded)
	if ok || rehash || !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, ErrMismatch", ok, rehash, err)
	}
}

func TestVerify_KnownAnswers(t *testing.T) {
	// Made with the reference implementation's command-line tool
	// (phc-winner-argon2, Debian package argon2), salt "somesaltsomesalt":
	//   echo -n PASSWORD | argon2 somesaltsomesalt -id -t T -k M -p 1 -l 32 -e
	tests := []struct {
		name, pw, encoded string
		wantRehash        bool
	}{
		{
			"default params", "correct horse battery staple",
			"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ISO7kkvFzh19GM8qB7patN3C3Y9HHsjlVTfEZ9T600Y", false,
		},
		{
			"older cheaper params", "correct horse battery staple",
			"$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Sr6N/nCmohWCvF7EZislLIdwA8ojCXux0K30ccqFS30", true,
		},
		{
			// The reference hashed the NFKC form "caf\u00e9 fish MENU 2024".
			"password in another normalisation form", "cafe\u0301 \ufb01sh ＭＥＮＵ ２０２４",
			"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$CUHC5meplzADXsOKFmHPr/I2AalRoaw6qPFNnrshhUg", true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := Verify(tc.pw, tc.encoded)
			if !ok || rehash != tc.wantRehash || err != nil {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tc.wantRehash)
			}
			ok, rehash, err = Verify(tc.pw+"!", tc.encoded)
			if ok || rehash || !errors.Is(err, ErrMismatch) {
				t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, ErrMismatch", ok, rehash, err)
			}
		})
	}
}

func TestHasher_RoundTrip(t *testing.T) {
	h := cheapHasher(t)
	for _, pw := range []string{
		"correct horse battery staple",
		"",
		"é",
		strings.Repeat("🔒", 12),
		strings.Repeat("x", MaxLength),
	} {
		encoded, err := h.Hash(pw)
		if err != nil {
			t.Fatalf("Hash error = %v", err)
		}
		ok, rehash, err := h.Verify(pw, encoded)
		if !ok || rehash || err != nil {
			t.Errorf("Verify(%q) = %v, %v, %v; want true, false, nil", pw, ok, rehash, err)
		}
	}
}

func TestHasher_VerifyRejectsWrongPassword(t *testing.T) {
	h := cheapHasher(t)
	encoded, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatalf("Hash error = %v", err)
	}
	for _, pw := range []string{
		"", "correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple ",
		strings.Repeat("x", MaxLength+1),
	} {
		ok, rehash, err := h.Verify(pw, encoded)
		if ok || rehash || !errors.Is(err, ErrMismatch) {
			t.Errorf("Verify(%q) = %v, %v, %v; want false, false, ErrMismatch", pw, ok, rehash, err)
		}
	}
}

func TestHasher_NormalizesToNFKC(t *testing.T) {
	h := cheapHasher(t)
	encoded, err := h.Hash("caf\u00e9 \ufb01sh ＭＥＮＵ 2024")
	if err != nil {
		t.Fatalf("Hash error = %v", err)
	}
	ok, _, err := h.Verify("cafe\u0301 fish MENU 2024", encoded)
	if !ok || err != nil {
		t.Errorf("Verify(equivalent NFKC form) = %v, %v; want true, nil", ok, err)
	}
}

func TestHash_SaltMakesHashesDiffer(t *testing.T) {
	h := cheapHasher(t)
	a, errA := h.Hash("correct horse battery staple")
	b, errB := h.Hash("correct horse battery staple")
	if errA != nil || errB != nil {
		t.Fatalf("Hash errors = %v, %v", errA, errB)
	}
	if a == b {
		t.Fatalf("two hashes of the same password are equal: %q", a)
	}
	saltA, saltB := strings.Split(a, "$")[4], strings.Split(b, "$")[4]
	if saltA == saltB {
		t.Errorf("two hashes share the salt %q", saltA)
	}
}

func TestHash_RejectsTooLong(t *testing.T) {
	pw := strings.Repeat("a", MaxLength+1)
	if _, err := cheapHasher(t).Hash(pw); !errors.Is(err, ErrTooLong) {
		t.Errorf("Hash(%d bytes) error = %v, want ErrTooLong", len(pw), err)
	}
}

func TestVerify_NeedsRehashWhenParamsDiffer(t *testing.T) {
	cheap := cheapHasher(t)
	encoded, err := cheap.Hash("correct horse battery staple")
	if err != nil {
		t.Fatalf("Hash error = %v", err)
	}
	ok, rehash, err := Verify("correct horse battery staple", encoded)
	if !ok || !rehash || err != nil {
		t.Errorf("Verify(cheap hash) = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	ok, rehash, err = Verify("wrong password here", encoded)
	if ok || rehash || !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(wrong password, cheap hash) = %v, %v, %v; want false, false, ErrMismatch", ok, rehash, err)
	}

	for name, p := range map[string]Params{
		"memory":      {Memory: 128, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		"iterations":  {Memory: 64, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		"parallelism": {Memory: 64, Iterations: 1, Parallelism: 2, SaltLen: 16, KeyLen: 32},
		"salt length": {Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 8, KeyLen: 32},
		"key length":  {Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 16},
	} {
		other, err := NewHasher(p)
		if err != nil {
			t.Fatalf("NewHasher(%+v) error = %v", p, err)
		}
		encoded, err := other.Hash("correct horse battery staple")
		if err != nil {
			t.Fatalf("Hash error = %v", err)
		}
		ok, rehash, err := cheap.Verify("correct horse battery staple", encoded)
		if !ok || !rehash || err != nil {
			t.Errorf("different %s: Verify = %v, %v, %v; want true, true, nil", name, ok, rehash, err)
		}
	}
}

func TestHasher_ZeroValueUsesDefaultParams(t *testing.T) {
	var h Hasher
	if h.Params() != DefaultParams {
		t.Errorf("zero Hasher Params() = %+v, want %+v", h.Params(), DefaultParams)
	}
}

func TestNewHasher_RejectsParamsOutsideLimits(t *testing.T) {
	for name, p := range map[string]Params{
		"zero":                {},
		"no iterations":       {Memory: 64, Iterations: 0, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		"no parallelism":      {Memory: 64, Iterations: 1, Parallelism: 0, SaltLen: 16, KeyLen: 32},
		"memory below 8*p":    {Memory: 15, Iterations: 1, Parallelism: 2, SaltLen: 16, KeyLen: 32},
		"memory over limit":   {Memory: maxMemory + 1, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		"too many iterations": {Memory: 64, Iterations: maxIterations + 1, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		"short salt":          {Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 4, KeyLen: 32},
		"short key":           {Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 8},
		"long key":            {Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 1 << 20},
	} {
		if h, err := NewHasher(p); err == nil {
			t.Errorf("%s: NewHasher(%+v) = %v, want an error", name, p, h)
		}
	}
}

// validCheapHash returns a fresh hash of "correct horse battery staple" made
// with cheapParams.
func validCheapHash(t testing.TB) string {
	t.Helper()
	h := cheapHasher(t)
	encoded, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatalf("Hash error = %v", err)
	}
	return encoded
}

func TestVerify_RejectsTamperedHash(t *testing.T) {
	h := cheapHasher(t)
	encoded := validCheapHash(t)
	parts := strings.Split(encoded, "$")
	flip := func(s string) string { // change the first character, staying in the alphabet
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	join := func(p ...string) string { return strings.Join(p, "$") }
	tampered := map[string]string{
		"key changed":        join(parts[0], parts[1], parts[2], parts[3], parts[4], flip(parts[5])),
		"salt changed":       join(parts[0], parts[1], parts[2], parts[3], flip(parts[4]), parts[5]),
		"memory changed":     join(parts[0], parts[1], parts[2], "m=72,t=1,p=1", parts[4], parts[5]),
		"iterations changed": join(parts[0], parts[1], parts[2], "m=64,t=2,p=1", parts[4], parts[5]),
		"algorithm argon2i":  join(parts[0], "argon2i", parts[2], parts[3], parts[4], parts[5]),
		"version 16":         join(parts[0], parts[1], "v=16", parts[3], parts[4], parts[5]),
		"leading zero":       join(parts[0], parts[1], parts[2], "m=064,t=1,p=1", parts[4], parts[5]),
		"key truncated":      join(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5][:len(parts[5])-1]),
		"key padded":         encoded + "=",
		"trailing dollar":    encoded + "$",
		"upper-case prefix":  strings.Replace(encoded, "argon2id", "ARGON2ID", 1),
	}
	for name, enc := range tampered {
		ok, rehash, err := h.Verify("correct horse battery staple", enc)
		if ok || rehash || err == nil {
			t.Errorf("%s: Verify = %v, %v, %v; want false, false, an error", name, ok, rehash, err)
		}
		if err != nil && !errors.Is(err, ErrMismatch) && !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%s: error %v is neither ErrMismatch nor ErrMalformedHash", name, err)
		}
	}
}

// malformedHashes cannot be parsed or are outside the accepted limits.
var malformedHashes = []string{
	"",
	"$",
	"$$$$$",
	"password",
	"correct horse battery staple",
	"$argon2id$v=19$m=19456,t=2,p=1$",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$",
	"$argon2id$v=19$m=19456,t=2$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=19456,t=2,p=1,keyid=x$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$t=2,m=19456,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=-1,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=+19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=99999999999,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=19456,t=4294967295,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=19456,t=2,p=257$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=8,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFh",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA==$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdB$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNh*HRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFh-WFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2d$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=18$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
	" $argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
	"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 600),
}

func TestVerify_RejectsMalformedHash(t *testing.T) {
	for _, enc := range malformedHashes {
		ok, rehash, err := Verify("correct horse battery staple", enc)
		if ok || rehash || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(_, %q) = %v, %v, %v; want false, false, ErrMalformedHash", enc, ok, rehash, err)
		}
		if err != nil && strings.Contains(err.Error(), "correct horse") {
			t.Errorf("error %q contains the password", err)
		}
	}
}

func TestErrors_NeverContainThePassword(t *testing.T) {
	const pw = "Zebra-Quartz-Umbrella-42"
	h := cheapHasher(t)
	encoded := validCheapHash(t)
	_, _, errMismatch := h.Verify(pw, encoded)
	_, _, errMalformed := h.Verify(pw, "$argon2id$v=19$m=1,t=1,p=1$"+pw+"$"+pw)
	_, errLong := h.Hash(strings.Repeat(pw, 50))
	for _, err := range []error{errMismatch, errMalformed, errLong, Validate(pw[:10]), Validate(strings.Repeat(pw, 50))} {
		if err == nil {
			t.Fatal("expected an error")
		}
		if strings.Contains(err.Error(), pw[:10]) || strings.Contains(err.Error(), encoded) {
			t.Errorf("error %q contains the password or the hash", err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("correct horse battery staple", validCheapHash(f))
	f.Add("wrong", validCheapHash(f))
	for _, enc := range malformedHashes {
		f.Add("correct horse battery staple", enc)
	}
	f.Fuzz(func(t *testing.T, pw, encoded string) {
		ok, rehash, err := Verify(pw, encoded)
		if ok != (err == nil) {
			t.Fatalf("Verify = %v, %v, %v: ok must be true exactly when err is nil", ok, rehash, err)
		}
		if rehash && !ok {
			t.Fatalf("Verify = %v, %v, %v: needsRehash without a match", ok, rehash, err)
		}
		if err != nil && !errors.Is(err, ErrMismatch) && !errors.Is(err, ErrMalformedHash) {
			t.Fatalf("Verify error %v is neither ErrMismatch nor ErrMalformedHash", err)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		if _, err := Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	encoded, err := Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := Verify("correct horse battery staple", encoded); !ok {
			b.Fatal(err)
		}
	}
}
