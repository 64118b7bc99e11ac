package provisioning

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidSlug(t *testing.T) {
	for s, want := range map[string]bool{
		"abc": true, "harbour-physio": true, "a1-b2": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "-abc": false, "abc-": false, "ABC": false, "a_b": false, "a b": false, "héllo": false,
	} {
		require.Equal(t, want, ValidSlug(s), s)
	}
}

func TestNormalizeEmail(t *testing.T) {
	got, ok := NormalizeEmail("  Aroha@Example.ORG ")
	require.True(t, ok)
	require.Equal(t, "aroha@example.org", got)
	for _, bad := range []string{"", "aroha", "Aroha <a@example.org>", "a@", strings.Repeat("a", 250) + "@x.org"} {
		_, ok := NormalizeEmail(bad)
		require.False(t, ok, bad)
	}
}

func TestValidate_DerivesRegionAndNormalises(t *testing.T) {
	c := Clinic{Slug: "harbour", Name: " Harbour ", Country: "nz", TimeZone: "Pacific/Auckland",
		Owner: Owner{Name: " Aroha ", Email: "Aroha@Example.org", Password: "a perfectly long passphrase"}}
	region, errs := c.Validate()
	require.Empty(t, errs)
	require.Equal(t, "sydney", string(region))
	require.Equal(t, "NZ", c.Country)
	require.Equal(t, "Harbour", c.Name)
	require.Equal(t, "aroha@example.org", c.Owner.Email)
}

func FuzzValidate(f *testing.F) {
	f.Add("harbour", "NZ", "Pacific/Auckland", "a@b.org", "a perfectly long passphrase")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, slug, country, zone, email, pw string) {
		c := Clinic{Slug: slug, Name: "n", Country: country, TimeZone: zone, Owner: Owner{Name: "o", Email: email, Password: pw}}
		_, errs := c.Validate()
		for _, e := range errs {
			if pw != "" && len(pw) > 3 && strings.Contains(e.Reason, pw) {
				t.Fatalf("reason echoes the password")
			}
		}
	})
}
