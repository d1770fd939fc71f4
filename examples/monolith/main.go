// Command monolith is a port of a typical Spring scheduling component to
// leaderjob. The Java it replaces:
//
//	@Component
//	class Housekeeping {
//	    @Scheduled(fixedRateString = "${exchange-rates.rate:PT1M}")
//	    void refreshExchangeRates() { ... }
//
//	    @Scheduled(fixedDelayString = "${sessions.cleanup-delay:PT30S}",
//	               initialDelayString = "${sessions.initial-delay:PT10S}")
//	    void purgeExpiredSessions() { ... }
//
//	    @Scheduled(cron = "${report.cron:0 0 2 * * MON-FRI}", zone = "${report.zone:Europe/Berlin}")
//	    void sendDailyReport() { ... }
//
//	    @Scheduled(fixedRateString = "${heartbeat.rate:10s}")
//	    void heartbeat() { ... }
//	}
//
// Run it with no cluster: go run ./examples/monolith. Schedules come from the
// environment variables named in Register, and EXCHANGE_RATES_WORK sets how
// long a simulated exchange-rate refresh takes; leaderjob's own variables
// (LEADERJOB_GUARD, POD_NAME, LEADERJOB_LOG_FORMAT, ...) pick the guard and
// the log format.
package main

import (
	"context"
	"fmt"
	"os"
	_ "time/tzdata" // the report runs in Europe/Berlin even where the OS has no zone data

	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/leaderjob"
)

func main() {
	// kube.Guards lets LEADERJOB_GUARD pick the Lease or sidecar guard.
	app, err := leaderjob.New("monolith", kube.Guards())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	h := &Housekeeping{Sessions: newSessionStore(), Out: app.Logger()}
	if v := os.Getenv("EXCHANGE_RATES_WORK"); v != "" { // how long a refresh takes
		if h.Work, err = leaderjob.ParseDuration(v); err != nil {
			fmt.Fprintln(os.Stderr, "EXCHANGE_RATES_WORK:", err)
			os.Exit(2)
		}
	}
	if err := Register(app, h, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := app.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
