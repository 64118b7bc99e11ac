package residency

// The data behind RegionForCountry, kept as tables a reviewer can check
// against their sources line by line. A code listed in no group below is
// served from Montreal.

// assignedCountries lists every officially assigned ISO 3166-1 alpha-2 code
// (249 codes, as published by the ISO 3166 Maintenance Agency; the same set
// as Debian's iso-codes 4.15). Exceptionally or transitionally reserved
// codes (UK, EU, IC, AC, …) and user-assigned codes (XK, XX, ZZ, …) are not
// assigned and are rejected.
var assignedCountries = []string{
	"AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
	"BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ",
	"CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ",
	"DE", "DJ", "DK", "DM", "DO", "DZ",
	"EC", "EE", "EG", "EH", "ER", "ES", "ET",
	"FI", "FJ", "FK", "FM", "FO", "FR",
	"GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY",
	"HK", "HM", "HN", "HR", "HT", "HU",
	"ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT",
	"JE", "JM", "JO", "JP",
	"KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ",
	"LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
	"MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ",
	"NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
	"OM",
	"PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY",
	"QA",
	"RE", "RO", "RS", "RU", "RW",
	"SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ",
	"TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ",
	"UA", "UG", "UM", "US", "UY", "UZ",
	"VA", "VC", "VE", "VG", "VI", "VN", "VU",
	"WF", "WS",
	"YE", "YT",
	"ZA", "ZM", "ZW",
}

// regionGroup is one reviewable group of countries that share a region.
type regionGroup struct {
	region    Region
	name      string
	countries []string
}

// regionGroups moves countries out of the Montreal default. No code may
// appear in two groups (the tests check this).
var regionGroups = []regionGroup{
	// Canada. Listed for readability; it would be Montreal by default too.
	{Montreal, "Canada", []string{"CA"}},

	// The United States and the territories that have their own codes:
	// Puerto Rico, Guam, the US Virgin Islands, American Samoa, the
	// Northern Mariana Islands and the US Minor Outlying Islands. The
	// Cayman Islands (a British Overseas Territory) are served from the
	// US by product decision.
	{Portland, "United States and territories", []string{"US", "PR", "GU", "VI", "AS", "MP", "UM"}},
	{Portland, "Cayman Islands", []string{"KY"}},

	// Australia, New Zealand and Singapore.
	{Sydney, "Asia-Pacific", []string{"AU", "NZ", "SG"}},

	// The United Kingdom.
	{London, "United Kingdom", []string{"GB"}},

	// The 27 EU member states. Cyprus is in Western Asia in the UN M49
	// scheme but is an EU member, so it is here.
	{London, "EU member states", []string{
		"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
		"IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
	}},

	// The EEA members outside the EU.
	{London, "EEA members outside the EU", []string{"IS", "LI", "NO"}},

	// The rest of the UN M49 "Europe" region (150), by sub-region; with
	// the three groups above this covers all 51 assigned codes in it.
	// Kosovo has no assigned code (XK is user-assigned) and is rejected.
	// Turkey, Georgia, Armenia, Azerbaijan and Kazakhstan are in Western or
	// Central Asia in M49 and stay on the default; so does Greenland
	// (Northern America in M49, and not in the EU).
	//
	// Northern Europe: Åland (part of Finland), the Faroe Islands, the
	// Crown Dependencies (Guernsey, the Isle of Man, Jersey), and Svalbard
	// and Jan Mayen.
	{London, "M49 Northern Europe", []string{"AX", "FO", "GG", "IM", "JE", "SJ"}},
	// Southern Europe: Andorra, Albania, Bosnia and Herzegovina, Gibraltar,
	// Montenegro, North Macedonia, Serbia, San Marino, the Holy See.
	{London, "M49 Southern Europe", []string{"AD", "AL", "BA", "GI", "ME", "MK", "RS", "SM", "VA"}},
	// Western Europe: Switzerland, Monaco.
	{London, "M49 Western Europe", []string{"CH", "MC"}},
	// Eastern Europe: Belarus, Moldova, Russia, Ukraine.
	{London, "M49 Eastern Europe", []string{"BY", "MD", "RU", "UA"}},

	// The EU's outermost regions that have their own ISO codes: French
	// Guiana, Guadeloupe, Martinique, Réunion, Mayotte and Saint Martin.
	// They are part of the EU (TFEU art. 349 and 355(1)), so the GDPR
	// applies there in full and their data belongs with the rest of the
	// EU's, whatever their geography. (The Canaries, the Azores and Madeira
	// are outermost regions too but have no code of their own.) The
	// overseas countries and territories (OCTs) associated with the EU are
	// not part of it and stay on the default: Greenland, Saint Barthélemy,
	// Saint Pierre and Miquelon, Aruba, Curaçao, Sint Maarten, the
	// Caribbean Netherlands, New Caledonia, French Polynesia, Wallis and
	// Futuna, and the French Southern Territories.
	{London, "EU outermost regions", []string{"GF", "GP", "MQ", "RE", "YT", "MF"}},
}
