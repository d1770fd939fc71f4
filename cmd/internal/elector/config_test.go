package elector

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseDefaultsAsTheOriginal(t *testing.T) {
	c, err := Parse([]string{"--election=billing"}, env("POD_NAME", "pod-a"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Namespace != "default" || c.HTTPAddr != "" || c.ID != "pod-a" || c.TTL != 10*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	if c.LeaseDuration != 10*time.Second || c.RenewDeadline != 5*time.Second || c.RetryPeriod != 2500*time.Millisecond {
		t.Errorf("timings from the default ttl: %v %v %v", c.LeaseDuration, c.RenewDeadline, c.RetryPeriod)
	}
}

func TestParseFlagsWinOverEnv(t *testing.T) {
	e := env("POD_NAME", "pod-a", "LEADERJOB_LEASE_DURATION", "20s", "LEADERJOB_RENEW_DEADLINE", "12s",
		"LEADERJOB_RETRY_PERIOD", "3s", "LEADERJOB_LOG_FORMAT", "json")
	c, err := Parse([]string{"-election", "x", "--id=me"}, e, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "me" || c.LeaseDuration != 20*time.Second || c.RenewDeadline != 12*time.Second || c.RetryPeriod != 3*time.Second || c.LogFormat != "json" {
		t.Errorf("env: %+v", c)
	}
	c, err = Parse([]string{"--election=x", "--ttl=4s", "--retry-period=500ms", "--log-format=text"}, e, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.LeaseDuration != 4*time.Second || c.RenewDeadline != 2*time.Second || c.RetryPeriod != 500*time.Millisecond || c.LogFormat != "text" {
		t.Errorf("flags over env: %+v", c)
	}
}

func TestBadFlagsExit2NamingTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{nil, nil, "--election is required"},
		{[]string{"--election=Bad_Name"}, nil, "--election="},
		{[]string{"--election=x", "--election-namespace=a.b"}, nil, "--election-namespace="},
		{[]string{"--election=x", "--ttl=banana"}, nil, "-ttl"},
		{[]string{"--election=x", "--ttl=500ms"}, nil, "--ttl"},
		{[]string{"--election=x", "--renew-deadline=20s"}, nil, "(--renew-deadline)"},
		{[]string{"--election=x", "--bogus"}, nil, "-bogus"},
		{[]string{"--election=x", "stray"}, nil, `"stray"`},
		{[]string{"--election=x", "--log-level=loud"}, nil, "--log-level"},
		{[]string{"--election=x"}, []string{"LEADERJOB_RETRY_PERIOD", "soon"}, "LEADERJOB_RETRY_PERIOD"},
		{[]string{"--election=x"}, []string{"LEADERJOB_LOG_FORMAT", "xml"}, "LEADERJOB_LOG_FORMAT"},
		{[]string{"--election=x", "--release-timeout=0s"}, nil, "--release-timeout"},
		{[]string{"--election=x", "--release-delay=-1s"}, nil, "--release-delay"},
	} {
		var out bytes.Buffer
		e := append([]string{"POD_NAME", "p"}, tc.env...)
		code := Main(context.Background(), tc.args, env(e...), &out)
		if code != ExitUsage || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%q %q: exit %d, output %q; want exit 2 naming %s", tc.args, tc.env, code, out.String(), tc.want)
		}
	}
}
