package wire_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// Every sample answer of testdata/sidecar (real sidecars, broken ones and
// other servers) is read as the sidecar guard needs: the variants of the
// protocol are accepted, the others refused with a message that says what
// the body is.
func TestParseAnswerSamples(t *testing.T) {
	updated := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		file    string
		name    string
		err     error  // nil, wire.ErrNoLeader or wire.ErrMalformedAnswer
		what    string // in the error's What
		notJSON bool
		updated time.Time
	}{
		{file: "original.json", name: "pod-a"},
		{file: "other-pod.json", name: "pod-b"},
		{file: "prefix-of-self.json", name: "pod-a-7d9f"},
		{file: "pretty.json", name: "pod-a"},
		{file: "last-update.json", name: "pod-a", updated: updated},
		{file: "last-update-offset.json", name: "pod-a", updated: updated.Add(123456 * time.Microsecond)},
		{file: "empty-object.json", err: wire.ErrNoLeader, what: "no name field"},
		{file: "blank-name.json", err: wire.ErrNoLeader, what: `{"name":""}`},
		{file: "null-name.json", err: wire.ErrNoLeader},
		{file: "no-name-with-last-update.json", err: wire.ErrNoLeader, updated: updated},
		{file: "truncated.json", err: wire.ErrMalformedAnswer, what: "not valid JSON", notJSON: true},
		{file: "trailing-garbage.json", err: wire.ErrMalformedAnswer, what: "trailing data"},
		{file: "name-number.json", err: wire.ErrMalformedAnswer, what: `name is "42", want a JSON string`},
		{file: "duplicate-name.json", err: wire.ErrMalformedAnswer, what: `"name" appears twice`},
		{file: "bad-last-update.json", err: wire.ErrMalformedAnswer, what: "not an RFC 3339 time"},
		{file: "is-leader.json", err: wire.ErrMalformedAnswer, what: "/isLeader path"},
		{file: "leader-field.json", err: wire.ErrMalformedAnswer, what: `has "leader" but no "name"`},
		{file: "invalid-utf8.json", err: wire.ErrMalformedAnswer, what: "not valid UTF-8", notJSON: true},
		{file: "array.json", err: wire.ErrMalformedAnswer, what: "not a JSON object", notJSON: true},
		{file: "plain-name.txt", err: wire.ErrMalformedAnswer, what: "not a JSON object", notJSON: true},
		{file: "html-404.html", err: wire.ErrMalformedAnswer, what: "not a JSON object", notJSON: true},
		{file: "html-200.html", err: wire.ErrMalformedAnswer, what: "not a JSON object", notJSON: true},
	} {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("..", "testdata", "sidecar", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			l, err := wire.ParseAnswer(body)
			if tt.err == nil {
				if err != nil || l.Name != tt.name || !l.LastUpdate.Equal(tt.updated) {
					t.Fatalf("ParseAnswer = %+v, %v; want name %q, last update %v", l, err, tt.name, tt.updated)
				}
				return
			}
			var ae *wire.AnswerError
			if !errors.Is(err, tt.err) || !errors.As(err, &ae) {
				t.Fatalf("ParseAnswer = %+v, %v; want an *AnswerError wrapping %v", l, err, tt.err)
			}
			if !strings.Contains(ae.What, tt.what) || ae.NotJSON != tt.notJSON || len(ae.Error()) > 600 {
				t.Errorf("error %q (not JSON: %v); want it to contain %q (not JSON: %v)", ae, ae.NotJSON, tt.what, tt.notJSON)
			}
			if l.Name != "" || (tt.err == wire.ErrMalformedAnswer && l != (wire.Leader{})) || !l.LastUpdate.Equal(tt.updated) {
				t.Errorf("Leader %+v along with %v", l, err)
			}
		})
	}
}

// The fields of leaderjob-elector are read when present and of the right
// type; one of the wrong type makes the answer malformed.
func TestParseAnswerElectorFields(t *testing.T) {
	l, err := wire.ParseAnswer([]byte(`{"name":"","self":"pod-b","is_leader":false,"reason":"stale","error":"the Lease was last seen 20s ago","epoch":null}`))
	if !errors.Is(err, wire.ErrNoLeader) || l.Reason != wire.AnswerStale || l.Self != "pod-b" || !l.HasIsLeader || l.HasEpoch ||
		!strings.Contains(err.Error(), "last seen 20s ago") {
		t.Errorf("no leader: %+v, %v", l, err)
	}
	l, err = wire.ParseAnswer([]byte(`{"name":"pod-a","epoch":4,"epoch_scope":"lease-uid"}`))
	if err != nil || l.Epoch != 4 || l.EpochScope != "lease-uid" {
		t.Errorf("epoch and its scope: %+v, %v", l, err)
	}
	l, err = wire.ParseAnswer([]byte(`{"name":"pod-a","reason":"` + strings.Repeat("r", wire.MaxNameBytes+10) + `"}`))
	if err != nil || len(l.Reason) != wire.MaxNameBytes {
		t.Errorf("a long reason is cut to MaxNameBytes: %d bytes, %v", len(l.Reason), err)
	}
	for _, body := range []string{
		`{"name":"a","epoch":"3"}`, `{"name":"a","epoch":-1}`, `{"name":"a","is_leader":"yes"}`,
		`{"name":"a","lease_expires":"soon"}`, `{"name":"a","self":3}`, `{"name":"a","reason":true}`, `{"name":"a","epoch_scope":7}`,
	} {
		if _, err := wire.ParseAnswer([]byte(body)); !errors.Is(err, wire.ErrMalformedAnswer) {
			t.Errorf("%s: %v, want malformed", body, err)
		}
	}
}
