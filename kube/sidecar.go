package kube

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/leaderjob/leaderjob/guard/sidecar"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/sidecarclient"
)

// envSidecarURL names the leader-elector sidecar's address.
const envSidecarURL = "LEADERJOB_SIDECAR_URL"

// sidecarGuard builds the leader-elector sidecar guard from
// LEADERJOB_SIDECAR_URL. attrs describe it for the start-up summary record.
func sidecarGuard(env leaderjob.SourceEnv) (leaderjob.Source, error) {
	logger, self := env.Logger, env.Identity
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	count := func(r sidecarclient.Result) {
		if env.CountRequest != nil {
			class := r.Class
			if class == "" {
				class = "ok"
			}
			env.CountRequest(class)
		}
	}
	raw, _ := env.Lookup(envSidecarURL)
	if raw == "" {
		raw = sidecar.DefaultURL
	}
	client, err := sidecarclient.New(raw, sidecarclient.WithLogger(logger), sidecarclient.WithObserver(count))
	if err != nil {
		return leaderjob.Source{}, fmt.Errorf("%s: %w; set it to the leader-elector's --http address, for example %s=%s",
			envSidecarURL, err, envSidecarURL, sidecar.DefaultURL)
	}
	if u, _ := url.Parse(raw); !isLoopback(u.Hostname()) {
		logger.Warn(envSidecarURL+" is not a loopback address: a leader-elector normally runs as a sidecar in the same pod and listens on localhost; check that this URL is meant",
			slog.String("sidecar_url", client.URL()))
	}
	sg, err := sidecar.New(self, sidecar.WithClient(client), sidecar.WithLogger(logger))
	if err != nil {
		return leaderjob.Source{}, err
	}
	l, where, err := ledgerFromEnv(env.Lookup, env.App, nil, "", logger, "memory")
	if err != nil {
		return leaderjob.Source{}, err
	}
	return leaderjob.Source{Guard: sg, Ledger: l, Attrs: []slog.Attr{
		slog.String("sidecar_url", client.URL()),
		slog.Duration("sidecar_cache_window", sidecar.DefaultCacheWindow),
		slog.Duration("sidecar_max_call", client.MaxCallDuration()),
		slog.String("ledger", where),
	}}, nil
}

// isLoopback reports whether host names this machine's loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
