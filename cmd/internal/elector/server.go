package elector

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// keepAlive is how often an idle change stream carries a comment, so that
// proxies and clients can tell a live stream from a dead connection.
const keepAlive = 15 * time.Second

// Server answers the leader protocol and keeps the change stream.
type Server struct {
	src       Source
	id        string
	freshness time.Duration
	log       *slog.Logger
	metrics   *metrics

	mu       sync.Mutex
	current  wire.Answer
	seq      uint64
	answered bool // an answer with a name was computed at least once
	subs     map[chan struct{}]struct{}
}

// NewServer returns a Server asking src. freshness bounds how old another
// holder's last confirmation may be (the renew deadline).
func NewServer(src Source, id string, freshness time.Duration, log *slog.Logger, m *metrics) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = newMetrics(nil, "")
	}
	s := &Server{src: src, id: id, freshness: freshness, log: log, metrics: m, subs: map[chan struct{}]struct{}{}}
	s.current = answer(context.Background(), src, id, freshness, time.Now())
	s.noteLocked(s.current, true)
	return s
}

// Answer returns the answer now.
func (s *Server) Answer(ctx context.Context) wire.Answer {
	return answer(ctx, s.src, s.id, s.freshness, time.Now())
}

// Update recomputes the answer and, when it changed, logs the change and
// wakes the change streams. It is called on every change the guard reports
// and on a short tick, so that answers going stale are published too.
func (s *Server) Update() {
	a := s.Answer(context.Background())
	s.mu.Lock()
	defer s.mu.Unlock()
	if key(a) == key(s.current) {
		s.current = a
		return
	}
	prev := s.current
	s.current = a
	s.seq++
	s.noteLocked(a, false)
	attrs := []any{slog.String("leader", a.Name), slog.String("previous", prev.Name), slog.Bool("is_leader", a.IsLeader)}
	if a.Epoch != nil {
		attrs = append(attrs, slog.Int64("epoch", *a.Epoch))
	}
	switch {
	case a.Name == "" && (a.Reason == wire.AnswerUnavailable || a.Reason == wire.AnswerStale || a.Reason == wire.AnswerForbidden):
		attrs = append(attrs, slog.String("reason", string(a.Reason)), slog.String("error", a.Error))
		s.log.Warn("leader unknown", attrs...)
	case a.Name == "": // free, released, or being taken: a step of a hand-off
		attrs = append(attrs, slog.String("reason", string(a.Reason)), slog.String("error", a.Error))
		s.log.Info("no leader", attrs...)
	default:
		s.log.Info("leader changed", attrs...)
	}
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (s *Server) noteLocked(a wire.Answer, first bool) {
	if a.Name != "" {
		s.answered = true
	}
	s.metrics.answer(a, first)
}

// Answered reports whether the elector has named a leader at least once.
func (s *Server) Answered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answered
}

// ServeHTTP answers every path and method with the current answer, as the
// original image does, except GET wire.StreamPath (/sse), the change
// stream.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == wire.StreamPath && r.Method == http.MethodGet {
		s.metrics.requests.WithLabelValues("stream").Inc()
		s.stream(w, r)
		return
	}
	s.metrics.requests.WithLabelValues("answer").Inc()
	body, _ := json.Marshal(s.Answer(r.Context()))
	h := w.Header()
	// The original set no Content-Type, so clients got text/plain.
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// stream sends the current answer, then one event per change, until the
// client goes or the server shuts down.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	s.metrics.streams.Inc()
	defer func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
		s.metrics.streams.Dec()
	}()

	h := w.Header()
	h.Set("Content-Type", wire.StreamContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	var sent uint64
	send := func() error {
		s.mu.Lock()
		a, seq := s.current, s.seq
		s.mu.Unlock()
		sent = seq
		body, _ := json.Marshal(a)
		if _, err := fmt.Fprintf(w, "event: %s\nid: %d\ndata: %s\n\n", wire.StreamEvent, seq, body); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send(); err != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ch:
			s.mu.Lock()
			changed := s.seq != sent
			s.mu.Unlock()
			if changed {
				if err := send(); err != nil {
					return
				}
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
