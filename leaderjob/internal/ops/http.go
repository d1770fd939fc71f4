package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leaderjob/leaderjob/wire"
)

// Status is what the endpoints read of the App.
type Status interface {
	// Live is nil unless the App should be restarted: a guard reports
	// itself wedged, or the scheduler stopped while the App should run.
	Live() error
	// Ready is nil once the App runs and its guard has answered.
	Ready(ctx context.Context) error
	// Leader is the leader as this replica sees it.
	Leader(ctx context.Context) wire.Answer
	// Jobs is every job with its last fires from the fleet's ledger.
	Jobs(ctx context.Context) wire.JobsResponse
}

// Handler returns the operations endpoints of s: GET /healthz, /readyz,
// /leader, /jobs and /metrics (gatherer's metrics).
func Handler(s Status, gatherer prometheus.Gatherer, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.Live(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Ready(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /leader", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.Leader(r.Context()), "")
	})
	mux.HandleFunc("GET /jobs", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		writeJSON(w, s.Jobs(ctx), "  ")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}))
	return mux
}

func writeJSON(w http.ResponseWriter, v any, indent string) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", indent)
	_ = enc.Encode(v)
}

// Listener serves the endpoints on Addr ("" disables them).
type Listener struct {
	Addr string
	// Defaulted: nobody chose Addr. If it is in use (several replicas on
	// one host) the endpoints are disabled with a warning instead of
	// failing the start.
	Defaulted bool
	// Var names the setting that chose Addr, for messages.
	Var    string
	Logger *slog.Logger

	bound atomic.Value // string
}

// Bound is the address the listener is bound to, "" when it is not.
func (l *Listener) Bound() string {
	s, _ := l.bound.Load().(string)
	return s
}

// Serve binds the listener and serves h until stop is called; stop shuts
// the server down gracefully.
func (l *Listener) Serve(h http.Handler) (stop func(), err error) {
	if l.Addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil && l.Defaulted {
		l.Logger.Warn("operations endpoints disabled: the default address is in use; set "+l.Var+" to another address, or to an empty value to silence this",
			slog.String("addr", l.Addr), slog.String("error", err.Error()))
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w (set another address, or an empty value to disable the endpoints)", l.Var, l.Addr, err)
	}
	l.bound.Store(ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.Logger.Error("operations endpoint failed", slog.String("addr", ln.Addr().String()), slog.String("error", err.Error()))
		}
	}()
	l.Logger.Info("serving operations endpoints", slog.String("addr", ln.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
