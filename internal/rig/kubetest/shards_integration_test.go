package kubetest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/ledger"
	wirefmt "github.com/leaderjob/leaderjob/wire"
)

// sharded returns app's ledger spread over n ConfigMaps, started
// (watching) until the test ends, and its backend.
func sharded(t *testing.T, cfg *rest.Config, ns, app string, n int, opts ...kube.ConfigMapOption) (ledger.Ledger, *kube.ShardedConfigMapBackend) {
	t.Helper()
	b, err := kube.NewShardedConfigMapBackend(cfg, ns, app, n, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return ledger.NewLedger(b), b
}

// claimAll claims fire at of every job in one call, with token tok, and
// completes each; it returns how long each claim took.
func claimAll(t *testing.T, l ledger.Ledger, jobs []string, at time.Time, tok int64) []time.Duration {
	t.Helper()
	ctx := context.Background()
	took := make([]time.Duration, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			res, err := l.Claim(ctx, []ledger.Claim{{Job: job, At: at, ClaimID: "term", Holder: "pod-a",
				Epoch: ledger.Epoch{Scope: "uid", N: 1}, Claimed: at, Token: tok}})
			took[i] = time.Since(start)
			if err == nil {
				err = res[0].Err
			}
			if err == nil {
				err = l.Complete(ctx, ledger.Completion{Job: job, At: at, ClaimID: "term", Holder: "pod-a", Outcome: "ran", Ended: at, Token: tok})
			}
			if err != nil {
				t.Errorf("%s at %v: %v", job, at, err)
			}
		}()
	}
	wg.Wait()
	return took
}

// The ledger spread over eight ConfigMaps on a real apiserver: every
// object has its fixed name and the app's labels and holds its own jobs;
// a job that fires often changes only its own object.
func TestShardedLedgerOnTheAPIServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const n = 8
	l, _ := sharded(t, e.c.Config(), e.ns, "fleet", n)
	var tok int64
	if err := l.Update(ctx, func(s *ledger.State) (bool, error) { tok = s.Register(time.Now()); return true, nil }); err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for j := range 200 {
		jobs = append(jobs, fmt.Sprintf("billing.job-%03d", j))
	}
	claimAll(t, l, jobs, time.Now().UTC().Truncate(time.Minute), tok)

	versions := map[string]string{}
	for i := range n {
		name := wirefmt.LedgerShardConfigMap("fleet", i)
		cm, err := e.admin.CoreV1().ConfigMaps(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		if cm.Labels[wirefmt.LabelApp] != "fleet" || cm.Labels[wirefmt.LabelManagedBy] != wirefmt.ManagedBy {
			t.Errorf("%s: labels %v", name, cm.Labels)
		}
		doc, err := wirefmt.DecodeLedger([]byte(cm.Data[wirefmt.LedgerDataKey]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for job := range doc.Jobs {
			if home := wirefmt.LedgerShardOf(job, n); home != i {
				t.Errorf("%s holds %s, whose shard is %d", name, job, home)
			}
		}
		if i == 0 && doc.Shards != n {
			t.Errorf("%s records %d shards, want %d", name, doc.Shards, n)
		}
		versions[name] = cm.ResourceVersion
	}

	hot := jobs[7]
	at := time.Now().UTC().Truncate(time.Second).Add(time.Hour)
	for i := range 10 {
		claimAll(t, l, []string{hot}, at.Add(time.Duration(i)*time.Second), tok)
	}
	for i := range n {
		name := wirefmt.LedgerShardConfigMap("fleet", i)
		cm, err := e.admin.CoreV1().ConfigMaps(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		moved := cm.ResourceVersion != versions[name]
		if want := i == wirefmt.LedgerShardOf(hot, n); moved != want {
			t.Errorf("%s changed: %v, want %v (the hot job is in shard %d)", name, moved, want, wirefmt.LedgerShardOf(hot, n))
		}
	}
}

// A replica allowed only the ledger ConfigMap, not the shards, does not
// start: the error names the ConfigMap to grant and the variable.
func TestShardedLedgerMissingRuleIsAStartError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	grantLedger(t, e, "shard-user", "fleet-leaderjob-ledger")
	cfg, err := e.c.User("shard-user")
	if err != nil {
		t.Fatal(err)
	}
	b, err := kube.NewShardedConfigMapBackend(cfg, e.ns, "fleet", 4)
	if err != nil {
		t.Fatal(err)
	}
	var startErr error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		// The Role takes effect within moments: until then object 0 is
		// refused too.
		startErr = b.Start(ctx)
		if startErr != nil && strings.Contains(startErr.Error(), "configmaps named fleet-leaderjob-ledger-1,") {
			break
		}
	}
	if !errors.Is(startErr, guard.ErrForbidden) || !strings.Contains(startErr.Error(), "configmaps named fleet-leaderjob-ledger-1,") ||
		!strings.Contains(startErr.Error(), kube.EnvLedgerShards+"=4") {
		t.Errorf("Start = %v, want a refusal that names fleet-leaderjob-ledger-1 and %s=4", startErr, kube.EnvLedgerShards)
	}
}

// TestShardedLedgerMeasure measures, on a real apiserver through the
// Ledger (which writes the claims due at one instant together), the
// writes and claim latency of 200 jobs firing each minute, over one
// object (its limit raised to 1 MiB: 200 jobs' records outgrow the
// default within minutes) and over eight. Run with LEADERJOB_MEASURE=1.
func TestShardedLedgerMeasure(t *testing.T) {
	if os.Getenv("LEADERJOB_MEASURE") != "1" {
		t.Skip("set LEADERJOB_MEASURE=1 to measure the spread ledger's writes")
	}
	e := newEnv(t)
	ctx := context.Background()
	var jobs []string
	for j := range 200 {
		jobs = append(jobs, fmt.Sprintf("billing.reconcile-job-%03d", j))
	}
	for _, n := range []int{1, 8} {
		var w wire
		l, b := sharded(t, w.wrap(e.c.Config()), e.ns, fmt.Sprintf("measure-%d", n), n, kube.WithLedgerMaxBytes(1<<20))
		var tok int64
		if err := l.Update(ctx, func(s *ledger.State) (bool, error) { tok = s.Register(time.Now()); return true, nil }); err != nil {
			t.Fatal(err)
		}
		base := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
		claimAll(t, l, jobs, base, tok) // the objects exist from here on
		before := b.Requests()
		var took []time.Duration
		const minutes = 12 // past HistoryLen: the records are full
		for m := 1; m <= minutes; m++ {
			took = append(took, claimAll(t, l, jobs, base.Add(time.Duration(m)*time.Minute), tok)...)
		}
		var sent atomic.Int64
		sent.Store(b.Requests() - before)
		slices.Sort(took)
		pct := func(p float64) time.Duration { return took[int(p*float64(len(took)-1))].Round(100 * time.Microsecond) }
		st, _ := l.Snapshot(ctx)
		size, _ := ledger.EncodedSize(st)
		t.Logf("200 jobs each minute over %d object(s): %.0f requests/minute, claim latency p50 %v, p99 %v; %d bytes in all",
			n, float64(sent.Load())/minutes, pct(0.5), pct(0.99), size)
	}
}
