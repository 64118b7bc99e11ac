// Package problem writes RFC 9457 problem details (application/problem+json),
// the one error shape every Haven API answers with.
package problem

import (
	"encoding/json"
	"net/http"
)

// ContentType is the media type of a problem details document.
const ContentType = "application/problem+json"

// Stable problem types. Clients may switch on them; they never change meaning.
const (
	TypeValidation       = "urn:haven:problem:validation"
	TypeMalformedBody    = "urn:haven:problem:malformed-body"
	TypeBodyTooLarge     = "urn:haven:problem:body-too-large"
	TypeUnsupportedMedia = "urn:haven:problem:unsupported-media-type"
	TypeNotFound         = "urn:haven:problem:not-found"
	TypeMethodNotAllowed = "urn:haven:problem:method-not-allowed"
	TypeConflict         = "urn:haven:problem:conflict"
	TypeUnauthorized     = "urn:haven:problem:unauthorized"
	TypeForbidden        = "urn:haven:problem:forbidden"
	TypeRateLimited      = "urn:haven:problem:rate-limited"
	TypeIdempotency      = "urn:haven:problem:idempotency-key-reuse"
	TypeGone             = "urn:haven:problem:gone"
	TypeUpstream         = "urn:haven:problem:upstream-unavailable"
	TypeInternal         = "urn:haven:problem:internal"
	TypeUnavailable      = "urn:haven:problem:unavailable"
)

// FieldError names one invalid input field. Reason is a fixed, human-readable
// phrase; it never echoes the submitted value, which may be personal data.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
}

// Error makes a Problem usable as an error value inside a handler.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

// New returns a problem of the given type and status with a title.
func New(typ string, status int, title string) *Problem {
	return &Problem{Type: typ, Status: status, Title: title}
}

// WithDetail returns a copy of p with its detail set.
func (p *Problem) WithDetail(detail string) *Problem {
	c := *p
	c.Detail = detail
	return &c
}

// Validation returns a 400 problem listing the invalid fields.
func Validation(errs ...FieldError) *Problem {
	return &Problem{
		Type:   TypeValidation,
		Status: http.StatusBadRequest,
		Title:  "The request is not valid",
		Errors: errs,
	}
}

// NotFound returns a 404 problem.
func NotFound(detail string) *Problem {
	return &Problem{Type: TypeNotFound, Status: http.StatusNotFound, Title: "Not found", Detail: detail}
}

// Conflict returns a 409 problem.
func Conflict(detail string) *Problem {
	return &Problem{Type: TypeConflict, Status: http.StatusConflict, Title: "Conflict", Detail: detail}
}

// Unauthorized returns a 401 problem.
func Unauthorized(detail string) *Problem {
	return &Problem{Type: TypeUnauthorized, Status: http.StatusUnauthorized, Title: "Unauthorized", Detail: detail}
}

// Forbidden returns a 403 problem.
func Forbidden(detail string) *Problem {
	return &Problem{Type: TypeForbidden, Status: http.StatusForbidden, Title: "Forbidden", Detail: detail}
}

// Internal returns a 500 problem that reveals nothing about the cause.
func Internal() *Problem {
	return &Problem{Type: TypeInternal, Status: http.StatusInternalServerError, Title: "Internal error",
		Detail: "The server could not complete the request. Quote the request id when reporting it."}
}

// Unavailable returns a 503 problem.
func Unavailable(detail string) *Problem {
	return &Problem{Type: TypeUnavailable, Status: http.StatusServiceUnavailable, Title: "Service unavailable", Detail: detail}
}

// Write sends p as the response. The request id, when the request carries one,
// is copied into the document so a user can quote it.
func Write(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.RequestID == "" && r != nil {
		if id := RequestIDFrom(r); id != "" {
			c := *p
			c.RequestID = id
			p = &c
		}
	}
	if p.Instance == "" && r != nil && r.URL != nil {
		c := *p
		c.Instance = r.URL.Path
		p = &c
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// RequestIDHeader carries the request id between clients, the router and services.
const RequestIDHeader = "X-Request-ID"

// RequestIDFrom returns the request id the server middleware assigned, if any.
func RequestIDFrom(r *http.Request) string {
	if id, ok := r.Context().Value(requestIDKey{}).(string); ok {
		return id
	}
	return ""
}

type requestIDKey struct{}

// WithRequestID returns r carrying id, for RequestIDFrom. The server
// middleware calls it; handlers only read.
func WithRequestID(r *http.Request, id string) *http.Request {
	return r.WithContext(contextWithRequestID(r, id))
}
