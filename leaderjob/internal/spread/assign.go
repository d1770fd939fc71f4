// Package spread gives each job of an App one owner among the live
// members of its fleet (spread mode), the same on every member that sees
// the same members and jobs.
//
// The assignment is rendezvous hashing with bounded load: each job goes to
// the member that ranks highest for it among those not yet full, full
// meaning ⌈J/N⌉ jobs of J over N members. A job ranks members by its
// group (the ledger object that records it), so that the jobs of one
// object go to one owner while the bound allows, and each object then has
// one writer. Rendezvous keeps moves few: when a member leaves, its jobs go
// to their next-ranked members and most others stay; when one joins, it
// takes the jobs it ranks first for, up to the bound.
//
// Members that see different members or jobs (a view that lags, two
// releases during a rolling update) may both own a job for a while: the
// ledger's claim of each fire, with the job's own fencing token, decides.
package spread

import (
	"cmp"
	"hash/fnv"
	"slices"
)

// Job is one job to assign: its name and the group it ranks members by.
type Job struct {
	Name  string
	Group int
}

// Assign returns the owner of each job among members (names, in any
// order; duplicates count once). With no members it returns an empty map.
// No member owns more than ⌈len(jobs)/len(members)⌉ jobs.
func Assign(jobs []Job, members []string) map[string]string {
	members = slices.Compact(slices.Sorted(slices.Values(members)))
	owners := make(map[string]string, len(jobs))
	if len(members) == 0 || len(jobs) == 0 {
		return owners
	}
	order := slices.Clone(jobs)
	slices.SortFunc(order, func(a, b Job) int { return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Name, b.Name)) })
	order = slices.CompactFunc(order, func(a, b Job) bool { return a.Name == b.Name })
	limit := (len(order) + len(members) - 1) / len(members)
	load := make(map[string]int, len(members))
	ranked := make([]string, len(members))
	for i, j := range order {
		if i == 0 || j.Group != order[i-1].Group {
			copy(ranked, members)
			g := j.Group
			slices.SortFunc(ranked, func(a, b string) int { return cmp.Or(cmp.Compare(score(g, b), score(g, a)), cmp.Compare(a, b)) })
		}
		for _, m := range ranked {
			if load[m] < limit {
				owners[j.Name] = m
				load[m]++
				break
			}
		}
	}
	return owners
}

// score ranks member m for group g: a 64-bit hash of both, mixed so that
// nearby groups rank members independently.
func score(g int, m string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(m))
	x := h.Sum64() ^ (uint64(g)+1)*0x9e3779b97f4a7c15
	// splitmix64's finaliser
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
