package controlplane_test

import (
	"context"
	"os"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/leaderjob/leaderjob/internal/rig/controlplane"
)

var cp controlplane.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	cp.Stop()
	os.Exit(code)
}

// The apiserver comes back on the same address with the same certificates,
// so clients made before the outage work after it.
func TestRestartKeepsClientsWorking(t *testing.T) {
	c := cp.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err == nil {
		t.Fatal("the apiserver answered while stopped")
	}
	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}

// A user without RBAC bindings is authenticated but may do nothing.
func TestUserIsSubjectToRBAC(t *testing.T) {
	c := cp.Get(t)
	cfg, err := c.User("nobody")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
	if err == nil {
		t.Fatal("a user without bindings could read a namespace")
	}
	t.Logf("as expected: %v", err)
}
