package leaderjob

import (
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/ledger"
)

// unsureClaims are the fires this process skipped because the ledger did
// not answer their claim (ledger_unavailable), though the claim may have
// been written all the same (a write that ended after the caller's
// deadline). Such a claim is this term's, so a catch-up would take it for
// a run of its own that went, and never run the fire. The catch-up plans
// them as missed instead; a claim with the same id then succeeds (the
// ledger's rule for a retried claim), and the fire runs once.
type unsureClaims struct {
	mu    sync.Mutex
	fires map[string]map[int64]string // ledger job → fire (Unix ns) → claim id
}

// maxUnsure bounds the fires kept per job (the oldest go first): a
// catch-up runs at most maxCatchUp of a job's missed fires anyway.
const maxUnsure = maxCatchUp

// add notes that the claim of job's fire at, with id, may be written.
func (u *unsureClaims) add(job string, at time.Time, id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fires == nil {
		u.fires = map[string]map[int64]string{}
	}
	m := u.fires[job]
	if m == nil {
		m = map[int64]string{}
		u.fires[job] = m
	}
	m[at.UnixNano()] = id
	for len(m) > maxUnsure {
		oldest := int64(0)
		for k := range m {
			if oldest == 0 || k < oldest {
				oldest = k
			}
		}
		delete(m, oldest)
	}
}

// done forgets job's fire at: its claim succeeded.
func (u *unsureClaims) done(job string, at time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if m := u.fires[job]; m != nil {
		delete(m, at.UnixNano())
		if len(m) == 0 {
			delete(u.fires, job)
		}
	}
}

// view returns js as the catch-up is to plan it: a claim of one of job's
// unsure fires, made with the id noted, is shown as no run of this term's
// (its claim id cleared), so that the fire counts as missed. js itself is
// not changed.
func (u *unsureClaims) view(job string, js *ledger.JobState) *ledger.JobState {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.fires[job]
	if js == nil || len(m) == 0 {
		return js
	}
	unsure := func(c ledger.Claim) bool {
		id, ok := m[c.At.UnixNano()]
		return ok && id == c.ClaimID
	}
	out := *js
	if c := js.Claimed; c != nil && unsure(*c) {
		cc := *c
		cc.ClaimID = ""
		out.Claimed = &cc
	}
	if len(js.Open) > 0 {
		out.Open = make([]ledger.Claim, len(js.Open))
		for i, o := range js.Open {
			if unsure(o) {
				o.ClaimID = ""
			}
			out.Open[i] = o
		}
	}
	return &out
}
