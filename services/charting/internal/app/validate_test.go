package app_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/services/charting/internal/app"
)

func TestNormalizePhone(t *testing.T) {
	for _, c := range []struct {
		in, country, want string
	}{
		{"+64 9 300 1234", "", "+6493001234"},
		{"+64 (9) 300-1234", "US", "+6493001234"}, // a country code wins over the country
		{"09 300 1234", "NZ", "+6493001234"},
		{"09 300 1234", "nz", "+6493001234"},
		{"(415) 555-2671", "US", "+14155552671"},
		{"+61 2 9374 4000", "", "+61293744000"},
		{"09 300 1234", "", ""},      // national without a country
		{"09 300 1234", "NZL", ""},   // not an alpha-2 code
		{"+64 1", "", ""},            // too short
		{"call me", "NZ", ""},        // not a number
		{"+999 123 456 789", "", ""}, // no such country code
	} {
		got, ok := app.NormalizePhone(c.in, c.country)
		require.Equal(t, c.want != "", ok, "%q in %q", c.in, c.country)
		require.Equal(t, c.want, got, "%q in %q", c.in, c.country)
	}
}
