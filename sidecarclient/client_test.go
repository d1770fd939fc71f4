package sidecarclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/sidecarclient"
	"github.com/leaderjob/leaderjob/sidecarclient/sidecartest"
)

// sample reads a response body from testdata/sidecar.
func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "sidecar", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newClient starts a fake sidecar answering with h and a client for it.
func newClient(t testing.TB, h http.Handler, opts ...sidecarclient.Option) (*sidecartest.Server, *sidecarclient.Client) {
	t.Helper()
	s := sidecartest.NewServer(h)
	c, err := sidecarclient.New(s.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseIdleConnections(); s.Close() })
	return s, c
}

// pipeClient returns a client whose requests reach h over an in-memory
// connection, for a test in a synctest bubble: there the timeouts and the
// backoff are on the bubble's clock, exact and without a wait. Call it
// inside the bubble.
func pipeClient(t *testing.T, h http.Handler, opts ...sidecarclient.Option) *sidecarclient.Client {
	t.Helper()
	c, err := sidecarclient.New(testutil.PipeURL, append([]sidecarclient.Option{sidecarclient.WithHTTPClient(testutil.HTTPClient(t, h))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// refusedURL returns a loopback URL on which nothing listens.
func refusedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/"
}

// largeBody serves 10 MB of JSON-looking bytes, with a Content-Length or,
// when chunked, without one.
func largeBody(chunked bool) http.Handler {
	const size = 10 << 20
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !chunked {
			w.Header().Set("Content-Length", "10485760")
		}
		chunk := bytes.Repeat([]byte(" "), 32<<10)
		w.Write([]byte(`{"name":"`))
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
}

func TestLeader(t *testing.T) {
	const shortTimeout = 100 * time.Millisecond
	updated := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		handler http.Handler // nil: connection refused
		opts    []sidecarclient.Option
		want    sidecarclient.Leader
		class   string   // ErrorClass of the error; "" for success
		text    []string // substrings of the error message
		tries   int64    // requests the server must see; 0: don't check
	}{
		{name: "original text/plain", handler: sidecartest.Leader("pod-a"), want: sidecarclient.Leader{Name: "pod-a"}, tries: 1},
		{name: "json content type", handler: sidecartest.Respond(200, "application/json", sample(t, "original.json")), want: sidecarclient.Leader{Name: "pod-a"}, tries: 1},
		{name: "pretty-printed", handler: sidecartest.Respond(200, "application/json; charset=utf-8", sample(t, "pretty.json")), want: sidecarclient.Leader{Name: "pod-a"}},
		{name: "last_update", handler: sidecartest.Respond(200, "application/json", sample(t, "last-update.json")), want: sidecarclient.Leader{Name: "pod-a", LastUpdate: updated}},
		{name: "last_update with offset and extra fields", handler: sidecartest.Respond(200, "application/json", sample(t, "last-update-offset.json")), want: sidecarclient.Leader{Name: "pod-a", LastUpdate: updated.Add(123456 * time.Microsecond)}},
		{name: "another pod", handler: sidecartest.Respond(200, "text/plain", sample(t, "other-pod.json")), want: sidecarclient.Leader{Name: "pod-b"}},
		{name: "empty object", handler: sidecartest.Respond(200, "application/json", sample(t, "empty-object.json")),
			class: "leader_unknown", text: []string{"names no leader (no name field)", "check its logs"}, tries: 1},
		{name: "blank name", handler: sidecartest.Leader(""),
			class: "leader_unknown", text: []string{`names no leader ({"name":""})`}, tries: 1},
		{name: "null name", handler: sidecartest.Respond(200, "", sample(t, "null-name.json")), class: "leader_unknown"},
		{name: "no name, last_update", handler: sidecartest.Respond(200, "", sample(t, "no-name-with-last-update.json")),
			want: sidecarclient.Leader{LastUpdate: updated}, class: "leader_unknown"},
		{name: "500", handler: sidecartest.Respond(500, "text/plain", []byte("elector: apiserver unreachable")),
			class: "bad_status", text: []string{"HTTP 500 Internal Server Error", `"elector: apiserver unreachable"`, "(3 attempts)", "check its logs"}, tries: 3},
		{name: "404 with HTML", handler: sidecartest.Respond(404, "text/html", sample(t, "html-404.html")),
			class: "bad_status", text: []string{"HTTP 404 Not Found", `body starts "<!DOCTYPE html>`, "is another server listening on 127.0.0.1:"}, tries: 1},
		{name: "200 with HTML", handler: sidecartest.Respond(200, "text/html; charset=utf-8", sample(t, "html-200.html")),
			class: "malformed", text: []string{"not a JSON object", "HTML page", "is another server listening on 127.0.0.1:"}, tries: 1},
		{name: "slower than the timeout", handler: sidecartest.Stall(), opts: []sidecarclient.Option{sidecarclient.WithTimeout(shortTimeout)},
			class: "timeout", text: []string{"no answer within 100ms (3 attempts)", "overloaded or stuck"}, tries: 3},
		{name: "connection refused",
			class: "unreachable", text: []string{"connection refused (3 attempts): is the leader-elector container running and listening on --http=127.0.0.1:"}},
		{name: "cut off mid-JSON", handler: sidecartest.CutOff(sample(t, "original.json"), 7),
			class: "malformed", text: []string{"body cut off after 7 bytes", "did it restart?"}, tries: 3},
		{name: "truncated JSON, complete body", handler: sidecartest.Respond(200, "", sample(t, "truncated.json")),
			class: "malformed", text: []string{"not valid JSON", `"{\"name\":\"po"`}, tries: 1},
		{name: "10 MB with Content-Length", handler: largeBody(false),
			class: "malformed", text: []string{"body too large (Content-Length 10485760; the limit is 65536 bytes)"}, tries: 1},
		{name: "10 MB chunked", handler: largeBody(true),
			class: "malformed", text: []string{"body too large (more bytes; the limit is 65536 bytes)"}, tries: 1},
		{name: "invalid UTF-8", handler: sidecartest.Respond(200, "text/plain", sample(t, "invalid-utf8.json")),
			class: "malformed", text: []string{`not valid UTF-8 (starts "{\"name\":\"pod-` + "\ufffd" + `\"}")`, "listening on 127.0.0.1:"}, tries: 1},
		{name: "redirect", handler: http.RedirectHandler("/elsewhere", http.StatusFound),
			class: "bad_status", text: []string{`redirect (HTTP 302 Found) to "/elsewhere"`, "redirects are not followed"}, tries: 1},
		{name: "isLeader path", handler: sidecartest.Respond(200, "", sample(t, "is-leader.json")),
			class: "malformed", text: []string{"/isLeader", "point the sidecar URL at /"}},
		{name: "other protocol", handler: sidecartest.Respond(200, "application/json", sample(t, "leader-field.json")),
			class: "malformed", text: []string{`"leader" but no "name"`}},
		{name: "duplicate name", handler: sidecartest.Respond(200, "", sample(t, "duplicate-name.json")),
			class: "malformed", text: []string{`"name" appears twice`}},
		{name: "bad last_update", handler: sidecartest.Respond(200, "", sample(t, "bad-last-update.json")),
			class: "malformed", text: []string{`last_update "yesterday" is not an RFC 3339 time`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var url string
			var s *sidecartest.Server
			if tt.handler != nil {
				var c *sidecarclient.Client
				s, c = newClient(t, tt.handler, tt.opts...)
				url = c.URL()
			} else {
				url = refusedURL(t)
			}
			c, err := sidecarclient.New(url, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseIdleConnections()

			start := time.Now()
			got, err := c.Leader(context.Background())
			elapsed := time.Since(start)
			if elapsed > c.MaxCallDuration()+2*time.Second { // generous: CI machines are loaded
				t.Errorf("Leader took %v, more than its bound %v", elapsed, c.MaxCallDuration())
			}
			if !got.LastUpdate.Equal(tt.want.LastUpdate) || got.Name != tt.want.Name {
				t.Errorf("Leader = %+v, want %+v", got, tt.want)
			}
			if class := sidecarclient.ErrorClass(err); class != tt.class {
				t.Fatalf("ErrorClass = %q, want %q (err: %v)", class, tt.class, err)
			}
			if err == nil {
				return
			}
			t.Logf("error: %v", err)
			if msg := err.Error(); !strings.HasPrefix(msg, "sidecar "+url+": ") {
				t.Errorf("error %q does not start with the sidecar's URL", msg)
			}
			for _, sub := range tt.text {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not contain %q", err, sub)
				}
			}
			if len(err.Error()) > 400 {
				t.Errorf("error message is %d bytes long", len(err.Error()))
			}
			if s != nil && tt.tries != 0 {
				if n := s.Requests(); n != tt.tries {
					t.Errorf("server saw %d requests, want %d", n, tt.tries)
				}
			}
		})
	}
}

// Each sentinel has its own class, and the sentinels are distinct: a
// caller can tell every failure apart with errors.Is.
func TestErrorClass(t *testing.T) {
	sentinels := []error{sidecarclient.ErrUnreachable, sidecarclient.ErrTimeout, sidecarclient.ErrBadStatus,
		sidecarclient.ErrMalformed, sidecarclient.ErrLeaderUnknown, sidecarclient.ErrStale}
	for _, tt := range []struct {
		err   error
		class string
	}{
		{nil, ""},
		{sidecarclient.ErrUnreachable, "unreachable"},
		{sidecarclient.ErrTimeout, "timeout"},
		{sidecarclient.ErrBadStatus, "bad_status"},
		{sidecarclient.ErrMalformed, "malformed"},
		{sidecarclient.ErrLeaderUnknown, "leader_unknown"},
		{sidecarclient.ErrStale, "stale"},
		{fmt.Errorf("checked: %w", sidecarclient.ErrStale), "stale"},
		{&sidecarclient.StatusError{Code: 500, Status: "500 Internal Server Error"}, "bad_status"},
		{fmt.Errorf("gave up: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("gave up: %w", context.Canceled), "canceled"},
		{errors.New("something else"), "error"},
	} {
		if got := sidecarclient.ErrorClass(tt.err); got != tt.class {
			t.Errorf("ErrorClass(%v) = %q, want %q", tt.err, got, tt.class)
		}
	}
	for i, a := range sentinels {
		for j, b := range sentinels {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v matches %v", a, b)
			}
		}
	}
}

// The client is a plain HTTP client: it must not depend on the guards that
// use it, nor on anything else in this module but the documents (wire).
func TestImportsOneWay(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to list the imports with: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/leaderjob/leaderjob/"
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, module) && pkg != module+"sidecarclient" && pkg != module+"wire" {
			t.Errorf("sidecarclient depends on %s", pkg)
		}
	}
}

func TestStatusError(t *testing.T) {
	_, c := newClient(t, sidecartest.Respond(http.StatusForbidden, "text/plain", []byte("no")))
	_, err := c.Leader(context.Background())
	var se *sidecarclient.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusForbidden || se.Excerpt != `"no"` {
		t.Fatalf("errors.As(%v) = %+v", err, se)
	}
	if !errors.Is(err, sidecarclient.ErrBadStatus) {
		t.Errorf("%v does not wrap ErrBadStatus", err)
	}
}

func TestRetryRecovers(t *testing.T) {
	var n atomic.Int32
	_, c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		sidecartest.Leader("pod-a").ServeHTTP(w, r)
	}))
	l, err := c.Leader(context.Background())
	if err != nil || l.Name != "pod-a" || n.Load() != 3 {
		t.Fatalf("Leader = %+v, %v after %d requests; want pod-a after 3", l, err, n.Load())
	}
}

// The retries' backoff ignores a Retry-After; the test runs in a synctest
// bubble, where the backoff is the call's only time.
func TestRetryAfterIgnored(t *testing.T) {
	synctest.Test(t, testRetryAfterIgnored)
}

func testRetryAfterIgnored(t *testing.T) {
	c := pipeClient(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	start := time.Now()
	_, err := c.Leader(context.Background())
	if d := time.Since(start); d >= c.MaxCallDuration() || sidecarclient.ErrorClass(err) != "bad_status" {
		t.Fatalf("Leader took %v and returned %v; want a bad_status after the backoff alone, less than the %v budget", d, err, c.MaxCallDuration())
	}
}

// A stalled sidecar holds a call for its whole budget: three attempts
// timing out, and the backoff between them. The test runs in a synctest
// bubble: the budget is spent exactly, and at once.
func TestDefaultBudget(t *testing.T) {
	synctest.Test(t, testDefaultBudget)
}

func testDefaultBudget(t *testing.T) {
	c := pipeClient(t, sidecartest.Stall())
	if d := c.MaxCallDuration(); d > time.Second || d < 3*sidecarclient.DefaultTimeout {
		t.Fatalf("MaxCallDuration = %v, want about 3 attempts and at most 1s", d)
	}
	start := time.Now()
	_, err := c.Leader(context.Background())
	elapsed := time.Since(start)
	if sidecarclient.ErrorClass(err) != "timeout" {
		t.Fatalf("Leader error = %v, want a timeout", err)
	}
	if elapsed != c.MaxCallDuration() {
		t.Errorf("a stalled sidecar took %v; want 3 attempts, %v", elapsed, c.MaxCallDuration())
	}
}

func TestContext(t *testing.T) {
	t.Run("cancelled while waiting", func(t *testing.T) {
		synctest.Test(t, testCancelledWhileWaiting)
	})
	t.Run("deadline during backoff", func(t *testing.T) {
		synctest.Test(t, testDeadlineDuringBackoff)
	})
	t.Run("cause", func(t *testing.T) {
		_, c := newClient(t, sidecartest.Leader("pod-a"))
		cause := errors.New("shutting down")
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		_, err := c.Leader(ctx)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
			t.Errorf("err = %v: want context.Canceled and its cause", err)
		}
	})
}

// These two run in a synctest bubble: the call returns the moment its
// context ends.
func testCancelledWhileWaiting(t *testing.T) {
	c := pipeClient(t, sidecartest.Stall())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Leader(ctx)
	if d := time.Since(start); d != 30*time.Millisecond {
		t.Errorf("Leader returned %v after the call began, want at the cancel, 30ms", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v: want context.Canceled", err)
	}
	for _, s := range []error{sidecarclient.ErrUnreachable, sidecarclient.ErrTimeout, sidecarclient.ErrBadStatus, sidecarclient.ErrMalformed} {
		if errors.Is(err, s) { // a cancelled check must not look like an unavailable sidecar
			t.Errorf("err = %v: wraps %v", err, s)
		}
	}
	if got := sidecarclient.ErrorClass(err); got != "canceled" {
		t.Errorf("ErrorClass = %q, want canceled", got)
	}
}

func testDeadlineDuringBackoff(t *testing.T) {
	c := pipeClient(t, sidecartest.Respond(500, "", nil))
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := c.Leader(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "attempt 1: HTTP 500") {
		t.Errorf("err = %v: want the deadline and the last attempt's failure", err)
	}
	if d := time.Since(start); d != 10*time.Millisecond {
		t.Errorf("Leader returned after %v, want at the deadline, 10ms", d)
	}
}

func TestConnectionReuse(t *testing.T) {
	s, c := newClient(t, sidecartest.Leader("pod-a"))
	answers := []http.Handler{
		sidecartest.Leader("pod-a"),
		sidecartest.Leader(""),
		sidecartest.Respond(404, "text/html", sample(t, "html-404.html")),
		sidecartest.Respond(200, "text/html", sample(t, "html-200.html")),
		http.RedirectHandler("/x", http.StatusMovedPermanently),
	}
	for i := range 50 {
		s.Set(answers[i%len(answers)])
		c.Leader(context.Background())
	}
	if n := s.Conns(); n != 1 {
		t.Errorf("50 calls opened %d connections, want 1", n)
	}
}

func TestObserverAndLogger(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var results []sidecarclient.Result
	garbage := bytes.Repeat([]byte("<garbage>"), 6000) // 54 kB, under the size limit
	_, c := newClient(t, sidecartest.Respond(500, "", garbage),
		sidecarclient.WithLogger(logger),
		sidecarclient.WithObserver(func(r sidecarclient.Result) { results = append(results, r) }))

	_, err := c.Leader(context.Background())
	if len(results) != 1 || results[0].Class != "bad_status" || results[0].Attempts != 3 || results[0].Err != err || results[0].Duration <= 0 {
		t.Errorf("observer got %+v", results)
	}
	if n := strings.Count(logs.String(), "sidecar attempt failed"); n != 3 {
		t.Errorf("logged %d failed attempts, want 3:\n%s", n, logs.String())
	}
	if logs.Len() > 3*600 || len(err.Error()) > 400 {
		t.Errorf("a 54 kB body led to %d bytes of logs and a %d-byte error", logs.Len(), len(err.Error()))
	}
	t.Logf("logs:\n%s", logs.String())
}

func TestNew(t *testing.T) {
	for _, tt := range []struct {
		url  string
		opts []sidecarclient.Option
		want string // substring of the error, "" for success
		norm string // URL() on success
	}{
		{url: "http://localhost:4040/", norm: "http://localhost:4040/"},
		{url: "http://localhost:4040", norm: "http://localhost:4040/"},
		{url: "https://user:secret@elector.example:8443/leader", norm: "https://user:xxxxx@elector.example:8443/leader"},
		{url: "", want: `invalid sidecar URL "": want an http:// or https:// URL`},
		{url: "localhost:4040", want: "want an http:// or https:// URL"},
		{url: "ftp://localhost/", want: "want an http:// or https:// URL"},
		{url: "http:///x", want: "no host"},
		{url: "http://[::1", want: `invalid sidecar URL "http://[::1": missing ']' in host`},
		{url: DefaultURL, opts: []sidecarclient.Option{sidecarclient.WithTimeout(0)}, want: "timeout 0s: want a positive duration"},
		{url: DefaultURL, opts: []sidecarclient.Option{sidecarclient.WithRetries(-1)}, want: "retries -1"},
		{url: DefaultURL, opts: []sidecarclient.Option{sidecarclient.WithMaxBodyBytes(0)}, want: "max body bytes 0"},
	} {
		c, err := sidecarclient.New(tt.url, tt.opts...)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("New(%q) = %v", tt.url, err)
		case tt.want == "" && c.URL() != tt.norm:
			t.Errorf("New(%q).URL() = %q, want %q", tt.url, c.URL(), tt.norm)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("New(%q) error = %v, want %q", tt.url, err, tt.want)
		}
	}
}

const DefaultURL = "http://localhost:4040/"

func TestWithHTTPClient(t *testing.T) {
	var used atomic.Bool
	base := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Store(true)
		return http.DefaultTransport.RoundTrip(r)
	}), Timeout: time.Hour}
	s, c := newClient(t, http.RedirectHandler("/elsewhere", http.StatusFound), sidecarclient.WithHTTPClient(base))
	_, err := c.Leader(context.Background())
	if !used.Load() || sidecarclient.ErrorClass(err) != "bad_status" || s.Requests() != 1 {
		t.Errorf("transport used: %v; err: %v; requests %d: want the given transport, no redirect followed", used.Load(), err, s.Requests())
	}
	if base.Timeout != time.Hour || base.CheckRedirect != nil {
		t.Error("WithHTTPClient changed the caller's client")
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
