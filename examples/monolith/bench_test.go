package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
)

// discard is an exporter that drops every span.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkTriggerTraced is what the OpenTelemetry SDK adds to one run
// attempt: a leader's (a span sampled, built and handed to an exporter) and
// a standby's (no span), against the API's no-op.
func BenchmarkTriggerTraced(b *testing.B) {
	for _, tc := range []struct {
		name string
		g    guard.Guard
		sdk  bool
	}{
		{"leader-noop", guard.Always, false},
		{"leader-sdk", guard.Always, true},
		{"standby-noop", guard.Never, false},
		{"standby-sdk", guard.Never, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var tp trace.TracerProvider = noop.NewTracerProvider()
			if tc.sdk {
				sdk := sdktrace.NewTracerProvider(sdktrace.WithSyncer(discard{}))
				defer func() { _ = sdk.Shutdown(context.Background()) }()
				tp = sdk
			}
			app, err := leaderjob.New("bench",
				leaderjob.WithEnv(func(string) (string, bool) { return "", false }),
				leaderjob.WithIdentity("pod-a"), leaderjob.WithHTTPAddr(""),
				leaderjob.WithLogger(slog.New(slog.DiscardHandler)), leaderjob.WithGuard(tc.g), leaderjob.WithTracerProvider(tp))
			if err != nil {
				b.Fatal(err)
			}
			if err := app.Schedule("job", leaderjob.FixedRate(time.Hour), func(context.Context) error { return nil }); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := app.Trigger(context.Background(), "job"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
