package sidecar_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/sidecar"
	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/sidecarclient"
	"github.com/leaderjob/leaderjob/sidecarclient/sidecartest"
)

const self = "pod-a"

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sidecar", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newGuard starts a fake sidecar answering with h and a guard asking it.
func newGuard(t testing.TB, h http.Handler, opts ...sidecar.Option) (*sidecartest.Server, *sidecar.Guard) {
	t.Helper()
	s := sidecartest.NewServer(h)
	t.Cleanup(s.Close)
	g, err := sidecar.New(self, append([]sidecar.Option{sidecar.WithURL(s.URL)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s, g
}

// fakeSidecar is a handler whose answer the test sets, counting the
// requests it serves. With pipeClient it serves a test in a synctest
// bubble, where the cache window and the timeouts are on the bubble's
// clock: the sidecartest.Server is on the loopback interface, whose
// sockets a bubble cannot wait for.
type fakeSidecar struct {
	mu       sync.Mutex
	h        http.Handler
	requests atomic.Int64
}

func (f *fakeSidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	h := f.h
	f.mu.Unlock()
	h.ServeHTTP(w, r)
}

func (f *fakeSidecar) Set(h http.Handler) {
	f.mu.Lock()
	f.h = h
	f.mu.Unlock()
}

func (f *fakeSidecar) Requests() int64 { return f.requests.Load() }

// pipeClient returns a sidecar client whose requests reach h over an
// in-memory connection. Call it inside the bubble.
func pipeClient(t *testing.T, h http.Handler, opts ...sidecarclient.Option) *sidecarclient.Client {
	t.Helper()
	c, err := sidecarclient.New(testutil.PipeURL, append([]sidecarclient.Option{sidecarclient.WithHTTPClient(testutil.HTTPClient(t, h))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// job records whether guard.Run called it.
type job struct{ calls atomic.Int32 }

func (j *job) run(context.Context) error { j.calls.Add(1); return nil }

func TestCheck(t *testing.T) {
	updated := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/"
	l.Close()

	tests := []struct {
		name    string
		handler http.Handler // nil: nothing listens
		opts    []sidecar.Option
		runOpts []guard.Option
		now     time.Time // for the age check; zero: updated + 1s
		want    guard.Decision
		reason  guard.Reason // guard.Run's skip reason; "" if the job must run
		class   string       // sidecarclient.ErrorClass of the Outcome's error; "" not checked
		text    []string     // substrings of the Outcome's error
	}{
		{name: "original text/plain, this pod", handler: sidecartest.Leader(self),
			want: guard.Decision{Leader: true, Holder: self, Self: self}},
		{name: "json content type, this pod", handler: sidecartest.Respond(200, "application/json", sample(t, "original.json")),
			want: guard.Decision{Leader: true, Holder: self, Self: self}},
		{name: "last_update, no max age", handler: sidecartest.Respond(200, "application/json", sample(t, "last-update.json")),
			now:  updated.Add(time.Hour),
			want: guard.Decision{Leader: true, Holder: self, Self: self, Observed: updated}},
		{name: "last_update fresh", handler: sidecartest.Respond(200, "application/json", sample(t, "last-update.json")),
			opts: []sidecar.Option{sidecar.WithMaxAge(10 * time.Second)},
			want: guard.Decision{Leader: true, Holder: self, Self: self, Observed: updated}},
		{name: "last_update stale", handler: sidecartest.Respond(200, "application/json", sample(t, "last-update.json")),
			opts: []sidecar.Option{sidecar.WithMaxAge(10 * time.Second)}, now: updated.Add(time.Minute),
			reason: guard.ReasonStale, class: "stale", text: []string{"last_update 2026-01-02T03:04:05Z is 1m0s old, more than the max age 10s", "stopped refreshing"}},
		{name: "max age, no last_update", handler: sidecartest.Leader(self),
			opts:   []sidecar.Option{sidecar.WithMaxAge(10 * time.Second)},
			reason: guard.ReasonStale, class: "stale", text: []string{"no last_update"}},
		{name: "empty object", handler: sidecartest.Respond(200, "application/json", sample(t, "empty-object.json")),
			reason: guard.ReasonLeaderUnknown, class: "leader_unknown", text: []string{"names no leader (no name field)"}},
		{name: "blank name", handler: sidecartest.Leader(""),
			reason: guard.ReasonLeaderUnknown, class: "leader_unknown", text: []string{`names no leader ({"name":""})`}},
		{name: "another pod", handler: sidecartest.Respond(200, "text/plain", sample(t, "other-pod.json")),
			want:   guard.Decision{Holder: "pod-b", Self: self, Detail: `leader is "pod-b"`},
			reason: guard.ReasonNotLeader, text: []string{`not the leader: leader is "pod-b"`}},
		{name: "name that starts with ours", handler: sidecartest.Respond(200, "", sample(t, "prefix-of-self.json")),
			want:   guard.Decision{Holder: "pod-a-7d9f", Self: self, Detail: `leader is "pod-a-7d9f"`},
			reason: guard.ReasonNotLeader},
		{name: "500", handler: sidecartest.Respond(500, "", []byte("internal error")),
			reason: guard.ReasonUnavailable, class: "bad_status", text: []string{"HTTP 500 Internal Server Error", "check its logs"}},
		{name: "404 with HTML", handler: sidecartest.Respond(404, "text/html", sample(t, "html-404.html")),
			reason: guard.ReasonUnavailable, class: "bad_status", text: []string{"HTTP 404 Not Found", "is another server listening on"}},
		{name: "200 with HTML", handler: sidecartest.Respond(200, "text/html", sample(t, "html-200.html")),
			reason: guard.ReasonUnavailable, class: "malformed", text: []string{"the answer is an HTML page"}},
		{name: "slower than the client's budget", handler: sidecartest.Stall(),
			reason: guard.ReasonUnavailable, class: "timeout", text: []string{"no answer within 250ms (3 attempts)"}},
		{name: "slower than the check deadline", handler: sidecartest.Stall(), runOpts: []guard.Option{guard.CheckTimeout(100 * time.Millisecond)},
			reason: guard.ReasonTimeout, text: []string{"guard did not answer within 100ms"}},
		{name: "connection refused",
			reason: guard.ReasonUnavailable, class: "unreachable", text: []string{"connection refused (3 attempts): is the leader-elector container running and listening on --http=127.0.0.1:"}},
		{name: "cut off mid-JSON", handler: sidecartest.CutOff(sample(t, "original.json"), 10),
			reason: guard.ReasonUnavailable, class: "malformed", text: []string{"body cut off after 10 bytes"}},
		{name: "10 MB body", handler: sidecartest.Respond(200, "text/plain", make([]byte, 10<<20)),
			reason: guard.ReasonUnavailable, class: "malformed", text: []string{"body too large"}},
		{name: "invalid UTF-8", handler: sidecartest.Respond(200, "", sample(t, "invalid-utf8.json")),
			reason: guard.ReasonUnavailable, class: "malformed", text: []string{"not valid UTF-8"}},
		{name: "redirect", handler: http.RedirectHandler("http://127.0.0.1:1/", http.StatusTemporaryRedirect),
			reason: guard.ReasonUnavailable, class: "bad_status", text: []string{`redirect (HTTP 307 Temporary Redirect) to "http://127.0.0.1:1/"`}},
		{name: "null name", handler: sidecartest.Respond(200, "", sample(t, "null-name.json")),
			reason: guard.ReasonLeaderUnknown, class: "leader_unknown"},
		{name: "no name, last_update", handler: sidecartest.Respond(200, "", sample(t, "no-name-with-last-update.json")),
			reason: guard.ReasonLeaderUnknown, class: "leader_unknown"},
		{name: "truncated JSON, complete body", handler: sidecartest.Respond(200, "", sample(t, "truncated.json")),
			reason: guard.ReasonUnavailable, class: "malformed", text: []string{"not valid JSON"}},
		{name: "10 MB chunked", handler: largeChunked(),
			reason: guard.ReasonUnavailable, class: "malformed", text: []string{"body too large (more bytes"}},
		{name: "isLeader path", handler: sidecartest.Respond(200, "", sample(t, "is-leader.json")),
			reason: guard.ReasonUnavailable, class: "malformed", text: []string{"/isLeader"}},
		{name: "other protocol", handler: sidecartest.Respond(200, "application/json", sample(t, "leader-field.json")),
			reason: guard.ReasonUnavailable, class: "malformed", text: []string{`"leader" but no "name"`}},
		{name: "duplicate name", handler: sidecartest.Respond(200, "", sample(t, "duplicate-name.json")),
			reason: guard.ReasonUnavailable, class: "malformed", text: []string{`"name" appears twice`}},
		{name: "bad last_update", handler: sidecartest.Respond(200, "", sample(t, "bad-last-update.json")),
			reason: guard.ReasonUnavailable, class: "malformed", text: []string{`last_update "yesterday" is not an RFC 3339 time`}},
		{name: "403", handler: sidecartest.Respond(403, "text/plain", []byte("no")),
			reason: guard.ReasonUnavailable, class: "bad_status", text: []string{"HTTP 403 Forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := refused
			if tt.handler != nil {
				s := sidecartest.NewServer(tt.handler)
				t.Cleanup(s.Close)
				url = s.URL
			}
			g, err := sidecar.New(self, append([]sidecar.Option{sidecar.WithURL(url), sidecar.WithCacheWindow(0)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			now := tt.now
			if now.IsZero() {
				now = updated.Add(time.Second)
			}
			sidecar.SetNow(g, func() time.Time { return now })

			var j job
			out := guard.Run(context.Background(), g, j.run, tt.runOpts...)
			if out.Err != nil {
				t.Logf("outcome: %s %s: %v", out.Outcome, out.Reason, out.Err)
			}
			if tt.reason == "" {
				if out.Outcome != guard.Ran || j.calls.Load() != 1 {
					t.Fatalf("outcome %s (%s: %v), %d calls; want the job run once", out.Outcome, out.Reason, out.Err, j.calls.Load())
				}
			} else {
				if out.Outcome != guard.Skipped || out.Reason != tt.reason || j.calls.Load() != 0 {
					t.Fatalf("outcome %s %q (%v), %d calls; want skipped with %q and no call", out.Outcome, out.Reason, out.Err, j.calls.Load(), tt.reason)
				}
				if tt.class != "" {
					if got := sidecarclient.ErrorClass(out.Err); got != tt.class {
						t.Errorf("sidecarclient.ErrorClass = %q, want %q: the client's error is lost", got, tt.class)
					}
				}
				for _, sub := range tt.text {
					if !strings.Contains(out.Err.Error(), sub) {
						t.Errorf("outcome error %q does not contain %q", out.Err, sub)
					}
				}
			}
			if tt.want != (guard.Decision{}) {
				if out.Decision != tt.want {
					t.Errorf("Decision = %+v, want %+v", out.Decision, tt.want)
				}
			}
		})
	}
}

func TestCheckDecisionOnError(t *testing.T) {
	_, g := newGuard(t, sidecartest.Leader(""))
	d, err := g.Check(context.Background())
	if d.Leader || d.Lost != nil || !errors.Is(err, guard.ErrLeaderUnknown) || !errors.Is(err, sidecarclient.ErrLeaderUnknown) {
		t.Errorf("Check = %+v, %v; want not leader and ErrLeaderUnknown", d, err)
	}
}

// largeChunked serves 10 MB of JSON-looking bytes without a Content-Length.
func largeChunked() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := bytes.Repeat([]byte(" "), 32<<10)
		w.Write([]byte(`{"name":"`))
		for n := 0; n < 10<<20; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
}

// A bad status keeps its details for errors.As and reads as unavailable.
func TestCheckStatusError(t *testing.T) {
	_, g := newGuard(t, sidecartest.Respond(http.StatusForbidden, "text/plain", []byte("no")))
	_, err := g.Check(context.Background())
	var se *sidecarclient.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusForbidden || se.Excerpt != `"no"` {
		t.Fatalf("errors.As(%v) = %+v", err, se)
	}
	if !errors.Is(err, sidecarclient.ErrBadStatus) || !errors.Is(err, guard.ErrUnavailable) || guard.ReasonOf(err) != guard.ReasonUnavailable {
		t.Errorf("%v does not wrap ErrBadStatus and guard.ErrUnavailable", err)
	}
}

func TestLostIsNil(t *testing.T) {
	_, g := newGuard(t, sidecartest.Leader(self))
	d, err := g.Check(context.Background())
	if err != nil || !d.Leader || d.Lost != nil {
		t.Errorf("Check = %+v, %v; want leader with a nil Lost", d, err)
	}
}

// gate holds every request until it is opened.
type gate struct{ open chan struct{} }

func (g gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-g.open:
		sidecartest.Leader(self).ServeHTTP(w, r)
	case <-r.Context().Done():
	}
}

// 1,000 checks due at once cost one request: those that come while it is in
// flight wait for it, those that come after reuse its answer.
func TestConcurrentChecksShareOneRequest(t *testing.T) {
	synctest.Test(t, testConcurrentChecksShareOneRequest)
}

func testConcurrentChecksShareOneRequest(t *testing.T) {
	h := gate{open: make(chan struct{})}
	s := &fakeSidecar{h: h}
	client := pipeClient(t, s, sidecarclient.WithTimeout(time.Minute))
	g, err := sidecar.New(self, sidecar.WithClient(client), sidecar.WithCacheWindow(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	var asked, leaders atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			asked.Add(1)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if d, err := g.Check(ctx); err == nil && d.Leader {
				leaders.Add(1)
			}
		})
	}
	synctest.Wait() // every check waits for the one request, held by the gate
	if asked.Load() != n || s.Requests() != 1 {
		t.Fatalf("%d checks asked, %d requests sent; want %d and 1", asked.Load(), s.Requests(), n)
	}
	close(h.open)
	wg.Wait()
	if got := s.Requests(); got != 1 {
		t.Errorf("%d concurrent checks made %d requests, want 1", n, got)
	}
	if leaders.Load() != n {
		t.Errorf("%d of %d checks said leader", leaders.Load(), n)
	}
}

// Answers, errors included, are reused for the cache window from when
// their request was sent, and not a moment longer. The test runs in a
// synctest bubble: the sleeps move the bubble's clock.
func TestCacheWindow(t *testing.T) {
	synctest.Test(t, testCacheWindow)
}

func testCacheWindow(t *testing.T) {
	const window = 100 * time.Millisecond
	s := &fakeSidecar{h: sidecartest.Respond(500, "", nil)}
	c := pipeClient(t, s, sidecarclient.WithRetries(0))
	g, err := sidecar.New(self, sidecar.WithClient(c), sidecar.WithCacheWindow(window))
	if err != nil {
		t.Fatal(err)
	}

	for range 10 {
		if _, err := g.Check(context.Background()); !errors.Is(err, sidecarclient.ErrBadStatus) {
			t.Fatalf("Check error = %v, want ErrBadStatus", err)
		}
	}
	if n := s.Requests(); n != 1 {
		t.Fatalf("10 checks within the window made %d requests, want 1: the error is reused", n)
	}

	s.Set(sidecartest.Leader(self))
	time.Sleep(window)
	if d, err := g.Check(context.Background()); err != nil || !d.Leader {
		t.Fatalf("after the window: Check = %+v, %v; want a fresh answer", d, err)
	}
	s.Set(sidecartest.Leader("pod-b"))
	time.Sleep(window - time.Nanosecond)
	if d, _ := g.Check(context.Background()); !d.Leader {
		t.Fatal("the answer within the window was not reused")
	}
	time.Sleep(time.Nanosecond)
	if d, err := g.Check(context.Background()); err != nil || d.Leader || d.Holder != "pod-b" {
		t.Fatalf("after the window: Check = %+v, %v; want pod-b", d, err)
	}
	if n := s.Requests(); n != 3 {
		t.Errorf("%d requests, want 3: one per window", n)
	}
}

func TestEachCheckHonoursItsContext(t *testing.T) {
	synctest.Test(t, testEachCheckHonoursItsContext)
}

func testEachCheckHonoursItsContext(t *testing.T) {
	h := gate{open: make(chan struct{})}
	g, err := sidecar.New(self, sidecar.WithClient(pipeClient(t, h)))
	if err != nil {
		t.Fatal(err)
	}

	patient := make(chan error, 1)
	go func() {
		_, err := g.Check(context.Background())
		patient <- err
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = g.Check(ctx)
	if d := time.Since(start); d != 50*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) { // the shared request is held: only its own deadline can end this Check
		t.Errorf("impatient Check returned %v after %v; want DeadlineExceeded after its 50ms, not a wait for the shared request", err, d)
	}

	var j job
	out := guard.Run(context.Background(), g, j.run, guard.CheckTimeout(30*time.Millisecond))
	if out.Reason != guard.ReasonTimeout || j.calls.Load() != 0 {
		t.Errorf("Run: %s %s %v; want skipped for timeout", out.Outcome, out.Reason, out.Err)
	}

	synctest.Wait()
	select {
	case err := <-patient:
		t.Fatalf("patient Check returned early: %v", err)
	default:
	}
	close(h.open)
	if err := <-patient; err != nil {
		t.Errorf("patient Check: %v", err)
	}
}

func TestOnChange(t *testing.T) {
	s, g := newGuard(t, sidecartest.Leader(self), sidecar.WithCacheWindow(0))
	var changes []guard.Change
	g.OnChange(func(c guard.Change) { changes = append(changes, c) })

	for _, h := range []http.Handler{
		sidecartest.Leader(self),
		sidecartest.Leader(self),
		sidecartest.Leader("pod-b"),
		sidecartest.Respond(500, "", nil), // no answer: no change
		sidecartest.Leader("pod-b"),
		sidecartest.Leader(""),
		sidecartest.Leader(self),
	} {
		s.Set(h)
		g.Check(context.Background())
	}
	want := [][2]string{{"", self}, {self, "pod-b"}, {"pod-b", ""}, {"", self}}
	if len(changes) != len(want) {
		t.Fatalf("changes = %+v, want %v", changes, want)
	}
	for i, c := range changes {
		if c.Previous != want[i][0] || c.Holder != want[i][1] || c.Self != self || c.At.IsZero() {
			t.Errorf("change %d = %+v, want %v", i, c, want[i])
		}
	}
}

func TestConnectionReuse(t *testing.T) {
	s, g := newGuard(t, sidecartest.Leader(self), sidecar.WithCacheWindow(0))
	for range 100 {
		if _, err := g.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if s.Requests() != 100 || s.Conns() != 1 {
		t.Errorf("100 checks: %d requests over %d connections, want 100 over 1", s.Requests(), s.Conns())
	}
}

func TestNew(t *testing.T) {
	c, err := sidecarclient.New(sidecar.DefaultURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		self string
		opts []sidecar.Option
		want string
	}{
		{self: "", want: "empty pod name"},
		{self: self, opts: []sidecar.Option{sidecar.WithURL("localhost:4040")}, want: `invalid sidecar URL "localhost:4040"`},
		{self: self, opts: []sidecar.Option{sidecar.WithURL(sidecar.DefaultURL), sidecar.WithClient(c)}, want: "WithURL and WithClient"},
		{self: self, opts: []sidecar.Option{sidecar.WithCacheWindow(-time.Second)}, want: "cache window -1s"},
		{self: self, opts: []sidecar.Option{sidecar.WithMaxAge(-time.Second)}, want: "max age -1s"},
	} {
		if _, err := sidecar.New(tt.self, tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q) error = %v, want %q", tt.self, err, tt.want)
		}
	}
	g, err := sidecar.New(self)
	if err != nil || g.String() != "sidecar(http://localhost:4040/)" {
		t.Errorf("New(%q) = %v, %v", self, g, err)
	}
}

func TestCheckEndedContext(t *testing.T) {
	s, g := newGuard(t, sidecartest.Leader(self))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Check(ctx); !errors.Is(err, context.Canceled) || s.Requests() != 0 {
		t.Errorf("Check with an ended context = %v after %d requests; want context.Canceled and none", err, s.Requests())
	}
}
