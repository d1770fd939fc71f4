package controlplane

import (
	"errors"
	"os"
	"sync"
	"testing"
)

// Shared is a control plane started on first use and shared by the tests
// of one package. Declare one per test binary and stop it in TestMain:
//
//	var cp controlplane.Shared
//
//	func TestMain(m *testing.M) { code := m.Run(); cp.Stop(); os.Exit(code) }
type Shared struct {
	once sync.Once
	cp   *ControlPlane
	err  error
}

// Get returns the shared control plane, starting it on the first call. When
// the binaries are missing, the test is skipped, or failed when the
// environment variable CI is "true"; any other start-up error fails it.
func (s *Shared) Get(t testing.TB) *ControlPlane {
	t.Helper()
	s.once.Do(func() { s.cp, s.err = Start() })
	if s.err != nil {
		Unavailable(t, s.err)
	}
	return s.cp
}

// Stop stops the control plane if it was started.
func (s *Shared) Stop() {
	if s.cp != nil {
		_ = s.cp.Stop()
	}
}

// Unavailable ends t because no control plane could be had: a skip, or with
// CI=true (or for errors other than missing binaries) a failure. Either way
// the message says how to provide one.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNoAssets) && os.Getenv("CI") != "true" {
		t.Skipf("no Kubernetes control plane: %v; %s", err, Hint)
	}
	t.Fatalf("no Kubernetes control plane: %v; %s", err, Hint)
}
