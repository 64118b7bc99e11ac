//go:build ignore

// gen_common_passwords rebuilds common-passwords.txt from a checkout of
// SecLists (release 2022.2). It is not part of the build; run it by hand:
//
//	go run gen_common_passwords.go /path/to/SecLists > common-passwords.txt
//
// It keeps every entry that, after NFKC normalisation and lower-casing, has
// at least MinLength code points and is printable ASCII without leading or
// trailing spaces, decodes hashcat's
// $HEX[…] notation first, and writes the result sorted and de-duplicated
// below a header naming the sources.
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const minLength = 12 // password.MinLength

var sources = []string{
	"Passwords/Common-Credentials/10-million-password-list-top-100000.txt",
	"Passwords/Common-Credentials/100k-most-used-passwords-NCSC.txt",
	"Passwords/Leaked-Databases/rockyou-75.txt",
}

const header = `# Common passwords of 12 or more characters: lower-case, sorted, de-duplicated, one per line.
# Source: SecLists release 2022.2 (github.com/danielmiessler/SecLists, MIT licence), the files
#   Passwords/Common-Credentials/10-million-password-list-top-100000.txt (Mark Burnett's ten million passwords),
#   Passwords/Common-Credentials/100k-most-used-passwords-NCSC.txt (UK NCSC top 100k from Have I Been Pwned),
#   Passwords/Leaked-Databases/rockyou-75.txt (the RockYou breach).
# Kept: entries of at least 12 code points after NFKC and lower-casing, printable ASCII only. See README.md.
`

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run gen_common_passwords.go SECLISTS_DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(dir string) error {
	seen := map[string]bool{}
	for _, src := range sources {
		data, err := os.ReadFile(filepath.Join(dir, src))
		if err != nil {
			return fmt.Errorf("read source: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if pw, ok := keep(sc.Text()); ok {
				seen[pw] = true
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("scan %s: %w", src, err)
		}
	}
	out := make([]string, 0, len(seen))
	for pw := range seen {
		out = append(out, pw)
	}
	slices.Sort(out)
	w := bufio.NewWriter(os.Stdout)
	w.WriteString(header)
	for _, pw := range out {
		w.WriteString(pw)
		w.WriteByte('\n')
	}
	return w.Flush()
}

// keep normalises one source line and reports whether it belongs in the list.
func keep(line string) (string, bool) {
	line = strings.TrimSuffix(line, "\r")
	if h, ok := strings.CutPrefix(strings.ToLower(line), "$hex["); ok && strings.HasSuffix(h, "]") {
		b, err := hex.DecodeString(strings.TrimSuffix(h, "]"))
		if err != nil {
			return "", false
		}
		line = string(b)
	}
	if !utf8.ValidString(line) {
		return "", false
	}
	pw := strings.ToLower(norm.NFKC.String(line))
	if utf8.RuneCountInString(pw) < minLength || strings.HasPrefix(pw, "#") {
		return "", false
	}
	if pw != strings.TrimSpace(pw) {
		return "", false
	}
	for i := 0; i < len(pw); i++ {
		if pw[i] < 0x20 || pw[i] > 0x7e {
			return "", false
		}
	}
	return pw, true
}
