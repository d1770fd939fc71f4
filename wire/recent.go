package wire

import (
	"encoding/json"
	"fmt"
	"time"
)

// A JobState's Recent is stored compactly, under the key "recent_ns": the
// first number is how many nanoseconds the newest recent fire lies before
// the claim, each next one how many before the previous fire (a
// per-second job's 128 fires take about 1.4 KB instead of 4.7 KB as
// timestamps). The key "recent" (a list of RFC 3339 timestamps, as the
// first releases wrote) is still read. A release that knows only "recent"
// reads a record written so as one without recent fires: it takes fires
// older than the claim for handled, and never runs them twice.

type jobStateJSON JobState

type jobStateStored struct {
	*jobStateJSON
	Recent   []time.Time `json:"recent,omitempty"`
	RecentNS []int64     `json:"recent_ns,omitempty"`
}

// stored is js as the ledger stores it: Recent as "recent_ns".
func stored(js *JobState) jobStateStored {
	if js == nil {
		return jobStateStored{}
	}
	c := jobStateJSON(*js)
	out := jobStateStored{jobStateJSON: &c}
	c.Recent = nil
	if len(js.Recent) > 0 && js.Claimed != nil {
		prev := js.Claimed.At
		out.RecentNS = make([]int64, len(js.Recent))
		for i, t := range js.Recent {
			out.RecentNS[i] = int64(prev.Sub(t))
			prev = t
		}
	} else if len(js.Recent) > 0 {
		out.Recent = js.Recent // no claim to count from: Validate refuses it anyway
	}
	return out
}

// UnmarshalJSON reads a job's record with either encoding of Recent.
func (s *jobStateStored) UnmarshalJSON(data []byte) error {
	var c jobStateJSON
	type plain jobStateStored
	in := plain{jobStateJSON: &c}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	if len(in.RecentNS) > 0 {
		if c.Claimed == nil {
			return fmt.Errorf("recent fires (recent_ns) without a claim")
		}
		in.Recent = make([]time.Time, len(in.RecentNS))
		prev := c.Claimed.At
		for i, d := range in.RecentNS {
			prev = prev.Add(-time.Duration(d))
			in.Recent[i] = prev
		}
	}
	c.Recent = in.Recent
	*s = jobStateStored{jobStateJSON: &c}
	return nil
}

type ledgerJSON Ledger

type ledgerStored struct {
	*ledgerJSON
	Jobs map[string]*jobStateStored `json:"jobs,omitempty"`
}

// MarshalJSON writes l as stored: each job's Recent as "recent_ns".
func (l Ledger) MarshalJSON() ([]byte, error) {
	c := ledgerJSON(l)
	out := ledgerStored{ledgerJSON: &c}
	if l.Jobs != nil {
		out.Jobs = make(map[string]*jobStateStored, len(l.Jobs))
		for name, js := range l.Jobs {
			if js == nil {
				out.Jobs[name] = nil
				continue
			}
			st := stored(js)
			out.Jobs[name] = &st
		}
	}
	c.Jobs = nil
	return json.Marshal(out)
}

// UnmarshalJSON reads l with either encoding of each job's Recent.
func (l *Ledger) UnmarshalJSON(data []byte) error {
	var c ledgerJSON
	in := ledgerStored{ledgerJSON: &c}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*l = Ledger(c)
	l.Jobs = nil
	if in.Jobs != nil {
		l.Jobs = make(map[string]*JobState, len(in.Jobs))
		for name, st := range in.Jobs {
			if st == nil || st.jobStateJSON == nil {
				l.Jobs[name] = nil // Validate refuses it
				continue
			}
			l.Jobs[name] = (*JobState)(st.jobStateJSON)
		}
	}
	return nil
}
