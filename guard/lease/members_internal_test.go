package lease

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// The members a spread replica counts: records that carry an incarnation
// (a replica that keeps a hand-off record only is no member), joining
// until seen to change (a joiner counts itself from its second write),
// until they stay unchanged for a LeaseDuration; with their tags.
func TestMembersCountedFromRecords(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
	g := &Guard{clock: clk, self: "a"}
	g.cfg.leaseDuration, g.cfg.renewDeadline, g.cfg.retryPeriod = 15*time.Second, 10*time.Second, 2*time.Second
	g.cfg.membership, g.cfg.incarnation = true, "INC-A"
	g.handoff = handoff{g: g, release: "v2"}
	g.handoff.members.h = &g.handoff
	m := &g.handoff.members
	m.SetTag("jobs1")
	single := formatCandidate(clk.Now(), "v1", "", "") // hand-off only
	observe := func(b string) {
		now := clk.Now()
		ann := map[string]string{
			CandidateAnnotationPrefix + "a":      formatCandidate(now, "v2", "INC-A", "jobs1"),
			CandidateAnnotationPrefix + "single": single,
		}
		if b != "" {
			ann[CandidateAnnotationPrefix+"b"] = b
		}
		m.observe(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Annotations: ann}}, nil, true, now)
	}
	names := func() []string {
		live, _ := m.Members()
		var out []string
		for _, l := range live {
			j := ""
			if l.Joining {
				j = "/joining"
			}
			if l.Fresh {
				j += "/fresh"
			}
			out = append(out, l.Name+"/"+l.Incarnation+"/"+l.Tag+j)
		}
		return out
	}
	observe(formatCandidate(clk.Now(), "v2", "INC-B", "jobs2"))
	if _, member := m.Members(); member {
		t.Error("a member after its first write")
	}
	if got := names(); len(got) != 1 || got[0] != "b/INC-B/jobs2/joining" {
		t.Errorf("after one sighting each: %v, want b alone, joining (a's first write; b not seen to keep its record)", got)
	}
	clk.Step(2 * time.Second)
	observe(formatCandidate(clk.Now(), "v2", "INC-B", "jobs2"))
	if got := names(); len(got) != 2 || got[0] != "a/INC-A/jobs1/fresh" || got[1] != "b/INC-B/jobs2/fresh" {
		t.Errorf("after two writes each: %v, want a and b with their incarnations and tags, not the hand-off-only replica", got)
	}
	last := formatCandidate(clk.Now(), "v2", "INC-B", "jobs2")
	for range 8 { // b stops writing
		clk.Step(2 * time.Second)
		observe(last)
	}
	if got := names(); len(got) != 1 {
		t.Errorf("b's record unchanged for 16s (lease 15s): %v, want a alone", got)
	}
}
