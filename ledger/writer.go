package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Option configures NewLedger.
type Option func(*config)

type config struct {
	logger       *slog.Logger
	now          func() time.Time
	maxRetries   int
	backoff      time.Duration
	writeTimeout time.Duration
	linger       time.Duration
}

// WithLogger sets the logger for fence resets (a warning when the fence
// was in another scope) and failed writes (a warning: their claims are
// refused). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithClock sets the clock that fills a claim's Claimed when it is zero.
// The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithMaxRetries bounds how many times a write is retried after a version
// conflict (each retry re-loads the State and re-applies the rule). The
// default is 5; 0 means no retry.
func WithMaxRetries(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.maxRetries = n
		}
	}
}

// WithBackoff sets the base of the jittered backoff between a conflict and
// the retry: the n-th retry waits between d·2ⁿ⁻¹/2 and d·2ⁿ⁻¹, at most
// 32·d. The default is 10ms.
func WithBackoff(d time.Duration) Option {
	return func(c *config) {
		if d >= 0 {
			c.backoff = d
		}
	}
}

// WithWriteTimeout bounds one batch's writes, retries included. A write is
// shared by the claims of a batch, so it does not follow any one caller's
// context. The default is 10s.
func WithWriteTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.writeTimeout = d
		}
	}
}

// WithCompletionLinger sets how long a write that would carry only
// completions waits for other requests to join it: a job's next claim
// typically follows its completion within microseconds, and the two then
// share one write instead of taking one each. Nothing waits on a
// completion but its own caller. The default is 10ms; 0 writes at once.
func WithCompletionLinger(d time.Duration) Option {
	return func(c *config) {
		if d >= 0 {
			c.linger = d
		}
	}
}

// NewLedger returns a Ledger on b. Claims and completions that arrive while
// a write is in flight are queued and written together by the next write,
// so that many claims due at the same instant cost few writes; there is at
// most one write in flight per Ledger, and no goroutine is left running
// while nothing is queued.
//
// Each write loads the State, applies the rule (State.Claim,
// State.Complete) to each queued request in order, and stores the result
// with the version loaded. On a version conflict it waits a short jittered
// backoff, loads again and re-applies the rule, so that the fence is
// checked against what is stored; a claim found as its own earlier write
// succeeds. When every retry conflicted, or the backend failed, every
// request of the batch fails with an error wrapping ErrUnavailable and the
// cause: fail closed, the caller must not run the fire. A write that
// would change nothing (every claim refused, or already recorded) is not
// stored.
//
// A call whose ctx ends first returns ctx's error; its claims may have been
// written all the same (then a retry with the same ClaimID succeeds, by the
// rule). Requests whose ctx ended before their write began are dropped.
//
// A stored State of a newer FormatVersion fails claims and completions
// with ErrNewerFormat (also wrapping ErrUnavailable) and is never
// overwritten. A backend error wrapping ErrCorrupt fails them the same
// way and nothing is written over the object: the operator deletes it to
// recover (the next write starts an empty ledger, whose first claim
// resets the fence). So does a State the backend loaded that is no ledger
// (wire.Ledger.Validate: a job set to null, a claim without a fire time,
// ...): ErrCorrupt wrapping wire.ErrNotALedger, whatever the backend.
// Snapshot answers the last good State it saw instead, or that error.
//
// An Update whose function leaves a State that readers would refuse is
// ErrInvalid, and nothing of it is written. Every stored State carries
// FormatVersion.
func NewLedger(b Backend, opts ...Option) Ledger {
	cfg := config{
		logger:       slog.New(slog.DiscardHandler),
		now:          time.Now,
		maxRetries:   5,
		backoff:      10 * time.Millisecond,
		writeTimeout: 10 * time.Second,
		linger:       10 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return &ledger{b: b, cfg: cfg}
}

type ledger struct {
	b   Backend
	cfg config

	mu      sync.Mutex
	pending []*request
	writing bool
	snap    *State // the last State loaded or stored
}

// request is one Claim or Complete call waiting for a write.
type request struct {
	ctx        context.Context
	claims     []Claim
	completion *Completion
	update     func(*State) (bool, error)
	results    []ClaimResult
	err        error // the completion's, or the whole request's
	done       chan struct{}
}

func (l *ledger) Claim(ctx context.Context, claims []Claim) ([]ClaimResult, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	r := &request{ctx: ctx, claims: claims, done: make(chan struct{})}
	if err := l.submit(r); err != nil {
		return nil, err
	}
	if r.err != nil {
		res := make([]ClaimResult, len(claims))
		for i := range res {
			res[i].Err = r.err
		}
		return res, nil
	}
	return r.results, nil
}

func (l *ledger) Complete(ctx context.Context, c Completion) error {
	r := &request{ctx: ctx, completion: &c, done: make(chan struct{})}
	if err := l.submit(r); err != nil {
		return err
	}
	return r.err
}

func (l *ledger) Update(ctx context.Context, fn func(*State) (bool, error)) error {
	r := &request{ctx: ctx, update: fn, done: make(chan struct{})}
	if err := l.submit(r); err != nil {
		return err
	}
	return r.err
}

func (l *ledger) Snapshot(ctx context.Context) (State, error) {
	// The backend is asked every time: another replica may have written
	// (a Kubernetes backend answers from its watch, without a request). If
	// it cannot answer, the last State this ledger saw is returned.
	s, _, err := l.b.Load(ctx)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	} else {
		err = checkLoaded(s)
	}
	if err == nil {
		c := s.Clone()
		l.mu.Lock()
		l.snap = &c
		l.mu.Unlock()
		return s, nil
	}
	l.mu.Lock()
	snap := l.snap
	l.mu.Unlock()
	if snap != nil {
		return snap.Clone(), nil
	}
	return State{}, err
}

// checkLoaded checks a State a backend loaded, so that every backend's
// content is held to what readers accept (wire.Ledger.Validate): one of a
// newer format wraps ErrNewerFormat, one that is no ledger wraps
// ErrCorrupt and wire.ErrNotALedger; both wrap ErrUnavailable.
func checkLoaded(s State) error {
	err := validate(s)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNewerFormat):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrCorrupt, err)
}

// submit queues r, starts the writer if none runs, and waits for r's
// answer or ctx's end. When ctx ends first, the request may still be
// written (it is then recorded without its caller knowing, which the rule
// allows: a later claim with the same ClaimID succeeds).
func (l *ledger) submit(r *request) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	l.pending = append(l.pending, r)
	if !l.writing {
		l.writing = true
		go l.drain()
	}
	l.mu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// drain writes queued requests, a batch per write, until none is left. A
// batch of completions only lingers first (WithCompletionLinger).
func (l *ledger) drain() {
	for {
		l.mu.Lock()
		if l.cfg.linger > 0 && len(l.pending) > 0 && !slices.ContainsFunc(l.pending, isNotCompletion) {
			l.mu.Unlock()
			time.Sleep(l.cfg.linger)
			l.mu.Lock()
		}
		batch := l.pending
		l.pending = nil
		if len(batch) == 0 {
			l.writing = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		l.write(batch)
	}
}

func isNotCompletion(r *request) bool { return r.completion == nil }

// write records a batch: load, apply, store, retrying on conflict.
func (l *ledger) write(batch []*request) {
	live := batch[:0:0]
	for _, r := range batch {
		if r.ctx.Err() != nil {
			close(r.done) // its caller has gone: not written
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.writeTimeout)
	defer cancel()
	err := l.apply(ctx, live)
	if err != nil {
		n := 0
		for _, r := range live {
			n += max(len(r.claims), 1)
		}
		l.cfg.logger.Warn("ledger write failed; its claims are refused", "requests", len(live), "entries", n, "err", err)
		for _, r := range live {
			r.results = nil
			r.err = err
		}
	}
	for _, r := range live {
		close(r.done)
	}
}

func (l *ledger) apply(ctx context.Context, batch []*request) error {
	for attempt := 0; ; attempt++ {
		s, version, err := l.b.Load(ctx)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if err := checkLoaded(s); err != nil {
			return err
		}
		changed := false
		now := l.cfg.now()
		var resets []reset
		var asides []Claim
		for _, r := range batch {
			if r.update != nil {
				c := s.Clone()
				ch, err := r.update(&c)
				if err == nil && ch {
					if verr := validate(c); verr != nil {
						err = fmt.Errorf("%w: the update would leave a ledger that readers refuse: %w", ErrInvalid, verr)
					} else {
						s, changed = c, true
					}
				}
				r.err = err
				continue
			}
			if r.completion != nil {
				ch, err := s.complete(*r.completion)
				r.err = err
				changed = changed || ch
				continue
			}
			r.results = make([]ClaimResult, len(r.claims))
			for i, c := range r.claims {
				prev := s.Fence
				res, ch := s.claim(c, now)
				r.results[i] = res
				changed = changed || ch
				if res.ScopeReset {
					resets = append(resets, reset{job: c.Job, old: prev, new: c.Epoch})
				}
				if res.SetAside != nil {
					asides = append(asides, *res.SetAside)
				}
			}
		}
		if !changed {
			l.remember(s)
			return nil
		}
		if s.Version == 0 {
			s.Version = FormatVersion // a stored ledger always says its format
		}
		err = l.b.Store(ctx, s, version)
		if err == nil {
			l.remember(s)
			for _, c := range asides {
				l.cfg.logger.Error("ledger: a claim far in the future was set aside as corrupt; the job's fires go on",
					"job", c.Job, "at", c.At, "claimed", c.Claimed, "holder", c.Holder, "max_ahead", MaxAhead,
					"fix", "none needed if this replica's clock is right (the claim came from a hand edit or a replica whose clock ran ahead: check its NTP); if this replica's clock is behind, fix it")
			}
			for _, r := range resets {
				if r.old == (Epoch{}) {
					l.cfg.logger.Info("ledger fence set by the first claim",
						"job", r.job, "scope", r.new.Scope, "n", r.new.N)
					continue
				}
				l.cfg.logger.Warn("ledger fence reset: the leadership source changed (a new Lease?)",
					"job", r.job, "old_scope", r.old.Scope, "old_n", r.old.N, "new_scope", r.new.Scope, "new_n", r.new.N)
			}
			return nil
		}
		var partial *PartialError
		if errors.As(err, &partial) {
			l.failJobs(batch, partial)
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if attempt >= l.cfg.maxRetries {
			return fmt.Errorf("%w: %w after %d retries", ErrUnavailable, err, attempt)
		}
		if err := sleep(ctx, l.jitter(attempt)); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
}

// failJobs fails the claims and completions of the jobs a sharded
// backend could not write (the rest of the batch was written), and logs
// it as an error: those jobs' fires are skipped until it is fixed.
func (l *ledger) failJobs(batch []*request, p *PartialError) {
	err := fmt.Errorf("%w: %w", ErrUnavailable, p.Err)
	n := 0
	for _, r := range batch {
		if r.completion != nil && p.Jobs[r.completion.Job] {
			r.err = err
			n++
		}
		for i, c := range r.claims {
			if p.Jobs[c.Job] {
				r.results[i] = ClaimResult{Err: err}
				n++
			}
		}
	}
	l.cfg.logger.Error("ledger: the records of some jobs could not be written; their fires are skipped until fixed",
		"jobs", len(p.Jobs), "refused", n, "err", p.Err)
}

// reset is a fence reset, logged once its write is stored.
type reset struct {
	job      string
	old, new Epoch
}

func (l *ledger) remember(s State) {
	c := s.Clone()
	l.mu.Lock()
	l.snap = &c
	l.mu.Unlock()
}

func (l *ledger) jitter(attempt int) time.Duration {
	d := l.cfg.backoff << min(attempt, 5)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
