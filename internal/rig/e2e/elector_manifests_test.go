package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// examples/kubernetes/sidecar applies to a namespace that enforces Pod
// Security "restricted"; a Pod made from its Deployment's template is
// admitted there (server-side dry run); the elector is a native sidecar
// whose --election is the Lease its Role names; and the service account
// may do exactly what the elector needs.
func TestElectorManifests(t *testing.T) {
	t.Parallel()
	c := cp.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := c.CreateNamespace(ctx, "elector-pss-")
	if err != nil {
		t.Fatal(err)
	}
	n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	n.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	n.Labels["pod-security.kubernetes.io/enforce-version"] = "latest"
	if _, err := cs.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	applied := apply(ctx, t, c.Config(), electorManifests, ns)
	slices.Sort(applied)
	want := []string{"Deployment/monolith", "PodDisruptionBudget/monolith", "Role/monolith-elector", "RoleBinding/monolith-elector", "Service/monolith-ops", "ServiceAccount/monolith-elector"}
	if !slices.Equal(applied, want) {
		t.Fatalf("applied %v, want %v", applied, want)
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "monolith", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := d.Spec.Template.Spec

	// Admitted under "restricted": the pod the Deployment would create.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pss-check", Labels: d.Spec.Template.Labels}, Spec: spec}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("a pod of the Deployment is refused in a restricted namespace: %v", err)
	}
	// And refused when the elector asks for more: the check is real.
	loose := pod.DeepCopy()
	loose.Spec.InitContainers[0].SecurityContext.AllowPrivilegeEscalation = nil
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, loose, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil {
		t.Error("a pod without allowPrivilegeEscalation: false was admitted: Pod Security is not enforced here")
	}

	if len(spec.InitContainers) != 1 || spec.InitContainers[0].RestartPolicy == nil || *spec.InitContainers[0].RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Fatalf("the elector is not a native sidecar (an init container with restartPolicy: Always): %+v", spec.InitContainers)
	}
	el := spec.InitContainers[0]
	args := strings.Join(el.Args, " ")
	for _, a := range []string{"--election=" + electorLease, "--id=$(POD_NAME)", "--http=localhost:4040", "--use-cluster-credentials"} {
		if !strings.Contains(args, a) {
			t.Errorf("the elector's args %q lack %s", args, a)
		}
	}
	var app corev1.Container
	for _, ctr := range spec.Containers {
		if ctr.Name == "app" {
			app = ctr
		}
	}
	env := map[string]string{}
	for _, e := range app.Env {
		env[e.Name] = e.Value
	}
	if env["LEADERJOB_GUARD"] != "sidecar" || env["LEADERJOB_SIDECAR_URL"] != "http://localhost:4040/" {
		t.Errorf("the app's env %v does not ask the elector", env)
	}
	if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds < 25 {
		t.Errorf("terminationGracePeriodSeconds %v does not cover the drain (20s) and the release (5s)", spec.TerminationGracePeriodSeconds)
	}

	// The service account may do what the elector needs, and no more.
	sa, err := c.ServiceAccount(ctx, ns, electorSA)
	if err != nil {
		t.Fatal(err)
	}
	sacs, err := kubernetes.NewForConfig(sa)
	if err != nil {
		t.Fatal(err)
	}
	can := func(verb, name string) bool {
		r, err := sacs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: verb, Group: "coordination.k8s.io", Resource: "leases", Name: name,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status.Allowed
	}
	for _, verb := range []string{"get", "update", "watch"} {
		if !can(verb, electorLease) {
			t.Errorf("the service account may not %s the Lease %s", verb, electorLease)
		}
		if can(verb, "another-lease") {
			t.Errorf("the service account may %s other Leases", verb)
		}
	}
	if !can("create", "") {
		t.Error("the service account may not create Leases")
	}
	for _, verb := range []string{"delete", "list", "patch"} {
		if can(verb, electorLease) {
			t.Errorf("the service account may %s the Lease", verb)
		}
	}
}
