package ledger

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// far is a fire instant no clock of the fleet can mean: a hand edit, or a
// replica whose clock ran centuries ahead.
var far = time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)

// A job whose stored claim lies far in the future is not stalled until
// then: the next claim of a new fire sets the claim aside and takes its
// place; fires at or before the newest trusted instant stay handled.
func TestClaimFarInTheFutureIsSetAside(t *testing.T) {
	wild := claimOf("a", far, "L", 1, "wild")
	wild.Claimed = far
	for _, tt := range []struct {
		name       string
		recent     []time.Time // the job's recent fires besides far
		claim      time.Time
		wantErr    error
		wantRecent []time.Time
	}{
		{name: "the job's only claim", claim: fire(10), wantRecent: []time.Time{fire(10)}},
		{name: "after the trusted claims", recent: []time.Time{fire(5), fire(4)}, claim: fire(6),
			wantRecent: []time.Time{fire(6), fire(5), fire(4)}},
		{name: "a trusted claim", recent: []time.Time{fire(5), fire(4)}, claim: fire(5), wantErr: ErrHandled},
		{name: "before the newest trusted claim", recent: []time.Time{fire(5), fire(3)}, claim: fire(4), wantErr: ErrHandled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := wild
			s := State{Version: 1, Fence: w.Epoch, Jobs: map[string]*JobState{
				"a": {Claimed: &w, Recent: append([]time.Time{far}, tt.recent...)},
			}}
			before := s.Clone()
			c := claimOf("a", tt.claim, "L", 1, "sane")
			c.Claimed = tt.claim.Add(time.Millisecond)
			r := s.Claim(c, t0)
			if tt.wantErr != nil {
				if !errors.Is(r.Err, tt.wantErr) || r.SetAside != nil || !equalState(s, before) {
					t.Fatalf("claim: %+v, state %+v; want %v and no change", r, s.Jobs["a"], tt.wantErr)
				}
				return
			}
			if r.Err != nil || r.SetAside == nil || !r.SetAside.At.Equal(far) {
				t.Fatalf("claim: %+v, want success setting aside the claim at %v", r, far)
			}
			js := s.Jobs["a"]
			if !js.Claimed.At.Equal(tt.claim) || js.Claimed.ClaimID != "sane" || !slices.EqualFunc(js.Recent, tt.wantRecent, time.Time.Equal) {
				t.Errorf("job record: claimed %+v, recent %v; want the new claim, recent %v", js.Claimed, js.Recent, tt.wantRecent)
			}
			if err := validate(s); err != nil {
				t.Errorf("the State is no longer valid: %v", err)
			}
			// The job goes on: its next fire is a new fire, and it completes.
			if err := s.Complete(Completion{Job: "a", At: tt.claim, ClaimID: "sane", Outcome: "ran"}); err != nil {
				t.Errorf("complete: %v", err)
			}
			next := claimOf("a", tt.claim.Add(time.Minute), "L", 1, "sane")
			if r := s.Claim(next, t0); r.Err != nil || r.SetAside != nil {
				t.Errorf("next claim: %+v", r)
			}
		})
	}
}

// A claim up to MaxAhead ahead is trusted (a clock a little ahead of the
// others'); and a replica whose own clock is far ahead claims as usual.
func TestClaimWithinMaxAheadIsTrusted(t *testing.T) {
	var s State
	ahead := claimOf("a", fire(0).Add(MaxAhead-time.Minute), "L", 1, "x")
	if r := s.Claim(ahead, t0); r.Err != nil {
		t.Fatal(r.Err)
	}
	c := claimOf("a", fire(1), "L", 1, "y")
	c.Claimed = fire(1)
	if r := s.Claim(c, t0); !errors.Is(r.Err, ErrHandled) || r.SetAside != nil {
		t.Errorf("claim behind a claim within MaxAhead: %+v, want ErrHandled", r)
	}
	w := claimOf("a", far, "L", 1, "wild")
	w.Claimed = far
	if r := s.Claim(w, t0); r.Err != nil || r.SetAside != nil {
		t.Errorf("claim by a clock far ahead: %+v, want an ordinary claim", r)
	}
}

// The Ledger logs a claim it set aside as an error that says what
// happened and what to do.
func TestLedgerLogsClaimSetAside(t *testing.T) {
	var buf bytes.Buffer
	l := NewLedger(NewMemory(), WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	wild := claimOf("a", far, "L", 1, "wild")
	wild.Claimed = far
	if r := claimOne(t, l, wild); r.Err != nil {
		t.Fatal(r.Err)
	}
	c := claimOf("a", fire(1), "L", 1, "sane")
	c.Claimed = fire(1)
	if r := claimOne(t, l, c); r.Err != nil || r.SetAside == nil {
		t.Fatalf("claim: %+v", r)
	}
	s, err := l.Snapshot(context.Background())
	if err != nil || !s.Jobs["a"].Claimed.At.Equal(fire(1)) {
		t.Fatalf("snapshot: %+v, %v", s.Jobs["a"], err)
	}
	out := buf.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "set aside") || !strings.Contains(out, "2999-01-01") || !strings.Contains(out, "NTP") {
		t.Errorf("log:\n%s\nwant an error naming the claim and the fix", out)
	}
}
