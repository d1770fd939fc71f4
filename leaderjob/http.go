package leaderjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/leaderjob/leaderjob/guard"
)

// EnvHTTPAddr is the listen address of the operations endpoints (/healthz,
// /readyz, /leader, /metrics); empty disables them.
const EnvHTTPAddr = "LEADERJOB_HTTP_ADDR"

// DefaultHTTPAddr is used when LEADERJOB_HTTP_ADDR is unset. If it is in use
// (several replicas on one host), the endpoints are disabled with a warning;
// an address that was asked for and cannot be bound stops Run instead.
const DefaultHTTPAddr = ":8080"

// LeaderResponse is the body of GET /leader. It keeps the leader-elector
// sidecar's shape ({"name": "<leader>"}), so a leaderjob app can serve as the
// leader source of programs written for that sidecar; the other fields are
// extras old clients ignore.
type LeaderResponse struct {
	Name       string `json:"name"`
	Self       string `json:"self"`
	IsLeader   bool   `json:"is_leader"`
	Epoch      *int64 `json:"epoch,omitempty"`
	LastUpdate string `json:"last_update,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Handler returns the operations endpoints:
//
//	/healthz  liveness: 503 when the guard reports it is wedged or the
//	          scheduler has stopped while the App should be running
//	/readyz   readiness: 200 once the App runs and its guard has answered;
//	          503 before that, while shutting down, and while a guard
//	          reports a problem only an operator can fix (guard.ReadinessChecker)
//	/leader   the leader as this replica sees it (LeaderResponse)
//	/jobs     every job, with its last fires from the fleet's ledger (JobsResponse)
//	/metrics  Prometheus metrics of the App's registry
//
// Run serves it on LEADERJOB_HTTP_ADDR; mount it yourself to share a server.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.serveHealth)
	mux.HandleFunc("GET /readyz", a.serveReady)
	mux.HandleFunc("GET /leader", a.serveLeader)
	mux.HandleFunc("GET /jobs", a.serveJobs)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.gatherer, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(a.logger.Handler(), slog.LevelError),
	}))
	return mux
}

func (a *App) serveHealth(w http.ResponseWriter, _ *http.Request) {
	for _, g := range a.guards() {
		if h, ok := g.(guard.HealthChecker); ok {
			if err := h.Healthy(); err != nil {
				http.Error(w, "guard unhealthy: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
	}
	if s := a.state.Load(); s == stateStopped {
		http.Error(w, "scheduler stopped", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (a *App) serveReady(w http.ResponseWriter, r *http.Request) {
	switch a.state.Load() {
	case stateRunning:
	case stateDraining, stateStopped:
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	default:
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	for _, g := range a.guards() {
		if rc, ok := g.(guard.ReadinessChecker); ok {
			if err := rc.Ready(); err != nil {
				http.Error(w, "guard not ready (configuration): "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
	}
	answered := a.leader.answered.Load()
	// Each probe also refreshes what the App knows of the leader.
	if _, err := a.leader.probe(r.Context()); err != nil && !answered {
		http.Error(w, "guard has not answered yet: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (a *App) serveLeader(w http.ResponseWriter, r *http.Request) {
	d, err := a.leader.probe(r.Context())
	resp := LeaderResponse{Name: d.Holder, Self: a.self, IsLeader: err == nil && d.Leader}
	if resp.IsLeader && resp.Name == "" {
		resp.Name = a.self
	}
	if d.HasEpoch {
		resp.Epoch = &d.Epoch
	}
	if !d.Observed.IsZero() {
		resp.LastUpdate = d.Observed.UTC().Format(time.RFC3339Nano)
	}
	if err != nil {
		resp.Name, resp.Error = "", err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// serveHTTP binds the operations listener; the returned stop function shuts
// it down gracefully.
func (a *App) serveHTTP() (stop func(), err error) {
	if a.httpAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", a.httpAddr)
	if err != nil && a.httpAddrDefaulted {
		// Outside Kubernetes several replicas may share a host: an address
		// nobody asked for must not stop the jobs.
		a.logger.Warn("operations endpoints disabled: the default address is in use; set "+EnvHTTPAddr+" to another address, or to an empty value to silence this",
			slog.String("addr", a.httpAddr), slog.String("error", err.Error()))
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("leaderjob: %s=%q: %w (set another address, or an empty value to disable the endpoints)", EnvHTTPAddr, a.httpAddr, err)
	}
	a.boundAddr.Store(ln.Addr().String())
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logger.Error("operations endpoint failed", slog.String("addr", ln.Addr().String()), slog.String("error", err.Error()))
		}
	}()
	a.logger.Info("serving operations endpoints", slog.String("addr", ln.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
