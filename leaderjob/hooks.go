package leaderjob

import "github.com/leaderjob/leaderjob/leaderjob/internal/hooks"

func init() {
	hooks.Scheduler = func(app any) hooks.SchedulerState { return schedulerState{app.(*App)} }
	hooks.Pin = func(app any, owners map[string]string) bool {
		a := app.(*App)
		if a.spread == nil {
			return false
		}
		a.spread.pin(owners)
		return true
	}
}

type schedulerState struct{ a *App }

func (s schedulerState) ImmediateFires() int                    { return s.a.immediateFires() }
func (s schedulerState) IdleTimers(fired func(string) bool) int { return s.a.idleTimers(fired) }
func (s schedulerState) Barrier()                               { s.a.barrier() }
func (s schedulerState) Calling(job string) bool                { return s.a.calling(job) }
func (s schedulerState) Busy() bool                             { return s.a.signals.busy.Load() > 0 }
func (s schedulerState) Fires() (started, finished uint64) {
	return s.a.signals.started.Load(), s.a.signals.finished.Load()
}
func (s schedulerState) OnChange(fn func()) {
	s.a.signals.mu.Lock()
	s.a.signals.notify = fn
	s.a.signals.mu.Unlock()
}
