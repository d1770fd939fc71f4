package kube_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The import rules of the project, checked on the real build graph: the
// core links no Kubernetes package and knows no guard source; the lease
// guard knows no environment variable; the HTTP client knows no guard.
func TestImportsRunOneWay(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to list the imports with: %v", err)
	}
	const module = "github.com/leaderjob/leaderjob/"
	deps := func(pkg string) []string {
		out, err := exec.Command(goTool, "list", "-deps", module+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	for _, core := range []string{"leaderjob", "leaderjob/leaderjobtest", "guard", "guard/guardtest"} {
		for _, dep := range deps(core) {
			switch {
			case strings.HasPrefix(dep, "k8s.io/"), strings.HasPrefix(dep, "sigs.k8s.io/"):
				t.Errorf("%s links %s", core, dep)
			case dep == module+"guard/lease", dep == module+"guard/sidecar", dep == module+"sidecarclient", dep == module+"kube":
				t.Errorf("%s imports %s", core, dep)
			}
		}
	}
	for _, dep := range deps("sidecarclient") {
		if strings.HasPrefix(dep, module+"guard") {
			t.Errorf("sidecarclient imports %s", dep)
		}
	}
	out, err := exec.Command("grep", "-rl", "LEADERJOB_", "../guard/lease").Output()
	if len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("guard/lease names the environment variables (package kube maps them): %s", out)
	}
	_ = err // grep exits 1 when it finds nothing
}
