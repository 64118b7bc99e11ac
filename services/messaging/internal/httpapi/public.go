package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/httpjson"
	"github.com/havenhealth/haven/libs/problem"
)

// unsubscribeScript reads the token from the page's fragment (which the
// browser never sends to a server, so it reaches no log), removes it from
// the address bar and posts it to the same address.
const unsubscribeScript = `(function () {
  var out = document.getElementById("out");
  var m = /(?:^#|&)t=([A-Za-z0-9_.-]+)/.exec(location.hash);
  history.replaceState(null, "", location.pathname);
  if (!m) { out.textContent = "This link is incomplete. Open the link from the message again."; return; }
  fetch(location.pathname, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({token: m[1]})})
    .then(function (r) {
      out.textContent = r.ok ? "You will no longer receive these messages from the clinic on this channel."
        : "This link is not valid. Please contact the clinic.";
    })
    .catch(function () { out.textContent = "Something went wrong. Please try again later."; });
})();`

var unsubscribePage = []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Unsubscribe</title></head>
<body><main><h1>Unsubscribe</h1><p id="out">One moment…</p>
<noscript><p>Please turn on JavaScript to unsubscribe, or contact the clinic.</p></noscript></main>
<script>` + unsubscribeScript + `</script></body></html>
`)

// unsubscribeCSP allows the page's own script (by hash) and a request to
// its own origin, nothing else.
var unsubscribeCSP = func() string {
	sum := sha256.Sum256([]byte(unsubscribeScript))
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

func (a *API) unsubscribePage(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", unsubscribeCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(unsubscribePage)
}

func (a *API) unsubscribe(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	if !httpjson.Read(w, r, &req) {
		return
	}
	o, err := a.App.Unsubscribe(r.Context(), edgeauth.ClinicID(r.Context()), req.Token, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"unsubscribed": true, "channel": o.Channel})
}

// maxCallbackBytes bounds a status callback's form.
const maxCallbackBytes = 64 << 10

// ParseCallback reads a provider's form-encoded status callback.
func ParseCallback(contentType string, body string) (url.Values, *problem.Problem) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, problem.New(problem.TypeUnsupportedMedia, http.StatusUnsupportedMediaType, "Unsupported media type").
			WithDetail("send the callback as application/x-www-form-urlencoded")
	}
	if len(body) > maxCallbackBytes {
		return nil, problem.New(problem.TypeBodyTooLarge, http.StatusRequestEntityTooLarge, "Request body too large")
	}
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, problem.New(problem.TypeMalformedBody, http.StatusBadRequest, "Malformed request body").
			WithDetail("the body is not a URL-encoded form")
	}
	return form, nil
}

func (a *API) smsStatus(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBytes))
	if err != nil {
		problem.Write(w, r, problem.New(problem.TypeBodyTooLarge, http.StatusRequestEntityTooLarge, "Request body too large"))
		return
	}
	form, p := ParseCallback(r.Header.Get("Content-Type"), string(body))
	if p != nil {
		problem.Write(w, r, p)
		return
	}
	err = a.App.SMSStatus(r.Context(), edgeauth.ClinicID(r.Context()), r.URL.Query().Get("m"), form, r.Header.Get("X-Twilio-Signature"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
