// Package telemetry sets up what every Haven binary reports: a JSON slog
// logger and OpenTelemetry tracer and meter providers, exported over OTLP
// when OTEL_EXPORTER_OTLP_ENDPOINT is set. Logs and spans carry ids only.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Options names the binary being instrumented.
type Options struct {
	Service  string // e.g. "identity", "router"
	Version  string
	Region   string // empty for global binaries such as the router
	LogLevel string // debug, info, warn, error
	// LogOutput receives the JSON log lines; os.Stdout when nil.
	LogOutput io.Writer
	// SpanProcessors are added after the redacting processor (tests use a
	// recorder here).
	SpanProcessors []sdktrace.SpanProcessor
}

// Telemetry holds the providers a binary passes to its dependencies.
type Telemetry struct {
	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator
	shutdown       []func(context.Context) error
}

// Setup builds the logger and providers. It also installs them as the
// OpenTelemetry globals, because instrumentation libraries (otelhttp,
// Kafka and Temporal interceptors) look there by default.
func Setup(ctx context.Context, o Options) (*Telemetry, error) {
	out := o.LogOutput
	if out == nil {
		out = os.Stdout
	}
	logger := NewLogger(out, o)

	attrs := []attribute.KeyValue{
		attribute.String("service.name", o.Service),
		attribute.String("service.version", o.Version),
	}
	if o.Region != "" {
		attrs = append(attrs, attribute.String("haven.region", o.Region))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}

	t := &Telemetry{Logger: logger}
	// The redactor runs first so no exporter or processor sees a query string.
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSpanProcessor(redactProcessor{})}
	for _, p := range o.SpanProcessors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p))
	}
	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		te, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(te))
		me, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("otlp metric exporter: %w", err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me)))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	mp := sdkmetric.NewMeterProvider(mpOpts...)
	t.TracerProvider, t.MeterProvider = tp, mp
	t.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	t.shutdown = append(t.shutdown, tp.Shutdown, mp.Shutdown)

	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(t.Propagator)
	return t, nil
}

// Shutdown flushes and stops the providers; call it last.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// Close flushes the providers within a few seconds, logging a failure; a
// main defers it right after Setup.
func (t *Telemetry) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		t.Logger.Warn("telemetry shutdown", slog.String("error", err.Error()))
	}
}

// NewLogger returns the JSON logger every Haven binary writes with. Each
// line names the service and region and, when logged with a context that
// carries a span, its trace and span ids.
func NewLogger(w io.Writer, o Options) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: ParseLevel(o.LogLevel)})
	attrs := []slog.Attr{slog.String("service", o.Service)}
	if o.Region != "" {
		attrs = append(attrs, slog.String("region", o.Region))
	}
	return slog.New(traceHandler{h.WithAttrs(attrs)})
}

// ParseLevel maps a level name to a slog level; unknown names mean info.
func ParseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// traceHandler adds trace_id and span_id to records logged with a context
// that carries a valid span.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
