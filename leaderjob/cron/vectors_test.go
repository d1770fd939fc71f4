package cron

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "time/tzdata" // zone data for machines without a system zoneinfo
)

// nextVector is one line of testdata/cron/next.txt.
type nextVector struct {
	line int
	expr string
	zone string
	from string
	want []string
}

func readNextVectors(t *testing.T) []nextVector {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "cron", "next.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []nextVector
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) != 4 {
			t.Fatalf("next.txt:%d: want 4 fields separated by |, got %d", n, len(parts))
		}
		out = append(out, nextVector{
			line: n,
			expr: strings.TrimSpace(parts[0]),
			zone: strings.TrimSpace(parts[1]),
			from: strings.TrimSpace(parts[2]),
			want: strings.Fields(parts[3]),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no vectors read")
	}
	return out
}

func TestNextVectors(t *testing.T) {
	for _, v := range readNextVectors(t) {
		loc, err := time.LoadLocation(v.zone)
		if err != nil {
			t.Fatalf("next.txt:%d: %v", v.line, err)
		}
		e, err := Parse(v.expr)
		if err != nil {
			t.Errorf("next.txt:%d: Parse(%q): %v", v.line, v.expr, err)
			continue
		}
		from, err := time.Parse(time.RFC3339Nano, v.from)
		if err != nil {
			t.Fatalf("next.txt:%d: %v", v.line, err)
		}
		cur := from.In(loc)
		for i, w := range v.want {
			got := e.Next(cur)
			if w == "none" {
				if !got.IsZero() {
					t.Errorf("next.txt:%d: %q Next(%s) = %s, want none", v.line, v.expr, cur.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano))
				}
				break
			}
			want, err := time.Parse(time.RFC3339Nano, w)
			if err != nil {
				t.Fatalf("next.txt:%d: %v", v.line, err)
			}
			_, gotOff := got.Zone()
			_, wantOff := want.Zone()
			if !got.Equal(want) || gotOff != wantOff || got.Location() != loc {
				t.Errorf("next.txt:%d: %q step %d: Next(%s) = %s, want %s", v.line, v.expr, i+1, cur.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano), w)
				break
			}
			cur = got
		}
	}
}
