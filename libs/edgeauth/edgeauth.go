// Package edgeauth is how a regional service knows a request came through
// the residency router. The router signs the clinic id, region, method and
// path it forwards with the region's edge secret (HMAC-SHA-256 with a
// timestamp); a service verifies the signature before trusting the
// X-Haven-Clinic-ID and X-Haven-Region headers.
//
// A shared secret per region is the first cut. Production should put the
// router and services in a service mesh with mutual TLS and workload
// identities (SPIFFE), and keep this signature as a second check.
package edgeauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/havenhealth/haven/libs/problem"
)

// Headers the router sets after stripping any client-sent copies.
const (
	HeaderClinicID  = "X-Haven-Clinic-ID"
	HeaderRegion    = "X-Haven-Region"
	HeaderSignature = "X-Haven-Edge-Signature"
)

// MaxSkew is how far a signature's timestamp may be from the verifier's clock.
const MaxSkew = 2 * time.Minute

// Errors a verification can fail with.
var (
	ErrMissing       = errors.New("edgeauth: request is not signed by the router")
	ErrInvalid       = errors.New("edgeauth: router signature does not verify")
	ErrExpired       = errors.New("edgeauth: router signature is outside the allowed clock skew")
	ErrWrongRegion   = errors.New("edgeauth: request was signed for another region")
	ErrMissingClinic = errors.New("edgeauth: request names no clinic")
)

// StripClientHeaders removes every trusted header a client may have sent.
func StripClientHeaders(h http.Header) {
	h.Del(HeaderClinicID)
	h.Del(HeaderRegion)
	h.Del(HeaderSignature)
	h.Del(HeaderClientIP)
	h.Del(HeaderInternal)
}

// Sign sets the trusted headers on r and signs them with secret. clinicID
// may be empty for region-level calls such as provisioning.
func Sign(r *http.Request, secret []byte, clinicID, region string, now time.Time) {
	StripClientHeaders(r.Header)
	if clinicID != "" {
		r.Header.Set(HeaderClinicID, clinicID)
	}
	r.Header.Set(HeaderRegion, region)
	ts := strconv.FormatInt(now.Unix(), 10)
	r.Header.Set(HeaderSignature, "v1."+ts+"."+mac(secret, ts, clinicID, region, r.Method, r.URL.Path))
}

// Verify checks r's signature for this service's region and returns the
// clinic id it carries (empty when the router signed no clinic).
func Verify(r *http.Request, secret []byte, region string, now time.Time) (string, error) {
	return verify(r, HeaderSignature, domainEdge, secret, region, now)
}

// verify checks the signature in header, made under domain, for region,
// and returns the clinic id it carries.
func verify(r *http.Request, header, domain string, secret []byte, region string, now time.Time) (string, error) {
	sig := r.Header.Get(header)
	if sig == "" {
		return "", ErrMissing
	}
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return "", ErrInvalid
	}
	ts, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", ErrInvalid
	}
	clinicID, gotRegion := r.Header.Get(HeaderClinicID), r.Header.Get(HeaderRegion)
	want := macDomain(domain, secret, parts[1], clinicID, gotRegion, r.Method, r.URL.Path)
	if !hmac.Equal([]byte(want), []byte(parts[2])) {
		return "", ErrInvalid
	}
	if d := now.Sub(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
		return "", ErrExpired
	}
	if gotRegion != region {
		return "", ErrWrongRegion
	}
	return clinicID, nil
}

func mac(secret []byte, ts, clinicID, region, method, path string) string {
	return macDomain(domainEdge, secret, ts, clinicID, region, method, path)
}

// Signature domains: a router signature never verifies as an internal one
// and the other way round, so a client cannot reach an internal endpoint
// through the router, and a service cannot pose as the router.
const (
	domainEdge     = "haven-edge-v1"
	domainInternal = "haven-internal-v1"
)

func macDomain(domain string, secret []byte, ts, clinicID, region, method, path string) string {
	m := hmac.New(sha256.New, secret)
	for _, s := range []string{domain, ts, clinicID, region, method, path} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

type clinicKey struct{}

// ClinicID returns the verified clinic id that Require put in ctx.
func ClinicID(ctx context.Context) string {
	id, _ := ctx.Value(clinicKey{}).(string)
	return id
}

// Require wraps a handler that serves a clinic: the request must carry a
// valid router signature for region naming a clinic; the clinic id is then
// available through ClinicID. Anything else is a problem+json 401 or 421.
func Require(secret []byte, region string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clinicID, err := Verify(r, secret, region, time.Now())
		if err == nil && clinicID == "" {
			err = ErrMissingClinic
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clinicKey{}, clinicID)))
	})
}

// RequireRouter wraps a region-level endpoint (provisioning) that only the
// router may call; it names no clinic.
func RequireRouter(secret []byte, region string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := Verify(r, secret, region, time.Now()); err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrWrongRegion) {
		problem.Write(w, r, problem.New(problem.TypeForbidden, http.StatusMisdirectedRequest, "Misdirected request").
			WithDetail("this service does not serve the region the request was signed for"))
		return
	}
	problem.Write(w, r, problem.Unauthorized("this endpoint is only reachable through the Haven router"))
}

// HeaderInternal carries a service-to-service signature.
const HeaderInternal = "X-Haven-Internal-Signature"

// SignInternal signs r as a call from one of the region's services to
// another, on behalf of clinicID (a reminder, a code sent for identity).
// It uses the region's edge secret under a different domain than the
// router's signature, so only the region's services can produce it.
func SignInternal(r *http.Request, secret []byte, clinicID, region string, now time.Time) {
	StripClientHeaders(r.Header)
	r.Header.Set(HeaderClinicID, clinicID)
	r.Header.Set(HeaderRegion, region)
	ts := strconv.FormatInt(now.Unix(), 10)
	r.Header.Set(HeaderInternal, "v1."+ts+"."+macDomain(domainInternal, secret, ts, clinicID, region, r.Method, r.URL.Path))
}

// VerifyInternal checks r's service-to-service signature for region and
// returns the clinic it names.
func VerifyInternal(r *http.Request, secret []byte, region string, now time.Time) (string, error) {
	clinicID, err := verify(r, HeaderInternal, domainInternal, secret, region, now)
	if err == nil && clinicID == "" {
		return "", ErrMissingClinic
	}
	return clinicID, err
}

// RequireInternal wraps an endpoint only the region's own services may
// call (mount it under /internal/); the clinic id is then available
// through ClinicID. A router-signed request is refused.
func RequireInternal(secret []byte, region string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clinicID, err := VerifyInternal(r, secret, region, time.Now())
		if err != nil {
			if errors.Is(err, ErrWrongRegion) {
				writeError(w, r, err)
				return
			}
			problem.Write(w, r, problem.Unauthorized("this endpoint is only for the region's own services"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clinicKey{}, clinicID)))
	})
}

// HeaderClientIP carries the client address the router resolved (after its
// trusted proxies). Only a router-signed request's copy is believed.
const HeaderClientIP = "X-Haven-Client-IP"
