package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// counted is a memory Backend that counts its Stores, and fails them
// with down's error while it is set.
type counted struct {
	Backend
	stores  atomic.Int64
	down    atomic.Pointer[error]
	corrupt atomic.Bool // Load reports the object corrupt
}

func (c *counted) Load(ctx context.Context) (State, string, error) {
	if c.corrupt.Load() {
		return State{}, "", fmt.Errorf("%w: not a ledger", ErrCorrupt)
	}
	return c.Backend.Load(ctx)
}

func (c *counted) Store(ctx context.Context, s State, v string) error {
	c.stores.Add(1)
	if err := c.down.Load(); err != nil {
		return *err
	}
	return c.Backend.Store(ctx, s, v)
}

// fail makes object i's writes fail with err (nil: succeed again).
func (o *objects) fail(i int, err error) {
	o.object(i)
	if err == nil {
		o.m[i].down.Store(nil)
		return
	}
	o.m[i].down.Store(&err)
}

// objects is a set of memory objects, each limited to limit bytes
// (limits[i] when set), shared by every sharded backend made of it.
type objects struct {
	mu     sync.Mutex
	limit  int
	limits map[int]int
	m      map[int]*counted
}

func (o *objects) object(i int) Backend {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[int]*counted{}
	}
	if o.m[i] == nil {
		limit := o.limit
		if l, ok := o.limits[i]; ok {
			limit = l
		}
		o.m[i] = &counted{Backend: NewMemoryLimit(limit)}
	}
	return o.m[i]
}

func (o *objects) sharded(t *testing.T, n int) Backend {
	t.Helper()
	b, err := NewShardedBackend(n, o.object)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// load reads object i's own document.
func (o *objects) load(t *testing.T, i int) State {
	t.Helper()
	s, _, err := o.object(i).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// 500 jobs with long names, each with a full history of failures whose
// errors fill the excerpt and RecentLen recent fires, spread over 32
// objects of the ConfigMap backend's default limit: every object stays
// under the limit with room, and claims through the spread ledger work.
func TestShardedFiveHundredJobsFit(t *testing.T) {
	const jobs, n, limit = 500, 32, 256 << 10
	var s State
	reg := s.Register(t0)
	errText := strings.Repeat(`"quoted" failure `, 40)
	for j := range jobs {
		name := fmt.Sprintf("billing.invoices.reconcile-payment-provider-payouts-%03d", j)
		for i := range RecentLen + 1 {
			at := fire(i)
			c := Claim{Job: name, At: at, Key: "shop/" + name + "/" + at.Format(time.RFC3339Nano),
				Epoch: Epoch{Scope: "6f1c2a4e-8d3b-4f7a-9c21-0e5d7b3a9f10", N: 12}, ClaimID: "shop-7d9f8b6c4-x2x9q/EVW725NT/3",
				Holder: "shop-7d9f8b6c4-x2x9q", Claimed: at, Token: reg}
			if r := s.Claim(c, at); r.Err != nil {
				t.Fatal(r.Err)
			}
			if err := s.Complete(Completion{Job: name, At: at, ClaimID: c.ClaimID, Holder: c.Holder, Outcome: "failed",
				Duration: time.Second, Error: errText, Ended: at, Token: reg}); err != nil {
				t.Fatal(err)
			}
		}
	}
	whole, _ := EncodedSize(s)

	o := &objects{limit: limit}
	b := o.sharded(t, n)
	_, v, err := b.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Store(context.Background(), s, v); err != nil {
		t.Fatalf("storing 500 jobs over %d objects: %v", n, err)
	}
	largest, total := 0, 0
	for i := range n {
		size, _ := EncodedSize(o.load(t, i))
		largest, total = max(largest, size), total+size
	}
	t.Logf("500 jobs: %d bytes in one document; over %d objects %d bytes, the largest %d (limit %d)", whole, n, total, largest, limit)
	if largest > limit/2 {
		t.Errorf("the largest object holds %d bytes, more than half the limit %d", largest, limit)
	}

	l := NewLedger(b)
	got, err := l.Snapshot(context.Background())
	if err != nil || len(got.Jobs) != jobs {
		t.Fatalf("snapshot: %d jobs, %v", len(got.Jobs), err)
	}
	name := "billing.invoices.reconcile-payment-provider-payouts-007"
	res, err := l.Claim(context.Background(), []Claim{
		{Job: name, At: fire(RecentLen), ClaimID: "late", Epoch: Epoch{Scope: "6f1c2a4e-8d3b-4f7a-9c21-0e5d7b3a9f10", N: 12}, Token: reg},
		{Job: name, At: fire(RecentLen + 1), ClaimID: "next", Epoch: Epoch{Scope: "6f1c2a4e-8d3b-4f7a-9c21-0e5d7b3a9f10", N: 12}, Token: reg},
	})
	if err != nil || !errors.Is(res[0].Err, ErrHandled) || res[1].Err != nil {
		t.Fatalf("claims through the spread ledger: %+v %v", res, err)
	}
}

// An object over its limit fails the claims of its own jobs, with an
// error that says so, and the claims of every other job in the same write
// are recorded.
func TestShardedFullObjectFailsOnlyItsJobs(t *testing.T) {
	const n = 4
	o := &objects{limits: map[int]int{2: 300}}
	l := NewLedger(o.sharded(t, n))
	var full, other []string
	for j := 0; len(full) < 3 || len(other) < 3; j++ {
		name := fmt.Sprintf("job-%d", j)
		if wire.LedgerShardOf(name, n) == 2 {
			full = append(full, name)
		} else {
			other = append(other, name)
		}
	}
	var claims []Claim
	for _, name := range append(append([]string(nil), full[:3]...), other[:3]...) {
		claims = append(claims, claimOf(name, fire(1), "L", 1, "a"))
	}
	res, err := l.Claim(context.Background(), claims)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		inFull := i < 3
		switch {
		case inFull && !(errors.Is(r.Err, ErrTooLarge) && errors.Is(r.Err, ErrUnavailable)):
			t.Errorf("claim of %s in the full object: %v, want ErrTooLarge and ErrUnavailable", claims[i].Job, r.Err)
		case !inFull && r.Err != nil:
			t.Errorf("claim of %s in another object: %v", claims[i].Job, r.Err)
		}
	}
	s, err := l.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range other[:3] {
		if s.Jobs[name] == nil {
			t.Errorf("%s not recorded", name)
		}
	}
	for _, name := range full[:3] {
		if s.Jobs[name] != nil {
			t.Errorf("%s recorded in the full object", name)
		}
	}
}

// A job that fires often writes its own object only: the other objects'
// versions do not move, so their claims never conflict with it.
func TestShardedHotJobWritesOneObject(t *testing.T) {
	const n = 8
	o := &objects{}
	l := NewLedger(o.sharded(t, n))
	ctx := context.Background()
	if err := l.Update(ctx, func(s *State) (bool, error) { s.Register(t0); return true, nil }); err != nil {
		t.Fatal(err)
	}
	before := make([]int64, n)
	for i := range n {
		before[i] = o.m[i].stores.Load()
	}
	hot := wire.LedgerShardOf("hot", n)
	for i := range 100 {
		c := claimOf("hot", fire(i), "L", 1, "a")
		if res, err := l.Claim(ctx, []Claim{c}); err != nil || res[0].Err != nil {
			t.Fatalf("claim %d: %v %v", i, err, res)
		}
		if err := l.Complete(ctx, Completion{Job: "hot", At: c.At, ClaimID: "a", Outcome: "ran"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		writes := o.m[i].stores.Load() - before[i]
		switch {
		case i == hot && writes < 200:
			t.Errorf("the hot job's object %d was written %d times, want 200", i, writes)
		case i != hot && i != 0 && writes != 0:
			t.Errorf("object %d was written %d times by another object's job", i, writes)
		case i == 0 && i != hot && writes > 1:
			t.Errorf("object 0 was written %d times (once, for the epoch fence, at most)", writes)
		}
	}
}

// Spread mode: adopting a job (which raises the ledger's last token) and
// claiming with its token write only the job's own object, so the
// replicas that own the jobs of other objects are not made to conflict;
// every object still reads valid, and the merged ledger keeps the newest
// token.
func TestShardedAdoptionWritesOneObject(t *testing.T) {
	const n = 8
	o := &objects{}
	l := NewLedger(o.sharded(t, n))
	ctx := context.Background()
	claim := func(job string, tok int64, i int) {
		t.Helper()
		c := claimOf(job, fire(i), "", 0, "a")
		c.Token = tok
		if res, err := l.Claim(ctx, []Claim{c}); err != nil || res[0].Err != nil {
			t.Fatalf("claim of %s: %v %v", job, err, res)
		}
	}
	adopt := func(job string) int64 {
		t.Helper()
		var tok int64
		if err := l.Update(ctx, func(s *State) (bool, error) {
			var err error
			tok, err = s.Adopt(job, "pod-a", time.Time{}, t0, nil)
			return err == nil, err
		}); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	claim("warm", adopt("warm"), 0) // the first write of every object
	before := make([]int64, n)
	for i := range n {
		before[i] = o.m[i].stores.Load()
	}
	hot := wire.LedgerShardOf("hot", n)
	var last int64
	for i := range 20 {
		last = adopt("hot")
		claim("hot", last, i+1)
	}
	for i := range n {
		if writes := o.m[i].stores.Load() - before[i]; i != hot && writes != 0 {
			t.Errorf("object %d was written %d times by adoptions of another object's job", i, writes)
		}
	}
	s, err := l.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Tokens != last || s.Jobs["hot"].Fence != last {
		t.Errorf("merged tokens %d, fence %d, want both %d", s.Tokens, s.Jobs["hot"].Fence, last)
	}
	if r := s.Register(t0); r <= last {
		t.Errorf("a registration after the adoptions issued %d, not above %d", r, last)
	}
}

// A ledger one object holds (a release that spreads nothing, or n = 1) is
// read as it is by a spread one: nothing is run again, and each job moves
// to its shard with its next write. Spreading back over one object moves
// every job back, where a release that reads one object finds them.
func TestShardedMigrationRunsNothingTwice(t *testing.T) {
	ctx := context.Background()
	o := &objects{}
	one := NewLedger(o.object(0))
	var names []string
	for j := range 20 {
		names = append(names, fmt.Sprintf("job-%d", j))
	}
	claimAll := func(l Ledger, at time.Time, id string) []ClaimResult {
		t.Helper()
		var cs []Claim
		for _, name := range names {
			cs = append(cs, claimOf(name, at, "L", 1, id))
		}
		res, err := l.Claim(ctx, cs)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, r := range claimAll(one, fire(1), "v1") {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	for _, name := range names {
		if err := one.Complete(ctx, Completion{Job: name, At: fire(1), ClaimID: "v1", Outcome: "ran"}); err != nil {
			t.Fatal(err)
		}
	}

	spread := NewLedger(o.sharded(t, 8))
	for i, r := range claimAll(spread, fire(1), "v2") {
		if !errors.Is(r.Err, ErrHandled) {
			t.Errorf("%s: the fire the single object recorded was claimed again: %v", names[i], r.Err)
		}
	}
	for _, r := range claimAll(spread, fire(2), "v2") {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	root := o.load(t, 0)
	if root.Shards != 8 {
		t.Errorf("object 0 records %d shards, want 8", root.Shards)
	}
	for _, name := range names {
		home := wire.LedgerShardOf(name, 8)
		if js := o.load(t, home).Jobs[name]; js == nil || !js.Claimed.At.Equal(fire(2)) {
			t.Errorf("%s is not in its shard %d with its new claim: %+v", name, home, js)
		}
	}
	// The next write of each job finds it in its new object, and the old
	// one lets go of it.
	for _, name := range names {
		if err := spread.Complete(ctx, Completion{Job: name, At: fire(2), ClaimID: "v2", Outcome: "ran"}); err != nil {
			t.Fatal(err)
		}
	}
	root = o.load(t, 0)
	for _, name := range names {
		if home := wire.LedgerShardOf(name, 8); home != 0 && root.Jobs[name] != nil {
			t.Errorf("%s stayed in object 0 after its second write", name)
		}
	}

	// A reader configured with one object still reads all eight.
	narrow := NewLedger(o.sharded(t, 1))
	s, err := narrow.Snapshot(ctx)
	if err != nil || len(s.Jobs) != len(names) {
		t.Fatalf("one-object reader: %d jobs, %v", len(s.Jobs), err)
	}
	for i, r := range claimAll(narrow, fire(2), "back") {
		if !errors.Is(r.Err, ErrHandled) {
			t.Errorf("%s: claimed again after spreading back: %v", names[i], r.Err)
		}
	}
	for _, r := range claimAll(narrow, fire(3), "back") {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	root = o.load(t, 0)
	if root.Shards != 1 || len(root.Jobs) != len(names) {
		t.Errorf("after spreading back object 0 holds %d jobs and records %d shards, want %d and 1", len(root.Jobs), root.Shards, len(names))
	}
}

// A term that registers takes every object's jobs from the older term,
// whatever object they are in.
func TestShardedRegistrationFencesEveryObject(t *testing.T) {
	ctx := context.Background()
	o := &objects{}
	l := NewLedger(o.sharded(t, 4))
	var old, cur int64
	for _, tok := range []*int64{&old, &cur} {
		if err := l.Update(ctx, func(s *State) (bool, error) { *tok = s.Register(t0); return true, nil }); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		if s := o.load(t, i); s.Owner != cur {
			t.Errorf("object %d: owner %d, want %d", i, s.Owner, cur)
		}
	}
	for j := range 8 {
		c := claimOf(fmt.Sprintf("job-%d", j), fire(1), "L", 1, "old")
		c.Token = old
		res, err := l.Claim(ctx, []Claim{c})
		if err != nil || !errors.Is(res[0].Err, ErrFenced) {
			t.Errorf("the older term's claim of %s: %v %v, want ErrFenced", c.Job, err, res)
		}
	}
}

// Two processes write the records of 40 jobs at once (each its own half,
// as replicas that share the work would), each through its own spread
// ledger on the same four objects: their writes conflict and are retried,
// and no claim or completion is lost.
func TestShardedConcurrentWritersLoseNothing(t *testing.T) {
	ctx := context.Background()
	o := &objects{}
	var wg sync.WaitGroup
	for p := range 2 {
		l := NewLedger(o.sharded(t, 4), WithMaxRetries(100), WithBackoff(time.Microsecond))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range 10 {
				var cs []Claim
				for j := p; j < 40; j += 2 {
					cs = append(cs, claimOf(fmt.Sprintf("job-%d", j), fire(f), "L", 1, fmt.Sprintf("p%d", p)))
				}
				res, err := l.Claim(ctx, cs)
				if err != nil {
					t.Error(err)
					return
				}
				for i, r := range res {
					if r.Err != nil {
						t.Errorf("claim of %s at fire %d: %v", cs[i].Job, f, r.Err)
						continue
					}
					if err := l.Complete(ctx, Completion{Job: cs[i].Job, At: fire(f), ClaimID: cs[i].ClaimID, Outcome: "ran"}); err != nil {
						t.Errorf("completion of %s at fire %d: %v", cs[i].Job, f, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	s, err := NewLedger(o.sharded(t, 4)).Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for j := range 40 {
		js := s.Jobs[fmt.Sprintf("job-%d", j)]
		if js == nil || !js.Claimed.At.Equal(fire(9)) || js.Completed == nil || !js.Completed.At.Equal(fire(9)) || len(js.Recent) != 10 {
			t.Errorf("job-%d: %+v, want fire 9 claimed and completed, 10 recent fires", j, js)
		}
	}
}

// A write that moves records between objects (the count changed) and
// fails half-way loses none: whichever object's write fails, every record
// is in some object, and a fire that ran is not claimed again.
func TestShardedMoveNeverLosesARecord(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		from, to int
		failing  int // the object whose write fails
	}{
		{"grow, a new object down", 1, 4, 1},
		{"grow, another new object down", 1, 4, 2},
		{"shrink, object 0 down", 4, 1, 0},
		{"regroup, an object down", 4, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &objects{}
			var names []string
			for j := range 8 {
				names = append(names, fmt.Sprintf("job-%d", j))
			}
			first := NewLedger(o.sharded(t, tc.from))
			for _, name := range names {
				c := claimOf(name, fire(1), "L", 1, "a")
				if res, err := first.Claim(ctx, []Claim{c}); err != nil || res[0].Err != nil {
					t.Fatal(err, res)
				}
				if err := first.Complete(ctx, Completion{Job: name, At: fire(1), ClaimID: "a", Outcome: "ran"}); err != nil {
					t.Fatal(err)
				}
			}
			o.fail(tc.failing, errors.New("unreachable"))
			next := NewLedger(o.sharded(t, tc.to), WithMaxRetries(0))
			var cs []Claim
			for _, name := range names {
				cs = append(cs, claimOf(name, fire(2), "L", 1, "b"))
			}
			if _, err := next.Claim(ctx, cs); err != nil {
				t.Fatal(err)
			}
			o.fail(tc.failing, nil)
			s, err := NewLedger(o.sharded(t, tc.to)).Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range names {
				if s.Jobs[name] == nil {
					t.Errorf("%s's record is in no object", name)
				}
			}
			res, err := NewLedger(o.sharded(t, tc.to)).Claim(ctx, []Claim{claimOf("job-0", fire(1), "L", 1, "c")})
			if err != nil || !errors.Is(res[0].Err, ErrHandled) {
				t.Errorf("job-0's fire that ran was claimed again: %v %v", err, res)
			}
		})
	}
}

// Object 0 is the commit point: when its write fails, nothing of the
// write is in the other objects. A registration refused on its retry
// leaves no token behind to fence the live leader, and a claim refused
// because object 0 could not be written leaves no record that would make
// the fire look handled.
func TestShardedObjectZeroCommitsOrNothing(t *testing.T) {
	ctx := context.Background()
	o := &objects{}
	l := NewLedger(o.sharded(t, 4), WithMaxRetries(0))
	var live int64
	if err := l.Update(ctx, func(s *State) (bool, error) { live = s.Register(t0); return true, nil }); err != nil {
		t.Fatal(err)
	}
	o.fail(0, errors.New("apiserver timeout"))
	err := l.Update(ctx, func(s *State) (bool, error) { s.Register(t0.Add(time.Hour)); return true, nil })
	if err == nil {
		t.Fatal("a registration whose object 0 write failed succeeded")
	}
	var names []string
	for j := range 8 {
		names = append(names, fmt.Sprintf("job-%d", j))
	}
	var cs []Claim
	for _, name := range names {
		c := claimOf(name, fire(1), "L", 1, "x")
		c.Token = live
		cs = append(cs, c)
	}
	res, err := l.Claim(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if home := wire.LedgerShardOf(names[i], 4); home == 0 && r.Err == nil {
			t.Errorf("%s (object 0) claimed while object 0 is down", names[i])
		}
	}
	o.fail(0, nil)
	for i := 1; i < 4; i++ {
		if s := o.load(t, i); s.Owner > live {
			t.Errorf("object %d holds owner %d from a registration that failed (the live one is %d)", i, s.Owner, live)
		}
	}
	s, err := l.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		if res[i].Err != nil && s.Jobs[name] != nil && s.Jobs[name].Handled(fire(1)) {
			t.Errorf("%s: its claim was refused, yet the ledger takes the fire for handled", name)
		}
	}
	c := claimOf("job-0", fire(2), "L", 1, "x")
	c.Token = live
	if res, err := l.Claim(ctx, []Claim{c}); err != nil || res[0].Err != nil {
		t.Errorf("the live term is fenced after the failed registration: %v %v", err, res)
	}
}

// A corrupt object other than 0 fails the claims of its own jobs only; it
// is never written over, and the other objects' jobs go on.
func TestShardedCorruptObjectFailsOnlyItsJobs(t *testing.T) {
	ctx := context.Background()
	const n = 4
	o := &objects{}
	l := NewLedger(o.sharded(t, n))
	var names []string
	for j := range 12 {
		names = append(names, fmt.Sprintf("job-%d", j))
	}
	claim := func(at time.Time) []ClaimResult {
		var cs []Claim
		for _, name := range names {
			cs = append(cs, claimOf(name, at, "L", 1, "a"))
		}
		res, err := l.Claim(ctx, cs)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if !slices.ContainsFunc(names, func(name string) bool { return wire.LedgerShardOf(name, n) == 2 }) {
		t.Fatal("no job in object 2: the test shows nothing")
	}
	claim(fire(1))
	o.object(2)
	o.m[2].corrupt.Store(true)
	before := o.m[2].stores.Load()
	for i, r := range claim(fire(2)) {
		inCorrupt := wire.LedgerShardOf(names[i], n) == 2
		switch {
		case inCorrupt && !(errors.Is(r.Err, ErrCorrupt) && errors.Is(r.Err, ErrUnavailable)):
			t.Errorf("%s (in the corrupt object): %v, want ErrCorrupt", names[i], r.Err)
		case !inCorrupt && r.Err != nil:
			t.Errorf("%s (elsewhere): %v", names[i], r.Err)
		}
	}
	if writes := o.m[2].stores.Load() - before; writes != 0 {
		t.Errorf("the corrupt object was written %d times", writes)
	}
}
