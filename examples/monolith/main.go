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
// environment variables named in Register, EXCHANGE_RATES_WORK sets how
// long a simulated exchange-rate refresh takes and EXCHANGE_RATES_ERROR
// makes every refresh fail with that message; leaderjob's own variables
// (LEADERJOB_GUARD, POD_NAME, LEADERJOB_LOG_FORMAT, ...) pick the guard and
// the log format. OTEL_TRACES_EXPORTER=otlp (or console) exports a span per
// run (tracing.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	_ "time/tzdata" // the report runs in Europe/Berlin even where the OS has no zone data

	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/leaderjob"
)

func main() {
	tp, stopTracing, err := setUpTracing(context.Background(), os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// kube.Guards lets LEADERJOB_GUARD pick the Lease or sidecar guard.
	opts := []leaderjob.Option{kube.Guards()}
	if tp != nil {
		opts = append(opts, leaderjob.WithTracerProvider(tp))
	}
	app, err := leaderjob.New("monolith", opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	h := &Housekeeping{Sessions: newSessionStore(), Out: app.Logger()}
	if v := os.Getenv("EXCHANGE_RATES_ERROR"); v != "" {
		h.Fail = errors.New(v)
	}
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
	err = app.Run(context.Background())
	// Spans still queued go out before the process ends.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if serr := stopTracing(ctx); serr != nil {
		fmt.Fprintln(os.Stderr, "tracing:", serr)
	}
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
