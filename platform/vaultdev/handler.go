package vaultdev

import (
	"bufio"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/hashicorp/go-uuid"
	"github.com/hashicorp/vault/sdk/helper/errutil"
	"github.com/hashicorp/vault/sdk/helper/jsonutil"
	"github.com/hashicorp/vault/sdk/logical"
)

// maxRequestSize is Vault's default max_request_size (32 MiB).
const maxRequestSize = 32 << 20

// routes is the HTTP surface: sys/health and the transit mount. Anything
// else gets the answer Vault gives for a path with no mount.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/sys/health", s.handleHealth)
	mux.HandleFunc("/v1/transit", s.handleTransit)
	mux.HandleFunc("/v1/transit/", s.handleTransit)
	mux.HandleFunc("/", s.handleUnmounted)
	return noStore(mux)
}

// noStore marks every response uncacheable, as Vault does.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// healthResponse is the body of GET /v1/sys/health, with the field names of
// Vault's HealthResponse.
type healthResponse struct {
	Initialized                       bool   `json:"initialized"`
	Sealed                            bool   `json:"sealed"`
	Standby                           bool   `json:"standby"`
	PerformanceStandby                bool   `json:"performance_standby"`
	ReplicationPerformanceMode        string `json:"replication_performance_mode"`
	ReplicationDRMode                 string `json:"replication_dr_mode"`
	ServerTimeUTC                     int64  `json:"server_time_utc"`
	Version                           string `json:"version"`
	Enterprise                        bool   `json:"enterprise"`
	ClusterName                       string `json:"cluster_name,omitempty"`
	ClusterID                         string `json:"cluster_id,omitempty"`
	EchoDurationMillis                int64  `json:"echo_duration_ms"`
	ClockSkewMillis                   int64  `json:"clock_skew_ms"`
	ReplicationPrimaryCanaryAgeMillis int64  `json:"replication_primary_canary_age_ms"`
}

// handleHealth answers like an initialized, unsealed, active node. Like
// Vault's, it needs no token.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		logical.RespondError(w, http.StatusMethodNotAllowed, nil)
		return
	}
	code := http.StatusOK
	if v := r.URL.Query().Get("activecode"); v != "" {
		c, err := strconv.Atoi(v)
		if err != nil || c < 1 || c > 599 {
			logical.RespondError(w, http.StatusBadRequest, nil)
			return
		}
		code = c
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(code)
		return
	}
	body := healthResponse{
		Initialized:                true,
		ReplicationPerformanceMode: "disabled",
		ReplicationDRMode:          "disabled",
		ServerTimeUTC:              time.Now().UTC().Unix(),
		Version:                    s.version,
		ClusterName:                s.cluster.Name,
		ClusterID:                  s.cluster.ID,
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// handleUnmounted is what Vault says for a path under no mount.
func (s *Server) handleUnmounted(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		logical.RespondError(w, http.StatusNotFound, nil)
		return
	}
	if !s.authorized(w, r) {
		return
	}
	logical.RespondError(w, http.StatusNotFound,
		fmt.Errorf("no handler for route %q. route entry not found.", path)) //nolint:staticcheck // Vault's exact message
}

// authorized checks the token the way Vault's core does and writes the 403
// itself when it fails.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	token := r.Header.Get("X-Vault-Token")
	if token == "" {
		if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			token = strings.TrimSpace(t)
		}
	}
	switch {
	case token == "":
		logical.RespondError(w, http.StatusForbidden, logical.ErrPermissionDenied)
		return false
	case subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) != 1:
		// An unknown token: Vault reports both errors.
		logical.RespondError(w, http.StatusForbidden,
			multierror.Append(logical.ErrPermissionDenied, logical.ErrInvalidToken))
		return false
	}
	return true
}

// handleTransit turns the HTTP request into a logical request for the
// transit engine and its response back into Vault's JSON, following Vault's
// http.handleLogical and core request handling.
func (s *Server) handleTransit(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	req, status, err := s.buildRequest(w, r)
	if status != 0 {
		logical.RespondError(w, status, err)
		return
	}
	ctx := r.Context()

	// Vault asks the engine whether a written resource exists and makes the
	// write a create when it doesn't (transit/encrypt then upserts its key).
	if req.Operation == logical.UpdateOperation {
		checkFound, exists, err := s.backend.HandleExistenceCheck(ctx, req)
		var userErr errutil.UserError
		switch {
		case errors.Is(err, logical.ErrUnsupportedPath):
			// HandleRequest reports it.
		case errors.As(err, &userErr):
			s.respond(w, req, logical.ErrorResponse(err.Error()),
				multierror.Append(nil, logical.ErrInvalidRequest))
			return
		case err != nil:
			s.log.Error("vaultdev: existence check", "path", req.Path, "error", err)
			logical.RespondError(w, http.StatusInternalServerError, errors.New("internal error"))
			return
		case checkFound && !exists:
			req.Operation = logical.CreateOperation
		}
	}

	resp, err := s.backend.HandleRequest(ctx, req)
	if err != nil {
		// Vault's core collects errors in a multierror, which shows in the
		// message of errors that come without an error response.
		err = multierror.Append(nil, err)
	}
	if resp != nil {
		resp.MountType = "transit"
	}
	s.respond(w, req, resp, err)
}

// buildRequest maps method, path, query and body to a logical.Request. A
// non-zero status means the request is rejected with that status and err.
func (s *Server) buildRequest(w http.ResponseWriter, r *http.Request) (*logical.Request, int, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v1/transit"), "/")
	query := r.URL.Query()

	var op logical.Operation
	var data map[string]any
	switch r.Method {
	case http.MethodGet:
		op = logical.ReadOperation
		if v := query.Get("list"); v != "" {
			list, err := strconv.ParseBool(v)
			if err != nil {
				return nil, http.StatusBadRequest, nil //nolint:nilerr // Vault answers a bad list= with a bare 400
			}
			if list {
				query.Del("list")
				op = logical.ListOperation
			}
		}
		data = queryData(query)
	case "LIST":
		op = logical.ListOperation
		data = queryData(query)
	case http.MethodDelete:
		op = logical.DeleteOperation
		data = queryData(query)
	case http.MethodPost, http.MethodPut:
		op = logical.UpdateOperation
		var err error
		if data, err = bodyData(w, r); err != nil {
			status := http.StatusBadRequest
			logical.AdjustErrorStatusCode(&status, err)
			return nil, status, err
		}
	default:
		return nil, http.StatusMethodNotAllowed, nil
	}

	if op == logical.ListOperation && !strings.HasSuffix(path, "/") {
		path += "/"
	}
	if op == logical.UpdateOperation && strings.HasSuffix(path, "/") {
		return nil, http.StatusBadRequest, errors.New("cannot write to a path ending in '/'")
	}

	id, err := uuid.GenerateUUID()
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	remote, _, _ := net.SplitHostPort(r.RemoteAddr)
	return &logical.Request{
		ID:         id,
		Operation:  op,
		Path:       path,
		Data:       data,
		Storage:    s.storage,
		Connection: &logical.Connection{RemoteAddr: remote},
		MountPoint: transitMount,
		MountType:  "transit",
	}, 0, nil
}

// queryData is Vault's parseQuery: single values as strings, repeated ones
// as lists, "help" dropped, nil when empty.
func queryData(q map[string][]string) map[string]any {
	data := map[string]any{}
	for k, v := range q {
		switch {
		case k == "help", len(v) == 0:
		case len(v) == 1:
			data[k] = v[0]
		default:
			data[k] = v
		}
	}
	if len(data) == 0 {
		return nil
	}
	return data
}

// bodyData decodes the body as Vault does: a form when the content type
// says so and the body does not start like JSON (curl -d sends JSON labelled
// as a form), otherwise JSON with numbers kept as json.Number. An empty body
// is nil data.
func bodyData(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	body := bufio.NewReader(http.MaxBytesReader(w, r.Body, maxRequestSize))
	head, err := body.Peek(512)
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
		return nil, errors.New("error reading data")
	}
	r.Body = io.NopCloser(body)

	if isForm(head, r.Header.Get("Content-Type")) {
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("error parsing form data: %w", err)
		}
		if len(r.PostForm) == 0 {
			return nil, nil
		}
		data := make(map[string]any, len(r.PostForm))
		for k, v := range r.PostForm {
			if len(v) > 0 {
				data[k] = strings.Join(v, ",") // as Vault's parseFormRequest
			}
		}
		return data, nil
	}

	var data map[string]any
	if err := jsonutil.DecodeJSONFromReader(body, &data); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("error parsing JSON: %w", err)
	}
	return data, nil
}

// isForm is Vault's test for a form body.
func isForm(head []byte, contentType string) bool {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/x-www-form-urlencoded" {
		return false
	}
	for _, c := range head {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '[', '{':
			return false
		default:
			return true
		}
	}
	return true
}

// respond writes the engine's answer the way Vault's HTTP layer does.
func (s *Server) respond(w http.ResponseWriter, req *logical.Request, resp *logical.Response, err error) {
	if status, err := logical.RespondErrorCommon(req, resp, err); status != 0 || err != nil {
		if status == http.StatusInternalServerError {
			s.log.Error("vaultdev: transit request failed", "path", req.Path, "operation", req.Operation, "error", err)
		}
		if resp != nil && resp.Data["data"] != nil {
			logical.RespondErrorAndData(w, status, resp.Data["data"], err)
			return
		}
		logical.RespondError(w, status, err)
		return
	}

	w.Header().Set("Content-Type", "application/json")
	if resp == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if _, ok := resp.Data[logical.HTTPStatusCode]; ok {
		respondRaw(w, resp)
		return
	}
	httpResp := logical.LogicalResponseToHTTPResponse(resp)
	httpResp.RequestID = req.ID
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(httpResp)
}

// respondRaw writes a response whose engine chose status and body itself
// (transit's batch operations with failed items), as Vault's respondRaw.
func respondRaw(w http.ResponseWriter, resp *logical.Response) {
	fail := func(msg string) {
		w.Header().Set("X-Vault-Raw-Error", msg)
		w.WriteHeader(http.StatusInternalServerError)
	}
	var status int
	switch v := resp.Data[logical.HTTPStatusCode].(type) {
	case int:
		status = v
	case float64:
		status = int(v)
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			fail("cannot decode status code")
			return
		}
		status = int(n)
	default:
		fail("cannot decode status code")
		return
	}

	contentType, _ := resp.Data[logical.HTTPContentType].(string)
	if contentType == "" && status != http.StatusNoContent {
		fail("no content type given")
		return
	}
	var body []byte
	if status != http.StatusNoContent {
		switch v := resp.Data[logical.HTTPRawBody].(type) {
		case nil:
		case string:
			// Best effort, as in Vault: the body may or may not be base64.
			if b, err := base64.StdEncoding.DecodeString(v); err == nil {
				body = b
			} else {
				body = []byte(v)
			}
		case []byte:
			body = v
		default:
			fail("cannot decode body")
			return
		}
	}
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
