package leaderjob

import (
	"fmt"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/guard"
)

// Notifier receives the few happenings an operator should notice without
// reading logs (kube records them as Kubernetes Events on the app's ledger
// ConfigMap). kind is one of the Notice constants, job the job's name (""
// for leadership), message a sentence for people. Notify must not block:
// the App calls it from the run path.
type Notifier interface {
	Notify(kind, job, message string)
}

// The kinds of notices.
const (
	// NoticeJobFailed: a run failed or panicked after the previous run of
	// the job on this replica succeeded (repeated failures are not noticed
	// again).
	NoticeJobFailed = "JobFailed"
	// NoticeCatchUpRun: a missed fire was run late.
	NoticeCatchUpRun = "CatchUpRun"
	// NoticeJobPaused and NoticeJobResumed: the leader acknowledged an
	// operator's pause or its end.
	NoticeJobPaused  = "JobPaused"
	NoticeJobResumed = "JobResumed"
	// NoticeLeaderElected: this replica became the leader.
	NoticeLeaderElected = "LeaderElected"
)

// WithNotifier sends the App's notices to n, in place of the one its guard
// source provides (lease mode: Kubernetes Events). If n is a guard.Starter
// it is started with the App, and if it has a Stop method, that is called
// when Run returns.
func WithNotifier(n Notifier) Option { return func(o *options) { o.notifier = n } }

// notices remembers each job's last outcome on this replica, to notice a
// failure after a success only.
type notices struct {
	n    Notifier
	mu   sync.Mutex
	last map[string]guard.Outcome
}

func (s *notices) notify(kind, job, message string) {
	if s == nil || s.n == nil {
		return
	}
	s.n.Notify(kind, job, message)
}

// run notices what a run's Result calls for.
func (s *notices) run(r Result) {
	if s == nil || s.n == nil || r.Outcome == guard.Skipped {
		return
	}
	s.mu.Lock()
	previous := s.last[r.Job]
	if s.last == nil {
		s.last = map[string]guard.Outcome{}
	}
	s.last[r.Job] = r.Outcome
	s.mu.Unlock()
	if r.CatchUp {
		s.notify(NoticeCatchUpRun, r.Job, fmt.Sprintf("job %s: caught up the fire due at %s (outcome %s)",
			r.Job, r.ScheduledAt.UTC().Format(time.RFC3339), r.Outcome))
	}
	if previous == guard.Ran && (r.Outcome == guard.Failed || r.Outcome == guard.Panicked) {
		msg := fmt.Sprintf("job %s %s after a successful run", r.Job, r.Outcome)
		if r.Err != nil {
			msg += ": " + r.Err.Error()
		}
		s.notify(NoticeJobFailed, r.Job, msg)
	}
}
