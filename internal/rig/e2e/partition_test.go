package e2e

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// cutter is a TCP proxy between one process and the apiserver that can cut
// the process off: while cut, it closes every connection it carries and
// every new one at once, as a partition the process cannot get through.
type cutter struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func newCutter(t *testing.T, target string) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go c.serve()
	t.Cleanup(func() { _ = ln.Close(); c.setCut(true) })
	return c
}

func (c *cutter) serve() {
	for {
		in, err := c.ln.Accept()
		if err != nil {
			return
		}
		go c.carry(in)
	}
}

func (c *cutter) carry(in net.Conn) {
	if !c.track(in) {
		_ = in.Close()
		return
	}
	out, err := net.DialTimeout("tcp", c.target, 2*time.Second)
	if err != nil || !c.track(out) {
		_ = in.Close()
		if out != nil {
			_ = out.Close()
		}
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) { _, _ = io.Copy(dst, src); done <- struct{}{} }
	go pipe(out, in)
	go pipe(in, out)
	<-done
	_ = in.Close()
	_ = out.Close()
}

// track registers conn, or reports false while cut.
func (c *cutter) track(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return false
	}
	c.conns[conn] = struct{}{}
	return true
}

func (c *cutter) setCut(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for conn := range c.conns {
			_ = conn.Close()
		}
		c.conns = map[net.Conn]struct{}{}
	}
}

// With catch-up, a leader cut off from the apiserver (its renewals fail; it
// stops at the renew deadline) hands over to a standby that runs the fires
// of the gap; when the partition heals the old leader comes back as a
// standby. No fire is lost or run twice.
func TestCatchUpThroughAPartition(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "partition")
	cp := cp.Get(t)
	cfg := cp.Config()
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	px := newCutter(t, u.Host)
	cfg.Host = "https://" + px.ln.Addr().String()
	viaProxy, err := cp.WriteKubeconfig(cfg, c.namespace)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"DAILY_REPORT_CRON=* * * * * *", "DAILY_REPORT_ZONE=UTC", "LEADERJOB_CATCH_UP=all:1m",
		"HEARTBEAT_RATE=PT1H", "EXCHANGE_RATES_RATE=PT1H", "SESSION_CLEANUP_DELAY=PT1H", "SESSION_CLEANUP_INITIAL_DELAY=PT1H"}
	cut := c
	cut.kubeconfig = viaProxy
	a := startProc(t, cut, "partition-a", env...)
	dailyLeader(t, []*proc{a}, time.Time{}, 30*time.Second)
	ps := []*proc{a, startProc(t, c, "partition-b", env...), startProc(t, c, "partition-c", env...)}
	time.Sleep(3 * time.Second)

	px.setCut(true)
	at := time.Now()
	next := dailyLeader(t, ps[1:], at, crashBound+5*time.Second)
	time.Sleep(3 * time.Second)
	px.setCut(false)
	time.Sleep(6 * time.Second)
	end := time.Now().Add(-2 * time.Second).Truncate(time.Second)

	lost, doubled, catchUps, reruns, first := countFires(t, ps, end)
	t.Logf("cut %s off at %s, %s took over; fires from %s to %s: %d lost, %d doubled, %d re-run after a lost completion, %d run by catch-up",
		a.name, at.Format(time.TimeOnly), next.name, first.Format(time.TimeOnly), end.Format(time.TimeOnly), len(lost), doubled, reruns, catchUps)
	if len(lost) > 0 {
		t.Errorf("%d fires never ran: %v", len(lost), lost)
	}
}
