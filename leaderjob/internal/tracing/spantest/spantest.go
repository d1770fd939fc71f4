// Package spantest is an in-memory trace.TracerProvider for the library's
// tests. It implements the OpenTelemetry API only, so that the library's
// module never requires the SDK (which would then appear in every user's
// go.sum); the end-to-end tests check the same spans through the real SDK
// and an OTLP receiver.
package spantest

import (
	"context"
	"crypto/rand"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// Recorder records every span its tracers start. It is safe for concurrent
// use.
type Recorder struct {
	embedded.TracerProvider
	mu      sync.Mutex
	started int
	ended   []Span
}

// Tracer returns a tracer whose spans the Recorder records.
func (r *Recorder) Tracer(name string, _ ...trace.TracerOption) trace.Tracer {
	return &tracer{r: r, scope: name}
}

// Started is how many spans were started.
func (r *Recorder) Started() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started
}

// Ended returns the spans that ended, in the order they ended.
func (r *Recorder) Ended() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.ended...)
}

// Span is an ended span.
type Span struct {
	Name        string
	Scope       string
	Kind        trace.SpanKind
	Context     trace.SpanContext
	Parent      trace.SpanContext
	Start, End  time.Time
	Attrs       map[attribute.Key]attribute.Value
	Status      codes.Code
	Description string
	Events      []Event
}

// Attr returns the value of attribute key as a string ("" when unset).
func (s Span) Attr(key attribute.Key) string {
	v, ok := s.Attrs[key]
	if !ok {
		return ""
	}
	return v.Emit()
}

// Event is an event of a span.
type Event struct {
	Name  string
	Attrs map[attribute.Key]attribute.Value
}

type tracer struct {
	embedded.Tracer
	r     *Recorder
	scope string
}

func (t *tracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	parent := trace.SpanContextFromContext(ctx)
	if cfg.NewRoot() {
		parent = trace.SpanContext{}
	}
	var tid trace.TraceID
	var sid trace.SpanID
	if parent.IsValid() {
		tid = parent.TraceID()
	} else {
		_, _ = rand.Read(tid[:])
	}
	_, _ = rand.Read(sid[:])
	start := cfg.Timestamp()
	if start.IsZero() {
		start = time.Now()
	}
	s := &span{t: t, data: Span{
		Name: name, Scope: t.scope, Kind: cfg.SpanKind(), Parent: parent, Start: start,
		Context: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
		Attrs:   map[attribute.Key]attribute.Value{},
	}}
	s.setAttrs(cfg.Attributes())
	t.r.mu.Lock()
	t.r.started++
	t.r.mu.Unlock()
	return trace.ContextWithSpan(ctx, s), s
}

type span struct {
	embedded.Span
	t     *tracer
	mu    sync.Mutex
	ended bool
	data  Span
}

func (s *span) setAttrs(kv []attribute.KeyValue) {
	for _, a := range kv {
		s.data.Attrs[a.Key] = a.Value
	}
}

func (s *span) End(opts ...trace.SpanEndOption) {
	cfg := trace.NewSpanEndConfig(opts...)
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.data.End = cfg.Timestamp()
	if s.data.End.IsZero() {
		s.data.End = time.Now()
	}
	d := s.data
	s.mu.Unlock()
	s.t.r.mu.Lock()
	s.t.r.ended = append(s.t.r.ended, d)
	s.t.r.mu.Unlock()
}

func (s *span) AddEvent(name string, opts ...trace.EventOption) {
	cfg := trace.NewEventConfig(opts...)
	ev := Event{Name: name, Attrs: map[attribute.Key]attribute.Value{}}
	for _, a := range cfg.Attributes() {
		ev.Attrs[a.Key] = a.Value
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.data.Events = append(s.data.Events, ev)
	}
}

func (s *span) AddLink(trace.Link) {}

func (s *span) IsRecording() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ended
}

func (s *span) RecordError(err error, opts ...trace.EventOption) {
	if err == nil {
		return
	}
	opts = append(opts, trace.WithAttributes(attribute.String("exception.message", err.Error())))
	s.AddEvent("exception", opts...)
}

func (s *span) SpanContext() trace.SpanContext { return s.data.Context }

func (s *span) SetStatus(code codes.Code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.data.Status, s.data.Description = code, description
	}
}

func (s *span) SetName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.data.Name = name
	}
}

func (s *span) SetAttributes(kv ...attribute.KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.setAttrs(kv)
	}
}

func (s *span) TracerProvider() trace.TracerProvider { return s.t.r }
