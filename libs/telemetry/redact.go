package telemetry

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// urlAttributes are the keys HTTP instrumentation fills with URLs. Their
// query strings may carry search terms (a name, a phone number), so they
// are cut off before any exporter sees the span.
var urlAttributes = map[attribute.Key]bool{
	"url.full":    true,
	"http.url":    true,
	"http.target": true,
	"url.query":   true,
}

// redactProcessor removes query strings from URL attributes as spans start.
type redactProcessor struct{}

func (redactProcessor) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	var fixed []attribute.KeyValue
	for _, kv := range s.Attributes() {
		if !urlAttributes[kv.Key] {
			continue
		}
		if kv.Key == "url.query" {
			fixed = append(fixed, attribute.String(string(kv.Key), "redacted"))
			continue
		}
		if v := kv.Value.AsString(); strings.ContainsAny(v, "?#") {
			fixed = append(fixed, attribute.String(string(kv.Key), StripQuery(v)))
		}
	}
	if len(fixed) > 0 {
		s.SetAttributes(fixed...)
	}
}

func (redactProcessor) OnEnd(sdktrace.ReadOnlySpan)      {}
func (redactProcessor) Shutdown(context.Context) error   { return nil }
func (redactProcessor) ForceFlush(context.Context) error { return nil }

// StripQuery cuts the query and fragment off a URL or request target.
func StripQuery(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}
