// Package grafana holds a Grafana dashboard of leaderjob's metrics; the
// end-to-end tests (internal/rig/e2e) run each of its queries against a
// real Prometheus scraping the example.
package grafana

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
)

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// metricName matches the leaderjob metric names a query reads.
var metricName = regexp.MustCompile(`\bleaderjob_[a-z_]+`)

// The dashboard is a Grafana dashboard whose panels read the data source
// variable, and every leaderjob metric its queries name is one an App
// exports (a renamed metric breaks this test before it breaks a board).
func TestDashboardNamesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("leaderjob-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	exported := exportedNames(t)
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not read the datasource variable", p.Title)
		}
		for _, tg := range p.Targets {
			for _, name := range metricName.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
				if !exported[name] && !exported[base] {
					t.Errorf("panel %q reads %s, which an App does not export", p.Title, name)
				}
			}
		}
	}
}

// exportedNames are the metric families of an App that has run a job.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	app, err := leaderjob.New("dash", leaderjob.WithRegistry(reg), leaderjob.WithGuard(guard.Always),
		leaderjob.WithEnv(func(string) (string, bool) { return "", false }), leaderjob.WithHTTPAddr(""))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Schedule("job", leaderjob.FixedRate(time.Hour), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Trigger(context.Background(), "job"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	return names
}
