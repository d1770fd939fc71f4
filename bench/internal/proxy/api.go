package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
)

// API is an HTTP reverse proxy to the kube-apiserver for one replica: the
// replica speaks plain HTTP to it, without credentials, and it forwards
// each request with the credentials and TLS of the configuration it was
// made with. It counts the requests it forwards; a watch counts once, when
// it is opened. Every contender's replicas reach the apiserver this way,
// so the TLS and authentication they skip are skipped by all alike.
type API struct {
	ln       *cutListener
	srv      *http.Server
	requests atomic.Int64
}

// NewAPI starts a proxy to the apiserver of upstream on a free loopback
// port.
func NewAPI(upstream *rest.Config) (*API, error) {
	target, err := url.Parse(upstream.Host)
	if err != nil {
		return nil, fmt.Errorf("proxy: apiserver address %q: %w", upstream.Host, err)
	}
	if target.Scheme == "" {
		target.Scheme = "https"
	}
	rt, err := rest.TransportFor(upstream)
	if err != nil {
		return nil, fmt.Errorf("proxy: transport to the apiserver: %w", err)
	}
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	p := &API{ln: ln}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host
		},
		Transport:     rt,
		FlushInterval: -1, // watches stream
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.requests.Add(1)
			rp.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL is the address replicas use as their apiserver (plain HTTP).
func (p *API) URL() string { return "http://" + p.ln.Addr().String() }

// Requests is how many requests the proxy has forwarded so far.
func (p *API) Requests() int64 { return p.requests.Load() }

// SetCut cuts the replica off from the apiserver, or lets it through again.
func (p *API) SetCut(cut bool) { p.ln.setCut(cut) }

// Cut reports whether the replica is cut off.
func (p *API) Cut() bool { return p.ln.isCut() }

// Close stops the proxy and closes its connections.
func (p *API) Close() error {
	p.ln.setCut(true)
	err := p.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
