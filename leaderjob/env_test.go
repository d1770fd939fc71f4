package leaderjob_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
)

// newFromEnv builds an App from env alone (plus a place for its logs).
func newFromEnv(t *testing.T, env map[string]string) (*leaderjob.App, *logSink, error) {
	t.Helper()
	sink := &logSink{}
	app, err := leaderjob.New("env-app", leaderjob.WithEnv(envOf(env)), leaderjob.WithLogOutput(sink), leaderjob.WithoutSignals())
	return app, sink, err
}

func TestEnvRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"LEADERJOB_GUARD": "bogus"}, []string{"LEADERJOB_GUARD", `"bogus"`, "auto", "lease", "sidecar", "always", "never"}},
		{map[string]string{"LEADERJOB_GUARD": "leader"}, []string{"LEADERJOB_GUARD", `"leader"`, "always"}},
		{map[string]string{"LEADERJOB_LOG_FORMAT": "xml"}, []string{"LEADERJOB_LOG_FORMAT", `"xml"`, "text", "json"}},
		{map[string]string{"LEADERJOB_LOG_LEVEL": "loud"}, []string{"LEADERJOB_LOG_LEVEL", `"loud"`, "debug", "info", "warn", "error"}},
		{map[string]string{"LEADERJOB_DRAIN_TIMEOUT": "soon"}, []string{"LEADERJOB_DRAIN_TIMEOUT", `"soon"`}},
		{map[string]string{"LEADERJOB_DRAIN_TIMEOUT": "-5s"}, []string{"LEADERJOB_DRAIN_TIMEOUT", `"-5s"`}},
	} {
		_, _, err := newFromEnv(t, tc.env)
		if !errors.Is(err, leaderjob.ErrConfig) {
			t.Errorf("env %v: error %v, want ErrConfig", tc.env, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("env %v: error %q does not mention %s", tc.env, err, w)
			}
		}
	}
}

func TestEnvAcceptsGoodValues(t *testing.T) {
	for _, env := range []map[string]string{
		{"LEADERJOB_GUARD": "ALWAYS"},
		{"LEADERJOB_GUARD": " never "},
		{"LEADERJOB_LOG_FORMAT": "JSON", "LEADERJOB_LOG_LEVEL": "debug"},
		{"LEADERJOB_LOG_FORMAT": "text", "LEADERJOB_LOG_LEVEL": "WARN"},
		{"LEADERJOB_LOG_LEVEL": "error"},
		{"LEADERJOB_DRAIN_TIMEOUT": "45s"},
	} {
		if _, _, err := newFromEnv(t, env); err != nil {
			t.Errorf("env %v: %v", env, err)
		}
	}
}

func TestEnvGuardAlwaysAndNever(t *testing.T) {
	app, sink, err := newFromEnv(t, map[string]string{"LEADERJOB_GUARD": "always", "LEADERJOB_LOG_FORMAT": "json"})
	noErr(t, err)
	if app.Guard() != guard.Always {
		t.Fatalf("guard = %v, want always", app.Guard())
	}
	if w := sink.records(t); len(w) != 0 {
		t.Fatalf("an explicit always logged %v, want nothing", w)
	}

	app, sink, err = newFromEnv(t, map[string]string{"LEADERJOB_GUARD": "never", "LEADERJOB_LOG_FORMAT": "json", "LEADERJOB_LOG_LEVEL": "debug", "POD_NAME": "pod-a"})
	noErr(t, err)
	var called bool
	noErr(t, app.Schedule("job", leaderjob.FixedRate(time.Minute), func(context.Context) error { called = true; return nil }))
	r, err := app.Trigger(context.Background(), "job")
	noErr(t, err)
	if called || r.Outcome != guard.Skipped || r.Reason != guard.ReasonNotLeader {
		t.Fatalf("under never: %s/%s, called %v", r.Outcome, r.Reason, called)
	}
	recs := sink.runs(t, "job")
	if len(recs) != 1 || recs[0].str("outcome") != "skipped" || recs[0].str("reason") != "not_leader" {
		t.Fatalf("records %v, want one not_leader skip", recs)
	}
}

func TestEnvAutoWithoutKubernetesWarnsOnce(t *testing.T) {
	for _, env := range []map[string]string{
		{"LEADERJOB_LOG_FORMAT": "json"},
		{"LEADERJOB_LOG_FORMAT": "json", "LEADERJOB_GUARD": "auto"},
		{"LEADERJOB_LOG_FORMAT": "json", "LEADERJOB_GUARD": "Auto", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}, // no port: not in a cluster
		// A laptop with a kubeconfig must not join the election of the
		// cluster its context names.
		{"LEADERJOB_LOG_FORMAT": "json", "KUBECONFIG": writeKubeconfig(t)},
		{"LEADERJOB_LOG_FORMAT": "json", "LEADERJOB_GUARD": "auto", "KUBECONFIG": writeKubeconfig(t)},
	} {
		app, sink, err := newFromEnv(t, env)
		noErr(t, err)
		if app.Guard() != guard.Always {
			t.Errorf("env %v: guard %v, want always", env, app.Guard())
		}
		var warnings []record
		for _, r := range sink.records(t) {
			if r.str("level") == "WARN" {
				warnings = append(warnings, r)
			}
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0].str("msg"), "LEADERJOB_GUARD") || warnings[0].str("guard") != "always" {
			t.Errorf("env %v: warnings %v, want exactly one naming LEADERJOB_GUARD", env, warnings)
		}
		noErr(t, app.Schedule("job", leaderjob.FixedRate(time.Minute), nop))
		if r, _ := app.Trigger(context.Background(), "job"); r.Outcome != guard.Ran {
			t.Errorf("env %v: standalone run %s, want ran", env, r.Outcome)
		}
	}
}

func TestEnvLogLevel(t *testing.T) {
	app, sink, err := newFromEnv(t, map[string]string{"LEADERJOB_GUARD": "always", "LEADERJOB_LOG_FORMAT": "json", "LEADERJOB_LOG_LEVEL": "warn"})
	noErr(t, err)
	noErr(t, app.Schedule("ok", leaderjob.FixedRate(time.Minute), nop))
	noErr(t, app.Schedule("bad", leaderjob.FixedRate(time.Minute), func(context.Context) error { return errors.New("bad") }))
	app.Trigger(context.Background(), "ok")
	app.Trigger(context.Background(), "bad")
	if n := len(sink.runs(t, "ok")); n != 0 {
		t.Errorf("an info record passed a warn level: %d", n)
	}
	if n := len(sink.runs(t, "bad")); n != 1 {
		t.Errorf("%d error records at warn level, want 1", n)
	}
}

func TestEnvTextFormatIsDefault(t *testing.T) {
	app, sink, err := newFromEnv(t, map[string]string{"LEADERJOB_GUARD": "always"})
	noErr(t, err)
	noErr(t, app.Schedule("job", leaderjob.FixedRate(time.Minute), nop))
	app.Trigger(context.Background(), "job")
	out := sink.String()
	if !strings.Contains(out, `msg="job run" job=job`) || strings.HasPrefix(out, "{") {
		t.Fatalf("default output %q, want text records", out)
	}
}

func TestEnvIdentity(t *testing.T) {
	host, _ := os.Hostname()
	for _, tc := range []struct {
		env  map[string]string
		opts []leaderjob.Option
		want string
	}{
		{map[string]string{"POD_NAME": "pod-a", "HOSTNAME": "host-b"}, nil, "pod-a"},
		{map[string]string{"POD_NAME": "  ", "HOSTNAME": "host-b"}, nil, "host-b"},
		{map[string]string{"HOSTNAME": "host-b"}, nil, "host-b"},
		{map[string]string{"POD_NAME": "pod-a"}, []leaderjob.Option{leaderjob.WithIdentity("explicit")}, "explicit"},
		{map[string]string{}, nil, host},
	} {
		opts := append([]leaderjob.Option{leaderjob.WithEnv(envOf(tc.env)), leaderjob.WithGuard(guard.Always),
			leaderjob.WithLogger(discardLogger())}, tc.opts...)
		app, err := leaderjob.New("id", opts...)
		noErr(t, err)
		if tc.want == "" {
			continue // no host name on this machine
		}
		if got := app.Identity(); got != tc.want {
			t.Errorf("env %v: identity %q, want %q", tc.env, got, tc.want)
		}
		noErr(t, app.Schedule("job", leaderjob.FixedRate(time.Minute), nop))
		if r, _ := app.Trigger(context.Background(), "job"); r.Decision.Holder != tc.want || r.Decision.Self != tc.want {
			t.Errorf("env %v: run holder %q self %q, want %q", tc.env, r.Decision.Holder, r.Decision.Self, tc.want)
		}
	}
}

// writeKubeconfig writes a usable kubeconfig that names an apiserver on a
// loopback port nobody listens on.
func writeKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	const cfg = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: prod
  context: {cluster: prod, user: me, namespace: billing}
current-context: prod
users:
- name: me
  user: {token: secret}
`
	noErr(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}
