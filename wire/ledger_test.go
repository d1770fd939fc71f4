package wire_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// A ledger of a newer format is refused with ErrNewerFormat, whatever the
// rest of it holds; one of this format or older, or never written
// (version 0), is read; empty data is no ledger yet; data that is no
// ledger is an error of another kind (ErrNotALedger).
func TestDecodeLedgerVersions(t *testing.T) {
	newer := wire.LedgerFormat + 1
	for _, tt := range []struct {
		name    string
		data    string
		newer   bool // want ErrNewerFormat
		bad     bool // want another error
		version int
	}{
		{name: "this format", data: `{"version":1,"fence":{"scope":"u","n":2}}`, version: 1},
		{name: "never written", data: `{"version":0,"fence":{"scope":"","n":0}}`},
		{name: "never written, with job names", data: `{"version":0,"fence":{"scope":"","n":0},"job_names":["a"]}`},
		{name: "unknown field", data: `{"version":1,"shards":[1,2]}`, version: 1},
		{name: "newer, same shape", data: fmt.Sprintf(`{"version":%d,"fence":{"scope":"u","n":2},"jobs":{}}`, newer), newer: true},
		{name: "newer, new shape", data: fmt.Sprintf(`{"version":%d,"jobs":"a new shape"}`, newer), newer: true},
		{name: "much newer", data: `{"version":99}`, newer: true},
		{name: "not JSON", data: `{not json`, bad: true},
		{name: "empty", data: ``},
		{name: "white space", data: " \n"},
		{name: "no version", data: `{}`, bad: true},
		{name: "version of the wrong type", data: `{"version":"2"}`, bad: true},
		{name: "this format, wrong shape", data: `{"version":1,"jobs":"a new shape"}`, bad: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := wire.DecodeLedger([]byte(tt.data))
			var fe *wire.FormatError
			switch {
			case tt.newer:
				if !errors.Is(err, wire.ErrNewerFormat) || !errors.As(err, &fe) || fe.Version <= wire.LedgerFormat {
					t.Fatalf("err = %v, want a *FormatError wrapping ErrNewerFormat", err)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("format %d", fe.Version)) {
					t.Errorf("message %q does not name the format", err)
				}
			case tt.bad:
				if err == nil || errors.Is(err, wire.ErrNewerFormat) || !errors.Is(err, wire.ErrNotALedger) {
					t.Fatalf("err = %v, want ErrNotALedger", err)
				}
			case err != nil:
				t.Fatal(err)
			case l.Version != tt.version:
				t.Errorf("version %d, want %d", l.Version, tt.version)
			}
		})
	}
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func hour(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }

// Handled: the last claim and the recent claims are handled, a fire
// between recent claims is not, and one before what the ledger remembers
// is (it was never missed, or is beyond reach).
func TestJobStateHandled(t *testing.T) {
	js := &wire.JobState{Claimed: &wire.Claim{At: hour(5)}, Recent: []time.Time{hour(5), hour(3), hour(1)}}
	for _, tt := range []struct {
		js   *wire.JobState
		at   time.Time
		want bool
	}{
		{js, hour(5), true},
		{js, hour(6), false},
		{js, hour(3), true},
		{js, hour(4), false},
		{js, hour(2), false},
		{js, hour(1), true},
		{js, hour(0), true},
		{&wire.JobState{Claimed: &wire.Claim{At: hour(5)}}, hour(4), true},
		{&wire.JobState{}, hour(1), false},
		{nil, hour(1), false},
	} {
		if got := tt.js.Handled(tt.at); got != tt.want {
			t.Errorf("Handled(%v) of %+v = %v, want %v", tt.at.Format(time.Kitchen), tt.js, got, tt.want)
		}
	}
}

func TestRunDone(t *testing.T) {
	var none *wire.Run
	if none.Done() || (&wire.Run{}).Done() || !(&wire.Run{Outcome: "ran"}).Done() {
		t.Error("Done: want false for nil and a run going, true once an outcome is written")
	}
}

func TestRunOutcome(t *testing.T) {
	for _, tt := range []struct {
		o      wire.Outcome
		reason wire.SkipReason
		want   string
	}{
		{wire.OutcomeRan, "", "ran"},
		{wire.OutcomeFailed, "", "failed"},
		{wire.OutcomeSkipped, wire.SkipPaused, "skipped: paused"},
		{wire.OutcomeSkipped, wire.SkipUnknownJob, "skipped: unknown_job"},
		{wire.OutcomeSkipped, "", "skipped"},
		{wire.OutcomeRan, wire.SkipPaused, "ran"}, // a reason only goes with a skip
		{"", "", ""},
	} {
		got := wire.RunOutcome(tt.o, tt.reason)
		if got != tt.want {
			t.Errorf("RunOutcome(%q, %q) = %q, want %q", tt.o, tt.reason, got, tt.want)
		}
		o, reason := wire.ParseRunOutcome(got)
		if wantReason := tt.reason; o != tt.o || (tt.o == wire.OutcomeSkipped && reason != wantReason) || (tt.o != wire.OutcomeSkipped && reason != "") {
			t.Errorf("ParseRunOutcome(%q) = %q, %q", got, o, reason)
		}
	}
}

func TestControlDecoding(t *testing.T) {
	if c, err := wire.DecodeControl(nil); err != nil || c.Paused != nil || c.Runs != nil {
		t.Errorf("no data: %+v, %v", c, err)
	}
	if _, err := wire.DecodeControl([]byte(`{"paused":[]}`)); err == nil {
		t.Error("a control of the wrong shape was read")
	}
	c := wire.Control{Runs: map[string]wire.RunRequest{"r1": {Job: "report", At: t0}}}
	got, err := wire.DecodeControl(must(wire.EncodeControl(c)))
	if err != nil || got.Runs["r1"] != c.Runs["r1"] {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	if b := must(json.Marshal(wire.Control{})); string(b) != `{}` {
		t.Errorf("no request encodes to %s", b)
	}
}

func TestConfigMapNames(t *testing.T) {
	if got := wire.LedgerConfigMap("shop"); got != "shop-leaderjob-ledger" {
		t.Errorf("LedgerConfigMap = %q", got)
	}
	if got := wire.ControlConfigMap("shop"); got != "shop-leaderjob-control" {
		t.Errorf("ControlConfigMap = %q", got)
	}
	labels := wire.Labels(map[string]string{"team": "billing"}, "shop")
	if len(labels) != 3 || labels["team"] != "billing" || labels[wire.LabelManagedBy] != "leaderjob" || labels[wire.LabelApp] != "shop" {
		t.Errorf("Labels = %v", labels)
	}
	if got := wire.Labels(nil, "shop"); len(got) != 2 {
		t.Errorf("Labels(nil) = %v", got)
	}
}
