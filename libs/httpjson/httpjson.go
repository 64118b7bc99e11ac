// Package httpjson decodes JSON request bodies strictly and writes JSON
// responses. Every decoding failure becomes a 4xx problem, never a 5xx.
package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/havenhealth/haven/libs/problem"
)

// MaxBodyBytes bounds every JSON request body.
const MaxBodyBytes = 1 << 20

// Decode reads exactly one JSON object from r's body into dst. Unknown
// fields, trailing data, an empty body, a wrong content type and bodies over
// MaxBodyBytes are rejected. Details name positions and fields, never values.
func Decode(w http.ResponseWriter, r *http.Request, dst any) *problem.Problem {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return problem.New(problem.TypeUnsupportedMedia, http.StatusUnsupportedMediaType,
				"Unsupported media type").WithDetail("send the body as application/json")
		}
	}
	if r.Body == nil {
		return emptyBody()
	}
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	return DecodeReader(body, dst)
}

// Read is Decode for a handler: on a bad body it writes the problem and
// reports false, and the handler returns.
func Read(w http.ResponseWriter, r *http.Request, dst any) bool {
	if p := Decode(w, r, dst); p != nil {
		problem.Write(w, r, p)
		return false
	}
	return true
}

// DecodeReader is Decode without the HTTP wrapping: it is what the fuzz
// test drives directly.
func DecodeReader(body io.Reader, dst any) *problem.Problem {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeProblem(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return decodeProblem(err)
		}
		return malformed("the body must contain a single JSON object")
	}
	return nil
}

func decodeProblem(err error) *problem.Problem {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return emptyBody()
	case errors.As(err, &tooLarge):
		return problem.New(problem.TypeBodyTooLarge, http.StatusRequestEntityTooLarge, "Request body too large").
			WithDetail(fmt.Sprintf("the body must be at most %d bytes", tooLarge.Limit))
	case errors.As(err, &syntaxErr):
		return malformed(fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformed("the JSON body ends too early")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return malformed("the body must be a JSON object")
		}
		return problem.Validation(problem.FieldError{Field: field, Reason: "has the wrong type; expected " + typeErr.Type.String()})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.Validation(problem.FieldError{Field: name, Reason: "is not a known field"})
	default:
		return malformed("the body is not valid JSON")
	}
}

func emptyBody() *problem.Problem {
	return malformed("a JSON body is required")
}

func malformed(detail string) *problem.Problem {
	return problem.New(problem.TypeMalformedBody, http.StatusBadRequest, "Malformed request body").WithDetail(detail)
}

// Write sends v as a JSON response with the given status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
