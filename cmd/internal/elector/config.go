package elector

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults of the flags. Those the retired leader-elector image had keep its
// defaults.
const (
	DefaultNamespace      = "default"
	DefaultTTL            = 10 * time.Second
	DefaultReleaseTimeout = 5 * time.Second
)

// Config is the parsed command line and environment.
type Config struct {
	Election       string // Lease name
	Namespace      string
	HTTPAddr       string // the protocol listener; "" serves none, as the original
	OpsAddr        string // /healthz, /readyz, /metrics; "" serves none
	ID             string
	TTL            time.Duration
	LeaseDuration  time.Duration
	RenewDeadline  time.Duration
	RetryPeriod    time.Duration
	ClusterCreds   bool
	Kubeconfig     string
	LogFormat      string
	LogLevel       slog.Level
	ReleaseTimeout time.Duration
	ReleaseDelay   time.Duration
	Watch          bool
}

// UsageError is a bad command line or environment. Its message names the
// flag or variable to change.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &UsageError{msg: fmt.Sprintf(format, args...)}
}

// Parse reads the command line args (without the program name) and the
// environment through lookup. Flags win over the environment. Errors are
// *UsageError, or flag.ErrHelp for -h.
func Parse(args []string, lookup func(string) (string, bool), output io.Writer) (Config, error) {
	env := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	c := Config{Watch: true}
	fs := flag.NewFlagSet("leaderjob-elector", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.Election, "election", "", "name of the Lease object to elect on (required)")
	fs.StringVar(&c.Namespace, "election-namespace", DefaultNamespace, "namespace of the Lease object")
	fs.StringVar(&c.HTTPAddr, "http", "", `address of the leader protocol server, such as "localhost:4040"; empty serves none (as the original)`)
	fs.StringVar(&c.ID, "id", "", "this replica's identity (default: $POD_NAME, else the host name)")
	fs.DurationVar(&c.TTL, "ttl", DefaultTTL, "lease duration; the renew deadline is ttl/2 and the retry period ttl/4")
	fs.BoolVar(&c.ClusterCreds, "use-cluster-credentials", false, "use the pod's service account (in-cluster configuration)")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "path to a kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	fs.DurationVar(&c.LeaseDuration, "lease-duration", 0, "lease duration; overrides --ttl and $LEADERJOB_LEASE_DURATION")
	fs.DurationVar(&c.RenewDeadline, "renew-deadline", 0, "renew deadline; overrides --ttl and $LEADERJOB_RENEW_DEADLINE")
	fs.DurationVar(&c.RetryPeriod, "retry-period", 0, "retry period; overrides --ttl and $LEADERJOB_RETRY_PERIOD")
	fs.StringVar(&c.OpsAddr, "ops-addr", "", `address of /healthz, /readyz and /metrics, such as ":8081"; empty serves none`)
	logFormat := fs.String("log-format", "", "log format: text or json (default $LEADERJOB_LOG_FORMAT, else text)")
	logLevel := fs.String("log-level", "", "log level: debug, info, warn or error (default $LEADERJOB_LOG_LEVEL, else info)")
	fs.DurationVar(&c.ReleaseTimeout, "release-timeout", DefaultReleaseTimeout, "how long SIGTERM waits for the Lease to be released")
	fs.DurationVar(&c.ReleaseDelay, "release-delay", 0, "on SIGTERM, keep leading this long before releasing: for a plain (not native) sidecar container, set it to the app's drain timeout")
	noWatch := fs.Bool("no-watch", false, "do not watch the Lease (standbys then notice a release on their next retry)")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, usageErr("%v", err)
	}
	if fs.NArg() > 0 {
		return c, usageErr("unexpected argument %q: every setting is a flag, such as --election=<lease name>", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.Watch = !*noWatch

	switch errs := validation.IsDNS1123Subdomain(c.Election); {
	case c.Election == "":
		return c, usageErr("--election is required: the name of the Lease to elect on, such as --election=billing")
	case len(errs) > 0:
		return c, usageErr("--election=%q is not a valid Lease name: %s", c.Election, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
		return c, usageErr("--election-namespace=%q is not a valid namespace: %s", c.Namespace, strings.Join(errs, "; "))
	}

	if c.ID == "" {
		c.ID = env("POD_NAME")
	}
	if c.ID == "" {
		c.ID = env("HOSTNAME")
	}
	if c.ID == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return c, usageErr("--id is empty and the host name is unknown (%v); set --id or POD_NAME", err)
		}
		c.ID = h
	}

	// Timings: a flag of its own, else --ttl if given, else the variable,
	// else the share of --ttl's default that the original used.
	if c.TTL <= 0 {
		return c, usageErr("--ttl=%v: want a positive duration of at least 1s, such as 10s", c.TTL)
	}
	timing := []struct {
		flag, env string
		v         *time.Duration
		share     time.Duration
		from      string // where the value came from, for messages
	}{
		{flag: "lease-duration", env: "LEADERJOB_LEASE_DURATION", v: &c.LeaseDuration, share: 1},
		{flag: "renew-deadline", env: "LEADERJOB_RENEW_DEADLINE", v: &c.RenewDeadline, share: 2},
		{flag: "retry-period", env: "LEADERJOB_RETRY_PERIOD", v: &c.RetryPeriod, share: 4},
	}
	for i := range timing {
		t := &timing[i]
		switch {
		case set[t.flag]:
			if *t.v <= 0 {
				return c, usageErr("--%s=%v: want a positive duration", t.flag, *t.v)
			}
			t.from = "--" + t.flag
		case set["ttl"]:
			*t.v, t.from = c.TTL/t.share, "--ttl"
		case env(t.env) != "":
			d, err := time.ParseDuration(env(t.env))
			if err != nil || d <= 0 {
				return c, usageErr("%s=%q: want a positive Go duration, such as 10s", t.env, env(t.env))
			}
			*t.v, t.from = d, t.env+" (or --"+t.flag+")"
		default:
			*t.v, t.from = c.TTL/t.share, "--ttl"
		}
	}
	ld, rd, rp := timing[0], timing[1], timing[2]
	switch {
	case c.LeaseDuration < time.Second:
		return c, usageErr("%s: lease duration %v is under 1s; the Lease stores whole seconds", ld.from, c.LeaseDuration)
	case c.LeaseDuration <= c.RenewDeadline:
		return c, usageErr("%s: lease duration %v must be longer than the renew deadline %v (%s)", ld.from, c.LeaseDuration, c.RenewDeadline, rd.from)
	case float64(c.RenewDeadline) <= 1.2*float64(c.RetryPeriod):
		return c, usageErr("%s: renew deadline %v must be longer than 1.2 × the retry period %v (%s)", rd.from, c.RenewDeadline, c.RetryPeriod, rp.from)
	}
	if c.ReleaseDelay < 0 {
		return c, usageErr("--release-delay=%v: want 0 (release at once) or more", c.ReleaseDelay)
	}
	if c.ReleaseTimeout <= 0 {
		return c, usageErr("--release-timeout=%v: want a positive duration, such as 5s", c.ReleaseTimeout)
	}

	c.LogFormat = *logFormat
	formatFrom := "--log-format"
	if c.LogFormat == "" {
		c.LogFormat, formatFrom = env("LEADERJOB_LOG_FORMAT"), "LEADERJOB_LOG_FORMAT"
	}
	switch c.LogFormat {
	case "":
		c.LogFormat = "text"
	case "text", "json":
	default:
		return c, usageErr("%s=%q: want text or json", formatFrom, c.LogFormat)
	}
	level, levelFrom := *logLevel, "--log-level"
	if level == "" {
		level, levelFrom = env("LEADERJOB_LOG_LEVEL"), "LEADERJOB_LOG_LEVEL"
	}
	if level != "" {
		if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
			return c, usageErr("%s=%q: want debug, info, warn or error", levelFrom, level)
		}
	}
	return c, nil
}
