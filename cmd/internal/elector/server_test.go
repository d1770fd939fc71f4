package elector

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/sidecar"
	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/sidecarclient"
	"github.com/leaderjob/leaderjob/sidecarclient/sidecartest"
)

// fakeSource is a Source whose answer the test sets.
type fakeSource struct {
	mu     sync.Mutex
	d      guard.Decision
	err    error
	expiry time.Time
}

func (f *fakeSource) Check(context.Context) (guard.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.d, f.err
}

func (f *fakeSource) LeaseExpiry() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.expiry, !f.expiry.IsZero()
}

func (f *fakeSource) set(d guard.Decision, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.d, f.err = d, err
	if d.Holder != "" {
		f.expiry = time.Now().Add(10 * time.Second)
	} else {
		f.expiry = time.Time{}
	}
}

func leads(holder, self string, epoch int64) guard.Decision {
	return guard.Decision{Leader: holder == self, Holder: holder, Self: self, Epoch: epoch, HasEpoch: true, EpochScope: "lease-uid", Observed: time.Now()}
}

func newTestServer(t *testing.T, src *fakeSource, self string) (*Server, *httptest.Server) {
	t.Helper()
	s := NewServer(src, self, 2*time.Second, nil, nil)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

func TestClientRoundTrip(t *testing.T) {
	src := &fakeSource{}
	src.set(leads("pod-a", "pod-a", 7), nil)
	_, hs := newTestServer(t, src, "pod-a")
	c, err := sidecarclient.New(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Leader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "pod-a" || !l.HasEpoch || l.Epoch != 7 || l.EpochScope != "lease-uid" || !l.HasIsLeader || !l.IsLeader || l.Self != "pod-a" ||
		time.Since(l.LastUpdate) > time.Second || time.Until(l.LeaseExpires) < 5*time.Second {
		t.Errorf("leader answer: %+v", l)
	}

	src.set(leads("pod-b", "pod-a", 8), nil)
	l, err = c.Leader(context.Background())
	if err != nil || l.Name != "pod-b" || l.IsLeader || l.Epoch != 8 {
		t.Errorf("follower answer: %+v, %v", l, err)
	}

	src.set(guard.Decision{Self: "pod-a"}, errors.Join(guard.ErrUnavailable, errors.New("renew request timed out after 1s")))
	l, err = c.Leader(context.Background())
	if !errors.Is(err, sidecarclient.ErrLeaderUnknown) || l.Reason != "unavailable" || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("unknown answer: %+v, %v", l, err)
	}
}

func TestNeverAStaleName(t *testing.T) {
	src := &fakeSource{}
	d := leads("pod-b", "pod-a", 3)
	d.Observed = time.Now().Add(-3 * time.Second) // past the 2s freshness bound
	src.set(d, nil)
	s, _ := newTestServer(t, src, "pod-a")
	a := s.Answer(context.Background())
	if a.Name != "" || a.Reason != "stale" || a.LastUpdate != "" {
		t.Errorf("stale follower view answered %+v", a)
	}
	src.set(guard.Decision{Self: "pod-a"}, guard.ErrLeaderUnknown)
	if a := s.Answer(context.Background()); a.Name != "" || a.Reason != "unknown" {
		t.Errorf("never-read Lease answered %+v", a)
	}
	src.set(guard.Decision{Self: "pod-a", HasEpoch: true, Observed: time.Now()}, nil)
	if a := s.Answer(context.Background()); a.Name != "" || a.Reason != "no_leader" {
		t.Errorf("free Lease answered %+v", a)
	}
}

// A client that knows only {"name": ...}, as written for the original
// image, gets what it expects on any path and with any method.
func TestPlainClientUnchanged(t *testing.T) {
	src := &fakeSource{}
	src.set(leads("pod-b", "pod-a", 1), nil)
	_, hs := newTestServer(t, src, "pod-a")
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
		for _, path := range []string{"/", "/leader", "/anything/else"} {
			req, _ := http.NewRequest(m, hs.URL+path, strings.NewReader("x"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var v struct{ Name string }
			if resp.StatusCode != 200 || json.Unmarshal(body, &v) != nil || v.Name != "pod-b" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("%s %s: %d %q %q", m, path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		}
	}
}

// The guard tests follow the elector's change stream in a synctest bubble,
// over an in-memory connection: synctest.Wait returns once the stream has
// delivered all there is, so that what did not happen (no stream, no Lost
// yet) is checked after everything that could happen has.

// streams serves h, and ends the change streams it serves when broken, as
// a killed elector's streams end.
type streams struct {
	h       http.Handler
	mu      sync.Mutex
	cancels []context.CancelFunc
	served  int // requests
}

func (b *streams) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	b.mu.Lock()
	b.cancels = append(b.cancels, cancel)
	b.served++
	h := b.h
	b.mu.Unlock()
	h.ServeHTTP(w, r.WithContext(ctx))
}

func (b *streams) breakAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, cancel := range b.cancels {
		cancel()
	}
	b.cancels = nil
}

func (b *streams) set(h http.Handler) {
	b.mu.Lock()
	b.h = h
	b.mu.Unlock()
}

func (b *streams) requests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.served
}

// pipeGuard returns a sidecar guard for pod-a asking h over an in-memory
// connection. Call it inside the bubble.
func pipeGuard(t *testing.T, h http.Handler, opts ...sidecar.Option) *sidecar.Guard {
	t.Helper()
	c, err := sidecarclient.New(testutil.PipeURL, sidecarclient.WithHTTPClient(testutil.HTTPClient(t, h)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := sidecar.New("pod-a", append([]sidecar.Option{sidecar.WithClient(c)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGuardFollowsTheStream(t *testing.T) {
	synctest.Test(t, testGuardFollowsTheStream)
}

func testGuardFollowsTheStream(t *testing.T) {
	src := &fakeSource{}
	src.set(leads("pod-b", "pod-a", 1), nil)
	s := NewServer(src, "pod-a", 2*time.Second, nil, nil)
	g := pipeGuard(t, s, sidecar.WithCacheWindow(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
	if !g.Streaming() {
		t.Fatal("not following the stream")
	}
	d, err := g.Check(ctx)
	if err != nil || d.Leader || d.Holder != "pod-b" || !d.HasEpoch || d.Epoch != 1 {
		t.Fatalf("before the hand-off: %+v, %v", d, err)
	}
	src.set(leads("pod-a", "pod-a", 2), nil)
	s.Update()
	synctest.Wait()
	if d, err := g.Check(ctx); err != nil || !d.Leader || d.Epoch != 2 {
		t.Fatalf("after the hand-off: %+v, %v; want it seen at once, despite the hour-long cache window", d, err)
	}
}

func TestGuardWithoutStreamAsBefore(t *testing.T) {
	synctest.Test(t, testGuardWithoutStreamAsBefore)
}

func testGuardWithoutStreamAsBefore(t *testing.T) {
	fake := &streams{h: sidecartest.Leader("pod-b")}
	g := pipeGuard(t, fake, sidecar.WithCacheWindow(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := g.Check(ctx)
	if err != nil || d.Leader || d.Holder != "pod-b" || d.HasEpoch {
		t.Fatalf("%+v, %v", d, err)
	}
	synctest.Wait()
	if g.Streaming() {
		t.Error("streaming from a sidecar that offers no stream")
	}
	fake.set(sidecartest.Leader("pod-a"))
	if d, _ := g.Check(ctx); d.Leader {
		t.Error("the cached answer was dropped without a stream")
	}
	if n := fake.requests(); n != 2 { // one /sse probe, one answer
		t.Errorf("requests: %d, want 2", n)
	}
}

func TestIdentityMismatchFailsClosed(t *testing.T) {
	src := &fakeSource{}
	src.set(leads("elector-x", "elector-x", 1), nil) // elects as another identity
	_, hs := newTestServer(t, src, "elector-x")
	g, _ := sidecar.New("pod-a", sidecar.WithURL(hs.URL+"/"), sidecar.WithCacheWindow(0))
	d, err := g.Check(context.Background())
	if d.Leader || !errors.Is(err, sidecar.ErrIdentityMismatch) || !errors.Is(err, guard.ErrUnavailable) {
		t.Errorf("%+v, %v", d, err)
	}
}

// With the stream open, a "leader" Decision carries a Lost channel that is
// closed when the elector stops naming this pod, or when the stream breaks.
func TestGuardLostFollowsTheStream(t *testing.T) {
	synctest.Test(t, testGuardLostFollowsTheStream)
}

func testGuardLostFollowsTheStream(t *testing.T) {
	src := &fakeSource{}
	src.set(leads("pod-a", "pod-a", 5), nil)
	s := NewServer(src, "pod-a", 2*time.Second, nil, nil)
	elector := &streams{h: s}
	g := pipeGuard(t, elector)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
	if !g.Streaming() {
		t.Fatal("not following the stream")
	}
	d, err := g.Check(ctx)
	if err != nil || !d.Leader || d.Lost == nil {
		t.Fatalf("leader with the stream open: %+v, %v; want a Lost channel", d, err)
	}
	if d2, _ := g.Check(ctx); d2.Lost != d.Lost {
		t.Error("two answers of one term have different Lost channels")
	}
	synctest.Wait()
	if isClosed(d.Lost) {
		t.Fatal("Lost closed while the elector still names this pod")
	}

	// The elector's renewals go stale: its answer stops naming this pod.
	src.set(guard.Decision{Self: "pod-a"}, guard.ErrStale)
	s.Update()
	synctest.Wait()
	if !isClosed(d.Lost) {
		t.Fatal("Lost not closed after the elector stopped naming this pod")
	}

	// A new term, then the stream breaks (the elector is killed).
	src.set(leads("pod-a", "pod-a", 6), nil)
	s.Update()
	synctest.Wait()
	d3, err := g.Check(ctx)
	if err != nil || !d3.Leader || d3.Epoch != 6 || d3.Lost == nil || d3.Lost == d.Lost {
		t.Fatalf("new term: %+v, %v", d3, err)
	}
	elector.breakAll()
	synctest.Wait()
	if !isClosed(d3.Lost) {
		t.Fatal("Lost not closed when the stream broke")
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestNoLostWithoutStream(t *testing.T) {
	synctest.Test(t, testNoLostWithoutStream)
}

func testNoLostWithoutStream(t *testing.T) {
	g := pipeGuard(t, sidecartest.Leader("pod-a"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = g.Start(ctx)
	synctest.Wait()
	if d, err := g.Check(ctx); err != nil || !d.Leader || d.Lost != nil {
		t.Errorf("%+v, %v; want leader without a Lost channel", d, err)
	}
}
