package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

const dashboardFile = "../../../examples/grafana/leaderjob-dashboard.json"

// dashboard is what the test reads of a Grafana dashboard: its panels'
// queries and its template variables.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// grafanaVars are the values the test gives the dashboard's variables, as
// Grafana would substitute them: the Prometheus test's namespace and app,
// every job (the variable's "All"), and a rate window of a minute.
func grafanaVars(namespace string) *strings.Replacer {
	return strings.NewReplacer(
		"$__rate_interval", "1m", "$__interval", "15s", "$__range", "5m",
		"$namespace", regexp.QuoteMeta(namespace), "$app", "monolith", "$job", ".+",
	)
}

// tryQuery runs an instant query and returns its results, or the error
// Prometheus gave (a query that does not parse, say).
func (a *promAPI) tryQuery(expr string) ([]sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/api/v1/query?"+url.Values{"query": {expr}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var env struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return nil, err
	}
	if env.Status != "success" {
		return nil, fmt.Errorf("%s: %s", env.ErrorType, env.Error)
	}
	return env.Data.Result, nil
}

// labelValuesQuery matches a Grafana variable's label_values(selector, label).
var labelValuesQuery = regexp.MustCompile(`^label_values\((.+), *([a-z_]+)\)$`)

// checkDashboard runs every query of the Grafana dashboard against a
// Prometheus that scrapes the example in namespace: each parses and returns
// at least one series, and each template variable's query has values.
func checkDashboard(t *testing.T, api *promAPI, namespace string) {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	vars := grafanaVars(namespace)
	queries := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			expr := vars.Replace(tg.Expr)
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q %s: a variable the test does not know: %s", p.Title, tg.RefID, expr)
				continue
			}
			res, err := api.tryQuery(expr)
			switch {
			case err != nil:
				t.Errorf("panel %q %s: %v\n%s", p.Title, tg.RefID, err, expr)
			case len(res) == 0:
				t.Errorf("panel %q %s returns no series:\n%s", p.Title, tg.RefID, expr)
			default:
				t.Logf("panel %q %s: %d series", p.Title, tg.RefID, len(res))
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		text, _ := q["query"].(string)
		m := labelValuesQuery.FindStringSubmatch(text)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, text)
			continue
		}
		res, err := api.tryQuery(fmt.Sprintf("count by (%s) (%s)", m[2], vars.Replace(m[1])))
		if err != nil || len(res) == 0 || res[0].Metric[m[2]] == "" {
			t.Errorf("variable %s (%s): %v, %v", v.Name, text, res, err)
		}
	}
	if queries < 10 {
		t.Errorf("%d queries in the dashboard; has the file lost its panels?", queries)
	}
}
