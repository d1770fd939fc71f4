package clustere2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// deploy applies examples/kubernetes/local/<example> with kubectl apply -k,
// through a test overlay that renames the namespace to ns and sets env on
// the app container, and waits for the rollout. It deletes the namespace
// when the test ends.
func deploy(t *testing.T, example, ns string, env map[string]string) {
	t.Helper()
	dir := t.TempDir()
	base, err := filepath.Rel(dir, filepath.Join(repoRoot, "examples/kubernetes/local", example))
	if err != nil {
		t.Fatal(err)
	}
	// A strategic merge patch: env entries merge by name, so a variable
	// the example sets is replaced, not repeated.
	var vars []map[string]string
	for _, name := range slices.Sorted(maps.Keys(env)) {
		vars = append(vars, map[string]string{"name": name, "value": env[name]})
	}
	patch, err := json.Marshal(map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]string{"name": "monolith"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []map[string]any{{"name": "app", "env": vars}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	kustomization := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %s
resources:
  - %s
patches:
  - patch: '%s'
`, ns, base, patch)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := kubectlErr("delete", "namespace", ns, "--wait=false"); err != nil {
			t.Log(err)
		}
	})
	out := kubectl(t, "apply", "-k", dir)
	t.Logf("kubectl apply -k (%s):\n%s", example, out)
	if strings.Contains(out, "Warning") {
		t.Errorf("kubectl apply warned:\n%s", out)
	}
	kubectl(t, "-n", ns, "rollout", "status", "deploy/monolith", "--timeout=3m")
}

// runningPods returns the names of ns's running, undeleted pods.
func runningPods(t *testing.T, ns string) []string {
	t.Helper()
	pods, err := client(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			names = append(names, p.Name)
		}
	}
	return names
}
