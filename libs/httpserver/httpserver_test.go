package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/havenhealth/haven/libs/config"
	"github.com/havenhealth/haven/libs/problem"
)

func newTestServer(t *testing.T, logs *bytes.Buffer, checks ...Check) (*Server, http.Handler) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/patients/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "patient "+r.PathValue("id"))
	})
	mux.HandleFunc("GET /v1/boom", func(http.ResponseWriter, *http.Request) {
		panic("secret-patient-name")
	})
	s := New(mux, Options{
		HTTP:   config.HTTP{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Checks: checks,
	})
	return s, s.srv.Handler
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) problem.Problem {
	t.Helper()
	require.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
	var p problem.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	return p
}

func TestServer_PanicBecomesOpaqueProblem(t *testing.T) {
	var logs bytes.Buffer
	_, h := newTestServer(t, &logs)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/boom", nil))

	require.Equal(t, http.StatusInternalServerError, rec.Code)
	p := decodeProblem(t, rec)
	require.Equal(t, problem.TypeInternal, p.Type)
	require.NotEmpty(t, p.RequestID)
	require.NotContains(t, rec.Body.String(), "secret-patient-name")
	require.NotContains(t, logs.String(), "secret-patient-name")
	require.Contains(t, logs.String(), "handler panicked")
}

func TestServer_UnmatchedRoutesAreProblems(t *testing.T) {
	_, h := newTestServer(t, &bytes.Buffer{})

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, problem.TypeNotFound, decodeProblem(t, rec).Type)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/v1/patients/p1", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, problem.TypeMethodNotAllowed, decodeProblem(t, rec).Type)
	require.Contains(t, rec.Header().Get("Allow"), "GET")
}

func TestServer_AccessLogNamesRouteNotPathOrQuery(t *testing.T) {
	var logs bytes.Buffer
	_, h := newTestServer(t, &logs)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/patients/p-123?email=someone%40example.org", nil)
	req.Header.Set(problem.RequestIDHeader, "req-abc")
	h.ServeHTTP(rec, req)

	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "req-abc", rec.Header().Get(problem.RequestIDHeader))
	require.Contains(t, logs.String(), `"route":"GET /v1/patients/{id}"`)
	require.Contains(t, logs.String(), `"request_id":"req-abc"`)
	require.NotContains(t, logs.String(), "example.org")
	require.NotContains(t, logs.String(), "p-123")
}

func TestServer_ReplacesMalformedRequestID(t *testing.T) {
	_, h := newTestServer(t, &bytes.Buffer{})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set(problem.RequestIDHeader, "bad id\nwith newline")
	h.ServeHTTP(rec, req)
	got := rec.Header().Get(problem.RequestIDHeader)
	require.NotEmpty(t, got)
	require.NotContains(t, got, " ")
}

func TestServer_ReadinessReflectsChecks(t *testing.T) {
	var failing bool
	_, h := newTestServer(t, &bytes.Buffer{}, Check{Name: "database", Func: func(context.Context) error {
		if failing {
			return errors.New("connection refused to postgres://user:pw@db")
		}
		return nil
	}})

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusOK, rec.Code)

	failing = true
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), `"database":"failing"`)
	require.NotContains(t, rec.Body.String(), "postgres://")
}

func TestServer_RunDrainsInFlightRequestsOnShutdown(t *testing.T) {
	mux := http.NewServeMux()
	started := make(chan struct{})
	release := make(chan struct{})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	s := New(mux, Options{HTTP: config.HTTP{Addr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	require.NoError(t, s.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()

	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + s.Addr() + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- result{body: string(b)}
	}()
	<-started
	cancel()
	// The server is draining: readiness must now fail while /slow is in flight.
	require.Eventually(t, func() bool { return s.draining.Load() }, 5*time.Second, 5*time.Millisecond)
	close(release)
	r := <-res
	require.NoError(t, r.err)
	require.True(t, strings.HasPrefix(r.body, "done"))
	require.NoError(t, <-runErr)
}

func TestServer_SpansNameTheRouteAndCarryNoQueryValues(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/patients/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	s := New(mux, Options{HTTP: config.HTTP{Addr: "127.0.0.1:0"}, Logger: slog.New(slog.DiscardHandler), TracerProvider: tp})

	req := httptest.NewRequest(http.MethodGet, "/v1/patients/p-1?email=aroha%40example.org&phone=%2B6421555", nil)
	s.srv.Handler.ServeHTTP(httptest.NewRecorder(), req)

	spans := rec.Ended()
	require.Len(t, spans, 1)
	require.Equal(t, "GET /v1/patients/{id}", spans[0].Name())
	for _, kv := range spans[0].Attributes() {
		v := kv.Value.String()
		require.NotContains(t, v, "example.org", "attribute %s", kv.Key)
		require.NotContains(t, v, "6421555", "attribute %s", kv.Key)
	}
}
