// Package apispec keeps a binary's routes and its OpenAPI contract
// (api/openapi.yaml) in step: every documented operation must be served and
// every served route documented.
package apispec

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// ServiceBaseRoutes are served by every regional service through
// libs/httpserver and libs/service, whatever else it registers.
var ServiceBaseRoutes = []string{"GET /healthz", "GET /readyz", "GET /v1/info", "GET /v1/principal"}

// anyMethod is what a method-less mux pattern (the router's proxy) covers.
var anyMethod = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// Recorder is a ServeMux that remembers the patterns registered on it.
type Recorder struct {
	*http.ServeMux
	Patterns []string
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{ServeMux: http.NewServeMux()} }

// Handle records pattern and registers h.
func (r *Recorder) Handle(pattern string, h http.Handler) {
	r.Patterns = append(r.Patterns, pattern)
	r.ServeMux.Handle(pattern, h)
}

// HandleFunc records pattern and registers h.
func (r *Recorder) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	r.Handle(pattern, http.HandlerFunc(h))
}

var wildcardRest = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\.\.\.\}`)

// Operations loads and validates an OpenAPI 3 document and lists its
// operations as "METHOD /path".
func Operations(ctx context.Context, path string) ([]string, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true // shared schemas live in libs/apispec/common.yaml
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validate %s: %w", path, err)
	}
	var ops []string
	for p, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, strings.ToUpper(method)+" "+p)
		}
	}
	sort.Strings(ops)
	return ops, nil
}

// Normalize turns mux patterns into "METHOD /path" operations: "{rest...}"
// becomes "{rest}" and a method-less pattern stands for the usual methods.
func Normalize(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = "", p
		}
		path = wildcardRest.ReplaceAllString(path, "{$1}")
		if method == "" {
			for _, m := range anyMethod {
				out = append(out, m+" "+path)
			}
			continue
		}
		out = append(out, method+" "+path)
	}
	sort.Strings(out)
	return out
}

// Check fails t unless the document at specPath is valid and describes
// exactly the given routes.
func Check(t testing.TB, specPath string, routes []string) {
	t.Helper()
	ops, err := Operations(context.Background(), specPath)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, r := range Normalize(routes) {
		served[r] = true
	}
	documented := map[string]bool{}
	for _, op := range ops {
		documented[op] = true
		if !served[op] {
			t.Errorf("%s documents %q but no handler serves it", specPath, op)
		}
	}
	for r := range served {
		if !documented[r] {
			t.Errorf("route %q is served but missing from %s", r, specPath)
		}
	}
}
