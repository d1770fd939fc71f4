package leaderjob_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/leaderjob"
)

// bound limits every wait of these tests in real time. Nothing is expected
// to take that long; it only turns a hang into a failure.
const bound = 10 * time.Second

// noEnv is an environment where nothing is set.
func noEnv(string) (string, bool) { return "", false }

// envOf is an environment holding exactly m.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// logSink collects JSON log records; it is safe for concurrent writers.
type logSink struct{ testutil.LogBuffer }

// logger is a debug-level JSON logger writing to s.
func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type record map[string]any

func (r record) str(key string) string { v, _ := r[key].(string); return v }

// records decodes every record written so far.
func (s *logSink) records(t testing.TB) []record {
	t.Helper()
	var out []record
	sc := bufio.NewScanner(bytes.NewReader(s.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// withMsg returns the records whose msg is msg.
func (s *logSink) withMsg(t testing.TB, msg string) []record {
	t.Helper()
	var out []record
	for _, r := range s.records(t) {
		if r.str("msg") == msg {
			out = append(out, r)
		}
	}
	return out
}

// runs returns the "job run" records of job.
func (s *logSink) runs(t testing.TB, job string) []record {
	t.Helper()
	var out []record
	for _, r := range s.withMsg(t, "job run") {
		if r.str("job") == job {
			out = append(out, r)
		}
	}
	return out
}

// newApp returns an App that reads no environment, logs JSON into the
// returned sink and, unless opts say otherwise, always leads as pod-a.
func newApp(t testing.TB, opts ...leaderjob.Option) (*leaderjob.App, *logSink) {
	t.Helper()
	sink := &logSink{}
	app, err := leaderjob.New("test-app", append([]leaderjob.Option{
		leaderjob.WithEnv(noEnv),
		leaderjob.WithIdentity("pod-a"),
		leaderjob.WithoutSignals(),
		leaderjob.WithHTTPAddr(""),
		leaderjob.WithLogger(sink.logger()),
		leaderjob.WithGuard(guard.Always),
	}, opts...)...)
	noErr(t, err)
	return app, sink
}

// startApp runs app until the test ends or stop is called; stop returns
// Run's error.
func startApp(t testing.TB, app *leaderjob.App) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	select {
	case <-app.Running():
	case err := <-done:
		cancel()
		t.Fatalf("Run returned before it was running: %v", err)
	case <-time.After(bound):
		cancel()
		t.Fatal("Run did not start")
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(bound):
				t.Error("Run did not return after its context was cancelled")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// recv receives from ch, failing the test after bound.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(bound):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func nop(context.Context) error { return nil }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
