package fieldcrypt_test

import (
	"strings"
	"testing"

	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
)

func TestMemKeys_PassesKeysContract(t *testing.T) {
	fieldcrypttest.RunKeysContract(t, func(*testing.T) fieldcrypt.Keys { return fieldcrypttest.NewMemoryKeys() })
}

func TestValidClinicID(t *testing.T) {
	for id, want := range map[string]bool{
		"0b7e8f3c-1d2a-4c5b-9e6f-7a8b9c0d1e2f": true,
		"abc":                                  true,
		"":                                     false,
		"ABC":                                  false,
		"../x":                                 false,
		"a b":                                  false,
		strings.Repeat("a", 64):                true,
		strings.Repeat("a", 65):                false,
	} {
		if got := fieldcrypt.ValidClinicID(id); got != want {
			t.Errorf("ValidClinicID(%q) = %v, want %v", id, got, want)
		}
	}
}
