package ledger

import (
	"reflect"
	"testing"
	"time"
)

// Clone keeps every field of the stored document, including any added
// later: a copy that dropped one (it once dropped the open claims, the
// given-up mark and the fencing tokens) would lose it on the next write.
func TestCloneKeepsEveryField(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := Claim{Job: "j", At: now, Key: "k", Epoch: Epoch{Scope: "s", N: 2}, ClaimID: "c", Holder: "h", CatchUp: true, Claimed: now, Token: 7}
	d := Completion{Job: "j", At: now, ClaimID: "c", Holder: "h", Outcome: "ran", Duration: time.Second, Error: "e", Ended: now, Token: 7}
	s := State{Version: 1, Fence: Epoch{Scope: "s", N: 2}, Tokens: 9, Owner: 8, JobNames: []string{"j"}, Shards: 4,
		Paused: map[string]Pause{"j": {By: "op", Reason: "r", Since: now, Acked: now, Holder: "h"}},
		Runs:   map[string]*Run{"r1": {Job: "j", By: "op", Requested: now, Holder: "h", ClaimID: "c", Claimed: now, Outcome: "ran", Ended: now}},
		Jobs: map[string]*JobState{"j": {Claimed: &c, Completed: &d, Success: &d, History: []Completion{d},
			Recent: []time.Time{now}, Open: []Claim{c}, GaveUp: now, Fence: 7, AdoptedBy: "pod-a", Busy: []time.Time{now}}}}
	// Every field is set, so that a field Clone drops shows.
	for _, f := range reflect.VisibleFields(reflect.TypeOf(s)) {
		if reflect.ValueOf(s).FieldByIndex(f.Index).IsZero() {
			t.Fatalf("the test leaves State.%s unset", f.Name)
		}
	}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(JobState{})) {
		if reflect.ValueOf(*s.Jobs["j"]).FieldByIndex(f.Index).IsZero() {
			t.Fatalf("the test leaves JobState.%s unset", f.Name)
		}
	}
	cl := s.Clone()
	if !reflect.DeepEqual(cl, s) {
		t.Fatalf("Clone differs:\n%+v\n%+v", cl, s)
	}
	cl.Jobs["j"].Open[0].At = now.Add(time.Hour)
	cl.Jobs["j"].Recent[0] = now.Add(time.Hour)
	if s.Jobs["j"].Open[0].At != now || s.Jobs["j"].Recent[0] != now {
		t.Error("Clone shares a job's slices")
	}
}
