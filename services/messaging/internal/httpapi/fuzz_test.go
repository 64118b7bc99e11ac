package httpapi_test

import (
	"strings"
	"testing"

	"github.com/havenhealth/haven/services/messaging/internal/httpapi"
)

// FuzzDecodeSend: whatever a caller posts to /internal/v1/messages, the
// decoder answers a request it validated or a 4xx problem, never a panic,
// and a problem never repeats the caller's values.
func FuzzDecodeSend(f *testing.F) {
	f.Add(`{"idempotency_key":"k-1","channel":"email","template":"appointment_reminder","trigger":"reminder","patient_id":"p-1","data":{"clinic_slug":"harbour-physio","start_local":"x"}}`)
	f.Add(`{"idempotency_key":"k-2","channel":"sms","template":"sign_in_code","trigger":"identity","user_id":"u","to":"+64211234567","data":{"code":"1","clinic_slug":"abc"}}`)
	f.Add(`{"idempotency_key":"k","channel":"email","template":"t","trigger":"staff","user_id":"u","to":"Eve <secret@example.org>"}`)
	f.Add(`{"data":{"first_name":"secret-name"}}`)
	f.Add(`{"channel":1}`)
	f.Add(`[]`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, body string) {
		req, p := httpapi.DecodeSend(strings.NewReader(body))
		if p == nil {
			if req.IdempotencyKey == "" || req.Channel == "" || req.Template == "" {
				t.Fatalf("accepted an incomplete request")
			}
			return
		}
		if p.Status < 400 || p.Status > 499 {
			t.Fatalf("status %d for bad input", p.Status)
		}
		for _, e := range p.Errors {
			if strings.Contains(e.Reason, "secret") || strings.Contains(p.Detail, "secret") {
				t.Fatalf("problem repeats a value: %+v", p)
			}
		}
	})
}

// FuzzParseCallback: a provider callback body is a form or a 4xx problem.
func FuzzParseCallback(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "MessageSid=SM1&MessageStatus=delivered&ErrorCode=")
	f.Add("application/x-www-form-urlencoded; charset=utf-8", "a=%zz")
	f.Add("application/json", "{}")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		form, p := httpapi.ParseCallback(contentType, body)
		if p == nil && form == nil {
			t.Fatalf("neither a form nor a problem")
		}
		if p != nil && (p.Status < 400 || p.Status > 499) {
			t.Fatalf("status %d for bad input", p.Status)
		}
	})
}
