package wire_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/leaderjob/leaderjob/wire"
)

// golden reads testdata/name, compacted.
func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return buf.Bytes()
}

// strict decodes data into v, refusing fields v does not have, so that a
// golden file cannot hold a field the type lost.
func strict(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatal(err)
	}
}

// Each document decodes from its golden file and encodes back to the same
// bytes (field names, order, omitted zero values): a change of shape shows
// here first.
func TestGoldenRoundTrips(t *testing.T) {
	for _, tt := range []struct {
		file   string
		v      any
		encode func(v any) ([]byte, error)
	}{
		{"ledger.json", &wire.Ledger{}, func(v any) ([]byte, error) { return wire.EncodeLedger(*v.(*wire.Ledger)) }},
		{"control.json", &wire.Control{}, func(v any) ([]byte, error) { return wire.EncodeControl(*v.(*wire.Control)) }},
		{"answer.json", &wire.Answer{}, json.Marshal},
		{"answer-no-leader.json", &wire.Answer{}, json.Marshal},
		{"jobs.json", &wire.JobsResponse{}, json.Marshal},
	} {
		t.Run(tt.file, func(t *testing.T) {
			want := golden(t, tt.file)
			strict(t, want, tt.v)
			got, err := tt.encode(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encoded:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// DecodeLedger reads what EncodeLedger wrote, field for field.
func TestLedgerDecodesItsEncoding(t *testing.T) {
	data := golden(t, "ledger.json")
	l, err := wire.DecodeLedger(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := wire.DecodeLedger(must(wire.EncodeLedger(l)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l, again) {
		t.Errorf("round trip:\n%+v\nwant:\n%+v", again, l)
	}
	if l.Version != wire.LedgerFormat || l.Jobs["report"].Completed.Outcome != string(wire.OutcomeFailed) || !l.Runs["r1"].Done() || l.Runs["r2"].Done() {
		t.Errorf("decoded %+v", l)
	}
}

// The App's /leader answer and leaderjob-elector's answer are read by the
// same parser they are written for.
func TestAnswerReadsBack(t *testing.T) {
	for _, file := range []string{"answer.json", "answer-no-leader.json"} {
		var a wire.Answer
		strict(t, golden(t, file), &a)
		l, err := wire.ParseAnswer(must(json.Marshal(a)))
		if (err != nil) != (a.Name == "") {
			t.Fatalf("%s: %v", file, err)
		}
		if l.Name != a.Name || l.Self != a.Self || l.Reason != a.Reason || l.Error != a.Error ||
			!l.HasIsLeader || l.IsLeader != a.IsLeader || l.HasEpoch != (a.Epoch != nil) ||
			(a.Epoch != nil && l.Epoch != *a.Epoch) ||
			(a.LastUpdate != "" && wire.Timestamp(l.LastUpdate) != a.LastUpdate) ||
			(a.LeaseExpires != "" && wire.Timestamp(l.LeaseExpires) != a.LeaseExpires) {
			t.Errorf("%s: read %+v from %+v", file, l, a)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// A ledger whose recent fires are stored as timestamps (the key "recent",
// as the first releases wrote it) reads as the same ledger as one stored
// compactly ("recent_ns"), and is written compactly.
func TestLedgerReadsTimestampRecent(t *testing.T) {
	old, err := wire.DecodeLedger(golden(t, "ledger-v1-recent.json"))
	if err != nil {
		t.Fatal(err)
	}
	now, err := wire.DecodeLedger(golden(t, "ledger.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(old, now) {
		t.Errorf("read differently:\n%+v\n%+v", old.Jobs["report"], now.Jobs["report"])
	}
	if got := old.Jobs["report"].Recent; len(got) != 2 {
		t.Fatalf("recent fires %v, want 2", got)
	}
	b, err := wire.EncodeLedger(old)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, golden(t, "ledger.json")) {
		t.Errorf("written as\n%s\nwant\n%s", b, golden(t, "ledger.json"))
	}
}
