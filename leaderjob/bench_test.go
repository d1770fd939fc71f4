package leaderjob_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
)

var benchSink int

func benchJob(context.Context) error { benchSink++; return nil }

// BenchmarkTrigger measures one run attempt end to end (guard check, run
// context, the job, the log record, metrics) against calling the job.
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
	}{
		{"discard-logger", slog.New(slog.DiscardHandler), guard.Always},
		{"json-logger", slog.New(slog.NewJSONHandler(io.Discard, nil)), guard.Always},
		{"skipped", slog.New(slog.DiscardHandler), guard.Never},
	} {
		b.Run(tc.name, func(b *testing.B) {
			app, err := leaderjob.New("bench",
				leaderjob.WithEnv(noEnv), leaderjob.WithIdentity("pod-a"), leaderjob.WithHTTPAddr(""),
				leaderjob.WithLogger(tc.logger), leaderjob.WithGuard(tc.guard))
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
