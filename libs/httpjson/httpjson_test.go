package httpjson

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/problem"
)

type signup struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func TestDecode_Rejections(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		wantStatus  int
		wantType    string
	}{
		{"empty body", "", "application/json", 400, problem.TypeMalformedBody},
		{"syntax error", `{"name":`, "application/json", 400, problem.TypeMalformedBody},
		{"not an object", `[1,2]`, "application/json", 400, problem.TypeMalformedBody},
		{"unknown field", `{"nam":"x"}`, "application/json", 400, problem.TypeValidation},
		{"wrong type", `{"count":"three"}`, "application/json", 400, problem.TypeValidation},
		{"trailing data", `{"name":"a"} {"name":"b"}`, "application/json", 400, problem.TypeMalformedBody},
		{"wrong content type", `{"name":"a"}`, "text/plain", 415, problem.TypeUnsupportedMedia},
		{"too large", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, "application/json", 413, problem.TypeBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.contentType)
			var dst signup
			p := Decode(httptest.NewRecorder(), r, &dst)
			require.NotNil(t, p)
			require.Equal(t, tt.wantStatus, p.Status)
			require.Equal(t, tt.wantType, p.Type)
		})
	}
}

func TestDecode_ErrorsNeverEchoValues(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"count":"secret-value@example.org"}`))
	p := Decode(httptest.NewRecorder(), r, &signup{})
	require.NotNil(t, p)
	require.NotContains(t, p.Error(), "secret-value")
	for _, fe := range p.Errors {
		require.NotContains(t, fe.Reason, "secret-value")
	}
}

func TestDecode_Accepts(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"name":"Harbour","count":3}`))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	var dst signup
	require.Nil(t, Decode(httptest.NewRecorder(), r, &dst))
	require.Equal(t, signup{Name: "Harbour", Count: 3}, dst)
}

func FuzzDecodeReader(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"name":"x","count":1}`, `{"count":1e400}`, `[`, `null`, `{"name":null}`, "\x00", `{"a":1}{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var dst signup
		p := DecodeReader(bytes.NewReader(data), &dst)
		if p != nil && (p.Status < 400 || p.Status > 499) {
			t.Fatalf("decode answered status %d; every decoding failure must be 4xx", p.Status)
		}
	})
}
