package fieldcrypt

import "context"

// DataKeySize is the length in bytes of a data key (AES-256).
const DataKeySize = 32

// Keys is what fieldcrypt needs from the key service holding the clinics'
// key-encryption keys. Implementations refuse clinic ids that fail
// [ValidClinicID] with [ErrInvalidClinicID], report a missing or destroyed key
// as [ErrKeyDestroyed] and an unreachable service as [ErrUnavailable], and
// never put key material in an error. [VaultKeys] is the production
// implementation; fieldcrypttest.RunKeysContract checks any other.
type Keys interface {
	// CreateKey creates the clinic's key-encryption key. It is idempotent:
	// creating an existing key succeeds and leaves it unchanged.
	CreateKey(ctx context.Context, clinicID string) error

	// NewDataKey returns a fresh random DataKeySize-byte data key, in plain
	// and in wrapped (encrypted under the clinic's key) form.
	NewDataKey(ctx context.Context, clinicID string) (plaintext []byte, wrapped string, err error)

	// Unwrap decrypts a wrapped data key of the clinic.
	Unwrap(ctx context.Context, clinicID, wrapped string) ([]byte, error)

	// Rewrap re-encrypts a wrapped data key under the newest version of the
	// clinic's key, without revealing it to the caller.
	Rewrap(ctx context.Context, clinicID, wrapped string) (string, error)

	// Rotate adds a new version of the clinic's key; new wraps use it, and
	// data keys wrapped under older versions still unwrap.
	Rotate(ctx context.Context, clinicID string) error

	// Destroy deletes the clinic's key and with it every data key it wraps.
	// It is idempotent and irreversible.
	Destroy(ctx context.Context, clinicID string) error
}
