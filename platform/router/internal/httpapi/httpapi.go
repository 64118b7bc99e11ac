// Package httpapi is the router's public HTTP surface: sign-up, the
// directory lookup, and the residency proxy /c/{slug}/{service}/...
package httpapi

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/httpserver"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/provisioning"
	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/platform/router/internal/directory"
	"github.com/havenhealth/haven/platform/router/internal/signup"
)

// Services are the regional services the router forwards to.
var Services = []string{"identity", "scheduling", "charting", "billing", "messaging", "audit"}

// Upstream is one regional service the router forwards to.
type Upstream struct {
	URL    *url.URL
	Secret []byte
}

// API holds the router's dependencies.
type API struct {
	SignUp    *signup.Service
	Directory *directory.Store
	// Upstreams maps region → service → upstream.
	Upstreams map[residency.Region]map[string]Upstream
	Limiter   *redis_rate.Limiter
	// SignupLimit is the per-client-IP sign-up budget.
	SignupLimit redis_rate.Limit
	// LimitPrefix namespaces the limiter's Redis keys.
	LimitPrefix string
	// TrustedProxies are the load balancers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	Transport      http.RoundTripper
	Logger         *slog.Logger
	// Verifiers check bearer tokens per home region: a token must be issued
	// by the clinic's home region, for that clinic. Nil: not checked here.
	Verifiers map[residency.Region]*authn.Verifier
}

// Register adds the routes to mux.
func (a *API) Register(mux httpserver.Routes) {
	mux.HandleFunc("POST /v1/clinics", a.createClinic)
	mux.HandleFunc("GET /v1/clinics/{slug}", a.getClinic)
	proxy := &httputil.ReverseProxy{
		Rewrite:      func(*httputil.ProxyRequest) {}, // replaced per request in forward
		Transport:    otelhttp.NewTransport(a.transport()),
		ErrorHandler: a.proxyError,
		BufferPool:   bufferPool{},
	}
	mux.Handle("/c/{slug}/{service}/{rest...}", a.forward(proxy))
	mux.Handle("GET /r/{region}/.well-known/{doc}", a.wellKnown(proxy))
}

// wellKnown serves each region's OpenID Connect discovery document and key
// set under its issuer URL, {public URL}/r/{region}, from that region's
// identity service.
func (a *API) wellKnown(proxy *httputil.ReverseProxy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		region, err := residency.ParseRegion(r.PathValue("region"))
		doc := r.PathValue("doc")
		up, ok := a.Upstreams[region]["identity"]
		if err != nil || !ok || (doc != "openid-configuration" && doc != "jwks.json") {
			problem.Write(w, r, problem.NotFound("no such document"))
			return
		}
		p := *proxy
		p.Rewrite = func(pr *httputil.ProxyRequest) {
			out := pr.Out
			out.URL.Scheme, out.URL.Host, out.Host = up.URL.Scheme, up.URL.Host, up.URL.Host
			out.URL.Path, out.URL.RawPath, out.URL.RawQuery = strings.TrimSuffix(up.URL.Path, "/")+"/.well-known/"+doc, "", ""
			edgeauth.StripClientHeaders(out.Header)
			out.Header.Del("Authorization")
		}
		p.ServeHTTP(w, r)
	})
}

// checkToken refuses a bearer token that was not issued by the clinic's home
// region for this clinic. Requests without a token pass (sign-in is public);
// the service still verifies the token and the session itself.
func (a *API) checkToken(w http.ResponseWriter, r *http.Request, e directory.Entry) bool {
	if a.Verifiers == nil {
		return true
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return true
	}
	scheme, token, _ := strings.Cut(h, " ")
	v := a.Verifiers[e.Region]
	if !strings.EqualFold(scheme, "Bearer") || token == "" || v == nil {
		writeBadToken(w, r)
		return false
	}
	claims, err := v.Verify(r.Context(), strings.TrimSpace(token))
	if err != nil || claims.ClinicID != e.ID {
		writeBadToken(w, r)
		return false
	}
	return true
}

func writeBadToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	problem.Write(w, r, problem.Unauthorized("the token was not issued for this clinic by its home region"))
}

func (a *API) transport() http.RoundTripper {
	if a.Transport != nil {
		return a.Transport
	}
	return http.DefaultTransport
}

func (a *API) createClinic(w http.ResponseWriter, r *http.Request) {
	if !a.allow(w, r) {
		return
	}
	var req provisioning.Clinic
	if p := httpjson.Decode(w, r, &req); p != nil {
		problem.Write(w, r, p)
		return
	}
	ans, err := a.SignUp.SignUp(r.Context(), r.Header.Get("Idempotency-Key"), req)
	if err != nil {
		a.Logger.ErrorContext(r.Context(), "sign-up failed", slog.String("error", err.Error()))
		problem.Write(w, r, problem.Internal())
		return
	}
	if ans.Problem != nil {
		problem.Write(w, r, ans.Problem)
		return
	}
	w.Header().Set("Location", "/v1/clinics/"+ans.Clinic.Slug)
	httpjson.Write(w, ans.Status, ans.Clinic)
}

func (a *API) getClinic(w http.ResponseWriter, r *http.Request) {
	e, ok := a.lookup(w, r, r.PathValue("slug"))
	if !ok {
		return
	}
	httpjson.Write(w, http.StatusOK, signup.View(e))
}

// lookup resolves an active clinic or writes the problem.
func (a *API) lookup(w http.ResponseWriter, r *http.Request, slug string) (directory.Entry, bool) {
	if !provisioning.ValidSlug(slug) {
		problem.Write(w, r, problem.NotFound("no clinic with this slug"))
		return directory.Entry{}, false
	}
	e, err := a.Directory.BySlug(r.Context(), slug)
	switch {
	case errors.Is(err, directory.ErrNotFound) || (err == nil && e.Status == directory.StatusProvisioning):
		problem.Write(w, r, problem.NotFound("no clinic with this slug"))
		return directory.Entry{}, false
	case err != nil:
		a.Logger.ErrorContext(r.Context(), "directory lookup failed", slog.String("error", err.Error()))
		problem.Write(w, r, problem.Unavailable("the directory is unavailable"))
		return directory.Entry{}, false
	case e.Status == directory.StatusClosed:
		problem.Write(w, r, problem.New(problem.TypeGone, http.StatusGone, "Clinic closed").
			WithDetail("this clinic has been closed and its data destroyed"))
		return directory.Entry{}, false
	}
	return e, true
}

// internalPath reports whether an escaped service path names one of the
// region's internal endpoints (/internal/...), however it is spelled.
func internalPath(escaped string) bool {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return true // unreadable: refuse rather than guess
	}
	p = strings.ToLower(path.Clean("/" + p))
	return p == "/internal" || strings.HasPrefix(p, "/internal/")
}

// forward proxies /c/{slug}/{service}/{rest...} to the service in the
// clinic's home region, with signed trusted headers.
func (a *API) forward(proxy *httputil.ReverseProxy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug, svc := r.PathValue("slug"), r.PathValue("service")
		e, ok := a.lookup(w, r, slug)
		if !ok {
			return
		}
		up, ok := a.Upstreams[e.Region][svc]
		if !ok {
			problem.Write(w, r, problem.NotFound("no such service"))
			return
		}
		if !a.checkToken(w, r, e) {
			return
		}
		clientIP := ClientIP(r, a.TrustedProxies).String()
		// The rest of the path, still escaped as the client sent it.
		rest := strings.TrimPrefix(r.URL.EscapedPath(), "/c/"+slug+"/"+svc)
		if rest == "" {
			rest = "/"
		}
		if internalPath(rest) {
			// Service-to-service endpoints are not part of the public API;
			// they would refuse a router signature anyway.
			problem.Write(w, r, problem.NotFound("no such endpoint"))
			return
		}
		p := *proxy
		p.Rewrite = func(pr *httputil.ProxyRequest) {
			out := pr.Out
			out.URL.Scheme, out.URL.Host = up.URL.Scheme, up.URL.Host
			out.Host = up.URL.Host
			if err := setPath(out.URL, strings.TrimSuffix(up.URL.Path, "/")+rest); err != nil {
				out.URL.Path = "/"
			}
			pr.SetXForwarded()
			edgeauth.Sign(out, up.Secret, e.ID, string(e.Region), time.Now())
			out.Header.Set(edgeauth.HeaderClientIP, clientIP)
		}
		p.ServeHTTP(w, r)
	})
}

// bufferPool reuses the proxy's copy buffers instead of allocating 32 KiB
// per request.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

func setPath(u *url.URL, escaped string) error {
	path, err := url.PathUnescape(escaped)
	if err != nil {
		return err
	}
	u.Path, u.RawPath = path, escaped
	return nil
}

func (a *API) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	a.Logger.WarnContext(r.Context(), "upstream unavailable", slog.String("error", err.Error()))
	problem.Write(w, r, problem.New(problem.TypeUpstream, http.StatusBadGateway, "Service unavailable").
		WithDetail("the clinic's home region did not answer; retry later"))
}

// allow applies the per-client-IP sign-up rate limit.
func (a *API) allow(w http.ResponseWriter, r *http.Request) bool {
	if a.Limiter == nil {
		return true
	}
	ip := ClientIP(r, a.TrustedProxies)
	res, err := a.Limiter.Allow(r.Context(), a.LimitPrefix+"signup:"+ip.String(), a.SignupLimit)
	if err != nil {
		// Fail open: sign-up stays available if Redis blips; it is logged.
		a.Logger.WarnContext(r.Context(), "rate limiter unavailable", slog.String("error", err.Error()))
		return true
	}
	if res.Allowed > 0 {
		return true
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(res.RetryAfter.Seconds())+1))
	problem.Write(w, r, problem.New(problem.TypeRateLimited, http.StatusTooManyRequests, "Too many requests").
		WithDetail("too many sign-ups from this address; retry later"))
	return false
}

// ClientIP is the connecting address, or — when that is a trusted proxy —
// the right-most X-Forwarded-For address that is not a trusted proxy.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	addr = addr.Unmap()
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !isTrusted(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if a = a.Unmap(); !isTrusted(a) {
			return a
		}
	}
	return addr
}
