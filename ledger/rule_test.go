package ledger

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var t0 = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

func fire(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func claimOf(job string, at time.Time, scope string, n int64, id string) Claim {
	return Claim{Job: job, At: at, Epoch: Epoch{Scope: scope, N: n}, ClaimID: id, Holder: "pod-" + id}
}

func TestClaimRule(t *testing.T) {
	type step struct {
		claim    *Claim
		complete *Completion
	}
	cl := func(c Claim) step { return step{claim: &c} }
	done := func(job string, at time.Time, id string) step {
		return step{complete: &Completion{Job: job, At: at, ClaimID: id, Outcome: "ran"}}
	}
	tests := []struct {
		name      string
		before    []step // applied first, each must succeed
		claim     Claim
		wantErr   error
		wantRerun bool
		wantReset bool
		wantFence Epoch
		keepsLast bool // a caught-up older fire: Claimed stays the newest, the fire joins Recent
	}{
		{
			name:      "first claim on an empty ledger resets the fence",
			claim:     claimOf("a", fire(1), "L", 3, "x"),
			wantReset: true,
			wantFence: Epoch{Scope: "L", N: 3},
		},
		{
			name:      "a new fire by the same term",
			before:    []step{cl(claimOf("a", fire(1), "L", 3, "x"))},
			claim:     claimOf("a", fire(2), "L", 3, "x"),
			wantFence: Epoch{Scope: "L", N: 3},
		},
		{
			name:      "deposed leader: a lower N is fenced",
			before:    []step{cl(claimOf("a", fire(1), "L", 4, "y"))},
			claim:     claimOf("a", fire(2), "L", 3, "x"),
			wantErr:   ErrFenced,
			wantFence: Epoch{Scope: "L", N: 4},
		},
		{
			name:      "deposed leader is fenced even on another job",
			before:    []step{cl(claimOf("a", fire(1), "L", 4, "y"))},
			claim:     claimOf("b", fire(9), "L", 3, "x"),
			wantErr:   ErrFenced,
			wantFence: Epoch{Scope: "L", N: 4},
		},
		{
			name:      "deposed leader is fenced even on its own earlier claim",
			before:    []step{cl(claimOf("a", fire(1), "L", 3, "x")), cl(claimOf("b", fire(1), "L", 4, "y"))},
			claim:     claimOf("a", fire(1), "L", 3, "x"),
			wantErr:   ErrFenced,
			wantFence: Epoch{Scope: "L", N: 4},
		},
		{
			name:      "a higher N raises the fence",
			before:    []step{cl(claimOf("a", fire(1), "L", 3, "x"))},
			claim:     claimOf("a", fire(2), "L", 5, "y"),
			wantFence: Epoch{Scope: "L", N: 5},
		},
		{
			name:      "same identity re-acquiring: same N, new ClaimID, new fire",
			before:    []step{cl(claimOf("a", fire(1), "L", 3, "x")), done("a", fire(1), "x")},
			claim:     claimOf("a", fire(2), "L", 3, "x2"),
			wantFence: Epoch{Scope: "L", N: 3},
		},
		{
			name:      "same identity re-acquiring: same N, new ClaimID, the fire it died in is re-run",
			before:    []step{cl(claimOf("a", fire(1), "L", 3, "x"))},
			claim:     claimOf("a", fire(1), "L", 3, "x2"),
			wantRerun: true,
			wantFence: Epoch{Scope: "L", N: 3},
		},
		{
			name:      "scope reset: another Lease, a lower N is accepted",
			before:    []step{cl(claimOf("a", fire(1), "L", 7, "x")), done("a", fire(1), "x")},
			claim:     claimOf("a", fire(2), "M", 0, "y"),
			wantReset: true,
			wantFence: Epoch{Scope: "M", N: 0},
		},
		{
			name:      "scope reset keeps the jobs: a completed fire is still handled",
			before:    []step{cl(claimOf("a", fire(1), "L", 7, "x")), done("a", fire(1), "x")},
			claim:     claimOf("a", fire(1), "M", 0, "y"),
			wantErr:   ErrHandled,
			wantFence: Epoch{Scope: "L", N: 7},
		},
		{
			name:      "scope reset keeps the jobs: an older fire completed before is still handled",
			before:    []step{cl(claimOf("a", fire(4), "L", 7, "x")), done("a", fire(4), "x"), cl(claimOf("a", fire(5), "L", 7, "x"))},
			claim:     claimOf("a", fire(4), "M", 0, "y"),
			wantErr:   ErrHandled,
			wantFence: Epoch{Scope: "L", N: 7},
		},
		{
			name:      "scope reset: an uncompleted fire of the old scope is re-run",
			before:    []step{cl(claimOf("a", fire(1), "L", 7, "x"))},
			claim:     claimOf("a", fire(1), "M", 0, "y"),
			wantRerun: true,
			wantReset: true,
			wantFence: Epoch{Scope: "M", N: 0},
		},
		{
			name:      "own ClaimID after a lost reply succeeds, not a re-run",
			before:    []step{cl(claimOf("a", fire(1), "L", 3, "x"))},
			claim:     claimOf("a", fire(1), "L", 3, "x"),
			wantFence: Epoch{Scope: "L", N: 3},
		},
		{
			name:      "own ClaimID of a completed fire is handled",
			before:    []step{cl(claimOf("a", fire(1), "L", 3, "x")), done("a", fire(1), "x")},
			claim:     claimOf("a", fire(1), "L", 3, "x"),
			wantErr:   ErrHandled,
			wantFence: Epoch{Scope: "L", N: 3},
		},
		{
			name:      "a dead claim by a newer term is re-run",
			before:    []step{cl(claimOf("a", fire(1), "L", 3, "x"))},
			claim:     claimOf("a", fire(1), "L", 4, "y"),
			wantRerun: true,
			wantFence: Epoch{Scope: "L", N: 4},
		},
		{
			name:      "a completed fire is handled for a newer term",
			before:    []step{cl(claimOf("a", fire(1), "L", 3, "x")), done("a", fire(1), "x")},
			claim:     claimOf("a", fire(1), "L", 4, "y"),
			wantErr:   ErrHandled,
			wantFence: Epoch{Scope: "L", N: 3},
		},
		{
			name:      "an older fire than the last claimed, completed before, is handled",
			before:    []step{cl(claimOf("a", fire(2), "L", 3, "x")), done("a", fire(2), "x"), cl(claimOf("a", fire(3), "L", 3, "x"))},
			claim:     claimOf("a", fire(2), "L", 4, "y"),
			wantErr:   ErrHandled,
			wantFence: Epoch{Scope: "L", N: 3},
		},
		{
			name:      "an older fire than the last claimed, claimed and never completed, is run again by another term",
			before:    []step{cl(claimOf("a", fire(2), "L", 3, "x")), cl(claimOf("a", fire(3), "L", 3, "x"))},
			claim:     claimOf("a", fire(2), "L", 4, "y"),
			wantRerun: true,
			wantFence: Epoch{Scope: "L", N: 4},
			keepsLast: true,
		},
		{
			name:      "an open older claim written again by its own term changes nothing",
			before:    []step{cl(claimOf("a", fire(2), "L", 3, "x")), cl(claimOf("a", fire(3), "L", 3, "x"))},
			claim:     claimOf("a", fire(2), "L", 3, "x"),
			wantFence: Epoch{Scope: "L", N: 3},
			keepsLast: true,
		},
		{
			name:      "an older fire than the last claimed, never claimed, is caught up",
			before:    []step{cl(claimOf("a", fire(1), "L", 3, "x")), cl(claimOf("a", fire(3), "L", 3, "x"))},
			claim:     claimOf("a", fire(2), "L", 4, "y"),
			wantFence: Epoch{Scope: "L", N: 4},
			keepsLast: true,
		},
		{
			name:      "jobs are independent",
			before:    []step{cl(claimOf("a", fire(3), "L", 3, "x")), done("a", fire(3), "x")},
			claim:     claimOf("b", fire(2), "L", 3, "x"),
			wantFence: Epoch{Scope: "L", N: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s State
			for i, st := range tt.before {
				if st.claim != nil {
					if r := s.Claim(*st.claim, t0); r.Err != nil {
						t.Fatalf("before[%d]: claim: %v", i, r.Err)
					}
				} else if err := s.Complete(*st.complete); err != nil {
					t.Fatalf("before[%d]: complete: %v", i, err)
				}
			}
			before := s.Clone()
			r := s.Claim(tt.claim, t0)
			if !errors.Is(r.Err, tt.wantErr) || (tt.wantErr == nil && r.Err != nil) {
				t.Fatalf("err = %v, want %v", r.Err, tt.wantErr)
			}
			if r.Rerun != tt.wantRerun || r.ScopeReset != tt.wantReset {
				t.Errorf("rerun, reset = %v, %v; want %v, %v", r.Rerun, r.ScopeReset, tt.wantRerun, tt.wantReset)
			}
			if s.Fence != tt.wantFence {
				t.Errorf("fence = %+v, want %+v", s.Fence, tt.wantFence)
			}
			if r.Err != nil {
				if !equalState(before, s) {
					t.Errorf("a refused claim changed the state")
				}
				return
			}
			js := s.Jobs[tt.claim.Job]
			got := js.Claimed
			switch {
			case tt.keepsLast:
				if got == nil || !got.At.After(tt.claim.At) || !claimedRecently(js, tt.claim.At) {
					t.Errorf("claimed = %+v, recent %v; want the newer claim kept and the fire in recent", got, js.Recent)
				}
			case got == nil || got.ClaimID != tt.claim.ClaimID || !got.At.Equal(tt.claim.At):
				t.Errorf("claimed = %+v, want the claim", got)
			}
			if s.Version != FormatVersion {
				t.Errorf("version = %d", s.Version)
			}
		})
	}
}

func equalState(a, b State) bool {
	x, _ := EncodedSize(a)
	y, _ := EncodedSize(b)
	if x != y || a.Fence != b.Fence || len(a.Jobs) != len(b.Jobs) {
		return false
	}
	for k, ja := range a.Jobs {
		jb := b.Jobs[k]
		if (ja.Claimed == nil) != (jb.Claimed == nil) || (ja.Claimed != nil && *ja.Claimed != *jb.Claimed) {
			return false
		}
		if (ja.Completed == nil) != (jb.Completed == nil) || len(ja.History) != len(jb.History) {
			return false
		}
	}
	return true
}

func TestClaimFillsClaimed(t *testing.T) {
	var s State
	s.Claim(claimOf("a", fire(1), "L", 1, "x"), t0.Add(time.Second))
	if got := s.Jobs["a"].Claimed.Claimed; !got.Equal(t0.Add(time.Second)) {
		t.Errorf("claimed = %v", got)
	}
	c := claimOf("a", fire(2), "L", 1, "x")
	c.Claimed = t0
	s.Claim(c, t0.Add(time.Hour))
	if got := s.Jobs["a"].Claimed.Claimed; !got.Equal(t0) {
		t.Errorf("claimed = %v, want the claim's own", got)
	}
}

func TestCompleteRule(t *testing.T) {
	newState := func() State {
		var s State
		s.Claim(claimOf("a", fire(1), "L", 3, "x"), t0)
		s.Claim(claimOf("a", fire(1), "L", 4, "y"), t0) // re-run by a newer term
		return s
	}
	tests := []struct {
		name    string
		c       Completion
		wantErr error
	}{
		{"the holder completes", Completion{Job: "a", At: fire(1), ClaimID: "y", Outcome: "ran"}, nil},
		{"a stale claim is fenced", Completion{Job: "a", At: fire(1), ClaimID: "x", Outcome: "ran"}, ErrFenced},
		{"another fire is fenced", Completion{Job: "a", At: fire(2), ClaimID: "y", Outcome: "ran"}, ErrFenced},
		{"an unknown job is fenced", Completion{Job: "b", At: fire(1), ClaimID: "y", Outcome: "ran"}, ErrFenced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newState()
			err := s.Complete(tt.c)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			js := s.Jobs[tt.c.Job]
			if err != nil {
				if js != nil && (js.Completed != nil || len(js.History) != 0) {
					t.Errorf("a refused completion was recorded")
				}
				return
			}
			if js.Completed == nil || js.Completed.ClaimID != "y" || js.Success == nil || len(js.History) != 1 {
				t.Errorf("job = %+v", js)
			}
		})
	}
}

func TestCompleteOnEmptyState(t *testing.T) {
	var s State
	if err := s.Complete(Completion{Job: "a", At: fire(1), ClaimID: "x"}); !errors.Is(err, ErrFenced) {
		t.Fatalf("err = %v", err)
	}
}

func TestCompleteTwiceRecordsOnce(t *testing.T) {
	var s State
	s.Claim(claimOf("a", fire(1), "L", 1, "x"), t0)
	c := Completion{Job: "a", At: fire(1), ClaimID: "x", Outcome: "failed", Error: "boom"}
	for range 2 {
		if err := s.Complete(c); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.Jobs["a"].History); n != 1 {
		t.Errorf("history has %d entries, want 1", n)
	}
}

func TestCompleteSuccessAndHistory(t *testing.T) {
	var s State
	outcomes := []string{"ran", "failed", "panicked", "canceled"}
	const n = HistoryLen + 7
	for i := range n {
		id := "x"
		s.Claim(claimOf("a", fire(i), "L", 1, id), t0)
		out := outcomes[i%len(outcomes)]
		if err := s.Complete(Completion{Job: "a", At: fire(i), ClaimID: id, Outcome: out}); err != nil {
			t.Fatal(err)
		}
	}
	js := s.Jobs["a"]
	if len(js.History) != HistoryLen {
		t.Fatalf("history has %d entries, want %d", len(js.History), HistoryLen)
	}
	for i, h := range js.History {
		if want := fire(n - 1 - i); !h.At.Equal(want) {
			t.Errorf("history[%d] at %v, want %v (newest first)", i, h.At, want)
		}
	}
	if !js.Completed.At.Equal(fire(n - 1)) {
		t.Errorf("completed at %v", js.Completed.At)
	}
	// The last "ran" is the largest i < n with i%4 == 0.
	last := (n - 1) / 4 * 4
	if js.Success == nil || !js.Success.At.Equal(fire(last)) || js.Success.Outcome != "ran" {
		t.Errorf("success = %+v, want the fire %d", js.Success, last)
	}
}

func TestCompleteTruncatesError(t *testing.T) {
	tests := []struct {
		name string
		err  string
	}{
		{"short", "boom"},
		{"exact", strings.Repeat("e", MaxErrorLen)},
		{"ascii", strings.Repeat("e", 3*MaxErrorLen)},
		{"multibyte across the bound", strings.Repeat("e", MaxErrorLen-1) + "é" + "tail"},
		{"four-byte runes", strings.Repeat("😀", MaxErrorLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s State
			s.Claim(claimOf("a", fire(1), "L", 1, "x"), t0)
			if err := s.Complete(Completion{Job: "a", At: fire(1), ClaimID: "x", Outcome: "failed", Error: tt.err}); err != nil {
				t.Fatal(err)
			}
			got := s.Jobs["a"].Completed.Error
			if len(got) > MaxErrorLen || !utf8.ValidString(got) || !strings.HasPrefix(tt.err, got) {
				t.Fatalf("error = %q (%d bytes)", got, len(got))
			}
			if len(tt.err) <= MaxErrorLen && got != tt.err {
				t.Errorf("a short error was cut: %q", got)
			}
			if len(tt.err) > MaxErrorLen && len(got) < MaxErrorLen-utf8.UTFMax+1 {
				t.Errorf("cut too much: %d bytes", len(got))
			}
			if h := s.Jobs["a"].History[0].Error; len(h) > HistoryErrorLen || !utf8.ValidString(h) || !strings.HasPrefix(got, h) ||
				(len(got) <= HistoryErrorLen && h != got) {
				t.Errorf("history keeps %q (%d bytes), want the error cut to %d bytes", h, len(h), HistoryErrorLen)
			}
		})
	}
}

func TestNewerFormatIsLeftAlone(t *testing.T) {
	s := State{Version: FormatVersion + 1}
	if r := s.Claim(claimOf("a", fire(1), "L", 1, "x"), t0); !errors.Is(r.Err, ErrNewerFormat) {
		t.Errorf("claim: %v", r.Err)
	}
	if err := s.Complete(Completion{Job: "a", At: fire(1), ClaimID: "x"}); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("complete: %v", err)
	}
	if s.Jobs != nil || s.Fence != (Epoch{}) {
		t.Errorf("state changed: %+v", s)
	}
}

func TestClone(t *testing.T) {
	var s State
	s.Claim(claimOf("a", fire(1), "L", 1, "x"), t0)
	s.Complete(Completion{Job: "a", At: fire(1), ClaimID: "x", Outcome: "ran"})
	c := s.Clone()
	c.Jobs["a"].Claimed.ClaimID = "changed"
	c.Jobs["a"].Success.Outcome = "changed"
	c.Jobs["a"].History[0].Outcome = "changed"
	c.Jobs["b"] = &JobState{}
	js := s.Jobs["a"]
	if js.Claimed.ClaimID != "x" || js.Success.Outcome != "ran" || js.History[0].Outcome != "ran" || len(s.Jobs) != 1 {
		t.Errorf("the clone shares memory with the original: %+v", js)
	}
	if z := (State{}).Clone(); z.Jobs != nil {
		t.Errorf("clone of zero: %+v", z)
	}
}

func TestEncodedSize(t *testing.T) {
	var s State
	n0, err := EncodedSize(s)
	if err != nil || n0 <= 0 {
		t.Fatalf("size = %d, %v", n0, err)
	}
	s.Claim(claimOf("a", fire(1), "L", 1, "x"), t0)
	if n1, _ := EncodedSize(s); n1 <= n0 {
		t.Errorf("size did not grow: %d <= %d", n1, n0)
	}
}

// TestJobRecordBound: a job's record is bounded, as the package doc says,
// whatever its number of fires.
func TestJobRecordBound(t *testing.T) {
	var s State
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	for i := range 3 * HistoryLen {
		c := claimOf(long("j", 64), fire(i), long("u", 36), 1<<40, long("c", 64))
		c.Key, c.Holder = long("k", 100), long("h", 63)
		s.Claim(c, t0)
		s.Complete(Completion{Job: c.Job, At: c.At, ClaimID: c.ClaimID, Holder: c.Holder,
			Outcome: "panicked", Duration: time.Hour, Error: long(`"`, 1000), Ended: t0})
	}
	n, err := EncodedSize(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one job: %d bytes", n)
	if n > 11*1024 {
		t.Errorf("one job's record is %d bytes, more than the documented ~10 KiB", n)
	}
}
