// Package prometheus holds the tests of the alert rules in
// leaderjob-rules.yaml; the rules themselves are plain YAML for Prometheus.
package prometheus

import (
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/leaderjob/leaderjob/internal/rig/testdeps"
)

const (
	rulesFile      = "leaderjob-rules.yaml"
	rulesTests     = "leaderjob-rules_test.yaml"
	prometheusRule = "../kubernetes/monitoring/prometheusrule.yaml"
)

func promtool(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(testdeps.Tool(t, "promtool"), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The rules file is valid for Prometheus.
func TestCheckRules(t *testing.T) {
	t.Parallel()
	out := promtool(t, "check", "rules", rulesFile)
	t.Log(out)
	if !strings.Contains(out, "SUCCESS: 7 rules found") {
		t.Errorf("promtool check rules: want 7 rules:\n%s", out)
	}
}

// The alerts fire, and stay quiet, as leaderjob-rules_test.yaml describes:
// per app and per job across replicas, not on a former leader's frozen
// series, not across namespaces.
func TestRules(t *testing.T) {
	t.Parallel()
	t.Log(promtool(t, "test", "rules", rulesTests))
}

// The PrometheusRule carries exactly the groups of the rules file.
func TestPrometheusRuleMatchesRulesFile(t *testing.T) {
	t.Parallel()
	var file struct {
		Groups []any `json:"groups"`
	}
	read(t, rulesFile, &file)
	var pr struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Groups []any `json:"groups"`
		} `json:"spec"`
	}
	read(t, prometheusRule, &pr)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Errorf("%s is %s %s, want monitoring.coreos.com/v1 PrometheusRule", prometheusRule, pr.APIVersion, pr.Kind)
	}
	if len(file.Groups) == 0 {
		t.Fatalf("%s has no groups", rulesFile)
	}
	if !reflect.DeepEqual(pr.Spec.Groups, file.Groups) {
		t.Errorf("%s spec.groups differ from the groups of %s: edit both together", prometheusRule, rulesFile)
	}
}

// Every alert aggregates by app (and job) and names its severity and what
// to look at; none matches on the scrape's "job" label.
func TestRulesShape(t *testing.T) {
	t.Parallel()
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	read(t, rulesFile, &file)
	var names []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
			if !strings.Contains(r.Expr, "app_name") {
				t.Errorf("%s does not aggregate by app_name: %s", r.Alert, r.Expr)
			}
			if strings.Contains(r.Expr, "job=") || strings.Contains(r.Expr, "(job)") || strings.Contains(r.Expr, "job,") {
				t.Errorf("%s matches or groups on the scrape's job label: %s", r.Alert, r.Expr)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: no summary or description", r.Alert)
			}
		}
	}
	want := []string{"LeaderjobNoLeader", "LeaderjobSplitBrain", "LeaderjobJobNotSucceeding", "LeaderjobJobFailing", "LeaderjobGuardErrors",
		"LeaderjobSpreadOwnedTwice", "LeaderjobSpreadUnowned"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("alerts %v, want %v", names, want)
	}
}

func read(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
