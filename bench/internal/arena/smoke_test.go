package arena

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/bench/internal/report"
	"github.com/leaderjob/leaderjob/internal/rig/controlplane"
	"github.com/leaderjob/leaderjob/internal/rig/pinned"
)

var cp controlplane.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	cp.Stop()
	os.Exit(code)
}

// A short run of the comparison's machinery on the real apiserver: the
// leaderjob contender's three replicas (separate processes, each behind
// its counting proxy) through steady state and a SIGKILL of the leader,
// with fast election timings; then the table and the picture. Without the
// control plane's binaries it skips, and fails under CI=true (see
// controlplane.Shared). make bench runs the full comparison.
func TestSmoke(t *testing.T) {
	c := cp.Get(t)
	root, err := pinned.Root()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	contender, elector, err := Build(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	sched := Schedule{Timings: Timings{Lease: 3 * time.Second, Renew: 2 * time.Second, Retry: 500 * time.Millisecond}, Grace: 10 * time.Second, Scale: 0.2}
	b := &Bench{ContenderBin: contender, ElectorBin: elector, LibraryDir: root, ControlPlane: c,
		Schedule: sched, Work: 200 * time.Millisecond, Dir: dir, Logf: t.Logf}
	var faults []Fault
	for _, f := range Faults(sched) {
		if f.ID == "steady" || f.ID == "sigkill" {
			faults = append(faults, f)
		}
	}
	res := b.Run(context.Background(), Contenders()[0], faults)
	if res.Status != report.StatusOK {
		t.Fatalf("%s: %s: %s", res.Label, res.Status, res.Detail)
	}
	if len(res.Segments) != 2 {
		t.Fatalf("%d segments; want 2", len(res.Segments))
	}
	steady, kill := res.Segments[0], res.Segments[1]
	if f := steady.Figures; f.Fires < 4 || len(f.Lost) > 0 || len(f.Doubled) > 0 || f.Overlaps > 0 {
		t.Errorf("steady state: %d fires, lost %v, doubled %v, %d overlaps; want every fire run once", f.Fires, f.Lost, f.Doubled, f.Overlaps)
	}
	if steady.Requests <= 0 || steady.Busiest < steady.Requests {
		t.Errorf("requests per replica per minute: mean %.1f, busiest %.1f; want some, the busiest at least the mean", steady.Requests, steady.Busiest)
	}
	if f := kill.Figures; len(kill.Events) != 1 || f.NoNextRun || f.NextRun <= 0 || len(f.Doubled) > 0 {
		t.Errorf("SIGKILL: events %v, next run %v (none: %v), doubled %v; want one event, a next run, no doubles", kill.Events, f.NextRun, f.NoNextRun, f.Doubled)
	}
	if len(res.Replicas) != Replicas+1 {
		t.Errorf("%d replicas; want %d and the replacement", len(res.Replicas), Replicas)
	}
	t.Logf("steady: %d runs, %.0f requests/replica/min; SIGKILL: next run after %v, %d lost", steady.Figures.Runs, steady.Requests, kill.Figures.NextRun, len(kill.Figures.Lost))

	r := &report.Result{Command: "make bench", Entries: []*report.Contender{res}, Settings: report.Settings{Replicas: Replicas}}
	for _, f := range faults {
		r.Faults = append(r.Faults, report.Fault{ID: f.ID, Label: f.Label, What: f.What})
	}
	var md, svg bytes.Buffer
	if err := report.Markdown(&md, r, "timeline.svg"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md.Bytes(), []byte("| leaderjob (lease) |")) {
		t.Errorf("the table has no row of the contender:\n%s", md.String())
	}
	if err := report.SVG(&svg, r); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&svg)
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the picture is not well-formed XML: %v", err)
		}
	}
}
