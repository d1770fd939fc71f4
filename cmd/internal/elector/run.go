// Package elector is the leaderjob-elector command: a leader-elector
// sidecar on a Kubernetes Lease, a drop-in for the retired contrib
// "election" image (leader-elector:0.5) with the same flags and answers.
//
// The election itself is package guard/lease, the same elector the
// in-process Lease guard uses. This package adds the command line, the
// protocol server (GET on any path answers {"name":"<leader>"} plus fields
// old clients ignore; GET /sse streams one event per change), the
// operations listener (/healthz, /readyz, /metrics) and the shutdown that
// releases the Lease on SIGTERM.
package elector

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/lease"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // a failure at run time: no apiserver configuration, a busy port
	ExitUsage = 2 // a bad flag or variable
)

// updateTick is how often the answer is recomputed besides the changes the
// guard reports, so that an answer going stale, and a term opening just
// after the guard reported the write that began it, reach the change
// stream within a few milliseconds. A recomputation reads memory only.
const updateTick = 10 * time.Millisecond

// Main runs the command until ctx ends (SIGTERM), then releases the Lease
// and returns the exit code. args excludes the program name.
func Main(ctx context.Context, args []string, lookup func(string) (string, bool), stderr io.Writer) int {
	cfg, err := Parse(args, lookup, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case err != nil:
		fmt.Fprintf(stderr, "leaderjob-elector: %v\n(run leaderjob-elector -h for the flags)\n", err)
		return ExitUsage
	}
	log := newLogger(cfg, stderr)
	if err := run(ctx, cfg, lookup, log); err != nil {
		log.Error("leaderjob-elector failed", slog.String("error", err.Error()))
		return ExitError
	}
	return ExitOK
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h).With(slog.String("election", cfg.Election))
}

// restConfig finds the apiserver: the pod's service account with
// --use-cluster-credentials; else --kubeconfig, $KUBECONFIG or
// ~/.kube/config; else, inside a cluster, the service account.
func restConfig(cfg Config, lookup func(string) (string, bool)) (*rest.Config, string, error) {
	if cfg.ClusterCreds {
		c, err := rest.InClusterConfig()
		if err != nil {
			return nil, "", fmt.Errorf("--use-cluster-credentials: %w", err)
		}
		return c, "in-cluster", nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	from := "kubeconfig"
	if cfg.Kubeconfig != "" {
		rules.ExplicitPath, from = cfg.Kubeconfig, "--kubeconfig="+cfg.Kubeconfig
	} else if v, ok := lookup("KUBECONFIG"); ok && v != "" {
		rules.Precedence, from = splitList(v), "KUBECONFIG="+v
	}
	c, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err == nil {
		return c, from, nil
	}
	if cfg.Kubeconfig == "" {
		if ic, icErr := rest.InClusterConfig(); icErr == nil {
			return ic, "in-cluster", nil
		}
	}
	return nil, "", fmt.Errorf("no apiserver configuration (%s): %w; inside a cluster pass --use-cluster-credentials", from, err)
}

func splitList(v string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == os.PathListSeparator {
			if i > start {
				out = append(out, v[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// listeners are the addresses the command serves, once bound.
type listeners struct{ http, ops net.Listener }

// run elects until ctx ends, then releases the Lease and stops serving.
func run(ctx context.Context, cfg Config, lookup func(string) (string, bool), log *slog.Logger) error {
	rc, from, err := restConfig(cfg, lookup)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	m := newMetrics(reg, cfg.Election)
	m.info.WithLabelValues(cfg.Namespace, cfg.ID).Set(1)
	rc.Wrap(countRequests(m.upstream))

	opts := []lease.Option{
		lease.WithName(cfg.Election),
		lease.WithNamespace(cfg.Namespace),
		lease.WithLeaseDuration(cfg.LeaseDuration),
		lease.WithRenewDeadline(cfg.RenewDeadline),
		lease.WithRetryPeriod(cfg.RetryPeriod),
		lease.WithLogger(log),
		lease.WithUserAgent("leaderjob-elector/" + cfg.Election),
	}
	if !cfg.Watch {
		opts = append(opts, lease.WithoutWatch())
	}
	g, err := lease.New(rc, cfg.ID, opts...)
	if err != nil {
		return err
	}

	var ls listeners
	if cfg.HTTPAddr != "" {
		if ls.http, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("--http=%s: %w", cfg.HTTPAddr, err)
		}
		defer ls.http.Close()
	}
	if cfg.OpsAddr != "" {
		if ls.ops, err = net.Listen("tcp", cfg.OpsAddr); err != nil {
			return fmt.Errorf("--ops-addr=%s: %w", cfg.OpsAddr, err)
		}
		defer ls.ops.Close()
	}

	if err := g.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	// A standby that polls (no watch, or while the watch reconnects) reads
	// the Lease every 1 to 2.2 retry periods; between two reads it must not
	// flap to "stale". An unreachable apiserver is reported at the first
	// failed read anyway.
	srv := NewServer(g, cfg.ID, cfg.RenewDeadline+cfg.RetryPeriod*6/5, log, m)
	g.OnChange(func(guard.Change) { srv.Update() })

	log.Info("leaderjob-elector started",
		slog.String("namespace", cfg.Namespace), slog.String("id", cfg.ID),
		slog.String("http", cfg.HTTPAddr), slog.String("ops_addr", cfg.OpsAddr),
		slog.String("apiserver_config", from),
		slog.Duration("lease_duration", cfg.LeaseDuration), slog.Duration("renew_deadline", cfg.RenewDeadline),
		slog.Duration("retry_period", cfg.RetryPeriod), slog.Bool("watch", cfg.Watch))

	// Streams and servers end when serveCtx does, after the release.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	var servers []*http.Server
	serve := func(l net.Listener, h http.Handler) {
		s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return serveCtx }}
		servers = append(servers, s)
		go func() {
			if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("server failed", slog.String("addr", l.Addr().String()), slog.String("error", err.Error()))
			}
		}()
	}
	if ls.http != nil {
		serve(ls.http, srv)
	}
	if ls.ops != nil {
		serve(ls.ops, opsHandler(g, srv, reg))
	}

	tick := time.NewTicker(updateTick)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			srv.Update()
		}
	}

	if cfg.ReleaseDelay > 0 {
		// A plain sidecar container gets SIGTERM together with the app:
		// keep the Lease while the app drains.
		log.Info("shutting down: keeping the Lease while the app drains", slog.Duration("release_delay", cfg.ReleaseDelay))
		delay := time.NewTimer(cfg.ReleaseDelay)
	wait:
		for {
			select {
			case <-delay.C:
				break wait
			case <-tick.C:
				srv.Update()
			}
		}
	}
	log.Info("shutting down: releasing the Lease", slog.Duration("release_timeout", cfg.ReleaseTimeout))
	relCtx, cancel := context.WithTimeout(context.Background(), cfg.ReleaseTimeout)
	relErr := g.Release(relCtx)
	cancel()
	srv.Update()
	if relErr != nil {
		log.Warn("the Lease was not released in time; standbys take over when it expires",
			slog.String("error", relErr.Error()), slog.Duration("lease_duration", cfg.LeaseDuration))
	}
	// Give open streams a moment to carry the "released" event.
	time.Sleep(20 * time.Millisecond)
	stopServing()
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutCtx)
	}
	log.Info("leaderjob-elector stopped")
	return nil
}

// checker is the Lease guard's health and readiness.
type checker interface {
	Healthy() error
	Ready() error
}

// opsHandler serves /healthz (the election loop is not wedged), /readyz
// (no configuration problem, and a leader was named at least once) and
// /metrics.
func opsHandler(g checker, srv *Server, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := g.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := g.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if !srv.Answered() {
			a := srv.Answer(r.Context())
			http.Error(w, "no leader named yet: "+a.Error, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
