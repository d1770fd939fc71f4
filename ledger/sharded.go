package ledger

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/leaderjob/leaderjob/wire"
)

// PartialError is a Store of a sharded backend (NewShardedBackend) that
// wrote object 0 and failed on others (an object over its size limit,
// unreachable, or holding what this release must not overwrite): the
// claims and completions of Jobs, the jobs of the objects that failed,
// were not recorded; every other change was. Err says what failed and
// what to do.
type PartialError struct {
	Jobs map[string]bool
	Err  error
}

func (e *PartialError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *PartialError) Unwrap() error { return e.Err }

// NewShardedBackend returns a Backend that keeps one State spread over n
// objects (1 <= n <= wire.MaxLedgerShards), each a Backend of its own that
// object(i) returns (it is called once per i, from 0 up). Object 0 holds
// the fencing tokens, the operators' pauses and run records and the jobs
// of shard 0; object i the jobs of shard i (wire.LedgerShardOf); every
// object keeps a copy of the tokens, so that a job's fence is checked in
// the object its claim writes. The spread is wire.SplitLedger's, and
// reading is wire.MergeLedgers': a ledger written by one object (an
// earlier release, or n = 1) is read as it is, and its jobs move to
// their shards with their next write, so that changing n re-runs
// nothing. Object 0's document records n, so that a reader configured
// with fewer objects still reads them all.
//
// A Store writes only the objects whose part changed, each with its own
// compare-and-swap: a claim of one job writes one object, so a job that
// fires often does not make the claims of jobs in other objects conflict.
// The write of several objects is not atomic; object 0 is the commit
// point. It is written first: when it fails, nothing is written and the
// whole Store fails (a registration, a run request, a claim of one of its
// jobs: none is half done). Then the others at once: when one conflicts,
// Store returns ErrConflict, and the Ledger loads again and re-applies its
// requests, which the rule makes safe (a claim found as its own earlier
// write succeeds, a completion recorded twice is recorded once); when one
// fails otherwise (over its size limit, unreachable), Store returns a
// *PartialError naming that object's jobs, whose claims and completions
// were not recorded: a full object fails only its own jobs. So does an
// object other than 0 that cannot be used (corrupt, or of a newer format):
// it is read as empty and never written over, and its jobs' claims fail
// until it is fixed; one that merely cannot be reached fails the read. A job whose
// record moves to another object (the count changed) is written into its
// new object first and leaves the old one with a later write, so that it
// is never in neither.
func NewShardedBackend(n int, object func(i int) Backend) (Backend, error) {
	if n < 1 || n > wire.MaxLedgerShards {
		return nil, fmt.Errorf("ledger: %d shards: want 1 to %d", n, wire.MaxLedgerShards)
	}
	return &sharded{n: n, object: object, objs: map[int]Backend{}, loaded: map[string][]wire.Ledger{}, unusable: map[int]error{}}, nil
}

type sharded struct {
	n      int
	object func(int) Backend

	mu       sync.Mutex
	objs     map[int]Backend
	loaded   map[string][]wire.Ledger // parts by composite version, of the last loads
	order    []string                 // versions of loaded, oldest first
	unusable map[int]error            // why an object other than 0 was unusable at its last read
}

// keepLoads bounds the loads whose parts are kept for Store's comparison.
const keepLoads = 8

// unusable stands, in a composite version, for an object other than 0
// that could not be used (corrupt, or of a newer format).
const unusable = "-"

func (b *sharded) obj(i int) Backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objs[i]
	if !ok {
		o = b.object(i)
		b.objs[i] = o
	}
	return o
}

// Load reads object 0, then every other object the configured count or
// object 0's document names, and merges them. The version is the
// objects' versions, joined.
func (b *sharded) Load(ctx context.Context) (State, string, error) {
	root, v0, err := b.obj(0).Load(ctx)
	if err != nil {
		return State{}, "", err
	}
	count := max(b.n, root.Shards)
	if err := validate(root); err != nil {
		// Refused by the Ledger as it is; the other objects are not read.
		return root, v0, nil
	}
	parts := []wire.Ledger{wire.Ledger(root)}
	versions := []string{v0}
	for i := 1; i < count; i++ {
		s, v, err := b.obj(i).Load(ctx)
		if err == nil {
			if verr := validate(s); verr != nil {
				err = fmt.Errorf("%w: %w", ErrCorrupt, verr)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrCorrupt) || errors.Is(err, wire.ErrNewerFormat):
			// This object alone is unusable: it is read as empty, never
			// written (Store fails its jobs), and the others go on.
			b.mu.Lock()
			b.unusable[i] = fmt.Errorf("ledger shard %d: %w", i, err)
			b.mu.Unlock()
			s, v = State{}, unusable
		default:
			return State{}, "", fmt.Errorf("ledger shard %d: %w", i, err)
		}
		parts = append(parts, wire.Ledger(s))
		versions = append(versions, v)
	}
	version := strings.Join(versions, "/")
	b.mu.Lock()
	if _, ok := b.loaded[version]; !ok {
		// Copies: the Ledger changes the merged State, which shares
		// the parts' job records, in place.
		kept := make([]wire.Ledger, len(parts))
		for i, p := range parts {
			kept[i] = wire.Ledger(State(p).Clone())
		}
		b.loaded[version] = kept
		b.order = append(b.order, version)
		if len(b.order) > keepLoads {
			delete(b.loaded, b.order[0])
			b.order = b.order[1:]
		}
	}
	b.mu.Unlock()
	return State(wire.MergeLedgers(parts)), version, nil
}

// Store writes the parts of s that differ from what was loaded at
// version: object 0 first (the commit point: when it fails, nothing is
// written), then the others at once. A job that moves to another object
// (the count changed) stays in its old object until a later write finds
// it in the new one, so that no record is ever in no object.
func (b *sharded) Store(ctx context.Context, s State, version string) error {
	versions := strings.Split(version, "/")
	b.mu.Lock()
	before, ok := b.loaded[version]
	b.mu.Unlock()
	if !ok {
		// Not one of the recent loads: load again, and compare with that.
		return fmt.Errorf("%w: the loaded objects are no longer known", ErrConflict)
	}
	count := max(b.n, len(versions))
	parts := wire.SplitLedger(wire.Ledger(s), b.n)
	for len(parts) < count {
		// Objects beyond the configured count give their jobs back.
		parts = append(parts, wire.Ledger{Version: s.Version, Tokens: s.Tokens, Owner: s.Owner})
	}
	b.keepMoving(parts, before, s.Jobs)
	versionOf := func(i int) string {
		if i < len(versions) {
			return versions[i]
		}
		return ""
	}
	for i := range min(len(parts), len(before)) {
		// A part whose only change is the ledger's last token (a job of
		// another object was adopted, spread mode) keeps its stored one:
		// an object's token need only be above its own jobs' fences,
		// which are unchanged (MergeLedgers takes the largest), and the
		// write would conflict with the other writers for nothing.
		if p := parts[i]; p.Tokens > before[i].Tokens {
			p.Tokens = before[i].Tokens
			if same(before[i], p) {
				parts[i] = p
			}
		}
	}
	changed := func(i int) bool { return i >= len(before) || !same(before[i], parts[i]) }
	if changed(0) {
		if err := b.obj(0).Store(ctx, State(parts[0]), versionOf(0)); err != nil {
			return err
		}
	}
	errsOf := make([]error, count)
	var wg sync.WaitGroup
	for i := 1; i < count; i++ {
		switch {
		case !changed(i):
		case versionOf(i) == unusable:
			b.mu.Lock()
			errsOf[i] = b.unusable[i] // never written over: its jobs fail
			b.mu.Unlock()
		default:
			wg.Go(func() { errsOf[i] = b.obj(i).Store(ctx, State(parts[i]), versionOf(i)) })
		}
	}
	wg.Wait()
	failed := map[string]bool{}
	var errs []error
	for i, err := range errsOf {
		switch {
		case err == nil:
		case errors.Is(err, ErrConflict):
			// The Ledger loads again and re-applies its requests: what
			// object 0 and the others took is found as written.
			return err
		default:
			// Object 0 is written: the jobs of this object alone fail.
			for name := range parts[i].Jobs {
				failed[name] = true
			}
			for name := range before[i].Jobs {
				failed[name] = true
			}
			errs = append(errs, fmt.Errorf("ledger shard %d: %w", i, err))
		}
	}
	if len(errs) > 0 {
		return &PartialError{Jobs: failed, Err: errors.Join(errs...)}
	}
	return nil
}

// keepMoving puts back, into the part of the object it leaves, the record
// of each job that moves to another object and is not there yet (as
// loaded): the old object lets go of it only once the new one holds it.
func (b *sharded) keepMoving(parts, before []wire.Ledger, jobs map[string]*wire.JobState) {
	for i := range before {
		for name, js := range before[i].Jobs {
			if jobs[name] == nil || (i < len(parts) && parts[i].Jobs[name] != nil) {
				continue // removed from the ledger (pruned), or it stays
			}
			home := wire.LedgerShardOf(name, b.n)
			if home < len(before) && before[home].Jobs[name] != nil {
				continue // its new object holds it already
			}
			if i >= len(parts) {
				continue
			}
			if parts[i].Jobs == nil {
				parts[i].Jobs = make(map[string]*wire.JobState)
			}
			parts[i].Jobs[name] = js
		}
	}
}

// same reports whether two parts hold the same document.
func same(a, b wire.Ledger) bool {
	if a.Version != b.Version || a.Fence != b.Fence || a.Tokens != b.Tokens || a.Owner != b.Owner || a.Shards != b.Shards ||
		!slices.Equal(a.JobNames, b.JobNames) || len(a.Jobs) != len(b.Jobs) {
		return false
	}
	if !maps.EqualFunc(a.Jobs, b.Jobs, func(x, y *wire.JobState) bool { return reflect.DeepEqual(x, y) }) {
		return false
	}
	return reflect.DeepEqual(a.Paused, b.Paused) && reflect.DeepEqual(a.Runs, b.Runs)
}
