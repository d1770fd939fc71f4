package leaderjob

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob/internal/ops"
	"github.com/leaderjob/leaderjob/wire"
)

// EnvHTTPAddr is the listen address of the operations endpoints (/healthz,
// /readyz, /leader, /metrics); empty disables them.
const EnvHTTPAddr = "LEADERJOB_HTTP_ADDR"

// DefaultHTTPAddr is used when LEADERJOB_HTTP_ADDR is unset. If it is in use
// (several replicas on one host), the endpoints are disabled with a warning;
// an address that was asked for and cannot be bound stops Run instead.
const DefaultHTTPAddr = ":8080"

// LeaderResponse is the body of GET /leader: the leader answer of the
// leader-elector sidecar's protocol ({"name": "<leader>"} and extras old
// clients ignore), so that a leaderjob app can serve as the leader source
// of programs written for that sidecar.
//
// Deprecated: use wire.Answer, the same type.
type LeaderResponse = wire.Answer

// Handler returns the operations endpoints:
//
//	/healthz  liveness: 503 when the guard reports it is wedged or the
//	          scheduler has stopped while the App should be running
//	/readyz   readiness: 200 once the App runs and its guard has answered;
//	          503 before that, while shutting down, and while a guard
//	          reports a problem only an operator can fix (guard.ReadinessChecker)
//	/leader   the leader as this replica sees it (wire.Answer)
//	/jobs     every job, with its last fires from the fleet's ledger (wire.JobsResponse)
//	/metrics  Prometheus metrics of the App's registry
//
// Run serves it on LEADERJOB_HTTP_ADDR; mount it yourself to share a server.
func (a *App) Handler() http.Handler {
	return ops.Handler(opsView{a}, a.gatherer, a.logger)
}

// opsView is what the operations endpoints read of the App (ops.Status).
type opsView struct{ a *App }

func (v opsView) Live() error {
	for _, g := range v.a.guards() {
		if h, ok := g.(guard.HealthChecker); ok {
			if err := h.Healthy(); err != nil {
				return fmt.Errorf("guard unhealthy: %w", err)
			}
		}
	}
	if v.a.life.state.Load() == stateStopped {
		return errors.New("scheduler stopped")
	}
	return nil
}

func (v opsView) Ready(ctx context.Context) error {
	a := v.a
	switch a.life.state.Load() {
	case stateRunning:
	case stateDraining, stateStopped:
		return errors.New("shutting down")
	default:
		return errors.New("starting")
	}
	for _, g := range a.guards() {
		if rc, ok := g.(guard.ReadinessChecker); ok {
			if err := rc.Ready(); err != nil {
				return fmt.Errorf("guard not ready (configuration): %w", err)
			}
		}
	}
	answered := a.leader.answered.Load()
	// Each probe also refreshes what the App knows of the leader.
	if _, err := a.leader.probe(ctx); err != nil && !answered {
		return fmt.Errorf("guard has not answered yet: %w", err)
	}
	return nil
}

func (v opsView) Leader(ctx context.Context) wire.Answer {
	a := v.a
	d, err := a.leader.probe(ctx)
	resp := wire.Answer{Name: d.Holder, Self: a.self, IsLeader: err == nil && d.Leader}
	if resp.IsLeader && resp.Name == "" {
		resp.Name = a.self
	}
	if d.HasEpoch {
		resp.Epoch = &d.Epoch
	}
	if !d.Observed.IsZero() {
		resp.LastUpdate = wire.Timestamp(d.Observed)
	}
	if err != nil {
		resp.Name, resp.Error = "", err.Error()
	}
	return resp
}

func (v opsView) Jobs(ctx context.Context) wire.JobsResponse { return v.a.Status(ctx) }

// serveHTTP binds the operations listener; the returned stop function shuts
// it down gracefully.
func (a *App) serveHTTP() (stop func(), err error) {
	if stop, err = a.listener.Serve(a.Handler()); err != nil {
		return nil, fmt.Errorf("leaderjob: %w", err)
	}
	return stop, nil
}
