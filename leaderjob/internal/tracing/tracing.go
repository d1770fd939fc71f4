// Package tracing makes the OpenTelemetry span of a leaderjob run attempt.
// It uses the OpenTelemetry API only: with no SDK installed every call is
// the API's no-op, and the library's users choose (and link) an SDK and an
// exporter themselves.
//
// A span begins once the guard has said this replica leads, dated back to
// the start of the attempt, so that it covers the wait for the guard; the
// attempts a guard turns away (a standby's every fire) start no span at
// all. docs/observability.md describes the span and its attributes.
package tracing

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/leaderjob/leaderjob/guard"
)

// ScopeName is the instrumentation scope of the App's tracer.
const ScopeName = "github.com/leaderjob/leaderjob/leaderjob"

// SpanPrefix starts every run span's name: "job <job name>".
const SpanPrefix = "job "

// Attribute keys. The semantic conventions have no keys for scheduled jobs
// yet, so these are namespaced; code.function.name and error.type are the
// conventions' own.
const (
	KeyApp         = attribute.Key("leaderjob.app")           // the App's name
	KeyJob         = attribute.Key("leaderjob.job")           // the job's name
	KeyReplica     = attribute.Key("leaderjob.replica")       // this replica's identity
	KeyRunID       = attribute.Key("leaderjob.run_id")        // the attempt's run id (run_id in the log)
	KeyFire        = attribute.Key("leaderjob.fire")          // scheduled, catch_up or manual
	KeyScheduledAt = attribute.Key("leaderjob.scheduled_at")  // the fire's time, RFC 3339, UTC
	KeyKey         = attribute.Key("leaderjob.key")           // the fire's idempotency key
	KeyEpoch       = attribute.Key("leaderjob.epoch")         // the guard's epoch, when it has one
	KeyToken       = attribute.Key("leaderjob.fencing_token") // the ledger's fencing token of a claimed fire
	KeyRerun       = attribute.Key("leaderjob.rerun")         // a fire run again after its first run died
	KeyOutcome     = attribute.Key("leaderjob.outcome")       // ran, skipped, failed, panicked, canceled
	KeyReason      = attribute.Key("leaderjob.skip_reason")   // why a skipped attempt was skipped
)

// Tracer starts the spans of one App's run attempts.
type Tracer struct {
	tracer trace.Tracer
	app    attribute.KeyValue
	self   attribute.KeyValue
}

// New returns the Tracer of the App named app on replica self, taking its
// tracer from tp.
func New(tp trace.TracerProvider, app, self string) *Tracer {
	return &Tracer{
		tracer: tp.Tracer(ScopeName),
		app:    KeyApp.String(app),
		self:   KeyReplica.String(self),
	}
}

// Job is what the spans of one job share, made once at App.Schedule so
// that a run's span costs no more than it must.
type Job struct {
	t        *Tracer
	name     string // the span's name
	function string // for code.function.name; "" leaves it out
	// The start options by kind of fire: the span's kind and the
	// attributes a sampler may look at (job, app, fire).
	opts map[string][]trace.SpanStartOption
}

// Job returns the span template of the job named name, whose function is
// function (see FunctionName), for the given kinds of fire.
func (t *Tracer) Job(name, function string, fires ...string) *Job {
	j := &Job{t: t, name: SpanPrefix + name, function: function, opts: map[string][]trace.SpanStartOption{}}
	for _, f := range fires {
		j.opts[f] = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(KeyJob.String(name), t.app, KeyFire.String(f))}
	}
	return j
}

// Attempt is what a span says of a run attempt when it begins.
type Attempt struct {
	RunID       string
	Fire        string // one of the kinds of fire given to Tracer.Job
	ScheduledAt time.Time
	Key         string
	Decision    guard.Decision
	Began       time.Time // when the attempt began, before the guard was asked
}

// Start begins the span of attempt at in ctx, dated at.Began, and returns
// ctx with the span in it: spans started under that context (the job's own)
// are its children. Attributes beyond the job, app and fire kind (which a
// sampler may look at) are set only when the span records.
func (j *Job) Start(ctx context.Context, at Attempt) (context.Context, trace.Span) {
	opts := j.opts[at.Fire]
	ctx, span := j.t.tracer.Start(ctx, j.name, append(opts[:len(opts):len(opts)], trace.WithTimestamp(at.Began))...)
	if !span.IsRecording() {
		return ctx, span
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, j.t.self, KeyRunID.String(at.RunID),
		KeyScheduledAt.String(at.ScheduledAt.UTC().Format(time.RFC3339Nano)))
	if at.Key != "" {
		attrs = append(attrs, KeyKey.String(at.Key))
	}
	if j.function != "" {
		attrs = append(attrs, semconv.CodeFunctionNameKey.String(j.function))
	}
	if at.Decision.HasEpoch {
		attrs = append(attrs, KeyEpoch.Int64(at.Decision.Epoch))
	}
	span.SetAttributes(attrs...)
	return ctx, span
}

// Outcome is what a span says of a run attempt when it ends.
type Outcome struct {
	Outcome guard.Outcome
	Reason  guard.Reason
	Err     error
	Fire    string // as known at the end (a claim can make a fire a re-run)
	Token   int64  // the fencing token of a claimed fire; 0: not claimed
	Rerun   bool
}

// End ends span with the attempt's outcome. A failed or panicked run sets
// the span's status to Error, with error.type and the error recorded as an
// exception event (a panic's with its stack); a skipped attempt says why in
// leaderjob.skip_reason; a canceled run (the term ended, shutdown, an
// operator) keeps status Unset.
func End(span trace.Span, o Outcome) {
	if !span.IsRecording() {
		span.End()
		return
	}
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, KeyOutcome.String(string(o.Outcome)), KeyFire.String(o.Fire))
	if o.Reason != "" {
		attrs = append(attrs, KeyReason.String(string(o.Reason)))
	}
	if o.Token != 0 {
		attrs = append(attrs, KeyToken.Int64(o.Token))
	}
	if o.Rerun {
		attrs = append(attrs, KeyRerun.Bool(true))
	}
	switch o.Outcome {
	case guard.Failed:
		attrs = append(attrs, semconv.ErrorType(o.Err))
		span.RecordError(o.Err)
		span.SetStatus(codes.Error, o.Err.Error())
	case guard.Panicked:
		attrs = append(attrs, semconv.ErrorTypeKey.String("panic"))
		var opts []trace.EventOption
		var p *guard.PanicError
		if errors.As(o.Err, &p) {
			opts = append(opts, trace.WithAttributes(semconv.ExceptionStacktraceKey.String(string(p.Stack))))
		}
		span.RecordError(o.Err, opts...)
		span.SetStatus(codes.Error, o.Err.Error())
	}
	span.SetAttributes(attrs...)
	span.End()
}

// FunctionName is the name code.function.name gives fn: its package path
// and name, such as "example.com/billing.(*Invoices).Send". A method value
// loses the "-fm" the runtime adds; an anonymous function keeps the runtime's
// "func1"-style name. It returns "" for a function defined in skipPrefix
// (an adapter that wraps the user's function, whose name says nothing).
func FunctionName(fn any, skipPrefix string) string {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return ""
	}
	f := runtime.FuncForPC(v.Pointer())
	if f == nil {
		return ""
	}
	name := strings.TrimSuffix(f.Name(), "-fm")
	if skipPrefix != "" && strings.HasPrefix(name, skipPrefix) {
		return ""
	}
	return name
}
