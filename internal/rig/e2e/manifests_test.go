package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/lease"
	"github.com/leaderjob/leaderjob/internal/rig/controlplane"
	"github.com/leaderjob/leaderjob/internal/testutil"
)

const manifests = "../../../examples/kubernetes/lease"

// Every manifest in examples/kubernetes/lease is accepted by a real
// apiserver (server-side apply), the Deployment says what the README says,
// and the service account it runs as can do exactly what the guard needs.
func TestLeaseManifests(t *testing.T) {
	t.Parallel()
	c := cp.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns, err := c.CreateNamespace(ctx, "manifests-")
	if err != nil {
		t.Fatal(err)
	}
	applied := apply(ctx, t, c.Config(), manifests, ns)
	slices.Sort(applied)
	want := []string{"Deployment/monolith", "PodDisruptionBudget/monolith", "Role/monolith-leader-election", "RoleBinding/monolith-leader-election",
		"Service/monolith-ops", "ServiceAccount/monolith"}
	if !slices.Equal(applied, want) {
		t.Fatalf("applied %v, want %v", applied, want)
	}
	checkDeployment(ctx, t, c, ns)

	sa, err := c.ServiceAccount(ctx, ns, "monolith")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the role suffices", func(t *testing.T) {
		gs := guards(t, sa, ns, "monolith", 2)
		old := waitLeader(t, gs, 10*time.Second)
		time.Sleep(time.Second)
		released := time.Now()
		if err := old.g.Release(ctx); err != nil {
			t.Fatal(err)
		}
		waitLeader(t, without(gs, old), 5*time.Second)
		took := time.Since(released)
		t.Logf("hand-off as system:serviceaccount:%s:monolith took %v", ns, took)
		if took > time.Second {
			t.Errorf("hand-off took %v: is watch missing from the Role?", took)
		}
		for _, g := range gs {
			if msgs := g.logs.find(slog.LevelWarn, ""); len(msgs) > 0 {
				t.Errorf("%s logged warnings: %q", g.name, msgs)
			}
		}
	})

	t.Run("the role lets the app record Events", func(t *testing.T) {
		cs, err := kubernetes.NewForConfig(sa)
		if err != nil {
			t.Fatal(err)
		}
		for _, verb := range []string{"create", "patch"} {
			r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: verb, Group: "events.k8s.io", Resource: "events"}}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Status.Allowed {
				t.Errorf("the service account may not %s events.k8s.io events: %s", verb, r.Status.Reason)
			}
		}
	})

	t.Run("get and update are limited to the Lease's name", func(t *testing.T) {
		gs := guards(t, sa, ns, "another-lease", 1)
		err := waitErr(t, gs[0], guard.ErrForbidden, 5*time.Second)
		if !strings.Contains(err.Error(), `cannot get resource "leases"`) {
			t.Errorf("error = %v, want a refused get", err)
		}
	})

	t.Run("without the binding the error names what to grant", func(t *testing.T) {
		cs, err := c.Client()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx,
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "unbound"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		unbound, err := c.ServiceAccount(ctx, ns, "unbound")
		if err != nil {
			t.Fatal(err)
		}
		gs := guards(t, unbound, ns, "monolith", 1)
		err = waitErr(t, gs[0], guard.ErrForbidden, 5*time.Second)
		if guard.ReasonOf(err) != guard.ReasonForbidden {
			t.Errorf("reason = %s, want forbidden", guard.ReasonOf(err))
		}
		logged := gs[0].logs.find(slog.LevelWarn, `system:serviceaccount:`+ns+`:unbound" cannot get`)
		if len(logged) != 1 {
			t.Fatalf("error records naming the service account: %q, want one", logged)
		}
		for _, want := range []string{"grant get, create, update and watch on leases", "in namespace " + ns, "examples/kubernetes/lease/rbac.yaml"} {
			if !strings.Contains(logged[0], want) {
				t.Errorf("the error record %q does not say %q", logged[0], want)
			}
		}
		t.Log(logged[0])
	})
}

// apply server-side-applies every object in the YAML files of dir (but a
// kustomization, which it checks lists every file) into namespace ns, and
// returns them as Kind/name.
func apply(ctx context.Context, t *testing.T, cfg *rest.Config, dir, ns string) []string {
	t.Helper()
	applied, _ := applyObjects(ctx, t, cfg, dir, ns, false)
	return applied
}

// applyObjects is apply, as a server-side dry run (nothing is stored) if
// dryRun is set. It also returns the objects it applied.
func applyObjects(ctx context.Context, t *testing.T, cfg *rest.Config, dir, ns string, dryRun bool) ([]string, []*unstructured.Unstructured) {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	var (
		applied, resources []string
		objects            []*unstructured.Unstructured
	)
	opts := metav1.PatchOptions{FieldManager: "leaderjob-e2e", Force: ptr(true)}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			var obj unstructured.Unstructured
			if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			if obj.GetKind() == "Kustomization" {
				resources, _, _ = unstructured.NestedStringSlice(obj.Object, "resources")
				// Only a list of local files: then applying the files is
				// what kubectl apply -k does.
				for key := range obj.Object {
					if key != "apiVersion" && key != "kind" && key != "resources" {
						t.Errorf("%s: %q: the examples' kustomizations only list files (this test applies the files as they are)", file, key)
					}
				}
				for _, r := range resources {
					if _, err := os.Stat(filepath.Join(dir, r)); err != nil || strings.Contains(r, "/") {
						t.Errorf("%s: resource %q is not a file beside it", file, r)
					}
				}
				continue
			}
			gvk := obj.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatalf("%s: %s: %v", file, gvk, err)
			}
			var res dynamic.ResourceInterface = dyn.Resource(m.Resource)
			if m.Scope.Name() != meta.RESTScopeNameRoot {
				obj.SetNamespace(ns)
				res = dyn.Resource(m.Resource).Namespace(ns)
			}
			body, err := json.Marshal(obj.Object)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := res.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts); err != nil {
				t.Fatalf("%s: applying %s %s: %v", file, gvk.Kind, obj.GetName(), err)
			}
			applied = append(applied, gvk.Kind+"/"+obj.GetName())
			objects = append(objects, &obj)
		}
	}
	for _, file := range files {
		if base := filepath.Base(file); base != "kustomization.yaml" && !slices.Contains(resources, base) {
			t.Errorf("kustomization.yaml does not list %s", base)
		}
	}
	return applied, objects
}

func ptr[T any](v T) *T { return &v }

func checkDeployment(ctx context.Context, t *testing.T, c *controlplane.ControlPlane, ns string) {
	t.Helper()
	cs, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "monolith", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %v, want 3", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "monolith" {
		t.Errorf("serviceAccountName = %q", pod.ServiceAccountName)
	}
	// Drain (LEADERJOB_DRAIN_TIMEOUT) plus release (5s per guard).
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g < 20+5 {
		t.Errorf("terminationGracePeriodSeconds = %v, want at least drain + release = 25", g)
	}
	app := pod.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range app.Env {
		env[e.Name] = e
	}
	if e := env["POD_NAME"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("POD_NAME does not come from metadata.name: %+v", e)
	}
	for name, want := range map[string]string{"LEADERJOB_GUARD": "lease", "LEADERJOB_LEASE_NAME": "monolith", "LEADERJOB_DRAIN_TIMEOUT": "20s", "LEADERJOB_HTTP_ADDR": ":8080"} {
		if got := env[name].Value; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if app.LivenessProbe == nil || app.LivenessProbe.HTTPGet == nil || app.LivenessProbe.HTTPGet.Path != "/healthz" ||
		app.ReadinessProbe == nil || app.ReadinessProbe.HTTPGet == nil || app.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes are not /healthz and /readyz: %+v %+v", app.LivenessProbe, app.ReadinessProbe)
	}
	if len(app.Ports) != 1 || app.Ports[0].ContainerPort != 8080 || app.LivenessProbe.HTTPGet.Port.String() != app.Ports[0].Name {
		t.Errorf("the probes do not use container port 8080: %+v", app.Ports)
	}
}

// inproc is an in-process guard with its log.
type inproc struct {
	name string
	g    *lease.Guard
	logs *memlog
}

// guards starts n in-process guards as cfg's identity on the Lease ns/name
// with the e2e timings, and releases them when the test ends.
func guards(t *testing.T, cfg *rest.Config, ns, name string, n int) []*inproc {
	t.Helper()
	gs := make([]*inproc, n)
	for i := range gs {
		ip := &inproc{name: name + "-" + string(rune('a'+i)), logs: &memlog{}}
		g, err := lease.New(cfg, ip.name, lease.WithNamespace(ns), lease.WithName(name),
			lease.WithLeaseDuration(leaseDuration), lease.WithRenewDeadline(renewDeadline), lease.WithRetryPeriod(retryPeriod),
			lease.WithLogger(slog.New(ip.logs)))
		if err != nil {
			t.Fatal(err)
		}
		ip.g = g
		gs[i] = ip
		if err := g.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = g.Release(ctx)
			if t.Failed() {
				t.Logf("log of %s:\n%s", ip.name, strings.Join(ip.logs.find(slog.LevelDebug, ""), "\n"))
			}
		})
	}
	return gs
}

func waitLeader(t *testing.T, gs []*inproc, within time.Duration) *inproc {
	t.Helper()
	var leader *inproc
	testutil.Eventually(t, within, "a leader", func() bool {
		for _, g := range gs {
			if d, err := g.g.Check(context.Background()); err == nil && d.Leader {
				leader = g
				return true
			}
		}
		return false
	})
	return leader
}

func waitErr(t *testing.T, g *inproc, target error, within time.Duration) error {
	t.Helper()
	var err error
	testutil.EventuallyNoError(t, within, fmt.Sprintf("Check fails with %v", target), func() error {
		if _, err = g.g.Check(context.Background()); !errors.Is(err, target) {
			return fmt.Errorf("Check = %v", err)
		}
		return nil
	})
	return err
}

func without(gs []*inproc, g *inproc) []*inproc {
	return slices.DeleteFunc(slices.Clone(gs), func(x *inproc) bool { return x == g })
}

// memlog is a slog.Handler that keeps formatted records.
type memlog struct {
	mu    sync.Mutex
	lines []string
	level []slog.Level
}

func (m *memlog) Enabled(context.Context, slog.Level) bool { return true }
func (m *memlog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Time.Format("15:04:05.000 ") + r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.Key + "=" + a.Value.String()); return true })
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lines = append(m.lines, b.String())
	m.level = append(m.level, r.Level)
	return nil
}
func (m *memlog) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m *memlog) WithGroup(string) slog.Handler      { return m }

// find returns the records at level or above that contain part.
func (m *memlog) find(level slog.Level, part string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for i, l := range m.lines {
		if m.level[i] >= level && strings.Contains(l, part) {
			out = append(out, l)
		}
	}
	return out
}

// restricted are the labels of a namespace where Pod Security "restricted"
// is enforced, and violations are also warned about and audited.
var restricted = map[string]string{
	"pod-security.kubernetes.io/enforce":         "restricted",
	"pod-security.kubernetes.io/enforce-version": "latest",
	"pod-security.kubernetes.io/warn":            "restricted",
	"pod-security.kubernetes.io/warn-version":    "latest",
	"pod-security.kubernetes.io/audit":           "restricted",
	"pod-security.kubernetes.io/audit-version":   "latest",
}

// warnings collects the warnings an apiserver sends (Pod Security reports a
// Deployment whose pods it would refuse this way, deprecated APIs too).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// Every example folder but monitoring and operator (see below) applies, as
// a server-side dry run, into a namespace that enforces
// Pod Security "restricted", without an error or a warning; and a pod made
// from each Deployment's template is admitted there.
func TestExamplesPassRestricted(t *testing.T) {
	t.Parallel()
	c := cp.Get(t)
	dirs, err := filepath.Glob("../../../examples/kubernetes/*/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tested []string
	for _, k := range dirs {
		dir := filepath.Dir(k)
		name := filepath.Base(dir)
		if name == "monitoring" || name == "operator" {
			// monitoring needs the Prometheus Operator's CRDs; operator is
			// RBAC only (no pods for Pod Security to judge), with
			// cluster-wide objects TestOperatorLeastPrivilege applies.
			continue
		}
		tested = append(tested, name)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cs, err := c.Client()
			if err != nil {
				t.Fatal(err)
			}
			ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
				GenerateName: "restricted-", Labels: restricted}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			w := &warnings{}
			cfg := c.Config()
			cfg.WarningHandler = w
			applied, objects := applyObjects(ctx, t, cfg, dir, ns.Name, true)
			t.Logf("dry run in %s: %v", ns.Name, applied)
			if ws := w.take(); len(ws) > 0 {
				t.Errorf("warnings from a dry run of %s:\n%s", dir, strings.Join(ws, "\n"))
			}

			// Enforcement applies to pods, not to Deployments: ask for one.
			cs, err = kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			deployments := 0
			for _, obj := range objects {
				if obj.GetKind() != "Deployment" {
					continue
				}
				deployments++
				var d appsv1.Deployment
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &d); err != nil {
					t.Fatal(err)
				}
				checkRestricted(t, d.Spec.Template.Spec)
				checkGracePeriod(t, d.Spec.Template.Spec)
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-pod", Labels: d.Spec.Template.Labels}, Spec: d.Spec.Template.Spec}
				if _, err := cs.CoreV1().Pods(ns.Name).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
					t.Errorf("a pod of Deployment %s is refused: %v", d.Name, err)
				}
				if ws := w.take(); len(ws) > 0 {
					t.Errorf("warnings for a pod of Deployment %s:\n%s", d.Name, strings.Join(ws, "\n"))
				}
			}
			if deployments == 0 {
				t.Errorf("%s has no Deployment", dir)
			}

			t.Run("kubectl apply -k --dry-run=server", func(t *testing.T) {
				// kubectl renders the kustomization as users would: the
				// pinned one make test builds, else the one on PATH.
				kubectl := filepath.Join(os.Getenv("LEADERJOB_CLUSTER_ASSETS"), "kubectl")
				if _, err := os.Stat(kubectl); os.Getenv("LEADERJOB_CLUSTER_ASSETS") == "" || err != nil {
					if kubectl, err = exec.LookPath("kubectl"); err != nil {
						const hint = "hack/cluster-deps.sh builds it; make test sets LEADERJOB_CLUSTER_ASSETS to its directory"
						if os.Getenv("CI") == "true" {
							t.Fatalf("no kubectl: %v; %s", err, hint)
						}
						t.Skipf("no kubectl: %v; %s", err, hint)
					}
				}
				kc, err := c.WriteKubeconfig(c.Config(), ns.Name)
				if err != nil {
					t.Fatal(err)
				}
				cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kc, "apply", "-k", dir, "--dry-run=server", "-n", ns.Name)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err = cmd.Run()
				t.Logf("%s\n%s", strings.TrimSpace(stdout.String()), strings.TrimSpace(stderr.String()))
				if err != nil {
					t.Fatalf("kubectl apply -k %s --dry-run=server: %v", dir, err)
				}
				if stderr.Len() > 0 {
					t.Errorf("kubectl apply -k %s --dry-run=server wrote to stderr (warnings?):\n%s", dir, stderr.String())
				}
				if n := strings.Count(strings.TrimSpace(stdout.String()), "\n") + 1; n != len(applied) {
					t.Errorf("kubectl applied %d objects, the files hold %d", n, len(applied))
				}
			})
		})
	}
	if len(tested) < 2 {
		t.Errorf("example folders tested: %v, want lease and sidecar at least", tested)
	}
}

// checkRestricted checks the settings of the README's promise directly, so
// that a failure names the field (Pod Security's message lists them too).
func checkRestricted(t *testing.T, pod corev1.PodSpec) {
	t.Helper()
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, a non-zero runAsUser and seccompProfile RuntimeDefault", sc)
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s securityContext %+v: want allowPrivilegeEscalation false, capabilities.drop [ALL], readOnlyRootFilesystem", c.Name, sc)
		}
	}
}

// checkGracePeriod checks that the pod's grace period covers the app's
// drain (LEADERJOB_DRAIN_TIMEOUT, default 20s) plus releasing leadership
// (5s).
func checkGracePeriod(t *testing.T, pod corev1.PodSpec) {
	t.Helper()
	drain := 20 * time.Second
	for _, e := range pod.Containers[0].Env {
		if e.Name == "LEADERJOB_DRAIN_TIMEOUT" {
			d, err := time.ParseDuration(e.Value)
			if err != nil {
				t.Fatalf("LEADERJOB_DRAIN_TIMEOUT=%q: %v", e.Value, err)
			}
			drain = d
		}
	}
	const release = 5 * time.Second // leaderjob's bound on releasing each guard at shutdown
	need := drain + release
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < need {
		t.Errorf("terminationGracePeriodSeconds = %v, want at least drain %v + release %v", g, drain, release)
	}
}
