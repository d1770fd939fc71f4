package sidecarclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/sidecarclient/sidecartest"
)

// BenchmarkLeader measures one call against a loopback sidecar over a
// reused connection.
func BenchmarkLeader(b *testing.B) {
	s, c := newClient(b, sidecartest.Leader("pod-a"))
	ctx := context.Background()
	lat := make(sidecartest.Latencies, 0, b.N)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, err := c.Leader(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(lat.Percentile(50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat.Percentile(99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(s.Conns()), "conns")
}
