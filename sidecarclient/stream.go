package sidecarclient

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// StreamPath is the path of leaderjob-elector's change stream.
//
// Deprecated: use wire.StreamPath.
const StreamPath = wire.StreamPath

// ErrNoStream reports a sidecar that offers no change stream: its answer to
// GET /sse is not text/event-stream. The original image answers every path
// with the plain JSON answer, so this is what it yields.
var ErrNoStream = errors.New("the sidecar offers no change stream")

// streamIdle is how long a change stream may carry nothing before the
// client takes the connection for dead. leaderjob-elector sends a comment
// every 15s.
const streamIdle = 45 * time.Second

// Watch opens the sidecar's change stream (GET wire.StreamPath, /sse, on
// the sidecar's host) and calls fn with each event's answer, in order,
// until ctx ends or the stream breaks; fn gets the same Leader and error
// Leader would return for that answer. The first event is the answer at the time of connecting.
//
// Watch returns an error wrapping ErrNoStream at once when the sidecar
// answers /sse with anything but a text/event-stream: a sidecar speaking
// only the original protocol. It returns nil when ctx ends, and another
// error when the stream cannot be opened or breaks; the caller may call it
// again. fn runs on Watch's goroutine and must not block.
func (c *Client) Watch(ctx context.Context, fn func(wire.Leader, error)) error {
	u, _ := url.Parse(c.url) // parsed by New
	u.Path, u.RawPath, u.RawQuery = wire.StreamPath, "", ""
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("sidecar %s: stream: %w", c.display, err)
	}
	req.Header.Set("Accept", wire.StreamContentType)
	hc := &http.Client{Transport: c.hc.Transport, CheckRedirect: c.hc.CheckRedirect}
	if hc.Transport == nil {
		hc.Transport = http.DefaultTransport
	}

	// A watchdog cancels the request when nothing arrives in time: first
	// the headers (within the attempt timeout), then any line.
	var mu sync.Mutex
	var silent atomic.Bool
	idle := time.AfterFunc(c.timeout, func() { silent.Store(true); cancel() })
	defer idle.Stop()
	alive := func(d time.Duration) {
		mu.Lock()
		idle.Reset(d)
		mu.Unlock()
	}

	resp, err := hc.Do(req)
	if err != nil {
		switch {
		case parent.Err() != nil:
			return nil
		case silent.Load():
			return fmt.Errorf("sidecar %s: stream: no answer within %v", c.display, c.timeout)
		}
		return fmt.Errorf("sidecar %s: stream: %w", c.display, err)
	}
	defer resp.Body.Close()
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || mt != wire.StreamContentType {
		return fmt.Errorf("sidecar %s: %w (GET %s answered %s, Content-Type %q)", c.display, ErrNoStream, wire.StreamPath, resp.Status, resp.Header.Get("Content-Type"))
	}
	alive(streamIdle)

	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 0, 4096), int(c.maxBody)+64)
	var data bytes.Buffer
	for s.Scan() {
		alive(streamIdle)
		line := s.Bytes()
		switch {
		case len(line) == 0: // end of an event
			if data.Len() > 0 {
				l, f := parse(data.Bytes())
				var err error
				if f != nil {
					err = &callError{url: c.display, attempts: 1, fault: *f}
				}
				fn(l, err)
				data.Reset()
			}
		case line[0] == ':': // a comment
		case bytes.HasPrefix(line, []byte("data:")):
			v := bytes.TrimPrefix(line[5:], []byte(" "))
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(v)
		}
	}
	switch {
	case parent.Err() != nil:
		return nil
	case silent.Load():
		return fmt.Errorf("sidecar %s: stream: nothing received for %v", c.display, streamIdle)
	}
	err = s.Err()
	if err == nil {
		err = errors.New("the sidecar closed the stream")
	}
	return fmt.Errorf("sidecar %s: stream: %w", c.display, err)
}
