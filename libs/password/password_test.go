package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"empty", "", ErrTooShort},
		{"11 ASCII characters", "tr0ub4dor&3", ErrTooShort},
		{"12 ASCII characters", "tr0ub4dor&3x", nil},
		{"11 two-byte characters", strings.Repeat("é", 11), ErrTooShort},
		{"12 two-byte characters", strings.Repeat("é", 12), nil},
		{"11 four-byte characters", strings.Repeat("🔒", 11), ErrTooShort},
		{"12 four-byte characters", strings.Repeat("🔒", 12), nil},
		{"12 code points that NFKC composes to 6", strings.Repeat("e\u0301", 6), ErrTooShort},
		{"6 ligatures that NFKC expands to 12", strings.Repeat("\ufb01", 6), nil},
		{"listed common password", "password1234", ErrCommon},
		{"listed common password in mixed case", "PassWord1234", ErrCommon},
		{"listed common password in upper case", "QWERTYUIOP123", ErrCommon},
		{"listed common password, full-width", "ＰＡＳＳＷＯＲＤ１２３４", ErrCommon},
		{"listed common password with a Kelvin sign", "\u212aartoffelpuffer", ErrCommon},
		{"listed common password with spaces", "Hannah Montana", ErrCommon},
		{"long passphrase", "correct horse battery staple", nil},
		{"passphrase with no letters or digits rules", "the quiet lighthouse keeps humming at dawn", nil},
		{"exactly MaxLength bytes", strings.Repeat("abcd", MaxLength/4), nil},
		{"one byte over MaxLength", strings.Repeat("a", MaxLength+1), ErrTooLong},
		{"over MaxLength in multi-byte characters", strings.Repeat("é", MaxLength/2+1), ErrTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.pw)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Validate(%q) = %v, want %v", tc.pw, err, tc.want)
			}
			if err != nil && len(tc.pw) > 0 && strings.Contains(err.Error(), tc.pw) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestValidate_CountsCodePointsAfterNFKC(t *testing.T) {
	// U+2460 CIRCLED DIGIT ONE is one code point and NFKC turns it into "1".
	pw := "abcdefghijk\u2460"
	if utf8.RuneCountInString(pw) != MinLength {
		t.Fatalf("test input has %d code points", utf8.RuneCountInString(pw))
	}
	if err := Validate(pw); err != nil {
		t.Errorf("Validate(%q) = %v, want nil", pw, err)
	}
	// U+FDFA expands to 18 code points under NFKC.
	if err := Validate("\ufdfa"); err != nil {
		t.Errorf("Validate(U+FDFA) = %v, want nil", err)
	}
}

func TestValidate_RejectsEveryListedPassword(t *testing.T) {
	for pw := range commonPasswords() {
		if err := Validate(pw); !errors.Is(err, ErrCommon) {
			t.Fatalf("Validate(%q) = %v, want ErrCommon", pw, err)
		}
		if err := Validate(strings.ToUpper(pw)); !errors.Is(err, ErrCommon) {
			t.Fatalf("Validate(%q) = %v, want ErrCommon", strings.ToUpper(pw), err)
		}
	}
}

func TestCommonPasswordList_IsWellFormed(t *testing.T) {
	if len(commonPasswordsFile) > 200<<10 {
		t.Errorf("common-passwords.txt is %d bytes, want under 200 KiB", len(commonPasswordsFile))
	}
	if !strings.HasPrefix(commonPasswordsFile, "#") || !strings.Contains(commonPasswordsFile, "SecLists") {
		t.Error("common-passwords.txt does not start with a header naming its source")
	}
	var entries []string
	for line := range strings.Lines(commonPasswordsFile) {
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, "#") {
			continue
		}
		entries = append(entries, line)
		switch {
		case line == "" || line != strings.TrimSpace(line):
			t.Errorf("entry %q is blank or has surrounding space", line)
		case line != strings.ToLower(line):
			t.Errorf("entry %q is not lower-case", line)
		case line != norm.NFKC.String(line):
			t.Errorf("entry %q is not NFKC-normalised", line)
		case utf8.RuneCountInString(line) < MinLength:
			t.Errorf("entry %q is shorter than MinLength, so it can never match", line)
		}
	}
	if !slices.IsSorted(entries) {
		t.Error("entries are not sorted")
	}
	if n := len(slices.Compact(slices.Clone(entries))); n != len(entries) {
		t.Errorf("%d duplicate entries", len(entries)-n)
	}
	if len(entries) < 1000 {
		t.Errorf("only %d entries", len(entries))
	}
	if got := len(commonPasswords()); got != len(entries) {
		t.Errorf("loaded %d entries, file has %d", got, len(entries))
	}
	for _, pw := range []string{"password1234", "qwertyuiop123", "123456789012", "iloveyou1234", "1qaz2wsx3edc4rfv"} {
		if _, ok := commonPasswords()[pw]; !ok {
			t.Errorf("%q is missing from the list", pw)
		}
	}
}

func TestParseList_SkipsCommentsAndBlankLines(t *testing.T) {
	got := parseList("# header\r\n\nfirstpassword1\r\n#notapassword1\nsecondpassword\n")
	want := map[string]struct{}{"firstpassword1": {}, "secondpassword": {}}
	if len(got) != len(want) {
		t.Fatalf("parseList = %v, want %v", got, want)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("parseList is missing %q", k)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	commonPasswords() // load the list outside the timed loop
	pws := []string{
		"short",
		"PassWord1234",
		"correct horse battery staple",
		strings.Repeat("é", 40),
	}
	for b.Loop() {
		for _, pw := range pws {
			_ = Validate(pw)
		}
	}
}
