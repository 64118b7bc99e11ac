package domain

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// UnsubscribeKey derives the key that signs unsubscribe tokens from the
// region's edge secret, under its own label so that it signs nothing else.
func UnsubscribeKey(edgeSecret []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, edgeSecret, nil, "haven-messaging-unsubscribe-v1", 32)
}

// Unsubscription is what an unsubscribe token names: a clinic's patient
// and one channel, nothing else.
type Unsubscription struct {
	ClinicID  string
	PatientID string
	Channel   Channel
}

const tokenVersion = "u1"

var b64 = base64.RawURLEncoding

// SignUnsubscribe returns the token for u: the version, clinic, patient and
// channel, and an HMAC-SHA-256 over them with key, URL-safe. It does not
// expire: an unsubscribe link must keep working.
func SignUnsubscribe(key []byte, u Unsubscription) string {
	payload := strings.Join([]string{tokenVersion, u.ClinicID, u.PatientID, string(u.Channel)}, "~")
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(tokenMAC(key, payload))
}

// VerifyUnsubscribe checks token and returns what it names, or ErrBadToken.
func VerifyUnsubscribe(key []byte, token string) (Unsubscription, error) {
	if len(token) > 512 {
		return Unsubscription{}, ErrBadToken
	}
	p, s, ok := strings.Cut(token, ".")
	if !ok {
		return Unsubscription{}, ErrBadToken
	}
	payload, err1 := b64.DecodeString(p)
	sig, err2 := b64.DecodeString(s)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, tokenMAC(key, string(payload))) {
		return Unsubscription{}, ErrBadToken
	}
	parts := strings.Split(string(payload), "~")
	if len(parts) != 4 || parts[0] != tokenVersion || parts[1] == "" || parts[2] == "" || !Channel(parts[3]).Valid() {
		return Unsubscription{}, ErrBadToken
	}
	return Unsubscription{ClinicID: parts[1], PatientID: parts[2], Channel: Channel(parts[3])}, nil
}

func tokenMAC(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}
