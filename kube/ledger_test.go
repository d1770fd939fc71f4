package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/ledger"
	"github.com/leaderjob/leaderjob/wire"
)

// fullState returns a State of n jobs, each with a claim, the last
// completion and success whose errors are errLen bytes long,
// ledger.HistoryLen completions (their errors cut to
// ledger.HistoryErrorLen) and ledger.RecentLen recent fires a minute
// apart.
func fullState(n, errLen int) ledger.State {
	at := time.Date(2026, 11, 30, 8, 0, 0, 123456789, time.UTC)
	s := ledger.State{Version: ledger.FormatVersion, Fence: ledger.Epoch{Scope: "6f1c2a4e-8d3b-4f7a-9c21-0e5d7b3a9f10", N: 12}, Jobs: map[string]*ledger.JobState{}}
	for j := range n {
		job := fmt.Sprintf("billing.reports.nightly-export-%02d", j)
		c := ledger.Completion{Job: job, At: at, ClaimID: "monolith-7c9d8f6b5-x2k4q/0123456789abcdef", Holder: "monolith-7c9d8f6b5-x2k4q",
			Outcome: "failed", Duration: 1234567891 * time.Nanosecond, Error: strings.Repeat("e", errLen), Ended: at.Add(time.Second)}
		js := &ledger.JobState{
			Claimed: &ledger.Claim{Job: job, At: at, Key: job + "@" + at.Format(time.RFC3339Nano), Epoch: s.Fence,
				ClaimID: c.ClaimID, Holder: c.Holder, Claimed: at},
			Completed: &c, Success: &c,
		}
		h := c
		h.Error = h.Error[:min(len(h.Error), ledger.HistoryErrorLen)] // as the rule stores it
		for range ledger.HistoryLen {
			js.History = append(js.History, h)
		}
		for i := range ledger.RecentLen {
			js.Recent = append(js.Recent, at.Add(-time.Duration(i)*time.Minute))
		}
		s.Jobs[job] = js
	}
	return s
}

// The documented sizes of a full ledger (see ConfigMapBackend).
func TestLedgerEncodedSize(t *testing.T) {
	for _, errLen := range []int{0, ledger.MaxErrorLen} {
		data, err := wire.EncodeLedger(wire.Ledger(fullState(50, errLen)))
		if err != nil {
			t.Fatal(err)
		}
		per := len(data) / 50
		t.Logf("50 jobs, full history, errors of %d bytes: %d bytes (%.1f KiB/job): %d jobs fit in %d KiB",
			errLen, len(data), float64(per)/1024, DefaultLedgerMaxBytes/per, DefaultLedgerMaxBytes>>10)
		// The figures documented on ConfigMapBackend.
		want := map[int]int{0: 52, ledger.MaxErrorLen: 40}[errLen]
		if got := DefaultLedgerMaxBytes / per; got < want {
			t.Errorf("%d jobs fit, the documentation says %d", got, want)
		}
	}
}

// A State over the limit is refused before any request.
func TestStoreRefusesTooLargeWithoutARequest(t *testing.T) {
	b, err := NewConfigMapBackend(&rest.Config{Host: "https://127.0.0.1:1"}, "ns", "app", WithLedgerMaxBytes(10<<10))
	if err != nil {
		t.Fatal(err)
	}
	err = b.Store(context.Background(), fullState(10, 0), "")
	if !errors.Is(err, ledger.ErrTooLarge) || !strings.Contains(err.Error(), "10 jobs") {
		t.Errorf("Store = %v, want ErrTooLarge naming the jobs", err)
	}
	if n := b.Requests(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestDecode(t *testing.T) {
	b, err := NewConfigMapBackend(&rest.Config{Host: "https://127.0.0.1:1"}, "ns", "app")
	if err != nil {
		t.Fatal(err)
	}
	cm := func(data string) *corev1.ConfigMap {
		c := &corev1.ConfigMap{Data: map[string]string{LedgerDataKey: data}}
		c.ResourceVersion = "7"
		return c
	}
	if s, v, err := b.decode(nil); err != nil || v != "" || s.Jobs != nil {
		t.Errorf("absent: %+v %q %v", s, v, err)
	}
	if _, v, err := b.decode(&corev1.ConfigMap{}); err != nil || v != "" {
		t.Errorf("no key: %q %v", v, err)
	}
	if _, _, err := b.decode(cm("{not json")); !errors.Is(err, ledger.ErrCorrupt) || !strings.Contains(err.Error(), "kubectl delete configmap -n ns app-leaderjob-ledger") {
		t.Errorf("garbage: %v", err)
	}
	if s, v, err := b.decode(cm("")); err != nil || v != "7" || s.Jobs != nil {
		t.Errorf("empty value: %+v %q %v, want an empty ledger at its version", s, v, err)
	}
	if _, _, err := b.decode(cm(`{"version":99,"jobs":"a new shape"}`)); !errors.Is(err, ledger.ErrNewerFormat) {
		t.Errorf("newer: %v", err)
	}
	if err := b.Store(context.Background(), ledger.State{Version: 1}, "7"); !errors.Is(err, ledger.ErrNewerFormat) {
		t.Errorf("Store over a refused version = %v", err)
	}
	if s, v, err := b.decode(cm(`{"version":1,"fence":{"scope":"u","n":3}}`)); err != nil || v != "7" || s.Fence.N != 3 {
		t.Errorf("good: %+v %q %v", s, v, err)
	}
}

func TestLedgerEncodedSizeOfAFreshJob(t *testing.T) {
	s := fullState(1, 0)
	for _, js := range s.Jobs {
		js.Completed, js.Success, js.History, js.Recent = nil, nil, nil, nil
	}
	data, _ := wire.EncodeLedger(wire.Ledger(s))
	t.Logf("one job with a claim only: %d bytes", len(data))
	if len(data) > 512 {
		t.Errorf("a fresh job takes %d bytes, the documentation says about 0.5 KiB", len(data))
	}
}

// An apiserver out of reach is ErrUnavailable, not a forbidden or corrupt
// ledger.
func TestLedgerUnreachable(t *testing.T) {
	b, err := NewConfigMapBackend(&rest.Config{Host: "https://127.0.0.1:1"}, "ns", "app")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := b.Load(ctx); !errors.Is(err, ledger.ErrUnavailable) || errors.Is(err, ledger.ErrCorrupt) {
		t.Errorf("Load = %v, want ErrUnavailable", err)
	}
	if err := b.Store(ctx, ledger.State{Version: 1}, ""); !errors.Is(err, ledger.ErrUnavailable) {
		t.Errorf("Store = %v, want ErrUnavailable", err)
	}
}

// Valid JSON that is not a ledger takes the corrupt path: refused with
// what is wrong and how to recover, and that version is not overwritten.
func TestDecodeRefusesHostileContent(t *testing.T) {
	for _, data := range []string{
		`null`,
		`{}`,
		`{"version":-1}`,
		`{"version":1,"jobs":{"report":null}}`,
		`{"version":1,"runs":{"r1":null}}`,
		`{"version":1,"jobs":{"report":{"claimed":{"job":"report","claim_id":"p/0"}}}}`,
	} {
		b, err := NewConfigMapBackend(&rest.Config{Host: "https://127.0.0.1:1"}, "ns", "app")
		if err != nil {
			t.Fatal(err)
		}
		c := &corev1.ConfigMap{Data: map[string]string{LedgerDataKey: data}}
		c.ResourceVersion = "7"
		_, _, err = b.decode(c)
		if !errors.Is(err, ledger.ErrCorrupt) || !errors.Is(err, wire.ErrNotALedger) ||
			!strings.Contains(err.Error(), "not overwritten") || !strings.Contains(err.Error(), "kubectl delete configmap -n ns app-leaderjob-ledger") {
			t.Errorf("%s: %v, want ErrCorrupt wrapping wire.ErrNotALedger, with the fix", data, err)
		}
		if err := b.Store(context.Background(), ledger.State{Version: 1}, "7"); !errors.Is(err, ledger.ErrCorrupt) {
			t.Errorf("%s: Store over it = %v, want ErrCorrupt", data, err)
		}
		if n := b.Requests(); n != 0 {
			t.Errorf("%s: %d requests", data, n)
		}
	}
}
