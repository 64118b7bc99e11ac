package fieldcrypt_test

import (
	"testing"

	"github.com/havenhealth/haven/libs/fieldcrypt"
)

type normCase struct {
	in, want string
	ok       bool
}

func runNorm(t *testing.T, name string, f func(string) (string, bool), cases []normCase) {
	t.Helper()
	for _, c := range cases {
		got, ok := f(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("%s(%q) = %q, %v; want %q, %v", name, c.in, got, ok, c.want, c.ok)
		}
		if ok {
			// Normalizing is idempotent, or stored lookups stop matching.
			if again, ok2 := f(got); !ok2 || again != got {
				t.Errorf("%s not idempotent on %q: %q, %v", name, got, again, ok2)
			}
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	runNorm(t, "NormalizeEmail", fieldcrypt.NormalizeEmail, []normCase{
		{"Maria.Gonzalez@Example.COM", "maria.gonzalez@example.com", true},
		{"  a@b.co \t", "a@b.co", true},
		{"", "", false},
		{"not an address", "", false},
		{"Maria <maria@example.com>", "", false},
		{"a@@b.co", "", false},
	})
}

func TestNormalizePhone(t *testing.T) {
	runNorm(t, "NormalizePhone", fieldcrypt.NormalizePhone, []normCase{
		{"+34 600 111 222", "+34600111222", true},
		{"+1 (415) 555-0100", "+14155550100", true},
		{" +44 20-7946-0958 ", "+442079460958", true},
		{"+33 6.12.34.56.78", "+33612345678", true},
		{"＋４９ ３０ １２３４５６７８", "+493012345678", true},     // full-width
		{"+12345678", "+12345678", true},               // 8 digits
		{"+123456789012345", "+123456789012345", true}, // 15 digits
		{"+1234567", "", false},                        // 7 digits
		{"+1234567890123456", "", false},               // 16 digits
		{"0034 600 111 222", "", false},                // no +
		{"600111222", "", false},
		{"+0 600 111 222", "", false}, // country code cannot start with 0
		{"+34 600 111 222 ext. 5", "", false},
		{"+34+600111222", "", false},
		{"+", "", false},
		{"", "", false},
	})
}

func TestNormalizeName(t *testing.T) {
	runNorm(t, "NormalizeName", fieldcrypt.NormalizeName, []normCase{
		{"  María   José\tGONZÁLEZ ", "maría josé gonzález", true},
		{"Mari\u0301a", "maría", true},    // combining accent composes
		{"ＭＡＲＩＡ", "maria", true},          // full-width folds
		{"O\u00a0Brien", "o brien", true}, // no-break space is a space
		{"ﬁona", "fiona", true},           // ligature decomposes
		{"İpek", "ipek", true},            // Turkish dotted capital I: simple lower-casing
		{"José", "josé", true},            // accents kept
		{"Jose", "jose", true},
		{"   ", "", false},
		{"", "", false},
	})
}

func TestNormalizeDate(t *testing.T) {
	runNorm(t, "NormalizeDate", fieldcrypt.NormalizeDate, []normCase{
		{"1984-02-29", "1984-02-29", true},
		{" 2001-12-31 ", "2001-12-31", true},
		{"1985-02-29", "", false}, // not a leap year
		{"2001-13-01", "", false},
		{"2001-1-1", "", false},
		{"01/12/2001", "", false},
		{"2001-12-31T00:00:00Z", "", false},
		{"", "", false},
	})
}
