package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake wraps a Backend: it counts calls, can inject conflicts and errors,
// can delay, and keeps every State stored.
type fake struct {
	Backend
	loads, stores, conflicts atomic.Int64

	mu           sync.Mutex
	injectConf   int   // the next n Stores return ErrConflict without writing
	loadErr      error // returned by Load
	storeErr     error // returned by Store, without writing
	lostReply    bool  // Store writes, then returns an error
	delay        time.Duration
	stored       []State
	onStore      func()
	beforeReturn func()
}

func newFake() *fake { return &fake{Backend: NewMemory()} }

func (f *fake) Load(ctx context.Context) (State, string, error) {
	f.loads.Add(1)
	f.mu.Lock()
	err, d := f.loadErr, f.delay
	f.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
	if err != nil {
		return State{}, "", err
	}
	return f.Backend.Load(ctx)
}

func (f *fake) Store(ctx context.Context, s State, version string) error {
	f.stores.Add(1)
	f.mu.Lock()
	d, err, lost, hook := f.delay, f.storeErr, f.lostReply, f.onStore
	inject := f.injectConf > 0
	if inject {
		f.injectConf--
	}
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	if d > 0 {
		time.Sleep(d)
	}
	if inject {
		f.conflicts.Add(1)
		return ErrConflict
	}
	if err != nil {
		return err
	}
	err = f.Backend.Store(ctx, s, version)
	if errors.Is(err, ErrConflict) {
		f.conflicts.Add(1)
	}
	if err == nil {
		f.mu.Lock()
		f.stored = append(f.stored, s.Clone())
		f.mu.Unlock()
		if lost {
			return errors.New("connection reset")
		}
	}
	return err
}

func (f *fake) set(fn func(f *fake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func fast() []Option { return []Option{WithBackoff(time.Millisecond)} }

func claimOne(t *testing.T, l Ledger, c Claim) ClaimResult {
	t.Helper()
	res, err := l.Claim(context.Background(), []Claim{c})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	return res[0]
}

func TestLedgerClaimAndComplete(t *testing.T) {
	f := newFake()
	l := NewLedger(f, fast()...)
	ctx := context.Background()
	res, err := l.Claim(ctx, []Claim{
		claimOf("a", fire(1), "L", 2, "x"),
		claimOf("b", fire(1), "L", 2, "x"),
		claimOf("a", fire(1), "L", 1, "x"), // an older term: fenced
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[1].Err != nil || !errors.Is(res[2].Err, ErrFenced) {
		t.Fatalf("results = %+v", res)
	}
	if !res[0].ScopeReset || res[1].ScopeReset {
		t.Errorf("scope reset reported on %v, %v; want the first claim only", res[0].ScopeReset, res[1].ScopeReset)
	}
	if err := l.Complete(ctx, Completion{Job: "a", At: fire(1), ClaimID: "x", Outcome: "ran"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Complete(ctx, Completion{Job: "a", At: fire(1), ClaimID: "other", Outcome: "ran"}); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale completion: %v", err)
	}
	if r := claimOne(t, l, claimOf("a", fire(1), "L", 3, "y")); !errors.Is(r.Err, ErrHandled) {
		t.Fatalf("completed fire: %v", r.Err)
	}
	if r := claimOne(t, l, claimOf("b", fire(2), "L", 1, "old")); !errors.Is(r.Err, ErrFenced) {
		t.Fatalf("deposed: %v", r.Err)
	}
	if n := f.stores.Load(); n != 2 {
		t.Errorf("%d stores, want 2 (refusals are not written)", n)
	}
	snap, err := l.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Jobs["a"].Success == nil || snap.Fence != (Epoch{Scope: "L", N: 2}) {
		t.Errorf("snapshot = %+v", snap)
	}
	snap.Jobs["a"].Success = nil
	again, _ := l.Snapshot(ctx)
	if again.Jobs["a"].Success == nil {
		t.Errorf("Snapshot returned shared memory")
	}
}

func TestLedgerSnapshotLoadsWhenNothingKnown(t *testing.T) {
	m := NewMemory()
	var s State
	s.Claim(claimOf("a", fire(1), "L", 1, "x"), t0)
	if err := m.Store(context.Background(), s, ""); err != nil {
		t.Fatal(err)
	}
	got, err := NewLedger(m).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Jobs["a"] == nil {
		t.Errorf("snapshot = %+v", got)
	}
}

func TestLedgerConflictRetries(t *testing.T) {
	f := newFake()
	f.set(func(f *fake) { f.injectConf = 3 })
	l := NewLedger(f, append(fast(), WithMaxRetries(3))...)
	if r := claimOne(t, l, claimOf("a", fire(1), "L", 1, "x")); r.Err != nil {
		t.Fatal(r.Err)
	}
	if n := f.loads.Load(); n != 4 {
		t.Errorf("%d loads, want 4 (each retry re-reads)", n)
	}
}

func TestLedgerConflictRechecksTheFence(t *testing.T) {
	f := newFake()
	l := NewLedger(f, fast()...)
	if r := claimOne(t, l, claimOf("a", fire(1), "L", 1, "x")); r.Err != nil {
		t.Fatal(r.Err)
	}
	// While this replica writes, a newer leader writes first.
	var once sync.Once
	f.set(func(f *fake) {
		f.onStore = func() {
			once.Do(func() {
				var s State
				st, v, _ := f.Backend.Load(context.Background())
				s = st
				s.Claim(claimOf("b", fire(1), "L", 2, "y"), t0)
				if err := f.Backend.Store(context.Background(), s, v); err != nil {
					t.Error(err)
				}
			})
		}
	})
	if r := claimOne(t, l, claimOf("a", fire(2), "L", 1, "x")); !errors.Is(r.Err, ErrFenced) {
		t.Fatalf("after the conflict: %v, want ErrFenced", r.Err)
	}
}

func TestLedgerFailsClosed(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(f *fake)
		opts      []Option
		want      []error
		wantStore bool
	}{
		{
			name:      "conflicts beyond the retries",
			setup:     func(f *fake) { f.injectConf = 100 },
			opts:      []Option{WithMaxRetries(2)},
			want:      []error{ErrUnavailable, ErrConflict},
			wantStore: true,
		},
		{
			name:      "store fails",
			setup:     func(f *fake) { f.storeErr = errors.New("apiserver: 503") },
			want:      []error{ErrUnavailable},
			wantStore: true,
		},
		{
			name:      "too large",
			setup:     func(f *fake) { f.storeErr = fmt.Errorf("%w: 2 MiB", ErrTooLarge) },
			want:      []error{ErrUnavailable, ErrTooLarge},
			wantStore: true,
		},
		{
			name:  "load fails",
			setup: func(f *fake) { f.loadErr = errors.New("timeout") },
			want:  []error{ErrUnavailable},
		},
		{
			name:  "corrupt: nothing written over it",
			setup: func(f *fake) { f.loadErr = fmt.Errorf("%w: bad json", ErrCorrupt) },
			want:  []error{ErrUnavailable, ErrCorrupt},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.set(tt.setup)
			l := NewLedger(f, append(fast(), tt.opts...)...)
			ctx := context.Background()
			res, err := l.Claim(ctx, []Claim{claimOf("a", fire(1), "L", 1, "x"), claimOf("b", fire(1), "L", 1, "x")})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				for _, w := range tt.want {
					if !errors.Is(r.Err, w) {
						t.Errorf("result %d: %v, want it to wrap %v", i, r.Err, w)
					}
				}
			}
			// Nothing was claimed: refused by the rule, or by the failure.
			if cerr := l.Complete(ctx, Completion{Job: "a", At: fire(1), ClaimID: "x"}); cerr == nil {
				t.Errorf("complete succeeded")
			}
			if got := f.stores.Load() > 0; got != tt.wantStore {
				t.Errorf("store called: %v, want %v", got, tt.wantStore)
			}
			if st, _, _ := f.Backend.Load(ctx); st.Jobs != nil {
				t.Errorf("something was stored: %+v", st)
			}
		})
	}
}

func TestLedgerNewerFormat(t *testing.T) {
	f := newFake()
	if err := f.Backend.Store(context.Background(), State{Version: FormatVersion + 1}, ""); err != nil {
		t.Fatal(err)
	}
	l := NewLedger(f, fast()...)
	r := claimOne(t, l, claimOf("a", fire(1), "L", 1, "x"))
	if !errors.Is(r.Err, ErrNewerFormat) || !errors.Is(r.Err, ErrUnavailable) {
		t.Errorf("claim: %v", r.Err)
	}
	if _, err := l.Snapshot(context.Background()); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("snapshot: %v", err)
	}
	if n := f.stores.Load(); n != 0 {
		t.Errorf("%d stores over a newer format", n)
	}
}

func TestLedgerLostReply(t *testing.T) {
	f := newFake()
	f.set(func(f *fake) { f.lostReply = true })
	l := NewLedger(f, fast()...)
	c := claimOf("a", fire(1), "L", 1, "x")
	if r := claimOne(t, l, c); !errors.Is(r.Err, ErrUnavailable) {
		t.Fatalf("first claim: %v, want ErrUnavailable", r.Err)
	}
	f.set(func(f *fake) { f.lostReply = false })
	r := claimOne(t, l, c)
	if r.Err != nil || r.Rerun {
		t.Fatalf("retry of the same claim: %+v, want success, not a re-run", r)
	}
	if n := f.stores.Load(); n != 1 {
		t.Errorf("%d stores, want 1 (the retry finds its own write)", n)
	}
}

func TestLedgerScopeResetWarns(t *testing.T) {
	var buf testutil.LogBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	l := NewLedger(NewMemory(), WithLogger(logger))
	claimOne(t, l, claimOf("a", fire(1), "L", 5, "x"))
	r := claimOne(t, l, claimOf("a", fire(2), "M", 0, "y"))
	if r.Err != nil || !r.ScopeReset {
		t.Fatalf("result = %+v", r)
	}
	out := buf.String()
	if strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, "fence set by the first claim") ||
		!strings.Contains(out, "old_scope=L") || !strings.Contains(out, "new_scope=M") {
		t.Errorf("log:\n%s", out)
	}
}

func TestLedgerClock(t *testing.T) {
	at := t0.Add(42 * time.Second)
	l := NewLedger(NewMemory(), WithClock(func() time.Time { return at }))
	claimOne(t, l, claimOf("a", fire(1), "L", 1, "x"))
	s, _ := l.Snapshot(context.Background())
	if got := s.Jobs["a"].Claimed.Claimed; !got.Equal(at) {
		t.Errorf("claimed = %v, want %v", got, at)
	}
}

// The test runs in a synctest bubble: the slow write's delay is on the
// bubble's clock, and the bubble ends only once the write has.
func TestLedgerContextEnded(t *testing.T) {
	synctest.Test(t, testLedgerContextEnded)
}

func testLedgerContextEnded(t *testing.T) {
	f := newFake()
	l := NewLedger(f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Claim(ctx, []Claim{claimOf("a", fire(1), "L", 1, "x")}); !errors.Is(err, context.Canceled) {
		t.Errorf("claim: %v", err)
	}
	if err := l.Complete(ctx, Completion{Job: "a"}); !errors.Is(err, context.Canceled) {
		t.Errorf("complete: %v", err)
	}
	if f.stores.Load() != 0 {
		t.Errorf("a canceled claim was written")
	}
	// A caller that gives up while a slow write is in flight.
	f.set(func(f *fake) { f.delay = 50 * time.Millisecond })
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := l.Claim(ctx, []Claim{claimOf("a", fire(1), "L", 1, "x")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("claim: %v", err)
	}
	if took := time.Since(start); took != 10*time.Millisecond {
		t.Errorf("the claim returned after %v, want at its deadline, 10ms", took)
	}
	// The write goes on and ends: the next claim waits for it, then has a
	// write of its own. (The bubble would not end while the first write
	// sleeps.)
	claimOne(t, l, claimOf("b", fire(1), "L", 1, "x"))
	if took := time.Since(start); took != 200*time.Millisecond {
		t.Errorf("the next claim returned %v after the first began, want after both writes, 200ms", took)
	}
	if n := f.stores.Load(); n != 2 {
		t.Errorf("%d stores, want 2", n)
	}
}

// TestLedgerCoalesces: claims made while a write is in flight share the
// next write. In a synctest bubble every claim is made before the first
// write's 5ms have passed: those the first write did not take share the
// second.
func TestLedgerCoalesces(t *testing.T) {
	synctest.Test(t, testLedgerCoalesces)
}

func testLedgerCoalesces(t *testing.T) {
	f := newFake()
	f.set(func(f *fake) { f.delay = 5 * time.Millisecond })
	l := NewLedger(f)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			res, err := l.Claim(context.Background(), []Claim{claimOf(fmt.Sprintf("job-%03d", i), fire(1), "L", 1, "x")})
			if err == nil {
				err = res[0].Err
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s, _ := l.Snapshot(context.Background())
	if len(s.Jobs) != n {
		t.Errorf("%d jobs recorded, want %d", len(s.Jobs), n)
	}
	stores := f.stores.Load()
	t.Logf("%d claims, %d stores", n, stores)
	if stores > 2 {
		t.Errorf("%d stores for %d claims made together, want at most 2", stores, n)
	}
}

// TestLedgerReplicas: several replicas (each its own Ledger, term and
// ClaimID) claim the same fires on one backend, concurrently. No fire is
// claimed twice except as a re-run, the fence never goes down, and each
// job's claimed fire never goes back.
func TestLedgerReplicas(t *testing.T) {
	f := newFake()
	f.set(func(f *fake) { f.delay = 200 * time.Microsecond }) // so that writes overlap
	const (
		replicas = 4
		workers  = 4
		jobs     = 3
		fires    = 15
	)
	type win struct {
		job   string
		fire  int
		id    string
		rerun bool
	}
	var (
		mu   sync.Mutex
		wins []win
	)
	var wg sync.WaitGroup
	for rep := range replicas {
		l := NewLedger(f, WithBackoff(time.Millisecond), WithMaxRetries(200))
		id := fmt.Sprintf("r%d", rep)
		for w := range workers {
			wg.Go(func() {
				for i := range fires {
					for j := range jobs {
						job := fmt.Sprintf("j%d", (j+w)%jobs)
						// Terms in order: replica rep leads with N=rep.
						c := claimOf(job, fire(i), "L", int64(rep), id)
						res, err := l.Claim(context.Background(), []Claim{c})
						if err != nil {
							t.Error(err)
							return
						}
						r := res[0]
						if errors.Is(r.Err, ErrUnavailable) {
							t.Errorf("unavailable: %v", r.Err)
							return
						}
						if r.Err != nil {
							continue
						}
						mu.Lock()
						wins = append(wins, win{job, i, id, r.Rerun})
						mu.Unlock()
						err = l.Complete(context.Background(), Completion{Job: job, At: fire(i), ClaimID: id, Outcome: "ran"})
						if err != nil && !errors.Is(err, ErrFenced) {
							t.Errorf("complete: %v", err)
						}
					}
				}
			})
		}
	}
	wg.Wait()

	// By fire, by ClaimID: whether any of its wins was a re-run (a worker
	// finding its replica's own claim reports no re-run, even when that
	// claim was one).
	byFire := map[string]map[string]bool{}
	for _, w := range wins {
		k := fmt.Sprintf("%s/%d", w.job, w.fire)
		if byFire[k] == nil {
			byFire[k] = map[string]bool{}
		}
		byFire[k][w.id] = byFire[k][w.id] || w.rerun
	}
	for k, ids := range byFire {
		fresh := 0
		for _, rerun := range ids {
			if !rerun {
				fresh++
			}
		}
		if fresh != 1 {
			t.Errorf("fire %s claimed as new by %d terms: %v", k, fresh, ids)
		}
	}
	f.mu.Lock()
	stored := f.stored
	f.mu.Unlock()
	var prev State
	for i, s := range stored {
		if s.Fence.N < prev.Fence.N {
			t.Fatalf("store %d: the fence went down from %d to %d", i, prev.Fence.N, s.Fence.N)
		}
		for job, js := range prev.Jobs {
			now := s.Jobs[job]
			if now == nil || now.Claimed.At.Before(js.Claimed.At) {
				t.Fatalf("store %d: job %s went back", i, job)
			}
			if now.Claimed.At.Equal(js.Claimed.At) && now.Claimed.ClaimID != js.Claimed.ClaimID &&
				js.Completed != nil && js.Completed.At.Equal(js.Claimed.At) {
				t.Fatalf("store %d: job %s: a completed fire was claimed again", i, job)
			}
		}
		prev = s
	}
	final, _, _ := f.Backend.Load(context.Background())
	var top int64
	for _, w := range wins {
		top = max(top, int64(w.id[1]-'0'))
	}
	if final.Fence != (Epoch{Scope: "L", N: top}) {
		t.Errorf("final fence %+v, want N=%d, the highest term that won", final.Fence, top)
	}
	t.Logf("%d wins, %d stores, %d conflicts, %d loads", len(wins), f.stores.Load(), f.conflicts.Load(), f.loads.Load())
	if f.conflicts.Load() == 0 {
		t.Logf("no conflict happened; the retry path was not exercised here")
	}
}

func TestMemory(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	s, v, err := m.Load(ctx)
	if err != nil || v != "" || s.Jobs != nil {
		t.Fatalf("empty load: %+v %q %v", s, v, err)
	}
	if err := m.Store(ctx, s, "1"); !errors.Is(err, ErrConflict) {
		t.Errorf("store with a wrong version: %v", err)
	}
	s.Claim(claimOf("a", fire(1), "L", 1, "x"), t0)
	if err := m.Store(ctx, s, ""); err != nil {
		t.Fatal(err)
	}
	if err := m.Store(ctx, s, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("second create: %v", err)
	}
	got, v2, err := m.Load(ctx)
	if err != nil || v2 == "" || got.Jobs["a"] == nil {
		t.Fatalf("load: %+v %q %v", got, v2, err)
	}
	got.Jobs["a"].Claimed.ClaimID = "changed"
	again, _, _ := m.Load(ctx)
	if again.Jobs["a"].Claimed.ClaimID != "x" {
		t.Errorf("Load shares memory")
	}
	if err := m.Store(ctx, got, v2); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryLimit(t *testing.T) {
	ctx := context.Background()
	var s State
	s.Claim(claimOf("a", fire(1), "L", 1, "x"), t0)
	size, _ := EncodedSize(s)
	if err := NewMemoryLimit(size).Store(ctx, s, ""); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	m := NewMemoryLimit(size - 1)
	if err := m.Store(ctx, s, ""); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if got, _, _ := m.Load(ctx); got.Jobs != nil {
		t.Errorf("stored over the limit")
	}
}

func TestMemoryConcurrent(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				s, v, err := m.Load(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				s.Version++
				if m.Store(ctx, s, v) == nil {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	s, _, _ := m.Load(ctx)
	if int64(s.Version) != ok.Load() {
		t.Errorf("version %d after %d successful stores: a lost update", s.Version, ok.Load())
	}
}
