// Package modules checks the repository's module boundaries as a user meets
// them: what a program that depends on the library gets in its go.mod and
// go.sum, and what the installable commands link.
package modules

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leaderjob/leaderjob/internal/rig/pinned"
)

// heavy are the modules only the test rig and the commands need; a user of
// the library must never take part in their versions.
var heavy = []string{
	"sigs.k8s.io/controller-runtime",
	"github.com/google/go-containerregistry",
	"k8s.io/cli-runtime",
	// The library uses the OpenTelemetry API only: a program chooses (and
	// links) an SDK and an exporter itself.
	"go.opentelemetry.io/otel/sdk",
	"go.opentelemetry.io/otel/exporters/",
	"go.opentelemetry.io/proto/otlp",
	"google.golang.org/grpc",
}

// api are the OpenTelemetry API modules the library does require.
var api = []string{"go.opentelemetry.io/otel", "go.opentelemetry.io/otel/trace"}

func root(t *testing.T) string {
	t.Helper()
	r, err := pinned.Root()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func gocmd(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// A user module that imports every library package a program or its tests
// use, tidied as a user would, requires none of the heavy modules (the test
// rig's, the plugin's, and any OpenTelemetry SDK or exporter), directly or
// indirectly, and has none of them in go.sum; it does get the OpenTelemetry
// API.
func TestUserModuleGetsNoTestRig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy")
	}
	lib := root(t)
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/user\n\ngo 1.26.0\n\nrequire github.com/leaderjob/leaderjob v0.0.0\n\nreplace github.com/leaderjob/leaderjob => "+lib+"\n")
	write("main.go", `package main

import (
	_ "github.com/leaderjob/leaderjob/guard"
	_ "github.com/leaderjob/leaderjob/guard/guardtest"
	_ "github.com/leaderjob/leaderjob/kube"
	_ "github.com/leaderjob/leaderjob/leaderjob"
	_ "github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
	_ "github.com/leaderjob/leaderjob/ledger"
)

func main() {}
`)
	write("main_test.go", "package main\n\nimport \"testing\"\n\nfunc TestNothing(t *testing.T) {}\n")
	env := []string{"GOWORK=off", "GOFLAGS=-mod=mod"}
	gocmd(t, dir, env, "mod", "tidy")
	gocmd(t, dir, env, "build", "./...")
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range heavy {
			if strings.Contains(string(b), m+" ") || (strings.HasSuffix(m, "/") && strings.Contains(string(b), m)) {
				t.Errorf("a user's %s names %s:\n%s", name, m, b)
			}
		}
		for _, m := range api {
			if !strings.Contains(string(b), m+" ") {
				t.Errorf("a user's %s does not name %s: has the check above lost its object?", name, m)
			}
		}
	}
}

// The commands' module can be installed from the module proxy: go install
// refuses a module whose go.mod has replace or exclude directives.
func TestCommandsModuleIsInstallable(t *testing.T) {
	var mod struct {
		Replace []any
		Exclude []any
	}
	out := gocmd(t, filepath.Join(root(t), "cmd"), nil, "mod", "edit", "-json")
	if err := json.Unmarshal([]byte(out), &mod); err != nil {
		t.Fatal(err)
	}
	if len(mod.Replace) > 0 || len(mod.Exclude) > 0 {
		t.Errorf("cmd/go.mod has replace or exclude directives; go install module@version would refuse it:\n%s", out)
	}
}

// The documents' package links the standard library only, and the kubectl
// plugin, which reads and writes documents only, links neither the
// scheduler nor Prometheus.
func TestDocumentsLinkLittle(t *testing.T) {
	dir := root(t)
	nonStd := gocmd(t, dir, nil, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./wire")
	if got := strings.Fields(nonStd); len(got) != 1 || got[0] != "github.com/leaderjob/leaderjob/wire" {
		t.Errorf("wire links packages outside the standard library: %v", got)
	}
	deps := strings.Fields(gocmd(t, dir, nil, "list", "-deps", "./cmd/kubectl-leaderjob"))
	for _, pkg := range deps {
		for _, banned := range []string{"github.com/go-co-op/gocron", "github.com/prometheus/"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("kubectl-leaderjob links %s", pkg)
			}
		}
	}
	t.Logf("kubectl-leaderjob links %d packages", len(deps))
}

// Every module's go.mod and go.sum are what go mod tidy makes of them
// (hack/tidy.sh tidies them; -check changes nothing).
func TestModulesAreTidy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy on every module")
	}
	cmd := exec.Command("bash", filepath.Join(root(t), "hack", "tidy.sh"), "-check")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("a module is not tidy (run hack/tidy.sh): %v\n%s", err, out)
	}
}
