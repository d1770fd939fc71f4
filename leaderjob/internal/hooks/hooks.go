// Package hooks lets leaderjobtest reach App internals without widening the
// public API of package leaderjob.
package hooks

// SchedulerState is what leaderjobtest needs to know about an App's
// scheduler to move a fake clock from one fire to the next.
type SchedulerState interface {
	// ImmediateFires counts the fires made at start without a timer.
	ImmediateFires() int
	// IdleTimers counts the timers the scheduler keeps while no run is
	// due, given which jobs have had a run attempt.
	IdleTimers(fired func(job string) bool) int
	// Fires counts the scheduler's calls of job tasks, begun and returned.
	Fires() (started, finished uint64)
	// Calling reports whether the job's function is executing.
	Calling(job string) bool
	// Busy reports whether work that changes the scheduler (moving a job
	// onto the fleet's rhythm) is going on beside the fires.
	Busy() bool
	// OnChange sets a function called after every change of Fires or Busy.
	OnChange(fn func())
	// Barrier returns once the scheduler has handled every message sent
	// to it before the call.
	Barrier()
}

// Scheduler is set by package leaderjob.
var Scheduler func(app any) SchedulerState

// Pin, set by package leaderjob, makes each job in owners owned by the
// named replica in an App in spread mode (false when the App is not).
var Pin func(app any, owners map[string]string) bool
