package sidecar_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard/sidecar"
	"github.com/leaderjob/leaderjob/sidecarclient/sidecartest"
)

var windows = []time.Duration{0, sidecar.DefaultCacheWindow}

// BenchmarkCheck measures sequential Checks against a loopback sidecar.
func BenchmarkCheck(b *testing.B) {
	for _, window := range windows {
		b.Run("window="+window.String(), func(b *testing.B) {
			s, g := newGuard(b, sidecartest.Leader(self), sidecar.WithCacheWindow(window))
			ctx := context.Background()
			lat := make(sidecartest.Latencies, 0, b.N)
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				if d, err := g.Check(ctx); err != nil || !d.Leader {
					b.Fatal(d, err)
				}
				lat = append(lat, time.Since(start))
			}
			b.ReportMetric(float64(lat.Percentile(50).Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat.Percentile(99).Nanoseconds()), "p99-ns")
			b.ReportMetric(float64(s.Requests())/float64(len(lat)), "requests/check")
		})
	}
}

// BenchmarkConcurrentChecks starts 1,000 Checks at once on a fresh guard
// and counts the requests they make to the sidecar.
func BenchmarkConcurrentChecks(b *testing.B) {
	const checks = 1000
	for _, window := range windows {
		b.Run("window="+window.String(), func(b *testing.B) {
			s := sidecartest.NewServer(sidecartest.Leader(self))
			b.Cleanup(s.Close)
			ctx := context.Background()
			rounds := 0
			for b.Loop() {
				g, err := sidecar.New(self, sidecar.WithURL(s.URL), sidecar.WithCacheWindow(window))
				if err != nil {
					b.Fatal(err)
				}
				start := make(chan struct{})
				var wg sync.WaitGroup
				for range checks {
					wg.Go(func() {
						<-start
						if _, err := g.Check(ctx); err != nil {
							b.Error(err)
						}
					})
				}
				close(start)
				wg.Wait()
				rounds++
			}
			b.ReportMetric(float64(s.Requests())/float64(rounds), "requests/1000checks")
		})
	}
}
