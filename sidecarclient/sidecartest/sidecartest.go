// Package sidecartest runs fake leader-elector sidecars on the loopback
// interface, for tests of code that asks one.
//
//	s := sidecartest.NewServer(sidecartest.Leader("pod-a"))
//	defer s.Close()
//	// ask s.URL
//
// Besides well-behaved answers it serves the faults real sidecars and
// misconfigurations produce: any status and body, a body cut off mid-way,
// and no answer at all.
package sidecartest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a fake sidecar listening on 127.0.0.1.
type Server struct {
	// URL is the server's base URL, such as "http://127.0.0.1:41234/".
	URL string

	srv      *httptest.Server
	closing  chan struct{}
	closer   sync.Once
	mu       sync.Mutex
	handler  http.Handler
	requests atomic.Int64
	conns    atomic.Int64
}

// NewServer starts a Server answering with h.
func NewServer(h http.Handler) *Server {
	s := &Server{handler: h, closing: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	s.URL = s.srv.URL + "/"
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	h := s.handler
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	h.ServeHTTP(w, r.WithContext(ctx))
}

// Set makes the server answer with h from now on.
func (s *Server) Set(h http.Handler) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

// Requests returns how many requests the server has received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Conns returns how many connections the server has accepted.
func (s *Server) Conns() int64 { return s.conns.Load() }

// Close unblocks every [Stall] handler, then shuts the server down and
// waits for its handlers to return.
func (s *Server) Close() {
	s.closer.Do(func() { close(s.closing) })
	s.srv.Close()
}

// Leader answers like the original leader-elector: 200 with
// {"name":"<name>"} and no Content-Type header, which Go's server fills in
// as text/plain.
func Leader(name string) http.Handler {
	body, _ := json.Marshal(map[string]string{"name": name})
	return Respond(http.StatusOK, "", body)
}

// Respond answers every request with status, body and, unless it is "",
// the Content-Type header contentType.
func Respond(status int, contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		w.Write(body)
	})
}

// CutOff answers 200 with a Content-Length of len(body), sends only the
// first n bytes of body and closes the connection.
func CutOff(body []byte, n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", len(body))
		buf.Write(body[:min(n, len(body))])
		buf.Flush()
	})
}

// Stall never answers: it holds each request until the client goes away or
// the server closes.
func Stall() http.Handler {
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
}

// Latencies collects durations, for benchmarks that report percentiles.
type Latencies []time.Duration

// Percentile returns the duration below which p percent of l fall, or 0
// for an empty l. It sorts l.
func (l Latencies) Percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	i := int(math.Ceil(p/100*float64(len(l)))) - 1
	return l[max(0, min(i, len(l)-1))]
}
