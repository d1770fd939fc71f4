package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"

	"github.com/leaderjob/leaderjob/leaderjob"
)

// Housekeeping holds the jobs, as the Spring @Component did.
type Housekeeping struct {
	Sessions *SessionStore
	Out      *slog.Logger
	// Work simulates how long refreshing the exchange rates takes, and
	// Fail, when set, is the error every refresh ends with.
	Work time.Duration
	Fail error

	once sync.Once
	sent *keySet // the reports sent, by fire key
}

// Register schedules the Housekeeping jobs on app. getenv supplies the
// schedule overrides (os.Getenv in main, a map in tests), like Spring's
// ${...:default} placeholders.
func Register(app *leaderjob.App, h *Housekeeping, getenv func(string) string) error {
	or := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	jobs := []struct {
		name     string
		schedule leaderjob.Schedule
		fn       leaderjob.Func
		opts     []leaderjob.JobOption
	}{
		{"exchange-rates", leaderjob.FixedRateString(or("EXCHANGE_RATES_RATE", "PT1M")),
			h.RefreshExchangeRates, []leaderjob.JobOption{leaderjob.WithTimeout(30 * time.Second)}},
		{"session-cleanup", leaderjob.FixedDelayString(or("SESSION_CLEANUP_DELAY", "PT30S")).
			WithInitialDelayString(or("SESSION_CLEANUP_INITIAL_DELAY", "PT10S")),
			leaderjob.Adapt(h.PurgeExpiredSessions), nil},
		{"daily-report", leaderjob.Cron(or("DAILY_REPORT_CRON", "0 0 2 * * MON-FRI")).
			InZone(or("DAILY_REPORT_ZONE", "Europe/Berlin")),
			h.SendDailyReport, nil},
		{"heartbeat", leaderjob.FixedRateString(or("HEARTBEAT_RATE", "10s")),
			leaderjob.Adapt(h.Heartbeat), nil},
	}
	for _, j := range jobs {
		if err := app.Schedule(j.name, j.schedule, j.fn, j.opts...); err != nil {
			return err
		}
	}
	return nil
}

// tracer starts the jobs' own spans. The global provider is the one main
// installs when OTEL_TRACES_EXPORTER asks for it, else a no-op; a span
// started under a run's context is a child of leaderjob's span of the run.
var tracer = otel.Tracer("github.com/leaderjob/leaderjob/examples/monolith")

// RefreshExchangeRates stands for a call to a slow remote service; it stops
// early when its context ends (shutdown, lost leadership, timeout). The
// call is a span of its own, as an HTTP client's instrumentation would make.
func (h *Housekeeping) RefreshExchangeRates(ctx context.Context) error {
	ctx, span := tracer.Start(ctx, "fetch exchange rates")
	defer span.End()
	h.Out.DebugContext(ctx, "refreshing exchange rates", slog.Duration("work", h.Work))
	select {
	case <-time.After(h.Work):
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if h.Fail != nil {
		span.SetStatus(codes.Error, h.Fail.Error())
		return fmt.Errorf("exchange rates: %w", h.Fail)
	}
	return nil
}

// PurgeExpiredSessions removes expired sessions; it shows a func(ctx) job.
func (h *Housekeeping) PurgeExpiredSessions(ctx context.Context) {
	n := h.Sessions.PurgeExpired(time.Now())
	h.Out.DebugContext(ctx, "purged sessions", slog.Int("count", n))
}

// SendDailyReport sends the report of a fire at most once, even when a
// fire whose first run died is run again (the ledger's one at-least-once
// case): the outbox keeps a unique key per fire (RunInfo.Key, the same on
// every replica and every re-run), as a unique constraint in a database
// would, and a write carries the leadership epoch so a store can reject a
// deposed leader's write.
func (h *Housekeeping) SendDailyReport(ctx context.Context) error {
	epoch, ok := leaderjob.Epoch(ctx)
	if !ok {
		epoch = 0 // guards without epochs (always, sidecar) do not fence
	}
	info, _ := leaderjob.RunInfoFrom(ctx)
	if info.Job == "" {
		return errors.New("not called by leaderjob")
	}
	if !h.outbox().add(info.Key) {
		h.Out.InfoContext(ctx, "daily report already sent", slog.String("key", info.Key))
		return nil
	}
	h.Out.InfoContext(ctx, "daily report sent", slog.Time("for", info.ScheduledAt), slog.Int64("epoch", epoch),
		slog.String("key", info.Key), slog.Bool("catch_up", info.CatchUp))
	return nil
}

// outbox stands for a table with a unique key per sent report.
func (h *Housekeeping) outbox() *keySet {
	h.once.Do(func() { h.sent = &keySet{seen: map[string]bool{}} })
	return h.sent
}

// keySet is a toy unique index.
type keySet struct {
	mu   sync.Mutex
	seen map[string]bool
}

// add records key and reports whether it was new.
func (k *keySet) add(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.seen[key] {
		return false
	}
	k.seen[key] = true
	return true
}

// Heartbeat does nothing: its per-run record in the log is the heartbeat.
func (h *Housekeeping) Heartbeat() {}

// SessionStore is a toy in-memory session table.
type SessionStore struct {
	mu      sync.Mutex
	expires map[string]time.Time
}

func newSessionStore() *SessionStore { return &SessionStore{expires: map[string]time.Time{}} }

// Add stores a session that expires at t.
func (s *SessionStore) Add(id string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expires[id] = t
}

// PurgeExpired deletes sessions expired at now and returns how many.
func (s *SessionStore) PurgeExpired(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, t := range s.expires {
		if !t.After(now) {
			delete(s.expires, id)
			n++
		}
	}
	return n
}

// Len returns the number of stored sessions.
func (s *SessionStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.expires)
}
