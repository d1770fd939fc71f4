package spread

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func jobsOf(n, groups int) []Job {
	js := make([]Job, n)
	for i := range js {
		js[i] = Job{Name: fmt.Sprintf("job-%03d", i), Group: i * 7 % max(groups, 1)}
	}
	return js
}

func membersOf(n int) []string {
	ms := make([]string, n)
	for i := range ms {
		ms[i] = fmt.Sprintf("pod-%d", i)
	}
	return ms
}

func shares(owners map[string]string) map[string]int {
	s := map[string]int{}
	for _, m := range owners {
		s[m]++
	}
	return s
}

// Every job gets one owner among the members, no member more than
// max(⌈J/N⌉, ⌊1.5·J/N⌋), the same whatever the order the members and jobs
// come in.
func TestAssignBoundAndAgreement(t *testing.T) {
	for _, tc := range []struct{ jobs, groups, members int }{
		{0, 1, 3}, {1, 1, 3}, {2, 1, 3}, {10, 1, 3}, {10, 8, 3}, {300, 16, 3}, {300, 1, 3},
		{300, 64, 7}, {5, 4, 10}, {1000, 32, 1}, {17, 3, 4},
	} {
		t.Run(fmt.Sprintf("%d jobs, %d groups, %d members", tc.jobs, tc.groups, tc.members), func(t *testing.T) {
			jobs, members := jobsOf(tc.jobs, tc.groups), membersOf(tc.members)
			owners := Assign(jobs, members)
			if len(owners) != tc.jobs {
				t.Fatalf("%d of %d jobs have an owner", len(owners), tc.jobs)
			}
			limit := max((tc.jobs+tc.members-1)/tc.members, tc.jobs*3/(2*tc.members))
			if l := Limit(tc.jobs, tc.members); l != limit {
				t.Errorf("Limit = %d, want %d", l, limit)
			}
			for m, n := range shares(owners) {
				if n > limit {
					t.Errorf("%s owns %d jobs, more than the bound %d", m, n, limit)
				}
			}
			r := rand.New(rand.NewPCG(1, 2))
			for range 5 {
				r.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
				r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
				again := Assign(jobs, append(members, members[0]))
				for name, m := range owners {
					if again[name] != m {
						t.Fatalf("job %s: owner %s, then %s with the same members and jobs in another order", name, m, again[name])
					}
				}
			}
		})
	}
	if got := Assign(jobsOf(3, 1), nil); len(got) != 0 {
		t.Errorf("no members: %v, want no owners", got)
	}
}

// A member leaving moves its own jobs and few others; one joining takes
// about its share. Jobs of one group stay together where the bound allows.
func TestAssignMovesFew(t *testing.T) {
	const jobs, groups = 300, 16
	js := jobsOf(jobs, groups)
	before := Assign(js, membersOf(3))
	after := Assign(js, membersOf(3)[:2]) // pod-2 leaves
	moved, others := 0, 0
	for name, m := range before {
		if after[name] != m {
			moved++
			if m != "pod-2" {
				others++
			}
		}
	}
	if own := shares(before)["pod-2"]; moved < own || others > jobs/5 {
		t.Errorf("pod-2 left owning %d jobs: %d moved, %d of them from the members that stayed (want at most %d)", own, moved, others, jobs/5)
	}
	back := Assign(js, membersOf(3))
	for name, m := range before {
		if back[name] != m {
			t.Fatalf("job %s: owner %s before pod-2 left, %s after it came back", name, m, back[name])
		}
	}
	split := 0
	groupOwners := map[int]map[string]bool{}
	for _, j := range js {
		if groupOwners[j.Group] == nil {
			groupOwners[j.Group] = map[string]bool{}
		}
		groupOwners[j.Group][before[j.Name]] = true
	}
	for _, ms := range groupOwners {
		if len(ms) > 1 {
			split++
		}
	}
	if split > 0 {
		t.Errorf("%d of %d groups have more than one owner, want none: each ledger object has one writer", split, groups)
	}
}

// A year of membership changes over hundreds of jobs: after each change
// the bound holds, and every job has an owner among the live members.
func TestAssignChurn(t *testing.T) {
	js := jobsOf(500, 32)
	r := rand.New(rand.NewPCG(3, 4))
	live := map[string]bool{"pod-0": true}
	next := 1
	for step := range 2000 {
		if len(live) > 1 && r.IntN(2) == 0 {
			for m := range live {
				delete(live, m)
				break
			}
		} else {
			live[fmt.Sprintf("pod-%d", next)] = true
			next++
		}
		var ms []string
		for m := range live {
			ms = append(ms, m)
		}
		owners := Assign(js, ms)
		limit := Limit(len(js), len(ms))
		for _, j := range js {
			if !live[owners[j.Name]] {
				t.Fatalf("step %d: job %s owned by %q, not a live member", step, j.Name, owners[j.Name])
			}
		}
		for m, n := range shares(owners) {
			if n > limit {
				t.Fatalf("step %d: %s owns %d, limit %d", step, m, n, limit)
			}
		}
	}
}

func BenchmarkAssign(b *testing.B) {
	js, ms := jobsOf(1000, 64), membersOf(10)
	for b.Loop() {
		Assign(js, ms)
	}
}
