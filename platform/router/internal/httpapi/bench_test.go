package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/havenhealth/haven/libs/residency"
	"github.com/havenhealth/haven/platform/router/internal/directory"
)

// BenchmarkForward measures what the router adds to a proxied request —
// directory lookup, header stripping and signing, reverse proxying — against
// a baseline of calling the same upstream directly, in the same run.
func BenchmarkForward(b *testing.B) {
	h, dir, got := setup(b, 10)
	go func() {
		for range got { // drain what the upstream records
		}
	}()
	if err := dir.Reserve(context.Background(), directory.Entry{ID: "c-1", Slug: "harbour", Region: residency.Sydney,
		Status: directory.StatusActive, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	router := httptest.NewServer(h)
	b.Cleanup(router.Close)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	b.Cleanup(upstream.Close)

	run := func(b *testing.B, url string) {
		for b.Loop() {
			resp, err := http.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusTeapot {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	b.Run("baseline=direct", func(b *testing.B) { run(b, upstream.URL+"/v1/info") })
	b.Run("via-router", func(b *testing.B) { run(b, router.URL+"/c/harbour/scheduling/v1/info") })
}
