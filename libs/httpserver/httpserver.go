// Package httpserver runs a Haven HTTP server: timeouts, the middleware
// chain every service shares (tracing, request id, access log without
// personal data, panic recovery into problem+json), /healthz and /readyz,
// problem+json for unmatched routes, and graceful shutdown.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/felixge/httpsnoop"
	"github.com/google/uuid"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/havenhealth/haven/libs/config"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/problem"
)

// Check is one readiness dependency (a database, Redis...). Its error is
// logged, never sent to the client.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// Options configures a Server.
type Options struct {
	HTTP           config.HTTP
	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	// Checks run on every /readyz; all must pass.
	Checks []Check
}

// Server is an HTTP server with Haven's middleware and health endpoints.
type Server struct {
	opts     Options
	srv      *http.Server
	ln       net.Listener
	draining atomic.Bool
}

// New wraps mux with the shared middleware. Routes /healthz and /readyz are
// added to mux.
func New(mux *http.ServeMux, o Options) *Server {
	s := &Server{opts: o}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)

	h := http.Handler(problemFallback(mux))
	h = recoverer(o.Logger, h)
	h = accessLog(o.Logger, mux, h)
	h = requestID(h)
	otelOpts := []otelhttp.Option{
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if _, pattern := mux.Handler(r); pattern != "" {
				return pattern
			}
			return r.Method + " unmatched"
		}),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/readyz" }),
	}
	if o.TracerProvider != nil {
		otelOpts = append(otelOpts, otelhttp.WithTracerProvider(o.TracerProvider))
	}
	if o.Propagator != nil {
		otelOpts = append(otelOpts, otelhttp.WithPropagators(o.Propagator))
	}
	h = otelhttp.NewHandler(h, "http.server", otelOpts...)

	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       o.HTTP.ReadTimeout,
		WriteTimeout:      o.HTTP.WriteTimeout,
		IdleTimeout:       o.HTTP.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler is the mux wrapped in the shared middleware, as the server
// serves it (for tests that drive it without a listener).
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Listen binds the configured address. Run calls it if it was not called.
func (s *Server) Listen() error {
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.opts.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.opts.HTTP.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address, after Listen.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Run serves until ctx is cancelled, then drains: /readyz turns 503, new
// connections are refused and in-flight requests get ShutdownTimeout to
// finish. It returns after the server has stopped.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.opts.Logger.Info("http server listening", slog.String("addr", s.Addr()))

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	timeout := s.opts.HTTP.ShutdownTimeout
	if timeout <= 0 {
		timeout = 8 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s.opts.Logger.Info("http server draining", slog.Duration("timeout", timeout))
	if err := s.srv.Shutdown(sctx); err != nil {
		_ = s.srv.Close()
		return fmt.Errorf("http server shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
		return
	}
	results := make(map[string]string, len(s.opts.Checks))
	ok := true
	for _, c := range s.opts.Checks {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		err := c.Func(ctx)
		cancel()
		if err != nil {
			ok = false
			results[c.Name] = "failing"
			s.opts.Logger.WarnContext(r.Context(), "readiness check failed", slog.String("check", c.Name), slog.String("error", err.Error()))
			continue
		}
		results[c.Name] = "ok"
	}
	status, code := "ok", http.StatusOK
	if !ok {
		status, code = "unavailable", http.StatusServiceUnavailable
	}
	httpjson.Write(w, code, map[string]any{"status": status, "checks": results})
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID keeps a well-formed incoming X-Request-ID (the router's) or
// assigns a new one, and echoes it in the response.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(problem.RequestIDHeader)
		if !validRequestID.MatchString(id) {
			id = uuid.Must(uuid.NewV7()).String()
			r.Header.Set(problem.RequestIDHeader, id)
		}
		w.Header().Set(problem.RequestIDHeader, id)
		next.ServeHTTP(w, problem.WithRequestID(r, id))
	})
}

// accessLog writes one line per request: method, route pattern (never the
// raw path or query), status, bytes, duration and request id.
func accessLog(logger *slog.Logger, mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		_, pattern := mux.Handler(r)
		if pattern == "" {
			pattern = "unmatched"
		}
		m := httpsnoop.CaptureMetrics(next, w, r)
		level := slog.LevelInfo
		if m.Code >= 500 {
			level = slog.LevelError
		}
		logger.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method),
			slog.String("route", pattern),
			slog.Int("status", m.Code),
			slog.Int64("bytes", m.Written),
			slog.Duration("duration", m.Duration),
			slog.String("request_id", problem.RequestIDFrom(r)),
		)
	})
}

// recoverer turns a panic into a problem+json 500 that reveals nothing.
// The panic value itself is not logged: it may hold personal data.
func recoverer(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wrote atomic.Bool
		ww := httpsnoop.Wrap(w, httpsnoop.Hooks{
			WriteHeader: func(f httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
				return func(code int) { wrote.Store(true); f(code) }
			},
			Write: func(f httpsnoop.WriteFunc) httpsnoop.WriteFunc {
				return func(b []byte) (int, error) { wrote.Store(true); return f(b) }
			},
		})
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			logger.ErrorContext(r.Context(), "handler panicked",
				slog.String("panic_type", fmt.Sprintf("%T", rec)),
				slog.String("stack", string(debug.Stack())),
				slog.String("request_id", problem.RequestIDFrom(r)))
			if !wrote.Load() {
				problem.Write(w, r, problem.Internal())
			}
		}()
		next.ServeHTTP(ww, r)
	})
}

// problemFallback answers the mux's own 404 and 405 with problem+json.
func problemFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusOnly{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.code {
		case http.StatusMethodNotAllowed:
			if allow := rec.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			problem.Write(w, r, problem.New(problem.TypeMethodNotAllowed, http.StatusMethodNotAllowed, "Method not allowed"))
		case http.StatusNotFound, 0:
			problem.Write(w, r, problem.NotFound("no such resource"))
		default:
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.code)
		}
	})
}

// statusOnly records what the mux's built-in error handlers would send.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header { return s.header }
func (s *statusOnly) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
}
func (s *statusOnly) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return len(b), nil
}

// Routes is where handlers are registered; *http.ServeMux satisfies it, and
// so does a recorder that checks routes against the OpenAPI contract.
type Routes interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}
