package wire_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/leaderjob/leaderjob/wire"
)

// Valid JSON that is not a ledger is refused with ErrNotALedger and a
// message that says what is wrong, instead of being read as an empty or
// usable ledger (and overwritten, or read as fires never claimed and run
// again).
func TestDecodeLedgerRefusesHostileContent(t *testing.T) {
	const claim = `"claimed":{"job":"a","at":"2026-11-30T09:00:00Z","claim_id":"p/0"}`
	for _, tt := range []struct {
		name, data, want string
	}{
		{"JSON null", `null`, "JSON null"},
		{"a list", `[{"version":1}]`, "not a JSON object"},
		{"a string", `"ledger"`, "not a JSON object"},
		{"a number", `1`, "not a JSON object"},
		{"no version", `{}`, `no format version`},
		{"version null", `{"version":null,"jobs":{}}`, `no format version`},
		{"another program's object", `{"apiVersion":"v1","kind":"Secret"}`, `no format version`},
		{"negative version", `{"version":-1}`, "negative"},
		{"version 0 with jobs", `{"version":0,"jobs":{"a":{` + claim + `}}}`, "version 0"},
		{"version 0 with runs", `{"version":0,"runs":{"r":{"job":"a"}}}`, "version 0"},
		{"version 0 with pauses", `{"version":0,"paused":{"a":{}}}`, "version 0"},
		{"a job set to null", `{"version":1,"jobs":{"a":null}}`, `job "a" is null`},
		{"a job without a name", `{"version":1,"jobs":{"":{}}}`, "empty name"},
		{"a claim without a fire time", `{"version":1,"jobs":{"a":{"claimed":{"job":"a","claim_id":"p/0"}}}}`, `job "a": its claim has no fire time`},
		{"a claim with a zero fire time", `{"version":1,"jobs":{"a":{"claimed":{"job":"a","at":"0001-01-01T00:00:00Z"}}}}`, "no fire time"},
		{"a claim of another job", `{"version":1,"jobs":{"a":{"claimed":{"job":"b","at":"2026-11-30T09:00:00Z"}}}}`, `names job "b"`},
		{"a claim without a job", `{"version":1,"jobs":{"a":{"claimed":{"at":"2026-11-30T09:00:00Z"}}}}`, `names job ""`},
		{"a completion without a fire time", `{"version":1,"jobs":{"a":{` + claim + `,"completed":{"job":"a","outcome":"ran"}}}}`, "last completion has no fire time"},
		{"a success without a job", `{"version":1,"jobs":{"a":{` + claim + `,"success":{"at":"2026-11-30T09:00:00Z"}}}}`, "last success names"},
		{"a history entry without a fire time", `{"version":1,"jobs":{"a":{` + claim + `,"history":[{"job":"a"}]}}}`, "history entry 0 has no fire time"},
		{"recent fires without a claim", `{"version":1,"jobs":{"a":{"recent":["2026-11-30T09:00:00Z"]}}}`, "no claim"},
		{"a recent fire after the claim", `{"version":1,"jobs":{"a":{` + claim + `,"recent":["2999-01-01T00:00:00Z","2026-11-30T09:00:00Z"]}}}`, "after its claim"},
		{"recent fires out of order", `{"version":1,"jobs":{"a":{` + claim + `,"recent":["2026-11-30T08:00:00Z","2026-11-30T09:00:00Z"]}}}`, "newest first"},
		{"a zero recent fire", `{"version":1,"jobs":{"a":{` + claim + `,"recent":["2026-11-30T09:00:00Z","0001-01-01T00:00:00Z"]}}}`, "has no time"},
		{"a run record set to null", `{"version":1,"runs":{"r1":null}}`, `run record "r1" is null`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := wire.DecodeLedger([]byte(tt.data))
			if !errors.Is(err, wire.ErrNotALedger) {
				t.Fatalf("DecodeLedger = %+v, %v; want ErrNotALedger", l, err)
			}
			if errors.Is(err, wire.ErrNewerFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("message %q does not say %q", err, tt.want)
			}
		})
	}
}

// What this release writes, it reads back; and it writes nothing it would
// refuse: a ledger without a version gets the current one, an invalid one
// is an error.
func TestEncodeLedgerWritesOnlyLedgers(t *testing.T) {
	empty, err := wire.EncodeLedger(wire.Ledger{})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := wire.DecodeLedger(empty); err != nil || l.Version != wire.LedgerFormat {
		t.Errorf("empty ledger %s decodes to %+v, %v", empty, l, err)
	}
	names, _ := wire.EncodeLedger(wire.Ledger{JobNames: []string{"a"}})
	if l, err := wire.DecodeLedger(names); err != nil || l.JobNames[0] != "a" {
		t.Errorf("%s decodes to %+v, %v", names, l, err)
	}
	if b, err := wire.EncodeLedger(wire.Ledger{Version: 1, Jobs: map[string]*wire.JobState{"a": nil}}); !errors.Is(err, wire.ErrNotALedger) {
		t.Errorf("a null job encoded to %s, %v", b, err)
	}
	if b, err := wire.EncodeLedger(wire.Ledger{Version: -3}); !errors.Is(err, wire.ErrNotALedger) {
		t.Errorf("a negative version encoded to %s, %v", b, err)
	}
}
