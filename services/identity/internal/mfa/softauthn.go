package mfa

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// SoftAuthenticator is a passkey held in memory, standing in for a browser
// and its authenticator in tests (unit, integration and the devstack
// end-to-end suite). It holds one ECDSA P-256 credential, made by Register,
// and answers sign-in requests with Login. Never use it outside tests.
//
// It plays the browser as well as the authenticator but, unlike a browser,
// does not check that the options' RP ID fits its origin: tests use it to
// show that the server refuses what a browser would never send.
type SoftAuthenticator struct {
	mu           sync.Mutex
	origin       string
	key          *ecdsa.PrivateKey
	credentialID []byte
	rpID         string
	userHandle   []byte
	signCount    uint32
}

// softFlags say the user was present and verified; credential ids are 32
// random bytes.
const (
	softFlags      = protocol.FlagUserPresent | protocol.FlagUserVerified
	softCredIDSize = 32
)

// NewSoftAuthenticator returns an authenticator that reports origin (e.g.
// "https://app.haven.example") as the page it runs on.
func NewSoftAuthenticator(origin string) (*SoftAuthenticator, error) {
	if origin == "" {
		return nil, errors.New("softauthn: origin is required")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("softauthn: generate key: %w", err)
	}
	return &SoftAuthenticator{origin: origin, key: key}, nil
}

// SetOrigin changes the origin reported from now on, e.g. to act as a
// phishing page holding a stolen passkey.
func (a *SoftAuthenticator) SetOrigin(origin string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.origin = origin
}

// CredentialID returns the registered credential's id, nil before Register.
func (a *SoftAuthenticator) CredentialID() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.credentialID)
}

// SignCount returns the signature counter last reported.
func (a *SoftAuthenticator) SignCount() uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.signCount
}

// creationOptions is what Register reads of PublicKeyCredentialCreationOptions.
type creationOptions struct {
	RP struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Challenge          string       `json:"challenge"`
	PubKeyCredParams   []credParam  `json:"pubKeyCredParams"`
	ExcludeCredentials []descriptor `json:"excludeCredentials"`
}

type credParam struct {
	Type string `json:"type"`
	Alg  int64  `json:"alg"`
}

// requestOptions is what Login reads of PublicKeyCredentialRequestOptions.
type requestOptions struct {
	Challenge        string       `json:"challenge"`
	RPID             string       `json:"rpId"`
	AllowCredentials []descriptor `json:"allowCredentials"`
}

type descriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// clientData is CollectedClientData, in the member order browsers use.
type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

// Register answers creation options (JSON, either {"publicKey": {...}} or the
// bare options) the way navigator.credentials.create would, with a "none"
// attestation of a new ES256 credential, and returns the
// PublicKeyCredential JSON to send to the server.
func (a *SoftAuthenticator) Register(optionsJSON []byte) (responseJSON []byte, err error) {
	var opts creationOptions
	if err := unwrapOptions(optionsJSON, &opts); err != nil {
		return nil, err
	}
	challenge, err := decodeB64URL(opts.Challenge)
	if err != nil || len(challenge) == 0 {
		return nil, errors.New("softauthn: options carry no challenge")
	}
	userHandle, err := decodeB64URL(opts.User.ID)
	if err != nil || len(userHandle) == 0 {
		return nil, errors.New("softauthn: options carry no user id")
	}
	if !slices.ContainsFunc(opts.PubKeyCredParams, func(p credParam) bool {
		return p.Type == string(protocol.PublicKeyCredentialType) && p.Alg == int64(webauthncose.AlgES256)
	}) {
		return nil, errors.New("softauthn: the server does not accept ES256")
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	rpID, err := a.rpIDFor(opts.RP.ID)
	if err != nil {
		return nil, err
	}
	if a.credentialID != nil && a.rpID == rpID && listed(opts.ExcludeCredentials, a.credentialID) {
		return nil, errors.New("softauthn: InvalidStateError: this authenticator is already registered")
	}
	if a.credentialID == nil {
		a.credentialID = make([]byte, softCredIDSize)
		if _, err := rand.Read(a.credentialID); err != nil {
			return nil, fmt.Errorf("softauthn: credential id: %w", err)
		}
	}
	cose, err := a.publicKeyCOSE()
	if err != nil {
		return nil, err
	}
	attested := make([]byte, 16, 16+2+len(a.credentialID)+len(cose)) // zero AAGUID
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.credentialID)))
	attested = append(attested, a.credentialID...)
	attested = append(attested, cose...)
	authData := authenticatorData(rpID, softFlags|protocol.FlagAttestedCredentialData, a.signCount, attested)

	attObj, err := webauthncbor.Marshal(map[string]any{
		"fmt":      "none",
		"attStmt":  map[string]any{},
		"authData": authData,
	})
	if err != nil {
		return nil, fmt.Errorf("softauthn: encode attestation: %w", err)
	}
	cdj, err := a.clientDataJSON("webauthn.create", challenge)
	if err != nil {
		return nil, err
	}
	a.rpID, a.userHandle = rpID, userHandle
	id := b64(a.credentialID)
	return json.Marshal(map[string]any{
		"id":                      id,
		"rawId":                   id,
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64(cdj),
			"attestationObject": b64(attObj),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults": map[string]any{},
	})
}

// Login answers request options (JSON, either {"publicKey": {...}} or the
// bare options) the way navigator.credentials.get would: it signs
// authenticatorData || SHA-256(clientDataJSON) with the credential's key,
// advancing its signature counter, and returns the PublicKeyCredential JSON
// to send to the server. It fails before Register, for another RP ID, or when
// the options allow only other credentials.
func (a *SoftAuthenticator) Login(optionsJSON []byte) (responseJSON []byte, err error) {
	var opts requestOptions
	if err := unwrapOptions(optionsJSON, &opts); err != nil {
		return nil, err
	}
	challenge, err := decodeB64URL(opts.Challenge)
	if err != nil || len(challenge) == 0 {
		return nil, errors.New("softauthn: options carry no challenge")
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	rpID, err := a.rpIDFor(opts.RPID)
	if err != nil {
		return nil, err
	}
	if a.credentialID == nil || rpID != a.rpID {
		return nil, errors.New("softauthn: NotAllowedError: no credential for this relying party")
	}
	if len(opts.AllowCredentials) > 0 && !listed(opts.AllowCredentials, a.credentialID) {
		return nil, errors.New("softauthn: NotAllowedError: credential not allowed")
	}
	cdj, err := a.clientDataJSON("webauthn.get", challenge)
	if err != nil {
		return nil, err
	}
	count := a.signCount + 1
	authData := authenticatorData(rpID, softFlags, count, nil)
	clientDataHash := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(slices.Clone(authData), clientDataHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("softauthn: sign: %w", err)
	}
	a.signCount = count
	id := b64(a.credentialID)
	return json.Marshal(map[string]any{
		"id":                      id,
		"rawId":                   id,
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64(cdj),
			"authenticatorData": b64(authData),
			"signature":         b64(sig),
			"userHandle":        b64(a.userHandle),
		},
		"clientExtensionResults": map[string]any{},
	})
}

// rpIDFor is the RP ID the options name or, as a browser defaults it, the
// host of the origin.
func (a *SoftAuthenticator) rpIDFor(fromOptions string) (string, error) {
	if fromOptions != "" {
		return fromOptions, nil
	}
	u, err := url.Parse(a.origin)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("softauthn: no RP ID in options and origin %q has no host", a.origin)
	}
	return u.Hostname(), nil
}

func (a *SoftAuthenticator) clientDataJSON(typ string, challenge []byte) ([]byte, error) {
	b, err := json.Marshal(clientData{Type: typ, Challenge: b64(challenge), Origin: a.origin})
	if err != nil {
		return nil, fmt.Errorf("softauthn: client data: %w", err)
	}
	return b, nil
}

// publicKeyCOSE is the credential public key as a COSE_Key (EC2, ES256, P-256).
func (a *SoftAuthenticator) publicKeyCOSE() ([]byte, error) {
	pt, err := a.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil || len(pt) != 65 {
		return nil, fmt.Errorf("softauthn: public key: %w", err)
	}
	b, err := webauthncbor.Marshal(map[int64]any{
		1:  int64(webauthncose.EllipticKey),
		3:  int64(webauthncose.AlgES256),
		-1: int64(webauthncose.P256),
		-2: pt[1:33],
		-3: pt[33:65],
	})
	if err != nil {
		return nil, fmt.Errorf("softauthn: encode public key: %w", err)
	}
	return b, nil
}

// authenticatorData is rpIdHash || flags || signCount || attested data.
func authenticatorData(rpID string, flags protocol.AuthenticatorFlags, signCount uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	d := make([]byte, 0, 37+len(attested))
	d = append(d, h[:]...)
	d = append(d, byte(flags))
	d = binary.BigEndian.AppendUint32(d, signCount)
	return append(d, attested...)
}

// unwrapOptions decodes options given as {"publicKey": {...}} or bare.
func unwrapOptions(b []byte, v any) error {
	var wrapped struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(b, &wrapped); err != nil {
		return fmt.Errorf("softauthn: options: %w", err)
	}
	if len(wrapped.PublicKey) > 0 {
		b = wrapped.PublicKey
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("softauthn: options: %w", err)
	}
	return nil
}

func listed(ds []descriptor, id []byte) bool {
	for _, d := range ds {
		if got, err := decodeB64URL(d.ID); err == nil && string(got) == string(id) {
			return true
		}
	}
	return false
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// decodeB64URL decodes base64url with or without padding, as browsers accept.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
