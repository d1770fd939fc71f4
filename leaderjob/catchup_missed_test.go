package leaderjob

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/ledger"
)

// A fixed-rate scheduler counts each period from when the last fire
// started, so the fleet's claimed instants drift by milliseconds a fire.
// missed finds the fires of real gaps, within the window, and never a
// drifted fire again under a new instant (it did: a grid through the newest
// claim missed older claims by a few milliseconds, and each such "missed"
// fire ran a second time on a real cluster).
func TestMissedFixedRateFiresFollowTheClaims(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, tc := range []struct {
		name   string
		policy CatchUp
		claims []time.Duration
		now    time.Duration
		want   []time.Duration
	}{
		{"a gap between drifting claims", CatchUpAll(time.Minute),
			[]time.Duration{0, 10*time.Second + 2*ms, 20*time.Second + 4*ms, 50*time.Second + 10*ms}, 55 * time.Second,
			[]time.Duration{30*time.Second + 4*ms, 40*time.Second + 4*ms}},
		{"drift and no gap", CatchUpAll(time.Minute),
			[]time.Duration{0, 10*time.Second + 2*ms, 20*time.Second + 4*ms, 30*time.Second + 6*ms}, 35 * time.Second,
			nil},
		{"since the newest claim, within the window only", CatchUpAll(time.Minute),
			[]time.Duration{0, 10*time.Second + 2*ms}, 5 * time.Minute,
			[]time.Duration{4*time.Minute + 2*ms, 4*time.Minute + 10*time.Second + 2*ms, 4*time.Minute + 20*time.Second + 2*ms,
				4*time.Minute + 30*time.Second + 2*ms, 4*time.Minute + 40*time.Second + 2*ms, 4*time.Minute + 50*time.Second + 2*ms}},
		{"latest: the newest missed fire only", CatchUpLatest(time.Minute),
			[]time.Duration{0, 10*time.Second + 2*ms}, 45 * time.Second,
			[]time.Duration{40*time.Second + 2*ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s ledger.State
			for _, c := range tc.claims {
				claim := ledger.Claim{Job: "beat", At: at(c), Key: "k", Epoch: ledger.Epoch{Scope: "s", N: 1},
					ClaimID: "earlier", Holder: "old", Claimed: at(c)}
				if r := s.Claim(claim, at(c)); r.Err != nil {
					t.Fatal(r.Err)
				}
				if err := s.Complete(ledger.Completion{Job: "beat", At: at(c), ClaimID: "earlier", Outcome: "ran", Ended: at(c)}); err != nil {
					t.Fatal(err)
				}
			}
			a := &App{logger: slog.New(slog.DiscardHandler)}
			j := &job{name: "beat", schedule: FixedRate(10 * time.Second), catchUp: tc.policy}
			var got []time.Duration
			for _, f := range a.missed(j, s, at(tc.now), "this-term") {
				got = append(got, f.Sub(t0))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("missed %v, want %v", got, tc.want)
			}
		})
	}
}
