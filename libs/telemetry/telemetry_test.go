package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestNewLogger_AddsServiceRegionAndTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	logger := NewLogger(&buf, Options{Service: "identity", Region: "sydney", LogLevel: "info"})

	tid, _ := trace.TraceIDFromHex("0102030405060708090a0b0c0d0e0f10")
	sid, _ := trace.SpanIDFromHex("0102030405060708")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	logger.InfoContext(ctx, "clinic provisioned", slog.String("clinic_id", "c1"))
	logger.Debug("hidden at info level")

	var line map[string]any
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line), buf.String())
	require.Equal(t, "identity", line["service"])
	require.Equal(t, "sydney", line["region"])
	require.Equal(t, tid.String(), line["trace_id"])
	require.Equal(t, "c1", line["clinic_id"])
}

func TestParseLevel(t *testing.T) {
	require.Equal(t, slog.LevelDebug, ParseLevel("DEBUG"))
	require.Equal(t, slog.LevelWarn, ParseLevel("warn"))
	require.Equal(t, slog.LevelError, ParseLevel("error"))
	require.Equal(t, slog.LevelInfo, ParseLevel("nonsense"))
}

func TestSetup_WithoutExporterStillTraces(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	tel, err := Setup(context.Background(), Options{Service: "router", Version: "test", LogOutput: &bytes.Buffer{}})
	require.NoError(t, err)
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	_, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "op")
	require.True(t, span.SpanContext().IsValid())
	span.End()
}

func TestSetup_SpansNeverKeepQueryStrings(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tel, err := Setup(context.Background(), Options{Service: "router", LogOutput: &bytes.Buffer{}, SpanProcessors: []sdktrace.SpanProcessor{rec}})
	require.NoError(t, err)
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()

	_, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "GET",
		trace.WithAttributes(
			attribute.String("url.full", "http://127.0.0.1:18200/v1/patients?name=Aroha&phone=%2B6421555"),
			attribute.String("url.query", "name=Aroha"),
			attribute.String("server.address", "127.0.0.1"),
		))
	span.End()

	got := map[string]string{}
	for _, kv := range rec.Ended()[0].Attributes() {
		got[string(kv.Key)] = kv.Value.String()
	}
	require.Equal(t, "http://127.0.0.1:18200/v1/patients", got["url.full"])
	require.Equal(t, "redacted", got["url.query"])
	require.Equal(t, "127.0.0.1", got["server.address"])
}
