package ledger

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// A stored State that is no ledger (valid JSON of another shape) is
// refused as corrupt, whatever the backend: claims, completions, run
// claims and updates fail closed, and nothing is written over it.
func TestLedgerRefusesHostileState(t *testing.T) {
	claimed := &Claim{Job: "a", At: fire(1), ClaimID: "x", Epoch: Epoch{Scope: "L", N: 1}}
	for _, tt := range []struct {
		name  string
		state State
	}{
		{"negative version", State{Version: -1}},
		{"version 0 holding jobs", State{Jobs: map[string]*JobState{"a": {Claimed: claimed}}}},
		{"a job set to null", State{Version: 1, Jobs: map[string]*JobState{"a": nil}}},
		{"a claim without a fire time", State{Version: 1, Jobs: map[string]*JobState{"a": {Claimed: &Claim{Job: "a", ClaimID: "x"}}}}},
		{"a claim of another job", State{Version: 1, Jobs: map[string]*JobState{"a": {Claimed: &Claim{Job: "b", At: fire(1)}}}}},
		{"a run record set to null", State{Version: 1, Runs: map[string]*Run{"r1": nil}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			ctx := context.Background()
			if err := f.Backend.Store(ctx, tt.state, ""); err != nil {
				t.Fatal(err)
			}
			l := NewLedger(f, fast()...)
			want := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrUnavailable) || !errors.Is(err, wire.ErrNotALedger) {
					t.Errorf("%s: %v, want ErrCorrupt and wire.ErrNotALedger", what, err)
				}
			}
			want("claim", claimOne(t, l, claimOf("a", fire(2), "L", 1, "x")).Err)
			want("complete", l.Complete(ctx, Completion{Job: "a", At: fire(1), ClaimID: "x", Outcome: "ran"}))
			want("run claim", l.Update(ctx, func(s *State) (bool, error) {
				err := s.ClaimRun("r1", Run{Job: "a", ClaimID: "x", Epoch: Epoch{Scope: "L", N: 1}, Requested: fire(1), Claimed: fire(1)})
				return err == nil, err
			}))
			_, err := l.Snapshot(ctx)
			want("snapshot", err)
			if n := f.stores.Load(); n != 0 {
				t.Errorf("%d stores over it", n)
			}
			if s, _, _ := f.Backend.Load(ctx); !reflect.DeepEqual(s, tt.state) {
				t.Errorf("stored state changed: %+v", s)
			}
		})
	}
}

// The rule records nothing readers would refuse: a claim without a job
// name or a fire time is ErrInvalid, an update that leaves such a State is
// ErrInvalid and not written, and a stored State always carries its
// format version, even when only the job names were written.
func TestLedgerWritesOnlyLedgers(t *testing.T) {
	f := newFake()
	l := NewLedger(f, fast()...)
	ctx := context.Background()
	for _, c := range []Claim{claimOf("", fire(1), "L", 1, "x"), claimOf("a", time.Time{}, "L", 1, "x")} {
		if r := claimOne(t, l, c); !errors.Is(r.Err, ErrInvalid) {
			t.Errorf("claim %+v: %v, want ErrInvalid", c, r.Err)
		}
	}
	err := l.Update(ctx, func(s *State) (bool, error) {
		s.Jobs = map[string]*JobState{"a": nil}
		return true, nil
	})
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, wire.ErrNotALedger) {
		t.Errorf("update to a null job: %v, want ErrInvalid", err)
	}
	if n := f.stores.Load(); n != 0 {
		t.Fatalf("%d stores", n)
	}
	if err := l.Update(ctx, func(s *State) (bool, error) {
		s.JobNames = []string{"a"}
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if s, _, _ := f.Backend.Load(ctx); s.Version != FormatVersion {
		t.Errorf("stored version %d, want %d", s.Version, FormatVersion)
	}
}
