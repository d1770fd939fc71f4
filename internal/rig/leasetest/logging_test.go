package leasetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard/lease"
	"github.com/leaderjob/leaderjob/internal/testutil"
)

// A guard whose logger is at WARN writes no record below WARN, whatever
// client-go says, and nothing reaches stderr through klog: against the real
// apiserver (elect, lead, release) and against an unreachable one (every
// attempt fails), where the failure is logged once per error log period.
func TestWarnLevelLogsNothingBelowWarn(t *testing.T) {
	t.Run("unreachable apiserver", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cfg := &rest.Config{Host: "https://" + addr, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
		out, stderr := levelRun(t, slog.LevelWarn, cfg, "default", func(*lease.Guard) { time.Sleep(3 * time.Second) })
		checkWarnOnly(t, out, stderr)
		warns := 0
		for _, r := range decode(t, out) {
			if r["msg"] == "lease request failed" {
				warns++
			}
		}
		if warns != 1 {
			t.Errorf("the unreachable apiserver was logged %d times in 3s, want once per error log period; log:\n%s", warns, out)
		}

		// At INFO, no message repeats with the retries either.
		out, _ = levelRun(t, slog.LevelInfo, cfg, "default", func(*lease.Guard) { time.Sleep(3 * time.Second) })
		seen := map[any]int{}
		for _, r := range decode(t, out) {
			if seen[r["msg"]]++; seen[r["msg"]] > 1 {
				t.Errorf("%q logged more than once in 3s; log:\n%s", r["msg"], out)
			}
		}
	})
	t.Run("real apiserver", func(t *testing.T) {
		c := controlPlane(t)
		ns := namespace(t, c)
		out, stderr := levelRun(t, slog.LevelWarn, c.Config(), ns, func(g *lease.Guard) {
			// Not Eventually: a failure must not skip levelRun's restoring os.Stderr.
			if !testutil.Until(10*time.Second, func() bool { d, err := g.Check(context.Background()); return err == nil && d.Leader }) {
				t.Error("the guard did not lead within 10s")
			}
		})
		checkWarnOnly(t, out, stderr)
	})
}

// levelRun starts a guard with a JSON logger at level, calls during,
// releases the guard and returns its log and what was written to os.Stderr
// meanwhile.
func levelRun(t *testing.T, level slog.Level, cfg *rest.Config, ns string, during func(*lease.Guard)) (log, stderr string) {
	t.Helper()
	var buf testutil.LogBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
	g, err := lease.New(cfg, "pod-a", lease.WithNamespace(ns), lease.WithName("quiet"),
		lease.WithLeaseDuration(testLease), lease.WithRenewDeadline(testRenew), lease.WithRetryPeriod(testRetry),
		lease.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	restore := captureStderr(t)
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	during(g)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Release(ctx); err != nil {
		t.Error(err)
	}
	return buf.String(), restore()
}

func checkWarnOnly(t *testing.T, log, stderr string) {
	t.Helper()
	for _, r := range decode(t, log) {
		if r["level"] != "WARN" && r["level"] != "ERROR" {
			t.Errorf("record below WARN: %v", r)
		}
	}
	if stderr != "" {
		t.Errorf("written to stderr:\n%s", stderr)
	}
}

func decode(t *testing.T, log string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// captureStderr points os.Stderr at a pipe until the returned function is
// called, which returns what was written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	var got bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&got, r); close(done) }()
	return func() string {
		os.Stderr = saved
		w.Close()
		<-done
		r.Close()
		return got.String()
	}
}
