// Package testdeps finds the programs that tests run as processes and that
// hack/test-deps.sh installs (prometheus, promtool). A missing program skips
// the test with a message naming the script, or fails it when the
// environment variable CI is "true", so that a CI run never passes by
// skipping.
package testdeps

import (
	"os"
	"os/exec"
	"testing"
)

// Hint says how to install the programs.
const Hint = "install it with hack/test-deps.sh (Debian's prometheus package; make test runs it)"

// Tool returns the path of the program name on PATH, or ends t.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: %v; %s", name, err, Hint)
	}
	t.Skipf("%s not found: %v; %s", name, err, Hint)
	return ""
}
