package elector

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/transport"
)

// countRequests wraps the apiserver transport so that every request the
// election sends is counted by verb (get, create, update, watch, other) and
// result (the status class, such as 2xx, or "error" when no answer came).
func countRequests(c *prometheus.CounterVec) transport.WrapperFunc {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(r)
			result := "error"
			if err == nil {
				result = string("012345"[resp.StatusCode/100%6]) + "xx"
			}
			c.WithLabelValues(verbOf(r), result).Inc()
			return resp, err
		})
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func verbOf(r *http.Request) string {
	switch r.Method {
	case http.MethodGet:
		if w := r.URL.Query().Get("watch"); w == "true" || w == "1" {
			return "watch"
		}
		if strings.HasSuffix(r.URL.Path, "/leases") {
			return "list"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	}
	return "other"
}
