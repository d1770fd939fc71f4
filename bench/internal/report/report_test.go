package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/bench/internal/runs"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)

// runRecord is a run record line as the contenders log it.
func runRecord(slot time.Time, lateBy time.Duration) string {
	start := slot.Add(lateBy)
	return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"job run","job":"tick","outcome":"ran","duration":100000000,"holder":"x","scheduled_at":%q}`,
		start.Add(100*time.Millisecond).Format(time.RFC3339Nano), slot.Format(time.RFC3339Nano))
}

// contender builds a contender's result from synthetic log lines: r1 runs
// fires 0–9 of each segment, except that fire 3 of the second segment is
// lost; when doubling, r2 also runs fire 5 of the second segment.
func contender(t *testing.T, id string, doubling bool, requests float64) *Contender {
	t.Helper()
	c := &Contender{ID: id, Label: id, How: "how " + id, Status: StatusOK, Start: t0, End: t0.Add(30 * time.Second)}
	c.Replicas = []ReplicaSpan{{Name: "r1", Release: "v1", Start: t0.Add(-5 * time.Second)}, {Name: "r2", Release: "v1", Start: t0.Add(-5 * time.Second)}}
	logs := map[string][]string{}
	for seg := range 2 {
		from := t0.Add(time.Duration(seg) * 10 * time.Second)
		for i := range 10 {
			if seg == 1 && i == 3 {
				continue
			}
			logs["r1"] = append(logs["r1"], runRecord(from.Add(time.Duration(i)*time.Second), 3*time.Millisecond))
		}
		if seg == 1 && doubling {
			logs["r2"] = append(logs["r2"], runRecord(from.Add(5*time.Second), 20*time.Millisecond))
		}
	}
	for replica, lines := range logs {
		for _, l := range lines {
			rec, ok := runs.Parse([]byte(l))
			if !ok {
				t.Fatalf("unparsed: %s", l)
			}
			if r, ok := runs.RunOf(replica, rec); ok {
				c.Runs = append(c.Runs, r)
			}
		}
	}
	for seg, fault := range []string{"steady", "sigkill"} {
		w := runs.Window{From: t0.Add(time.Duration(seg) * 10 * time.Second), To: t0.Add(time.Duration(seg+1) * 10 * time.Second)}
		var events []runs.Event
		if fault == "sigkill" {
			events = []runs.Event{{At: w.From.Add(2050 * time.Millisecond), Replica: "r2"}}
		}
		c.Segments = append(c.Segments, Segment{Fault: fault, Window: w, Events: events,
			Figures: runs.Compute(c.Runs, "tick", w, time.Second, events), Requests: requests, Busiest: 2 * requests})
	}
	return c
}

func result(t *testing.T) *Result {
	return &Result{
		Started: t0, Took: Duration(time.Minute), Command: "make bench",
		Machine:  Machine{CPUs: 2, Kernel: "Linux 6.1 x86_64", Go: "go1.26"},
		Settings: Settings{Job: "tick", Spec: "* * * * * *", Period: Duration(time.Second), Work: Duration(100 * time.Millisecond), Replicas: 3, Timings: "15s/10s/2s"},
		Faults:   []Fault{{ID: "steady", Label: "Steady state", What: "nothing happens"}, {ID: "sigkill", Label: "SIGKILL of the leader", What: "the leader gets SIGKILL"}},
		Entries: []*Contender{
			contender(t, "leaderjob", true, 40),
			contender(t, "gocron-redis", false, 300),
			{ID: "leaderjob-spread", Label: "leaderjob (spread)", Status: StatusUnavailable, Detail: "the library does not read LEADERJOB_SPREAD yet"},
		},
	}
}

// The table counts the lost and the doubled fire of the synthetic records,
// marks the best of each column, says where the other contender does
// better, and lists the contender that did not run.
func TestMarkdown(t *testing.T) {
	r := result(t)
	lj := r.Entries[0].Segments[1].Figures
	if len(lj.Lost) != 1 || len(lj.Doubled) != 1 || lj.Overlaps != 1 {
		t.Fatalf("figures of the synthetic sigkill segment: lost %v doubled %v overlaps %d; want 1, 1, 1", lj.Lost, lj.Doubled, lj.Overlaps)
	}
	var b bytes.Buffer
	if err := Markdown(&b, r, "comparison.svg"); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		// The kill hit r2 at +2.05s; r1's next run is of fire 4 (fire 3 is
		// lost), at +4.003s. The lags differ by less than the noise.
		"| leaderjob | **1** | 1 | **0** | 1 | **3 ms** | **20 ms** | **2.0 s** | **40 (80)** |",
		"| gocron-redis | **1** | **0** | **0** | **0** | **3 ms** | **3 ms** | **2.0 s** | 300 (600) |",
		"SIGKILL of the leader, fires doubled: **gocron-redis** 0, against 1 for the best leaderjob variant (leaderjob).",
		"- **leaderjob (spread)**: not available — the library does not read LEADERJOB_SPREAD yet",
		"![Which replica ran each fire",
		"**Command**: `make bench`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the page lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "requests / replica / min (busiest): **gocron-redis**") {
		t.Errorf("the page says the contender with more requests does better:\n%s", md)
	}
}

// The picture is well-formed XML with a mark per run and per lost and
// doubled fire, and the fault's line.
func TestSVGIsWellFormed(t *testing.T) {
	r := result(t)
	r.Entries[0].Label = `leaderjob <lease> & "friends"` // escaped
	var b bytes.Buffer
	if err := SVG(&b, r); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	rects, dashed := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Local == "fill" && (a.Value == colRun || a.Value == colDoubled || a.Value == colLost) && se.Name.Local == "rect" {
					rects++
				}
				if a.Name.Local == "stroke-dasharray" && se.Name.Local == "line" {
					dashed++
				}
			}
		}
	}
	// leaderjob: 19 runs + 1 double + 1 lost mark + 1 doubled mark; redis:
	// 19 runs + 1 lost mark; and the legend's 3 boxes of these colours.
	if want := 22 + 20 + 3; rects != want {
		t.Errorf("%d marks; want %d", rects, want)
	}
	if want := 2 + 1; dashed != want { // a fault line per contender, and the legend's
		t.Errorf("%d dashed lines; want %d", dashed, want)
	}
}

// A contender that beats leaderjob's default but not a variant is listed
// as such.
func TestBetterThanTheDefault(t *testing.T) {
	r := result(t)
	variant := contender(t, "leaderjob-catchup", false, 40)
	r.Entries = append([]*Contender{variant}, r.Entries...)
	var b bytes.Buffer
	if err := Markdown(&b, r, ""); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	want := "Better than leaderjob's default (lease, no catch-up), though a variant does as well:\n\n" +
		"- SIGKILL of the leader, fires doubled: **gocron-redis** 0, against 1 for leaderjob."
	if !strings.Contains(md, want) || strings.Contains(md, "Better than every leaderjob variant") {
		t.Errorf("the page does not list the cells where gocron-redis beats only the default:\n%s", md)
	}
}

// A result survives its JSON.
func TestSaveLoad(t *testing.T) {
	r := result(t)
	path := filepath.Join(t.TempDir(), "results.json")
	if err := r.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := Markdown(&a, r, ""); err != nil {
		t.Fatal(err)
	}
	if err := Markdown(&b, back, ""); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("the page differs after a round trip through JSON:\n%s\n---\n%s", a.String(), b.String())
	}
}
