package ledger

import (
	"slices"
	"strings"
	"time"
)

// ReleasesKept is how many releases' records of one one-shot job a State
// keeps (PruneReleases). A one-shot job's fire is recorded per release
// ("<job>@<version>"); rolling back to a release older than the newest
// ReleasesKept runs its one-shot jobs again, as a first deploy of it would.
const ReleasesKept = 32

// IdleGrace is how long the record of a job the App no longer schedules
// is kept (PruneIdle): a rollback within it finds the job's fires handled.
const IdleGrace = 30 * 24 * time.Hour

// PruneReleases keeps the records of the newest ReleasesKept releases of
// one-shot job name (the records "<name>@<version>", newest by when they
// were claimed) and drops the others. It reports whether s changed.
func (s *State) PruneReleases(name string) bool {
	type rec struct {
		key string
		at  time.Time
	}
	var recs []rec
	for key, js := range s.Jobs {
		if v, ok := strings.CutPrefix(key, name+"@"); ok && v != "" && js != nil {
			recs = append(recs, rec{key, lastActive(js)})
		}
	}
	if len(recs) <= ReleasesKept {
		return false
	}
	slices.SortFunc(recs, func(a, b rec) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	for _, r := range recs[ReleasesKept:] {
		delete(s.Jobs, r.key)
	}
	return true
}

// PruneIdle drops the records of the jobs for which scheduled reports
// false (one-shot records "<job>@<version>" are asked by their job's name)
// and that nothing claimed or completed since before now − IdleGrace. It
// reports whether s changed.
func (s *State) PruneIdle(scheduled func(job string) bool, now time.Time) bool {
	changed := false
	for key, js := range s.Jobs {
		name, _, _ := strings.Cut(key, "@")
		if scheduled(name) || js == nil || !lastActive(js).Before(now.Add(-IdleGrace)) {
			continue
		}
		delete(s.Jobs, key)
		changed = true
	}
	return changed
}

// lastActive is when js was last claimed or completed, by the writers'
// clocks.
func lastActive(js *JobState) time.Time {
	var t time.Time
	if js.Claimed != nil {
		t = js.Claimed.Claimed
	}
	if js.Completed != nil && js.Completed.Ended.After(t) {
		t = js.Completed.Ended
	}
	return t
}
