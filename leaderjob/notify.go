package leaderjob

import "github.com/leaderjob/leaderjob/leaderjob/internal/ops"

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
	NoticeJobFailed = ops.NoticeJobFailed
	// NoticeCatchUpRun: a missed fire was run late.
	NoticeCatchUpRun = ops.NoticeCatchUpRun
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
