package leaderjob

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/leaderjob/leaderjob/leaderjob/internal/ops"
	"github.com/leaderjob/leaderjob/leaderjob/internal/tracing"
)

// WithTracerProvider sets where the App's run spans go (default: the global
// provider, otel.GetTracerProvider(), read when New is called; it forwards
// to a provider set later with otel.SetTracerProvider, and is a no-op while
// none is set; nil also means the global provider).
//
// Each run attempt that the guard lets through gets one span, "job <name>",
// dated from the moment the attempt began (the wait for the guard
// included) to its end, the ledger's completion included. The span is in
// the job's context, so the spans a job starts are its children. Attempts
// the guard turns away (a standby's fires, guard errors) and attempts
// refused before the guard is asked (shutdown) start no span: they cost the
// tracer nothing and are counted in leaderjob_runs_total and logged. An
// attempt skipped after the guard said yes (paused, handled, fenced,
// already_running, not_due, ledger_unavailable) ends its span at once with
// the reason. docs/observability.md lists the attributes.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// newTracer is the App's tracer: the option's provider, else the global one.
func newTracer(o options, app, self string) *tracing.Tracer {
	tp := o.tracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tracing.New(tp, app, self)
}

// adapters is where this package's own wrappers of a job's function are
// defined: their names say nothing of the job, so code.function.name is
// left out for them.
const adapters = "github.com/leaderjob/leaderjob/leaderjob."

// traceRun begins the attempt's span once the guard has said this replica
// leads, dated back to when the attempt began; the later stages and the
// job run under it.
func (a *App) traceRun(at *attempt) *skip {
	at.run, at.span = at.job.spans.Start(at.run, tracing.Attempt{
		RunID: at.info.RunID, Fire: at.fire(), ScheduledAt: at.info.ScheduledAt,
		Key: at.info.Key, Decision: at.res.Decision, Began: at.began,
	})
	return nil
}

// endSpan ends the attempt's span, if it began one, with its outcome.
func (a *App) endSpan(at *attempt) {
	if at.span == nil {
		return
	}
	tracing.End(at.span, tracing.Outcome{
		Outcome: at.res.Outcome, Reason: at.res.Reason, Err: at.res.Err,
		Fire: at.fire(), Token: at.token, Rerun: at.rerun,
	})
}

// fire is the kind of fire of the attempt, for the span and the fire lag.
func (at *attempt) fire() string {
	switch {
	case at.kind == manualFire:
		return ops.FireManual
	case at.kind == catchUpFire || at.rerun:
		return ops.FireCatchUp
	}
	return ops.FireScheduled
}
