// Package residency decides in which of Haven's four data regions a clinic's
// data is stored, from the ISO 3166-1 alpha-2 code of the country the clinic
// operates in.
//
// The rule is a product decision, not a legal opinion: it keeps Canadian
// data in Canada, US data in the US, Australian, New Zealand and Singaporean
// data in Australia, and data from the UK, the EU/EEA and the rest of Europe
// in the UK. Every other country is served from Montreal. The tables live in
// countries.go.
package residency

import "errors"

// Region is one of the data regions a clinic's records can live in. Its
// value is the stable lower-case name used in configuration, URLs and the
// database; the zero value is not a valid region.
type Region string

// The four data regions.
const (
	// Montreal is the Canadian region and the default for countries
	// without a closer region.
	Montreal Region = "montreal"
	// Portland is the US region, for the United States, its territories
	// and the Cayman Islands.
	Portland Region = "portland"
	// Sydney is the Asia-Pacific region, for Australia, New Zealand and
	// Singapore.
	Sydney Region = "sydney"
	// London is the European region, for the UK, the EU, the EEA and the
	// rest of geographic Europe.
	London Region = "london"
)

// ErrInvalidCountry reports a country code that is malformed or is not an
// officially assigned ISO 3166-1 alpha-2 code.
var ErrInvalidCountry = errors.New("residency: not an assigned ISO 3166-1 alpha-2 country code")

// ErrUnknownRegion reports a region name that is not one of Regions.
var ErrUnknownRegion = errors.New("residency: unknown region")

// Regions returns every region in a fixed order: Montreal, Portland, Sydney,
// London. The caller may modify the returned slice.
func Regions() []Region {
	return []Region{Montreal, Portland, Sydney, London}
}

// ParseRegion returns the Region named s. Names are matched exactly, in
// lower case; anything else yields ErrUnknownRegion.
func ParseRegion(s string) (Region, error) {
	switch r := Region(s); r {
	case Montreal, Portland, Sydney, London:
		return r, nil
	default:
		return "", ErrUnknownRegion
	}
}

// String returns the region's name, as accepted by ParseRegion.
func (r Region) String() string {
	return string(r)
}

// NormalizeCountry returns code in upper case if it is an officially
// assigned ISO 3166-1 alpha-2 code, matched case-insensitively. Input is not
// trimmed: anything other than exactly two ASCII letters, or two letters
// that are not assigned (such as "XX", "UK", "EU" or "XK"), yields
// ErrInvalidCountry.
func NormalizeCountry(code string) (string, error) {
	i, ok := countryIndex(code)
	if !ok || regionByCountry[i] == 0 {
		return "", ErrInvalidCountry
	}
	return string([]byte{'A' + byte(i/26), 'A' + byte(i%26)}), nil
}

// RegionForCountry returns the region in which data for a clinic in the
// country with the given ISO 3166-1 alpha-2 code is stored. The code is
// matched as NormalizeCountry does; invalid codes yield ErrInvalidCountry.
func RegionForCountry(code string) (Region, error) {
	i, ok := countryIndex(code)
	if !ok || regionByCountry[i] == 0 {
		return "", ErrInvalidCountry
	}
	return regionByIndex[regionByCountry[i]], nil
}

// AssignedCountries returns all officially assigned ISO 3166-1 alpha-2 codes
// in upper case, sorted. The caller may modify the returned slice.
func AssignedCountries() []string {
	out := make([]string, 0, assignedCount)
	for i, r := range regionByCountry {
		if r != 0 {
			out = append(out, string([]byte{'A' + byte(i/26), 'A' + byte(i%26)}))
		}
	}
	return out
}

// regionByIndex maps the small numbers stored in regionByCountry back to
// regions; index 0 means "not assigned".
var regionByIndex = [...]Region{1: Montreal, 2: Portland, 3: Sydney, 4: London}

// regionByCountry holds, for every two-letter code AA..ZZ (index
// 26*first+second), the index into regionByIndex of its region, or 0 if the
// code is not assigned.
var regionByCountry = buildIndex()

// assignedCount is the number of officially assigned alpha-2 codes.
const assignedCount = 249

// countryIndex returns the position of a two-ASCII-letter code in
// regionByCountry, folding case, or false if code is not two ASCII letters.
func countryIndex(code string) (int, bool) {
	if len(code) != 2 {
		return 0, false
	}
	a, okA := letter(code[0])
	b, okB := letter(code[1])
	if !okA || !okB {
		return 0, false
	}
	return a*26 + b, true
}

// letter returns 0..25 for an ASCII letter of either case.
func letter(c byte) (int, bool) {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A'), true
	case 'a' <= c && c <= 'z':
		return int(c - 'a'), true
	default:
		return 0, false
	}
}

// buildIndex turns the readable tables in countries.go into the lookup
// array. Every assigned code starts in Montreal; the region tables then move
// codes to their region. Codes in a region table that are not assigned are
// ignored here and caught by the package tests.
func buildIndex() [26 * 26]uint8 {
	var idx [26 * 26]uint8
	for _, code := range assignedCountries {
		if i, ok := countryIndex(code); ok {
			idx[i] = 1 // Montreal
		}
	}
	for _, group := range regionGroups {
		var n uint8
		for j, r := range regionByIndex {
			if r == group.region {
				n = uint8(j)
			}
		}
		for _, code := range group.countries {
			if i, ok := countryIndex(code); ok && idx[i] != 0 {
				idx[i] = n
			}
		}
	}
	return idx
}
