package ops

import (
	"fmt"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/guard"
)

// Notifier receives what an operator should notice without reading logs
// (leaderjob.Notifier has the same method set).
type Notifier interface {
	Notify(kind, job, message string)
}

// The kinds of notices Notices sends by itself (leaderjob.Notice*).
const (
	NoticeJobFailed  = "JobFailed"
	NoticeCatchUpRun = "CatchUpRun"
)

// Notices sends notices to N, if set, and remembers each job's last outcome
// on this replica, to notice a failure after a success only. The zero value
// with N nil sends nothing.
type Notices struct {
	N    Notifier
	mu   sync.Mutex
	last map[string]guard.Outcome
}

// Notify sends one notice.
func (s *Notices) Notify(kind, job, message string) {
	if s == nil || s.N == nil {
		return
	}
	s.N.Notify(kind, job, message)
}

// Run notices what a run attempt calls for: a catch-up run, and a failure
// or panic after a success. Skipped attempts are not noticed.
func (s *Notices) Run(job string, outcome guard.Outcome, err error, catchUp bool, scheduledAt time.Time) {
	if s == nil || s.N == nil || outcome == guard.Skipped {
		return
	}
	s.mu.Lock()
	previous := s.last[job]
	if s.last == nil {
		s.last = map[string]guard.Outcome{}
	}
	s.last[job] = outcome
	s.mu.Unlock()
	if catchUp {
		s.Notify(NoticeCatchUpRun, job, fmt.Sprintf("job %s: caught up the fire due at %s (outcome %s)",
			job, scheduledAt.UTC().Format(time.RFC3339), outcome))
	}
	if previous == guard.Ran && (outcome == guard.Failed || outcome == guard.Panicked) {
		msg := fmt.Sprintf("job %s %s after a successful run", job, outcome)
		if err != nil {
			msg += ": " + err.Error()
		}
		s.Notify(NoticeJobFailed, job, msg)
	}
}
