// Package sidecarclient asks a leader-elector sidecar who the leader is.
//
// The protocol is the one of the retired Kubernetes contrib "election"
// image (leader-elector:0.5): an HTTP GET on the sidecar's --http address
// answers 200 with a JSON object such as {"name":"pod-a"}. The original sent
// it as text/plain; later implementations send application/json and may add
// fields such as "last_update" (an RFC 3339 time). {} and {"name":""} mean
// that the sidecar knows no leader. This package accepts all of these.
//
// A [Client] makes short attempts (DefaultTimeout each, covering connect,
// headers and body) and retries the ones that may fare better — connection
// errors, timeouts, 429 and 5xx answers, bodies cut off mid-way — at most
// DefaultRetries times with a short backoff, so that by default a call
// gives up after about 810ms ([Client.MaxCallDuration]), well inside a
// caller's deadline of a second or two. It reads at most DefaultMaxBodyBytes
// of a body, follows no redirects, rejects invalid UTF-8, and quotes at most
// 64 bytes of a bad body in its errors.
//
// Errors wrap one of the package's own sentinels (ErrUnreachable,
// ErrTimeout, ErrBadStatus, ErrMalformed, ErrLeaderUnknown). [ErrorClass]
// maps an error to a short, stable class for metrics.
//
// Answers of leaderjob-elector (cmd/leaderjob-elector) carry more fields,
// which [Leader] holds too: epoch, is_leader, self, lease_expires, and a
// reason and error when they name no leader. [Client.Watch] follows its
// change stream (GET /sse, text/event-stream) and tells a sidecar that has
// none by the answer's Content-Type ([ErrNoStream]).
//
// The documents are package wire's: the answer's shape is wire.Answer,
// and this package reads it with wire.ParseAnswer into a wire.Leader.
//
// The client only speaks the protocol: it parses and returns an answer's
// last_update but does not judge its age, and it imports nothing of this
// module's guards. Policy lives with the caller: package guard/sidecar
// compares the leader's name with this pod's, applies a max age to
// last_update (ErrStale), and maps this package's sentinels onto package
// guard's.
//
// docs/measured.md gives the cost of a call (BenchmarkLeader).
package sidecarclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/leaderjob/leaderjob/wire"
)

// Defaults.
const (
	DefaultTimeout      = 250 * time.Millisecond // per attempt
	DefaultRetries      = 2                      // retries after the first attempt
	DefaultMaxBodyBytes = 64 << 10               // largest body read
)

// The backoff between attempts doubles from retryWaitMin up to retryWaitMax.
// The sidecar is in the same Pod, so there is no herd to spread with jitter.
const (
	retryWaitMin = 20 * time.Millisecond
	retryWaitMax = 100 * time.Millisecond
)

// Leader is one answer of the sidecar, as wire.ParseAnswer reads it.
//
// Deprecated: use wire.Leader, the same type.
type Leader = wire.Leader

// Result describes one call of [Client.Leader], for metrics.
type Result struct {
	Duration time.Duration // the whole call, retries included
	Attempts int           // HTTP attempts made
	Class    string        // ErrorClass(Err)
	Err      error         // the error Leader returned
}

// Option configures a [Client].
type Option func(*config)

type config struct {
	timeout  time.Duration
	retries  int
	maxBody  int64
	client   *http.Client
	logger   *slog.Logger
	observer func(Result)
}

// WithTimeout bounds each attempt: connecting, sending, and reading the
// whole answer. The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithRetries sets how many times a failed attempt is retried, when a retry
// may help. 0 disables retries. The default is DefaultRetries.
func WithRetries(n int) Option { return func(c *config) { c.retries = n } }

// WithMaxBodyBytes sets the largest body read; a longer one is
// ErrMalformed. The default is DefaultMaxBodyBytes.
func WithMaxBodyBytes(n int64) Option { return func(c *config) { c.maxBody = n } }

// WithHTTPClient makes the Client send its requests through a copy of hc,
// for its Transport. The copy's Timeout is replaced by the per-attempt
// timeout and its CheckRedirect by one that follows no redirect. Note that
// after a call that exhausts its retries, the underlying retry library
// closes the idle connections of the copy's Transport. By default the Client
// has its own Transport, which uses no proxy.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.client = hc } }

// WithLogger logs each failed attempt at debug level: its number, error
// class and error, and whether it will be retried. The final error is not
// logged; it is returned. By default nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithObserver calls fn after every call of Leader, on the caller's
// goroutine, with how long it took and how it ended. fn must be fast and
// safe for concurrent use.
func WithObserver(fn func(Result)) Option { return func(c *config) { c.observer = fn } }

// Client asks one sidecar who the leader is. It is safe for concurrent use.
type Client struct {
	url     string // the request URL
	display string // the URL for messages, password redacted
	listen  string // host:port, as the sidecar's --http flag would say it
	hc      *http.Client
	config
}

// New returns a Client for the sidecar at rawURL, such as
// "http://localhost:4040/". rawURL must be an absolute http or https URL
// with a host; an empty path means "/".
func New(rawURL string, opts ...Option) (*Client, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg := config{timeout: DefaultTimeout, retries: DefaultRetries, maxBody: DefaultMaxBodyBytes}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.timeout <= 0:
		return nil, fmt.Errorf("sidecarclient: timeout %v: want a positive duration, such as %v", cfg.timeout, DefaultTimeout)
	case cfg.retries < 0:
		return nil, fmt.Errorf("sidecarclient: retries %d: want 0 or more", cfg.retries)
	case cfg.maxBody <= 0:
		return nil, fmt.Errorf("sidecarclient: max body bytes %d: want a positive size, such as %d", cfg.maxBody, DefaultMaxBodyBytes)
	}

	hc := http.Client{Transport: newTransport()}
	if cfg.client != nil {
		hc = *cfg.client
	}
	hc.Timeout = cfg.timeout
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return &Client{
		url:     u.String(),
		display: u.Redacted(),
		listen:  net.JoinHostPort(u.Hostname(), port),
		hc:      &hc,
		config:  cfg,
	}, nil
}

func parseURL(raw string) (*url.URL, error) {
	bad := func(why string) error {
		return fmt.Errorf("sidecarclient: invalid sidecar URL %q: %s", raw, why)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, bad(err.Error())
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, bad("want an http:// or https:// URL")
	case u.Host == "" || u.Hostname() == "":
		return nil, bad("no host")
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // the sidecar is next door
	t.MaxIdleConnsPerHost = 4
	return t
}

// URL returns the sidecar's URL, with any password redacted.
func (c *Client) URL() string { return c.display }

// MaxCallDuration returns how long one call of Leader can take at most when
// the caller's context does not end it sooner: every attempt timing out,
// plus the backoff between them.
func (c *Client) MaxCallDuration() time.Duration {
	d := time.Duration(c.retries+1) * c.timeout
	for i := range c.retries {
		d += backoff(retryWaitMin, retryWaitMax, i, nil)
	}
	return d
}

// CloseIdleConnections closes the Client's idle connections to the sidecar.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Leader asks the sidecar who the leader is.
//
// It returns an error wrapping ErrLeaderUnknown, together with a Leader that
// has an empty Name (and the answer's LastUpdate, if any), when the sidecar
// names no leader. When ctx ends first, the error wraps ctx.Err() and none
// of the sentinels. Leader does not judge LastUpdate: how old an answer may
// be is the caller's policy.
func (c *Client) Leader(ctx context.Context) (wire.Leader, error) {
	start := time.Now()
	k := call{Client: c}
	l, err := k.do(ctx)
	if c.observer != nil {
		c.observer(Result{Duration: time.Since(start), Attempts: k.attempts, Class: ErrorClass(err), Err: err})
	}
	return l, err
}

// call is the state of one Leader call across its attempts.
type call struct {
	*Client
	attempts int
	leader   Leader
	fault    *fault // of the last attempt; nil if it succeeded
}

func (k *call) do(ctx context.Context) (Leader, error) {
	if ctx.Err() != nil {
		return Leader{}, k.ended(ctx)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return Leader{}, fmt.Errorf("sidecar %s: %w", k.display, err)
	}
	req.Header.Set("Accept", "application/json, text/plain;q=0.9, */*;q=0.1")
	rc := &retryablehttp.Client{
		HTTPClient:   k.hc,
		RetryWaitMin: retryWaitMin,
		RetryWaitMax: retryWaitMax,
		RetryMax:     k.retries,
		CheckRetry:   k.checkRetry,
		Backoff:      backoff,
		// checkRetry has consumed every body; keep the library's error.
		ErrorHandler: func(_ *http.Response, err error, _ int) (*http.Response, error) { return nil, err },
	}
	resp, err := rc.Do(req)
	if resp != nil {
		resp.Body.Close() // already drained and swapped for http.NoBody
	}
	switch {
	case ctx.Err() != nil:
		return Leader{}, k.ended(ctx)
	case k.fault != nil:
		return k.leader, &callError{url: k.display, attempts: k.attempts, fault: *k.fault}
	case err != nil: // not expected: every attempt sets leader or fault
		return Leader{}, &callError{url: k.display, attempts: k.attempts, fault: fault{kind: ErrUnreachable, what: err.Error(), cause: err}}
	}
	return k.leader, nil
}

// checkRetry is called by the retry library after each attempt. It reads
// and judges the whole answer, so that a bad body can be retried too.
func (k *call) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	k.attempts++
	if ctx.Err() != nil {
		if resp != nil {
			resp.Body.Close()
			resp.Body = http.NoBody
		}
		return false, nil
	}
	if err != nil {
		k.leader, k.fault = Leader{}, k.transportFault(err)
	} else {
		k.leader, k.fault = k.read(resp)
	}
	retry := k.fault != nil && k.fault.retry && k.attempts <= k.retries
	if k.fault != nil && k.logger != nil {
		k.logger.LogAttrs(ctx, slog.LevelDebug, "sidecar attempt failed",
			slog.String("sidecar_url", k.display),
			slog.Int("attempt", k.attempts),
			slog.String("class", ErrorClass(k.fault.kind)),
			slog.String("error", (&callError{url: k.display, fault: *k.fault}).Error()),
			slog.Bool("retry", retry))
	}
	return retry, nil
}

// ended is the error of a call whose context ended. It wraps ctx.Err() and
// the context's cause, but not the last attempt's error: that would make a
// cancelled check look like an unavailable sidecar.
func (k *call) ended(ctx context.Context) error {
	var last string
	if k.fault != nil {
		last = fmt.Sprintf(" (attempt %d: %s)", k.attempts, k.fault.what)
	}
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause != nil && cause != err {
		return fmt.Errorf("sidecar %s: gave up%s: %w: %w", k.display, last, err, cause)
	}
	return fmt.Errorf("sidecar %s: gave up%s: %w", k.display, last, err)
}

// transportFault describes an attempt that got no HTTP answer.
func (k *call) transportFault(err error) *fault {
	var dns *net.DNSError
	switch {
	case isTimeout(err):
		return k.timeoutFault("no answer")
	case errors.Is(err, syscall.ECONNREFUSED):
		return &fault{kind: ErrUnreachable, what: "connection refused", hint: k.hintListening(), cause: err, retry: true}
	case errors.As(err, &dns):
		return &fault{kind: ErrUnreachable, what: fmt.Sprintf("cannot resolve %q", dns.Name), hint: "check the host in the sidecar URL; the sidecar is normally at localhost", cause: err, retry: true}
	}
	what := err.Error()
	var uerr *url.Error
	if errors.As(err, &uerr) {
		what = uerr.Err.Error() // without the method and URL
	}
	return &fault{kind: ErrUnreachable, what: what, hint: k.hintListening(), cause: err, retry: true}
}

func (k *call) timeoutFault(what string) *fault {
	// The cause is left out on purpose: it wraps context.DeadlineExceeded,
	// which would make the guard middleware report its own deadline.
	return &fault{
		kind:  ErrTimeout,
		what:  fmt.Sprintf("%s within %v", what, k.timeout),
		hint:  "is the leader-elector container overloaded or stuck? check its logs; is another server listening on " + k.listen + "?",
		retry: true,
	}
}

func (k *call) hintListening() string {
	return "is the leader-elector container running and listening on --http=" + k.listen + "?"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// read consumes resp's body, swapping it for http.NoBody, and judges the
// answer. It drains what it can so that the connection is reused, but never
// reads more than maxBody (plus a little for an error excerpt).
func (k *call) read(resp *http.Response) (Leader, *fault) {
	body := resp.Body
	resp.Body = http.NoBody
	defer body.Close()

	if resp.StatusCode != http.StatusOK {
		head, _ := io.ReadAll(io.LimitReader(body, 512))
		io.Copy(io.Discard, io.LimitReader(body, 4<<10)) // for reuse; a longer body costs the connection
		return Leader{}, k.statusFault(resp, head)
	}
	if resp.ContentLength > k.maxBody {
		return Leader{}, k.tooLarge("Content-Length " + strconv.FormatInt(resp.ContentLength, 10))
	}
	data, err := io.ReadAll(io.LimitReader(body, k.maxBody+1))
	switch {
	case err != nil && isTimeout(err):
		return Leader{}, k.timeoutFault(fmt.Sprintf("body incomplete after %d bytes", len(data)))
	case err != nil:
		return Leader{}, &fault{
			kind:  ErrMalformed,
			what:  fmt.Sprintf("body cut off after %d bytes: %v", len(data), err),
			hint:  "the sidecar closed the connection mid-answer; did it restart?",
			cause: err,
			retry: true,
		}
	case int64(len(data)) > k.maxBody:
		return Leader{}, k.tooLarge("more bytes")
	}
	l, f := parse(data)
	switch {
	case f == nil || f.kind != ErrMalformed:
	case strings.Contains(resp.Header.Get("Content-Type"), "html"):
		f.hint = "the answer is an HTML page; is another server listening on " + k.listen + "?"
	case f.notJSON:
		f.hint = strings.Replace(f.hint, "there", "on "+k.listen, 1)
	}
	return l, f
}

func (k *call) tooLarge(size string) *fault {
	return malformed("body too large ("+size+"; the limit is "+strconv.FormatInt(k.maxBody, 10)+" bytes)",
		"a leader-elector answer is a few dozen bytes; is another server listening on "+k.listen+"?")
}

func (k *call) statusFault(resp *http.Response, head []byte) *fault {
	se := &StatusError{Code: resp.StatusCode, Status: resp.Status, Excerpt: wire.Excerpt(head)}
	f := &fault{kind: ErrBadStatus, what: se.Error(), cause: se}
	switch code := resp.StatusCode; {
	case code >= 300 && code < 400:
		se.Location = resp.Header.Get("Location")
		f.what = se.Error()
		f.hint = "redirects are not followed; point the sidecar URL at the leader-elector's --http address itself"
	case code == http.StatusTooManyRequests || (code >= 500 && code != http.StatusNotImplemented):
		f.hint = "the sidecar failed to answer; check its logs"
		f.retry = true
	default:
		f.hint = "a leader-elector answers 200 on every path; is another server listening on " + k.listen + "?"
	}
	return f
}

// backoff doubles the wait from lo up to hi and ignores Retry-After: a
// server asking for a long wait would otherwise hold the call past its
// budget.
func backoff(lo, hi time.Duration, attempt int, _ *http.Response) time.Duration {
	d := lo << attempt
	if d <= 0 || d > hi {
		d = hi
	}
	return d
}
