package fieldcrypttest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/havenhealth/haven/libs/fieldcrypt"
)

// MemoryKeys is an in-memory fieldcrypt.Keys that behaves like Vault transit
// for the operations fieldcrypt uses: versioned per-clinic AES-GCM keys,
// wraps that say their version ("mem:v<N>:<base64>"), destruction, and a
// switch that makes it unreachable.
type MemoryKeys struct {
	mu      sync.Mutex
	clinics map[string][][]byte // clinic → key versions (index 0 = v1)
	// Down makes every operation fail with fieldcrypt.ErrUnavailable, as
	// an unreachable Vault would.
	Down atomic.Bool
	// Calls counts operations that reached the "service"; Unwraps the
	// unwraps among them.
	Calls   atomic.Int64
	Unwraps atomic.Int64
}

// NewMemoryKeys returns an empty MemoryKeys. It is for services' tests; the
// Vault-backed contract runs in platform/vaultdev and the devstack.
func NewMemoryKeys() *MemoryKeys { return &MemoryKeys{clinics: make(map[string][][]byte)} }

var _ fieldcrypt.Keys = (*MemoryKeys)(nil)

func (m *MemoryKeys) enter(clinicID string) error {
	if !fieldcrypt.ValidClinicID(clinicID) {
		return fieldcrypt.ErrInvalidClinicID
	}
	if m.Down.Load() {
		return fmt.Errorf("mem keys: %w", fieldcrypt.ErrUnavailable)
	}
	m.Calls.Add(1)
	return nil
}

func (m *MemoryKeys) CreateKey(_ context.Context, clinicID string) error {
	if err := m.enter(clinicID); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.clinics[clinicID]; !ok {
		m.clinics[clinicID] = [][]byte{randomKey()}
	}
	return nil
}

func (m *MemoryKeys) NewDataKey(_ context.Context, clinicID string) ([]byte, string, error) {
	if err := m.enter(clinicID); err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	versions, ok := m.clinics[clinicID]
	if !ok {
		return nil, "", fmt.Errorf("mem keys: %w", fieldcrypt.ErrKeyDestroyed)
	}
	pt := randomKey()
	return pt, wrap(clinicID, len(versions), versions[len(versions)-1], pt), nil
}

func (m *MemoryKeys) Unwrap(_ context.Context, clinicID, wrapped string) ([]byte, error) {
	if err := m.enter(clinicID); err != nil {
		return nil, err
	}
	m.Unwraps.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.unwrapLocked(clinicID, wrapped)
}

func (m *MemoryKeys) unwrapLocked(clinicID, wrapped string) ([]byte, error) {
	versions, ok := m.clinics[clinicID]
	if !ok {
		return nil, fmt.Errorf("mem keys: %w", fieldcrypt.ErrKeyDestroyed)
	}
	rest, ok := strings.CutPrefix(wrapped, "mem:v")
	if !ok {
		return nil, fmt.Errorf("mem keys: bad wrap")
	}
	vs, enc, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, fmt.Errorf("mem keys: bad wrap")
	}
	v, err := strconv.Atoi(vs)
	if err != nil || v < 1 || v > len(versions) {
		return nil, fmt.Errorf("mem keys: bad wrap version")
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(raw) < 12 {
		return nil, fmt.Errorf("mem keys: bad wrap")
	}
	pt, err := gcm(versions[v-1]).Open(nil, raw[:12], raw[12:], []byte(clinicID))
	if err != nil {
		return nil, fmt.Errorf("mem keys: wrap failed authentication")
	}
	return pt, nil
}

func (m *MemoryKeys) Rewrap(_ context.Context, clinicID, wrapped string) (string, error) {
	if err := m.enter(clinicID); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	pt, err := m.unwrapLocked(clinicID, wrapped)
	if err != nil {
		return "", err
	}
	defer clear(pt)
	versions := m.clinics[clinicID]
	return wrap(clinicID, len(versions), versions[len(versions)-1], pt), nil
}

func (m *MemoryKeys) Rotate(_ context.Context, clinicID string) error {
	if err := m.enter(clinicID); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	versions, ok := m.clinics[clinicID]
	if !ok {
		return fmt.Errorf("mem keys: %w", fieldcrypt.ErrKeyDestroyed)
	}
	m.clinics[clinicID] = append(versions, randomKey())
	return nil
}

func (m *MemoryKeys) Destroy(_ context.Context, clinicID string) error {
	if err := m.enter(clinicID); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.clinics, clinicID)
	return nil
}

func wrap(clinicID string, version int, kek, pt []byte) string {
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	sealed := gcm(kek).Seal(nonce, nonce, pt, []byte(clinicID))
	return fmt.Sprintf("mem:v%d:%s", version, base64.StdEncoding.EncodeToString(sealed))
}

func gcm(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return a
}

func randomKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return k
}
