package e2e

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

// otlpSpan is one span an OTLP receiver got, with its resource's attributes.
type otlpSpan struct {
	*tracepb.Span
	resource map[string]string
	attrs    map[string]string
}

func (s otlpSpan) id() string       { return hex.EncodeToString(s.SpanId) }
func (s otlpSpan) parent() string   { return hex.EncodeToString(s.ParentSpanId) }
func (s otlpSpan) instance() string { return s.resource["service.instance.id"] }

// otlpReceiver is an OTLP/HTTP trace receiver on loopback: it decodes the
// protobuf payloads the exporter sends to /v1/traces.
type otlpReceiver struct {
	url      string
	mu       sync.Mutex
	spans    []otlpSpan
	requests int
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	r.url = "http://" + l.Addr().String()
	return r
}

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces, application/x-protobuf", http.StatusBadRequest)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests++
	for _, rs := range msg.ResourceSpans {
		res := attrMap(rs.GetResource().GetAttributes())
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, otlpSpan{Span: s, resource: res, attrs: attrMap(s.Attributes)})
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *otlpReceiver) received() []otlpSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]otlpSpan(nil), r.spans...)
}

// attrMap renders attributes as strings, as the test compares them.
func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = fmt.Sprint(v.IntValue)
		case *commonpb.AnyValue_BoolValue:
			m[kv.Key] = fmt.Sprint(v.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			m[kv.Key] = fmt.Sprint(v.DoubleValue)
		default:
			m[kv.Key] = kv.GetValue().String()
		}
	}
	return m
}

// runIDs maps the run id of each "job run" record of p to the record.
func runIDs(t *testing.T, p *proc) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, r := range p.snapshot() {
		if r.Msg != "job run" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(r.raw), &m); err != nil {
			t.Fatal(err)
		}
		id, _ := m["run_id"].(string)
		out[id] = m
	}
	return out
}

// The example exports over OTLP/HTTP when OTEL_TRACES_EXPORTER=otlp, to a
// receiver the test runs on loopback. Two replicas in lease mode: every run
// the leader's guard let through is exactly one span "job <name>" with the
// run's id and attributes, the exchange-rate refresh's own span is its
// child, a failing run's span has status Error and error.type, and the
// standby, whose fires the guard turns away, exports no span at all.
func TestRunSpansOverOTLP(t *testing.T) {
	t.Parallel()
	recv := startOTLPReceiver(t)
	c := newCluster(t, "monolith")
	env := []string{
		"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_ENDPOINT=" + recv.url, "OTEL_BSP_SCHEDULE_DELAY=100",
		"EXCHANGE_RATES_RATE=300ms", "EXCHANGE_RATES_ERROR=rates service down",
		"SESSION_CLEANUP_DELAY=PT1H", "SESSION_CLEANUP_INITIAL_DELAY=PT1H",
		"LEADERJOB_LOG_LEVEL=debug", // the standby's skips are DEBUG records
	}
	ps := []*proc{startProc(t, c, "trace-a", env...), startProc(t, c, "trace-b", env...)}
	lead, others := leader(t, ps, 30*time.Second)
	standby := others[0]
	testutil.EventuallyNoError(t, 20*time.Second, "the leader's spans arrive", func() error {
		n := map[string]int{}
		for _, s := range recv.received() {
			n[s.Name]++
		}
		if n["job heartbeat"] < 10 || n["job exchange-rates"] < 5 || n["fetch exchange rates"] < 5 {
			return fmt.Errorf("spans so far: %v", n)
		}
		return nil
	})
	// Both exit on SIGTERM, flushing what their exporters hold.
	for _, p := range ps {
		p.signal(t, syscall.SIGTERM)
	}
	for _, p := range ps {
		p.waitExit(t, 30*time.Second)
	}

	spans := recv.received()
	byID := map[string]otlpSpan{}
	runs := map[string][]otlpSpan{} // run id -> run spans
	for _, s := range spans {
		byID[s.id()] = s
		if strings.HasPrefix(s.Name, "job ") {
			runs[s.attrs["leaderjob.run_id"]] = append(runs[s.attrs["leaderjob.run_id"]], s)
		}
		if s.instance() != lead.name {
			t.Errorf("span %q from %q; only the leader %s runs anything", s.Name, s.instance(), lead.name)
		}
	}
	t.Logf("%d spans in %d requests, %d run spans from %s", len(spans), recv.requests, len(runs), lead.name)

	// One span per run the guard let through, and no other.
	records := runIDs(t, lead)
	for id, rec := range records {
		reason, _ := rec["reason"].(string)
		turnedAway := reason == "not_leader" || reason == "leader_unknown" || reason == "shutting_down"
		switch n := len(runs[id]); {
		case turnedAway && n != 0:
			t.Errorf("run %s skipped (%s) before the guard let it through has %d spans", id, reason, n)
		case !turnedAway && n != 1:
			t.Errorf("run %s (%v %s) has %d spans, want 1", id, rec["outcome"], reason, n)
		}
	}
	for id := range runs {
		if _, ok := records[id]; !ok {
			t.Errorf("span of run %s, which the leader's log does not have", id)
		}
	}

	var heartbeat, rates int
	for id, rs := range runs {
		s, rec := rs[0], records[id]
		want := map[string]string{
			"leaderjob.app": "monolith", "leaderjob.job": rec["job"].(string), "leaderjob.replica": lead.name,
			"leaderjob.fire": "scheduled", "leaderjob.outcome": rec["outcome"].(string), "leaderjob.key": fmt.Sprint(rec["key"]),
			"leaderjob.epoch": fmt.Sprint(rec["epoch"]),
		}
		for k, v := range want {
			if s.attrs[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", s.Name, id, k, s.attrs[k], v)
			}
		}
		if s.Kind != tracepb.Span_SPAN_KIND_INTERNAL {
			t.Errorf("%s: kind %v", s.Name, s.Kind)
		}
		switch s.Name {
		case "job heartbeat":
			heartbeat++
			if s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("heartbeat %s: status %v", id, s.Status)
			}
		case "job exchange-rates":
			if rec["outcome"] != "failed" {
				continue
			}
			rates++
			if s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || !strings.Contains(s.Status.GetMessage(), "rates service down") ||
				s.attrs["error.type"] == "" || s.attrs["code.function.name"] != "main.(*Housekeeping).RefreshExchangeRates" {
				t.Errorf("failed exchange-rates %s: status %v, error.type %q, code.function.name %q", id, s.Status, s.attrs["error.type"], s.attrs["code.function.name"])
			}
			exception := false
			for _, e := range s.Events {
				exception = exception || e.Name == "exception"
			}
			if !exception {
				t.Errorf("failed exchange-rates %s: no exception event", id)
			}
		}
	}
	children := 0
	for _, s := range spans {
		if s.Name != "fetch exchange rates" {
			continue
		}
		p, ok := byID[s.parent()]
		if !ok || p.Name != "job exchange-rates" || string(p.TraceId) != string(s.TraceId) {
			t.Errorf("the job's own span has parent %s (%q), want a run span of exchange-rates in its trace", s.parent(), p.Name)
			continue
		}
		if s.StartTimeUnixNano < p.StartTimeUnixNano || s.EndTimeUnixNano > p.EndTimeUnixNano {
			t.Errorf("the job's own span is outside its run's")
		}
		children++
	}
	if heartbeat < 5 || rates < 3 || children < 3 {
		t.Errorf("%d heartbeat runs, %d failed exchange-rate runs, %d of the job's own spans; want at least 5, 3, 3", heartbeat, rates, children)
	}
	notLeader := 0
	for _, r := range runIDs(t, standby) {
		if r["reason"] == "not_leader" {
			notLeader++
		}
	}
	if notLeader < 10 {
		t.Errorf("the standby skipped %d fires as not_leader; want at least 10, to show it exports no span for them", notLeader)
	}
	t.Logf("the standby skipped %d fires as not_leader and exported no span", notLeader)
}
