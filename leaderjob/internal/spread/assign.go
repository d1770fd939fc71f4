// Package spread gives each job of an App one owner among the live
// members of its fleet (spread mode), the same on every member that sees
// the same members and jobs.
//
// Jobs come in groups (the ledger object that records them), and a group
// goes whole to one member where the bound allows, so that each ledger
// object has one writer and the owners' writes do not conflict. The
// assignment is rendezvous hashing with bounded load: each group, largest
// first, goes to the member that ranks highest for it among those it
// still fits, the bound being max(⌈J/N⌉, ⌊1.5·J/N⌋) jobs of J over N
// members; a group that fits no member is split, job by job, the same
// way. Rendezvous keeps moves few: when a member leaves, its groups go to
// their next-ranked members and most others stay; when one joins, it takes
// the groups it ranks first for, as far as the bound allows.
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

// Limit is the most jobs of jobs one of members members owns.
func Limit(jobs, members int) int {
	if members <= 0 {
		return 0
	}
	return max((jobs+members-1)/members, jobs*3/(2*members))
}

// Assign returns the owner of each job among members (names, in any
// order; duplicates count once). With no members it returns an empty map.
// No member owns more than Limit(len(jobs), len(members)) jobs.
func Assign(jobs []Job, members []string) map[string]string {
	members = slices.Compact(slices.Sorted(slices.Values(members)))
	owners := make(map[string]string, len(jobs))
	if len(members) == 0 || len(jobs) == 0 {
		return owners
	}
	groups := map[int][]string{}
	for _, j := range jobs {
		groups[j.Group] = append(groups[j.Group], j.Name)
	}
	ids := make([]int, 0, len(groups))
	total := 0
	for g, names := range groups {
		slices.Sort(names)
		groups[g] = slices.Compact(names)
		total += len(groups[g])
		ids = append(ids, g)
	}
	// Largest first (first-fit decreasing packs tightest), then by id.
	slices.SortFunc(ids, func(a, b int) int { return cmp.Or(cmp.Compare(len(groups[b]), len(groups[a])), cmp.Compare(a, b)) })
	limit := Limit(total, len(members))
	load := make(map[string]int, len(members))
	ranked := make([]string, len(members))
	for _, g := range ids {
		names := groups[g]
		copy(ranked, members)
		slices.SortFunc(ranked, func(a, b string) int { return cmp.Or(cmp.Compare(score(g, b), score(g, a)), cmp.Compare(a, b)) })
		if i := slices.IndexFunc(ranked, func(m string) bool { return load[m]+len(names) <= limit }); i >= 0 {
			for _, n := range names {
				owners[n] = ranked[i]
			}
			load[ranked[i]] += len(names)
			continue
		}
		for _, n := range names {
			for _, m := range ranked {
				if load[m] < limit {
					owners[n] = m
					load[m]++
					break
				}
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
