package residency

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// expectedRegions is the rule written out by hand for every assigned
// ISO 3166-1 alpha-2 code, independently of the tables in countries.go:
// London for the UK, the EU-27, the EEA, the UN M49 Europe region and the
// EU's outermost regions; Portland for the US, its territories and KY;
// Sydney for AU, NZ and SG; Montreal for everything else.
var expectedRegions = []struct {
	code string
	want Region
}{
	{"AD", London}, {"AE", Montreal}, {"AF", Montreal}, {"AG", Montreal}, {"AI", Montreal}, {"AL", London},
	{"AM", Montreal}, {"AO", Montreal}, {"AQ", Montreal}, {"AR", Montreal}, {"AS", Portland}, {"AT", London},
	{"AU", Sydney}, {"AW", Montreal}, {"AX", London}, {"AZ", Montreal},
	{"BA", London}, {"BB", Montreal}, {"BD", Montreal}, {"BE", London}, {"BF", Montreal}, {"BG", London},
	{"BH", Montreal}, {"BI", Montreal}, {"BJ", Montreal}, {"BL", Montreal}, {"BM", Montreal}, {"BN", Montreal},
	{"BO", Montreal}, {"BQ", Montreal}, {"BR", Montreal}, {"BS", Montreal}, {"BT", Montreal}, {"BV", Montreal},
	{"BW", Montreal}, {"BY", London}, {"BZ", Montreal},
	{"CA", Montreal}, {"CC", Montreal}, {"CD", Montreal}, {"CF", Montreal}, {"CG", Montreal}, {"CH", London},
	{"CI", Montreal}, {"CK", Montreal}, {"CL", Montreal}, {"CM", Montreal}, {"CN", Montreal}, {"CO", Montreal},
	{"CR", Montreal}, {"CU", Montreal}, {"CV", Montreal}, {"CW", Montreal}, {"CX", Montreal}, {"CY", London},
	{"CZ", London},
	{"DE", London}, {"DJ", Montreal}, {"DK", London}, {"DM", Montreal}, {"DO", Montreal}, {"DZ", Montreal},
	{"EC", Montreal}, {"EE", London}, {"EG", Montreal}, {"EH", Montreal}, {"ER", Montreal}, {"ES", London},
	{"ET", Montreal},
	{"FI", London}, {"FJ", Montreal}, {"FK", Montreal}, {"FM", Montreal}, {"FO", London}, {"FR", London},
	{"GA", Montreal}, {"GB", London}, {"GD", Montreal}, {"GE", Montreal}, {"GF", London}, {"GG", London},
	{"GH", Montreal}, {"GI", London}, {"GL", Montreal}, {"GM", Montreal}, {"GN", Montreal}, {"GP", London},
	{"GQ", Montreal}, {"GR", London}, {"GS", Montreal}, {"GT", Montreal}, {"GU", Portland}, {"GW", Montreal},
	{"GY", Montreal},
	{"HK", Montreal}, {"HM", Montreal}, {"HN", Montreal}, {"HR", London}, {"HT", Montreal}, {"HU", London},
	{"ID", Montreal}, {"IE", London}, {"IL", Montreal}, {"IM", London}, {"IN", Montreal}, {"IO", Montreal},
	{"IQ", Montreal}, {"IR", Montreal}, {"IS", London}, {"IT", London},
	{"JE", London}, {"JM", Montreal}, {"JO", Montreal}, {"JP", Montreal},
	{"KE", Montreal}, {"KG", Montreal}, {"KH", Montreal}, {"KI", Montreal}, {"KM", Montreal}, {"KN", Montreal},
	{"KP", Montreal}, {"KR", Montreal}, {"KW", Montreal}, {"KY", Portland}, {"KZ", Montreal},
	{"LA", Montreal}, {"LB", Montreal}, {"LC", Montreal}, {"LI", London}, {"LK", Montreal}, {"LR", Montreal},
	{"LS", Montreal}, {"LT", London}, {"LU", London}, {"LV", London}, {"LY", Montreal},
	{"MA", Montreal}, {"MC", London}, {"MD", London}, {"ME", London}, {"MF", London}, {"MG", Montreal},
	{"MH", Montreal}, {"MK", London}, {"ML", Montreal}, {"MM", Montreal}, {"MN", Montreal}, {"MO", Montreal},
	{"MP", Portland}, {"MQ", London}, {"MR", Montreal}, {"MS", Montreal}, {"MT", London}, {"MU", Montreal},
	{"MV", Montreal}, {"MW", Montreal}, {"MX", Montreal}, {"MY", Montreal}, {"MZ", Montreal},
	{"NA", Montreal}, {"NC", Montreal}, {"NE", Montreal}, {"NF", Montreal}, {"NG", Montreal}, {"NI", Montreal},
	{"NL", London}, {"NO", London}, {"NP", Montreal}, {"NR", Montreal}, {"NU", Montreal}, {"NZ", Sydney},
	{"OM", Montreal},
	{"PA", Montreal}, {"PE", Montreal}, {"PF", Montreal}, {"PG", Montreal}, {"PH", Montreal}, {"PK", Montreal},
	{"PL", London}, {"PM", Montreal}, {"PN", Montreal}, {"PR", Portland}, {"PS", Montreal}, {"PT", London},
	{"PW", Montreal}, {"PY", Montreal},
	{"QA", Montreal},
	{"RE", London}, {"RO", London}, {"RS", London}, {"RU", London}, {"RW", Montreal},
	{"SA", Montreal}, {"SB", Montreal}, {"SC", Montreal}, {"SD", Montreal}, {"SE", London}, {"SG", Sydney},
	{"SH", Montreal}, {"SI", London}, {"SJ", London}, {"SK", London}, {"SL", Montreal}, {"SM", London},
	{"SN", Montreal}, {"SO", Montreal}, {"SR", Montreal}, {"SS", Montreal}, {"ST", Montreal}, {"SV", Montreal},
	{"SX", Montreal}, {"SY", Montreal}, {"SZ", Montreal},
	{"TC", Montreal}, {"TD", Montreal}, {"TF", Montreal}, {"TG", Montreal}, {"TH", Montreal}, {"TJ", Montreal},
	{"TK", Montreal}, {"TL", Montreal}, {"TM", Montreal}, {"TN", Montreal}, {"TO", Montreal}, {"TR", Montreal},
	{"TT", Montreal}, {"TV", Montreal}, {"TW", Montreal}, {"TZ", Montreal},
	{"UA", London}, {"UG", Montreal}, {"UM", Portland}, {"US", Portland}, {"UY", Montreal}, {"UZ", Montreal},
	{"VA", London}, {"VC", Montreal}, {"VE", Montreal}, {"VG", Montreal}, {"VI", Portland}, {"VN", Montreal},
	{"VU", Montreal},
	{"WF", Montreal}, {"WS", Montreal},
	{"YE", Montreal}, {"YT", London},
	{"ZA", Montreal}, {"ZM", Montreal}, {"ZW", Montreal},
}

func TestRegionForCountry_EveryAssignedCode(t *testing.T) {
	if len(expectedRegions) != 249 {
		t.Fatalf("expectedRegions has %d codes, want 249", len(expectedRegions))
	}
	for _, tc := range expectedRegions {
		got, err := RegionForCountry(tc.code)
		if err != nil {
			t.Errorf("RegionForCountry(%q) error = %v, want %s", tc.code, err, tc.want)
			continue
		}
		if got != tc.want {
			t.Errorf("RegionForCountry(%q) = %s, want %s", tc.code, got, tc.want)
		}
	}
}

func TestRegionForCountry_RegionSizes(t *testing.T) {
	want := map[Region]int{Montreal: 180, Portland: 8, Sydney: 3, London: 58}
	got := map[Region]int{}
	for _, code := range AssignedCountries() {
		r, err := RegionForCountry(code)
		if err != nil {
			t.Fatalf("RegionForCountry(%q) error = %v", code, err)
		}
		got[r]++
	}
	for _, r := range Regions() {
		if got[r] != want[r] {
			t.Errorf("%s has %d countries, want %d", r, got[r], want[r])
		}
	}
}

func TestRegionForCountry_IsCaseInsensitive(t *testing.T) {
	for _, code := range []string{"nz", "Nz", "nZ", "NZ"} {
		got, err := RegionForCountry(code)
		if err != nil || got != Sydney {
			t.Errorf("RegionForCountry(%q) = %q, %v; want sydney, nil", code, got, err)
		}
	}
	for _, tc := range expectedRegions {
		lower := strings.ToLower(tc.code)
		got, err := RegionForCountry(lower)
		if err != nil || got != tc.want {
			t.Errorf("RegionForCountry(%q) = %q, %v; want %s, nil", lower, got, err, tc.want)
		}
	}
}

// invalidCountries are malformed or not officially assigned.
var invalidCountries = []string{
	"", "N", "NZL", "1A", "A1", "12", " nz", "nz ", " NZ", "N Z", "N-", "--",
	"XX", "ZZ", "UK", "EU", "XK", "AA", "QM", "IC", "AC", "EA", "TA", "SU", "YU", "AN", "CS", "FX",
	"ñz", "Ñz", "ＮＺ", "Nz\x00", "\x00\x00", "n\u200bz", "\xff\xfe", "ſa", "K\u212a",
}

func TestRegionForCountry_RejectsInvalid(t *testing.T) {
	for _, code := range invalidCountries {
		got, err := RegionForCountry(code)
		if !errors.Is(err, ErrInvalidCountry) || got != "" {
			t.Errorf("RegionForCountry(%q) = %q, %v; want \"\", ErrInvalidCountry", code, got, err)
		}
	}
}

func TestNormalizeCountry(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"nz", "NZ"}, {"Nz", "NZ"}, {"nZ", "NZ"}, {"NZ", "NZ"},
		{"gb", "GB"}, {"ca", "CA"}, {"us", "US"}, {"ax", "AX"}, {"zw", "ZW"}, {"ad", "AD"},
	}
	for _, tc := range tests {
		got, err := NormalizeCountry(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeCountry(%q) = %q, %v; want %q, nil", tc.in, got, err, tc.want)
		}
	}
	for _, code := range invalidCountries {
		got, err := NormalizeCountry(code)
		if !errors.Is(err, ErrInvalidCountry) || got != "" {
			t.Errorf("NormalizeCountry(%q) = %q, %v; want \"\", ErrInvalidCountry", code, got, err)
		}
	}
}

func TestAssignedCountries_ListsAll249Sorted(t *testing.T) {
	got := AssignedCountries()
	if len(got) != 249 {
		t.Fatalf("AssignedCountries() has %d codes, want 249", len(got))
	}
	if !slices.IsSorted(got) {
		t.Error("AssignedCountries() is not sorted")
	}
	want := make([]string, 0, len(expectedRegions))
	for _, tc := range expectedRegions {
		want = append(want, tc.code)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("AssignedCountries() = %v, want %v", got, want)
	}
	got[0] = "XX"
	if AssignedCountries()[0] != "AD" {
		t.Error("modifying the result of AssignedCountries changed later results")
	}
}

func TestRegionGroups_AreConsistent(t *testing.T) {
	if len(assignedCountries) != assignedCount {
		t.Errorf("assignedCountries has %d codes, want %d", len(assignedCountries), assignedCount)
	}
	if !slices.IsSorted(assignedCountries) || len(slices.Compact(slices.Clone(assignedCountries))) != len(assignedCountries) {
		t.Error("assignedCountries is not sorted and free of duplicates")
	}
	seen := map[string]string{}
	for _, g := range regionGroups {
		if _, err := ParseRegion(string(g.region)); err != nil {
			t.Errorf("group %q has invalid region %q", g.name, g.region)
		}
		for _, code := range g.countries {
			if !slices.Contains(assignedCountries, code) {
				t.Errorf("group %q lists %q, which is not an assigned code", g.name, code)
			}
			if prev, dup := seen[code]; dup {
				t.Errorf("%q is listed in both %q and %q", code, prev, g.name)
			}
			seen[code] = g.name
		}
	}
}

func TestRegions_FixedOrder(t *testing.T) {
	want := []Region{"montreal", "portland", "sydney", "london"}
	got := Regions()
	if !slices.Equal(got, want) {
		t.Fatalf("Regions() = %v, want %v", got, want)
	}
	got[0] = "elsewhere"
	if Regions()[0] != Montreal {
		t.Error("modifying the result of Regions changed later results")
	}
}

func TestParseRegion(t *testing.T) {
	for _, r := range Regions() {
		got, err := ParseRegion(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRegion(%q) = %q, %v; want %q, nil", r.String(), got, err, r)
		}
	}
	for _, s := range []string{"", "Montreal", "LONDON", " sydney", "sydney ", "toronto", "us", "eu-west-1"} {
		got, err := ParseRegion(s)
		if !errors.Is(err, ErrUnknownRegion) || got != "" {
			t.Errorf("ParseRegion(%q) = %q, %v; want \"\", ErrUnknownRegion", s, got, err)
		}
	}
}

func TestRegion_String(t *testing.T) {
	if got := London.String(); got != "london" {
		t.Errorf("London.String() = %q, want %q", got, "london")
	}
}

// asciiCase maps ASCII letters with f and leaves every other byte alone, so
// that non-ASCII letters such as U+017F cannot fold onto ASCII codes.
func asciiCase(s string, upper bool) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

func FuzzRegionForCountry(f *testing.F) {
	for _, tc := range expectedRegions {
		f.Add(tc.code)
	}
	for _, s := range invalidCountries {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		r, err := RegionForCountry(code)
		if err != nil {
			if r != "" {
				t.Fatalf("RegionForCountry(%q) = %q with error %v", code, r, err)
			}
			if !errors.Is(err, ErrInvalidCountry) {
				t.Fatalf("RegionForCountry(%q) error = %v, want ErrInvalidCountry", code, err)
			}
		} else if !slices.Contains(Regions(), r) {
			t.Fatalf("RegionForCountry(%q) = %q, not a valid region", code, r)
		}
		norm, nerr := NormalizeCountry(code)
		if (nerr == nil) != (err == nil) {
			t.Fatalf("NormalizeCountry(%q) error = %v but RegionForCountry error = %v", code, nerr, err)
		}
		if nerr == nil && (len(norm) != 2 || norm != asciiCase(code, true)) {
			t.Fatalf("NormalizeCountry(%q) = %q", code, norm)
		}
		for _, variant := range []string{asciiCase(code, true), asciiCase(code, false)} {
			r2, err2 := RegionForCountry(variant)
			if r2 != r || (err2 == nil) != (err == nil) {
				t.Fatalf("RegionForCountry(%q) = %q, %v but RegionForCountry(%q) = %q, %v",
					code, r, err, variant, r2, err2)
			}
		}
	})
}

func BenchmarkRegionForCountry(b *testing.B) {
	codes := []string{"CA", "us", "Nz", "GB", "de", "ZW", "XX", "nzl"}
	for b.Loop() {
		for _, c := range codes {
			_, _ = RegionForCountry(c)
		}
	}
}
