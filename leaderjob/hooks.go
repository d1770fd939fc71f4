package leaderjob

import "github.com/leaderjob/leaderjob/leaderjob/internal/hooks"

func init() {
	hooks.PendingTimers = func(app any, fired func(string) bool) int {
		return app.(*App).pendingTimers(fired)
	}
}
