package leaderjob_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/internal/tracing/spantest"
)

var benchSink int

func benchJob(context.Context) error { benchSink++; return nil }

// BenchmarkTrigger measures one run attempt end to end (guard check, run
// context, the job, the log record, metrics) against calling the job; the
// -traced cases with a tracer that records every span in memory (the
// OpenTelemetry SDK's cost is measured in examples/monolith), the skipped
// cases as a standby, whose fires start no span.
func BenchmarkTrigger(b *testing.B) {
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = benchJob(ctx)
		}
	})
	for _, tc := range []struct {
		name   string
		logger *slog.Logger
		guard  guard.Guard
		traced bool
	}{
		{"discard-logger", slog.New(slog.DiscardHandler), guard.Always, false},
		{"discard-logger-traced", slog.New(slog.DiscardHandler), guard.Always, true},
		{"json-logger", slog.New(slog.NewJSONHandler(io.Discard, nil)), guard.Always, false},
		{"skipped", slog.New(slog.DiscardHandler), guard.Never, false},
		{"skipped-traced", slog.New(slog.DiscardHandler), guard.Never, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var tp trace.TracerProvider = noop.NewTracerProvider()
			if tc.traced {
				tp = &spantest.Recorder{}
			}
			app, err := leaderjob.New("bench",
				leaderjob.WithEnv(noEnv), leaderjob.WithIdentity("pod-a"), leaderjob.WithHTTPAddr(""),
				leaderjob.WithLogger(tc.logger), leaderjob.WithGuard(tc.guard), leaderjob.WithTracerProvider(tp))
			if err != nil {
				b.Fatal(err)
			}
			if err := app.Schedule("job", leaderjob.FixedRate(time.Hour), benchJob); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := app.Trigger(ctx, "job"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
