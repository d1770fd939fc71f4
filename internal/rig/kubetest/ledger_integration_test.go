package kubetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/internal/rig/controlplane"
	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/ledger"
)

var cp controlplane.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	cp.Stop()
	os.Exit(code)
}

// env is a namespace on the shared control plane with an admin client.
type env struct {
	c     *controlplane.ControlPlane
	ns    string
	admin kubernetes.Interface
}

func newEnv(t *testing.T) env {
	t.Helper()
	c := cp.Get(t)
	ns, err := c.CreateNamespace(context.Background(), "ledger-")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	return env{c, ns, admin}
}

// wire counts what a client sends: requests and request body bytes.
type wire struct {
	requests, bytes atomic.Int64
}

func (w *wire) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			w.requests.Add(1)
			if r.ContentLength > 0 {
				w.bytes.Add(r.ContentLength)
			}
			return rt.RoundTrip(r)
		})
	})
	return cfg
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// backend returns app's backend in e's namespace, started (watching) when
// start is true until the test ends.
func backend(t *testing.T, cfg *rest.Config, ns, app string, start bool, opts ...kube.ConfigMapOption) *kube.ConfigMapBackend {
	t.Helper()
	b, err := kube.NewConfigMapBackend(cfg, ns, app, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if start {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "the watch to open", b.Watching)
	}
	return b
}

// grantLedger gives user the ledger backend's rules in e's namespace, as
// the example Role does: get, update and watch on the ConfigMap name, and
// create on configmaps.
func grantLedger(t *testing.T, e env, user, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.admin.RbacV1().Roles(e.ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "ledger"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{name}, Verbs: []string{"get", "update", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.RbacV1().RoleBindings(e.ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ledger"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "ledger"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// update applies fn to the stored State with compare-and-swap, re-reading
// after each conflict, as a Ledger does.
func update(ctx context.Context, b ledger.Backend, fn func(*ledger.State)) (conflicts int, err error) {
	for {
		s, v, err := b.Load(ctx)
		if err != nil {
			return conflicts, err
		}
		s.Version = ledger.FormatVersion
		if s.Jobs == nil {
			s.Jobs = map[string]*ledger.JobState{}
		}
		fn(&s)
		err = b.Store(ctx, s, v)
		if !errors.Is(err, ledger.ErrConflict) {
			return conflicts, err
		}
		conflicts++
	}
}

func claim(job string, at time.Time, n int64) func(*ledger.State) {
	return func(s *ledger.State) {
		s.Fence = ledger.Epoch{Scope: "lease-uid", N: n}
		js := s.Jobs[job]
		if js == nil {
			js = &ledger.JobState{}
			s.Jobs[job] = js
		}
		js.Claimed = &ledger.Claim{Job: job, At: at, Key: job + "@" + at.Format(time.RFC3339), Epoch: s.Fence,
			ClaimID: "term-1", Holder: "replica-0", Claimed: at}
	}
}

func complete(job string, at time.Time, errText string) func(*ledger.State) {
	return func(s *ledger.State) {
		js := s.Jobs[job]
		c := ledger.Completion{Job: job, At: at, ClaimID: "term-1", Holder: "replica-0", Outcome: "ran",
			Duration: 42 * time.Millisecond, Ended: at.Add(42 * time.Millisecond)}
		if errText != "" {
			c.Outcome, c.Error = "failed", errText
		} else {
			js.Success = &c
		}
		js.Completed = &c
		js.History = append([]ledger.Completion{c}, js.History...)
		if len(js.History) > ledger.HistoryLen {
			js.History = js.History[:ledger.HistoryLen]
		}
	}
}

func TestLedgerRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, watching := range []bool{false, true} {
		app := fmt.Sprintf("roundtrip-%t", watching)
		b := backend(t, e.c.Config(), e.ns, app, watching)
		ctx := context.Background()
		s, v, err := b.Load(ctx)
		if err != nil || v != "" || !reflect.DeepEqual(s, ledger.State{}) {
			t.Fatalf("Load of a new ledger = %+v, %q, %v", s, v, err)
		}
		at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
		want := ledger.State{Version: ledger.FormatVersion, Jobs: map[string]*ledger.JobState{}}
		claim("report", at, 3)(&want)
		complete("report", at, "")(&want)
		if err := b.Store(ctx, want, ""); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "the write on the watch", func() bool { _, v, _ := b.Load(ctx); return v != "" })
		got, v, err := b.Load(ctx)
		if err != nil || v == "" {
			t.Fatalf("Load = %q, %v", v, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Load = %+v, want %+v", got, want)
		}
		cm, err := e.admin.CoreV1().ConfigMaps(e.ns).Get(ctx, app+"-leaderjob-ledger", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Labels["app.kubernetes.io/managed-by"] != "leaderjob" || cm.Labels["leaderjob.dev/app"] != app || cm.ResourceVersion != v {
			t.Errorf("ConfigMap labels %v, version %s; Load's version %s", cm.Labels, cm.ResourceVersion, v)
		}
	}
}

// Two backends create the ledger at once: one wins, the other conflicts.
func TestLedgerCreateRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for round := range 5 {
		app := fmt.Sprintf("race-%d", round)
		bs := []*kube.ConfigMapBackend{backend(t, e.c.Config(), e.ns, app, false), backend(t, e.c.Config(), e.ns, app, false)}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, b := range bs {
			wg.Go(func() {
				errs[i] = b.Store(ctx, ledger.State{Version: 1, Fence: ledger.Epoch{Scope: "s", N: int64(i)}}, "")
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ledger.ErrConflict):
				t.Errorf("create: %v, want nil or ErrConflict", err)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d creates succeeded (%v), want 1", round, won, errs)
		}
	}
}

// A write from a stale version conflicts, and the next Load reads the
// winner's State even from a watching backend.
func TestLedgerUpdateConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := backend(t, e.c.Config(), e.ns, "conflict", false)
	b := backend(t, e.c.Config(), e.ns, "conflict", true)
	if err := a.Store(ctx, ledger.State{Version: 1}, ""); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the create on b's watch", func() bool { _, v, _ := b.Load(ctx); return v != "" })
	_, v, err := b.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store(ctx, ledger.State{Version: 1, Fence: ledger.Epoch{Scope: "s", N: 1}}, v); err != nil {
		t.Fatal(err)
	}
	if err := b.Store(ctx, ledger.State{Version: 1, Fence: ledger.Epoch{Scope: "s", N: 2}}, v); !errors.Is(err, ledger.ErrConflict) {
		t.Fatalf("stale Store = %v, want ErrConflict", err)
	}
	s, _, err := b.Load(ctx)
	if err != nil || s.Fence.N != 1 {
		t.Errorf("Load after the conflict = %+v, %v; want the winner's fence 1", s.Fence, err)
	}
}

// Three writers update one ledger at once through compare-and-swap: no
// write is lost.
func TestLedgerConcurrentWritersLoseNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const writers, each = 3, 15
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		b := backend(t, e.c.Config(), e.ns, "cas", w%2 == 0)
		wg.Go(func() {
			for i := range each {
				n, err := update(ctx, b, claim(fmt.Sprintf("job-%d-%d", w, i), time.Now(), 1))
				conflicts.Add(int64(n))
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s, _, err := backend(t, e.c.Config(), e.ns, "cas", false).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Jobs) != writers*each {
		t.Errorf("%d jobs recorded, want %d", len(s.Jobs), writers*each)
	}
	t.Logf("%d writes, %d conflicts retried", writers*each, conflicts.Load())
}

// tamper puts data into the ledger's ConfigMap as an operator's edit would.
func tamper(t *testing.T, e env, app, data string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: kube.LedgerName(app)}, Data: map[string]string{kube.LedgerDataKey: data}}
	if _, err := e.admin.CoreV1().ConfigMaps(e.ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func stored(t *testing.T, e env, app string) string {
	t.Helper()
	cm, err := e.admin.CoreV1().ConfigMaps(e.ns).Get(context.Background(), kube.LedgerName(app), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data[kube.LedgerDataKey]
}

// A hand-edited ledger is reported with the way out and never overwritten;
// once deleted, the next write starts a fresh one.
func TestLedgerCorruptIsLeftAloneUntilDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const garbage = `{"version":1,"jobs":{"x":`
	tamper(t, e, "corrupt", garbage)
	for _, watching := range []bool{false, true} {
		b := backend(t, e.c.Config(), e.ns, "corrupt", watching)
		_, err := update(ctx, b, claim("x", time.Now(), 1))
		if !errors.Is(err, ledger.ErrCorrupt) || !strings.Contains(err.Error(), "kubectl delete configmap -n "+e.ns+" corrupt-leaderjob-ledger") {
			t.Errorf("update of a corrupt ledger = %v, want ErrCorrupt with the delete command", err)
		}
		cm, _ := e.admin.CoreV1().ConfigMaps(e.ns).Get(ctx, "corrupt-leaderjob-ledger", metav1.GetOptions{})
		if err := b.Store(ctx, ledger.State{Version: 1}, cm.ResourceVersion); !errors.Is(err, ledger.ErrCorrupt) {
			t.Errorf("Store over the corrupt version = %v, want ErrCorrupt", err)
		}
	}
	if got := stored(t, e, "corrupt"); got != garbage {
		t.Fatalf("the corrupt ledger was overwritten: %q", got)
	}

	b := backend(t, e.c.Config(), e.ns, "corrupt", true)
	if err := e.admin.CoreV1().ConfigMaps(e.ns).Delete(ctx, "corrupt-leaderjob-ledger", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the deletion on the watch", func() bool { _, v, err := b.Load(ctx); return err == nil && v == "" })
	if _, err := update(ctx, b, claim("x", time.Now(), 1)); err != nil {
		t.Fatalf("update after the deletion = %v", err)
	}
	var s ledger.State
	if err := json.Unmarshal([]byte(stored(t, e, "corrupt")), &s); err != nil || s.Jobs["x"] == nil {
		t.Errorf("recreated ledger = %+v, %v", s, err)
	}
}

// A ledger written by a newer release is left alone.
func TestLedgerNewerFormatIsLeftAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const newer = `{"version":2,"jobs":[{"a":"new shape"}]}`
	tamper(t, e, "newer", newer)
	b := backend(t, e.c.Config(), e.ns, "newer", true)
	if _, err := update(ctx, b, claim("x", time.Now(), 1)); !errors.Is(err, ledger.ErrNewerFormat) {
		t.Errorf("update = %v, want ErrNewerFormat", err)
	}
	if got := stored(t, e, "newer"); got != newer {
		t.Errorf("the newer ledger was overwritten: %q", got)
	}
}

// A ConfigMap an operator created beforehand (so that the Role needs no
// create) is an empty ledger; its other keys and labels are kept.
func TestLedgerPrecreatedConfigMap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pre-leaderjob-ledger", Labels: map[string]string{"team": "billing"}},
		Data: map[string]string{"README": "managed by leaderjob"}}
	if _, err := e.admin.CoreV1().ConfigMaps(e.ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := backend(t, e.c.Config(), e.ns, "pre", false)
	if _, err := update(ctx, b, claim("x", time.Now(), 1)); err != nil {
		t.Fatal(err)
	}
	got, err := e.admin.CoreV1().ConfigMaps(e.ns).Get(ctx, "pre-leaderjob-ledger", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["README"] == "" || got.Labels["team"] != "billing" || got.Data[kube.LedgerDataKey] == "" {
		t.Errorf("ConfigMap after a write: labels %v, data keys %d", got.Labels, len(got.Data))
	}
}

// Without RBAC the error names the rule to add; with exactly the rules of
// examples/kubernetes/lease/rbac.yaml everything works, the watch included.
func TestLedgerRBAC(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	cfg, err := e.c.User("ledger-user")
	if err != nil {
		t.Fatal(err)
	}
	b := backend(t, cfg, e.ns, "monolith", false)
	_, _, err = b.Load(ctx)
	for _, want := range []error{ledger.ErrUnavailable, guard.ErrForbidden} {
		if !errors.Is(err, want) {
			t.Errorf("Load = %v, want it to wrap %v", err, want)
		}
	}
	if err == nil || !strings.Contains(err.Error(), "grant get, update and watch on configmaps named monolith-leaderjob-ledger, and create on configmaps, in namespace "+e.ns) ||
		!strings.Contains(err.Error(), "examples/kubernetes/lease/rbac.yaml") {
		t.Errorf("Load = %v, want the rule to add", err)
	}

	grantLedger(t, e, "ledger-user", "monolith-leaderjob-ledger")
	testutil.Eventually(t, 10*time.Second, "the Role to take effect", func() bool { _, _, err := b.Load(ctx); return err == nil })
	standby := backend(t, cfg, e.ns, "monolith", true) // waits for the watch
	for i := range 3 {
		if _, err := update(ctx, b, claim("x", time.Now(), int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "the writes on the standby's watch", func() bool { s, _, _ := standby.Load(ctx); return s.Fence.N == 2 })
}

// Without watch permission the backend reads from the apiserver, and says
// once what to grant.
func TestLedgerWithoutWatchReadsFromTheAPIServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	cfg, err := e.c.User("no-watch")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.RbacV1().Roles(e.ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "no-watch"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"nowatch-leaderjob-ledger"}, Verbs: []string{"get", "update"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.RbacV1().RoleBindings(e.ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "no-watch"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "no-watch"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: "no-watch"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var logged testutil.LogBuffer
	b := backend(t, cfg, e.ns, "nowatch", false, kube.WithLedgerLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	testutil.Eventually(t, 10*time.Second, "the Role to take effect", func() bool { _, _, err := b.Load(ctx); return err == nil })
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := b.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	writer := backend(t, e.c.Config(), e.ns, "nowatch", false)
	for i := range 3 {
		if _, err := update(ctx, writer, claim("x", time.Now(), int64(i))); err != nil {
			t.Fatal(err)
		}
		s, _, err := b.Load(ctx)
		if err != nil || s.Fence.N != int64(i) {
			t.Fatalf("Load without the watch = fence %d, %v; want %d", s.Fence.N, err, i)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if b.Watching() {
		t.Error("the backend says it watches without permission to")
	}
	if n := strings.Count(logged.String(), "grant watch on configmaps named nowatch-leaderjob-ledger"); n != 1 {
		t.Errorf("the missing watch permission was logged %d times, want once:\n%s", n, logged.String())
	}
}

// A watching standby sends no request while the leader writes, and sees
// every write.
func TestLedgerStandbySendsNoRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	leader := backend(t, e.c.Config(), e.ns, "steady", true)
	if _, err := update(ctx, leader, claim("tick", time.Now(), 1)); err != nil {
		t.Fatal(err)
	}
	standby := backend(t, e.c.Config(), e.ns, "steady", true)
	testutil.Eventually(t, 5*time.Second, "the ledger on the standby", func() bool { _, v, _ := standby.Load(ctx); return v != "" })
	for len(standby.Changes()) > 0 {
		<-standby.Changes()
	}
	before, leaderBefore := standby.Requests(), leader.Requests()

	var seen atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-standby.Changes():
				if s, _, err := standby.Load(ctx); err == nil && s.Jobs["tick"] != nil {
					seen.Store(s.Fence.N)
				}
			case <-time.After(time.Second):
				return
			}
		}
	}()
	const writes = 25
	began := time.Now()
	for i := range writes {
		if _, err := update(ctx, leader, claim("tick", time.Now(), int64(2+i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5*time.Second/writes - 5*time.Millisecond)
	}
	<-done
	if n := standby.Requests() - before; n != 0 {
		t.Errorf("the standby sent %d requests in %v of steady state, want 0", n, time.Since(began).Round(time.Millisecond))
	}
	if got := seen.Load(); got != writes+1 {
		t.Errorf("the standby's last view has fence %d, want %d", got, writes+1)
	}
	if n := leader.Requests() - leaderBefore; n != writes {
		t.Errorf("the leader sent %d requests for %d writes, want one each", n, writes)
	}
}

// A State over the apiserver's limit is refused as too large even when the
// backend's own limit is raised past it.
func TestLedgerOverTheObjectLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := backend(t, e.c.Config(), e.ns, "huge", false, kube.WithLedgerMaxBytes(4<<20))
	s := ledger.State{Version: 1, Jobs: map[string]*ledger.JobState{}}
	for i := range 3000 {
		claim(fmt.Sprintf("job-%04d-%s", i, strings.Repeat("x", 200)), time.Now(), 1)(&s)
	}
	if err := b.Store(context.Background(), s, ""); !errors.Is(err, ledger.ErrTooLarge) {
		t.Errorf("Store of a %d-job State = %v, want ErrTooLarge", len(s.Jobs), err)
	}
	small := backend(t, e.c.Config(), e.ns, "huge", false)
	if err := small.Store(context.Background(), s, ""); !errors.Is(err, ledger.ErrTooLarge) || small.Requests() != 0 {
		t.Errorf("Store with the default limit = %v after %d requests, want ErrTooLarge before any", err, small.Requests())
	}
}

// The ledger's traffic, with LEADERJOB_MEASURE=1: requests and bytes a
// leader sends per write and per minute, and what a watching standby sends,
// for (a) 10 jobs firing every minute (a claim and a completion each; three
// minutes replayed back to back) and (b) one job every second (20 s in real
// time). Histories are full before measuring.
func TestLedgerMeasure(t *testing.T) {
	if os.Getenv("LEADERJOB_MEASURE") != "1" {
		t.Skip("set LEADERJOB_MEASURE=1 to measure the ledger's traffic")
	}
	e := newEnv(t)
	ctx := context.Background()
	type write = func(func(*ledger.State))
	// measure runs round(i, w) for i = 0..HistoryLen to fill the
	// histories, then for i = HistoryLen+1..HistoryLen+rounds measuring;
	// the measured rounds stand for minutes of traffic.
	measure := func(name string, rounds int, minutes float64, round func(i int, w write)) {
		var lw, sw wire
		leader := backend(t, lw.wrap(e.c.Config()), e.ns, name, true, kube.WithLedgerMaxBytes(1<<20))
		standby := backend(t, sw.wrap(e.c.Config()), e.ns, name, true, kube.WithLedgerMaxBytes(1<<20))
		writes, conflicts := 0, 0
		var latencies []time.Duration
		w := func(fn func(*ledger.State)) {
			start := time.Now()
			n, err := update(ctx, leader, fn)
			if err != nil {
				t.Fatal(err)
			}
			latencies = append(latencies, time.Since(start))
			writes++
			conflicts += n
		}
		for i := range ledger.HistoryLen + 1 {
			round(i, w)
		}
		time.Sleep(200 * time.Millisecond)
		writes, conflicts, latencies = 0, 0, nil
		lr, lb, sr := lw.requests.Load(), lw.bytes.Load(), sw.requests.Load()
		for i := range rounds {
			round(ledger.HistoryLen+1+i, w)
		}
		time.Sleep(200 * time.Millisecond)
		reqs, bytes, sreqs := lw.requests.Load()-lr, lw.bytes.Load()-lb, sw.requests.Load()-sr
		s, v, _ := leader.Load(ctx)
		if _, sv, err := standby.Load(ctx); err != nil || sv != v {
			t.Errorf("%s: the standby sees version %s (%v), the leader wrote %s", name, sv, err, v)
		}
		enc, _ := json.Marshal(s)
		slices.Sort(latencies)
		pct := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
		t.Logf("%s: %d jobs, ledger %d bytes; %d writes (%.0f/minute), %d conflicts: write latency p50 %v, p99 %v; leader %.2f requests/write, %d bytes/write, %.0f requests/minute, %.0f KiB/minute; standby %d requests",
			name, len(s.Jobs), len(enc), writes, float64(writes)/minutes, conflicts, pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond),
			float64(reqs)/float64(writes), bytes/int64(writes), float64(reqs)/minutes, float64(bytes)/minutes/1024, sreqs)
		if sreqs != 0 {
			t.Errorf("%s: the standby sent %d requests", name, sreqs)
		}
	}
	at := func(i int) time.Time {
		return time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	}
	jobName := func(j int) string { return fmt.Sprintf("billing.job-%02d", j) }
	// (a) 10 jobs every minute, a claim and a completion each.
	measure("ten-per-minute", 3, 3, func(i int, w write) {
		for j := range 10 {
			w(claim(jobName(j), at(i), 1))
			w(complete(jobName(j), at(i), ""))
		}
	})
	// (a') the same with the ten claims coalesced into one write.
	measure("ten-per-minute-coalesced", 3, 3, func(i int, w write) {
		w(func(s *ledger.State) {
			for j := range 10 {
				claim(jobName(j), at(i), 1)(s)
			}
		})
		for j := range 10 {
			w(complete(jobName(j), at(i), ""))
		}
	})
	// (b) one job every second: each round is one fire, the measured ones
	// one second apart.
	var next time.Time
	measure("one-per-second", 20, 20.0/60, func(i int, w write) {
		if i > ledger.HistoryLen {
			if next.IsZero() {
				next = time.Now()
			}
			time.Sleep(time.Until(next))
			next = next.Add(time.Second)
		}
		fire := at(0).Add(time.Duration(i) * time.Second)
		w(claim("tick", fire, 1))
		w(complete("tick", fire, ""))
	})
}

// While the apiserver is down Load says unavailable; afterwards the watch
// is back, and answers Load again. Not parallel: it takes the shared
// apiserver down.
func TestLedgerAPIServerOutage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	writer := backend(t, e.c.Config(), e.ns, "outage", false)
	if _, err := update(ctx, writer, claim("x", time.Now(), 1)); err != nil {
		t.Fatal(err)
	}
	standby := backend(t, e.c.Config(), e.ns, "outage", true)

	if err := e.c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = e.c.StartAPIServer()
		}
	}()
	testutil.Eventually(t, 5*time.Second, "the watch to notice the outage", func() bool { return !standby.Watching() })
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, _, err := standby.Load(short)
	cancel()
	if !errors.Is(err, ledger.ErrUnavailable) || errors.Is(err, guard.ErrForbidden) {
		t.Errorf("Load during the outage = %v, want ErrUnavailable", err)
	}
	time.Sleep(2 * time.Second)

	if err := e.c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	testutil.Eventually(t, 30*time.Second, "the watch to reopen", standby.Watching)
	if _, err := update(ctx, writer, claim("x", time.Now(), 2)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the write on the reopened watch", func() bool { s, _, _ := standby.Load(ctx); return s.Fence.N == 2 })
	before := standby.Requests()
	if _, err := update(ctx, writer, claim("x", time.Now(), 3)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the next write", func() bool { s, _, _ := standby.Load(ctx); return s.Fence.N == 3 })
	if n := standby.Requests() - before; n != 0 {
		t.Errorf("the standby sent %d requests after the watch reopened, want 0", n)
	}
}
