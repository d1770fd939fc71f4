package leaderjob

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/internal/incluster"
	"github.com/leaderjob/leaderjob/leaderjob/internal/ops"
	"github.com/leaderjob/leaderjob/ledger"
)

// The environment contract. Every variable is optional.
const (
	// EnvGuard selects where leadership comes from: lease, sidecar, always,
	// never or auto (the default: lease inside a cluster — a service-account
	// token and KUBERNETES_SERVICE_HOST — else always, with a warning;
	// KUBECONFIG alone never makes auto contend).
	EnvGuard = "LEADERJOB_GUARD"
	// EnvPodName is this replica's identity; set it from the downward API
	// (metadata.name). Fallbacks: HOSTNAME, then the OS host name.
	EnvPodName = "POD_NAME"
	// EnvLogFormat is text (default) or json.
	EnvLogFormat = "LEADERJOB_LOG_FORMAT"
	// EnvLogLevel is debug, info (default), warn or error.
	EnvLogLevel = "LEADERJOB_LOG_LEVEL"
	// EnvDrainTimeout bounds the wait for running jobs at shutdown (a Go
	// duration; default DefaultDrainTimeout).
	EnvDrainTimeout = "LEADERJOB_DRAIN_TIMEOUT"
)

// Guard sources accepted by LEADERJOB_GUARD.
const (
	GuardAuto    = "auto"
	GuardLease   = "lease"
	GuardSidecar = "sidecar"
	GuardAlways  = "always"
	GuardNever   = "never"
)

var guardSources = []string{GuardAuto, GuardLease, GuardSidecar, GuardAlways, GuardNever}

type environment struct {
	lookup func(string) (string, bool)
}

func (e environment) get(name string) string {
	v, _ := e.lookup(name)
	return strings.TrimSpace(v)
}

func (e environment) identity() string {
	for _, name := range []string{EnvPodName, "HOSTNAME"} {
		if v := e.get(name); v != "" {
			return v
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "unknown"
}

func (e environment) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if v := e.get(EnvLogLevel); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("leaderjob: %w: %s=%q: accepted values are debug, info, warn, error", ErrConfig, EnvLogLevel, v)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch v := strings.ToLower(e.get(EnvLogFormat)); v {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("leaderjob: %w: %s=%q: accepted values are text, json", ErrConfig, EnvLogFormat, v)
	}
}

func (e environment) duration(name string, def time.Duration) (time.Duration, error) {
	v := e.get(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("leaderjob: %w: %s=%q: want a non-negative Go duration such as 30s", ErrConfig, name, v)
	}
	return d, nil
}

// inCluster reports whether the process runs in a Kubernetes Pod with a
// service account (the project's one definition, internal/incluster).
func (e environment) inCluster() bool { return incluster.Detect(e.lookup) }

// GuardSource builds the guard that a LEADERJOB_GUARD value names, for the
// values package leaderjob does not build itself: lease and sidecar, which
// package kube provides (kube.Guards).
type GuardSource func(env SourceEnv) (Source, error)

// Source is what a GuardSource builds.
type Source struct {
	Guard guard.Guard
	// Ledger is where claimed fires are recorded for the whole fleet (a
	// ConfigMap in lease mode); nil: one in memory.
	Ledger ledger.Ledger
	// Controls are the operators' requests (a watched ConfigMap in lease
	// mode); nil: none. If it is a guard.Starter, it is started with the
	// App.
	Controls Controls
	// Notifier receives the notices for operators (Kubernetes Events in
	// lease mode); nil: none. It is started and stopped with the App like
	// a WithNotifier one.
	Notifier Notifier
	// Attrs describe the guard for the start-up summary record.
	Attrs []slog.Attr
	// Members is the fleet's membership, for spread mode (SourceEnv.Spread);
	// nil: the source keeps none, and spread mode is a start-up error.
	Members guard.Membership
	// LedgerShards is how many objects Ledger is spread over (0 or 1:
	// one): spread mode gives the jobs of one object to one owner where the
	// balance allows, so that each object has one writer.
	LedgerShards int
}

// SourceEnv is what New hands a GuardSource.
type SourceEnv struct {
	App      string                      // the App's name (the default Lease name)
	Identity string                      // this replica's identity
	Logger   *slog.Logger                // the App's logger
	Lookup   func(string) (string, bool) // reads the environment (WithEnv)
	// CountRequest counts one request the source made, by result class,
	// as leaderjob_sidecar_requests_total.
	CountRequest func(class string)
	// Spread reports whether spread mode is on (WithSpread,
	// LEADERJOB_SPREAD): the source then brings Source.Members.
	Spread bool
	// Incarnation tells this process from others that bear its identity
	// (a container restarted in its pod): spread mode's members carry it.
	Incarnation string
}

// sourceSettings are what New passes a GuardSource beyond the
// environment.
type sourceSettings struct {
	spread      bool
	incarnation string
}

// WithGuardSources adds builders for LEADERJOB_GUARD values, keyed by the
// value (GuardLease, GuardSidecar). kube.Guards passes both.
func WithGuardSources(sources map[string]GuardSource) Option {
	return func(o *options) {
		if o.sources == nil {
			o.sources = map[string]GuardSource{}
		}
		maps.Copy(o.sources, sources)
	}
}

// guard builds the guard LEADERJOB_GUARD selects. name describes the source
// for the start-up summary.
func (e environment) guard(app, self string, logger *slog.Logger, m *ops.Metrics, sources map[string]GuardSource, se sourceSettings) (src Source, name string, err error) {
	source := strings.ToLower(e.get(EnvGuard))
	if source == "" {
		source = GuardAuto
	}
	if source == GuardAuto {
		// Only a pod contends by default. KUBECONFIG alone never does: a
		// developer's laptop must not join the election of whatever cluster
		// its current context names.
		if !e.inCluster() {
			logger.Warn("not in a Kubernetes cluster: every replica will run every job (guard always); set "+EnvGuard+"=lease to contend for the Lease through KUBECONFIG, or sidecar",
				slog.String("guard", GuardAlways))
			return Source{Guard: guard.Always}, GuardAlways, nil
		}
		source = GuardLease
	}
	switch source {
	case GuardAlways:
		return Source{Guard: guard.Always}, source, nil
	case GuardNever:
		return Source{Guard: guard.Never}, source, nil
	case GuardLease, GuardSidecar:
		build, ok := sources[source]
		if !ok {
			return Source{}, "", fmt.Errorf("leaderjob: %w: %s=%s (or auto inside a cluster) needs the Kubernetes guard sources: pass kube.Guards() to leaderjob.New (package github.com/leaderjob/leaderjob/kube), or set %s=always for a single replica",
				ErrConfig, EnvGuard, source, EnvGuard)
		}
		src, err = build(SourceEnv{App: app, Identity: self, Logger: logger, Lookup: e.lookup, CountRequest: m.SourceRequest,
			Spread: se.spread, Incarnation: se.incarnation})
	default:
		return Source{}, "", fmt.Errorf("leaderjob: %w: %s=%q: accepted values are %s", ErrConfig, EnvGuard, source, strings.Join(guardSources, ", "))
	}
	if err != nil {
		return Source{}, "", fmt.Errorf("leaderjob: %w: %s=%s: %w", ErrConfig, EnvGuard, source, err)
	}
	return src, source, nil
}
