package ledger

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkClaimBurst: 200 jobs due at the same instant, each claimed by
// its own goroutine (as a scheduler does when it fires them), through one
// Ledger. It reports the Backend stores per burst and the claim latency
// (p50, p99) over all claims. "rtt" adds a round trip to each Load and
// Store, as an API server would.
func BenchmarkClaimBurst(b *testing.B) {
	for _, rtt := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond} {
		b.Run(fmt.Sprintf("rtt=%v", rtt), func(b *testing.B) {
			const n = 200
			jobs := make([]string, n)
			for i := range jobs {
				jobs[i] = fmt.Sprintf("job-%03d", i)
			}
			f := newFake()
			f.set(func(f *fake) { f.delay = rtt })
			l := NewLedger(f)
			lat := make([]time.Duration, 0, n*b.N)
			var mu sync.Mutex
			ctx := context.Background()
			b.ResetTimer()
			for it := range b.N {
				at := t0.Add(time.Duration(it) * time.Minute)
				var wg sync.WaitGroup
				for _, job := range jobs {
					wg.Go(func() {
						start := time.Now()
						res, err := l.Claim(ctx, []Claim{claimOf(job, at, "L", 1, "x")})
						d := time.Since(start)
						if err != nil || res[0].Err != nil {
							b.Errorf("claim: %v %v", err, res)
						}
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					})
				}
				wg.Wait()
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(f.stores.Load())/float64(b.N), "stores/burst")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
