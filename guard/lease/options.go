package lease

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
)

// Defaults, the same as Kubernetes' own controllers use.
const (
	DefaultLeaseDuration   = 15 * time.Second
	DefaultRenewDeadline   = 10 * time.Second
	DefaultRetryPeriod     = 2 * time.Second
	DefaultNamespace       = "default"
	DefaultHealthTolerance = 20 * time.Second
	DefaultErrorLogPeriod  = 30 * time.Second
)

// ErrInvalidConfig is wrapped by every error New returns for a bad option.
var ErrInvalidConfig = errors.New("invalid lease guard configuration")

// jitterFactor is client-go's leaderelection.JitterFactor: a standby waits
// between RetryPeriod and (1+jitterFactor)×RetryPeriod between attempts, and
// the renew deadline must exceed jitterFactor×RetryPeriod.
const jitterFactor = 1.2

// Option configures a Guard.
type Option func(*config)

type config struct {
	namespace       string
	name            string
	leaseDuration   time.Duration
	renewDeadline   time.Duration
	retryPeriod     time.Duration
	logger          *slog.Logger
	userAgent       string
	healthTolerance time.Duration
	errorLogPeriod  time.Duration
	watch           bool
	settings        settingNames
	clock           clock.WithDelayedExecution
	release         string
	membership      bool   // WithMembership
	incarnation     string // WithMembership
}

// SettingNames are the names under which the program that builds a Guard
// lets operators change its settings (environment variables, flags), so
// that the guard's messages name what to change: "LEASE_DURATION=5s must be
// longer than RENEW_DEADLINE=10s" instead of the options' names. An empty
// field keeps the option's name.
type SettingNames struct {
	Name, Namespace, LeaseDuration, RenewDeadline, RetryPeriod string
}

// WithSettingNames makes the guard's messages name the settings as names
// does, each as NAME=value.
func WithSettingNames(names SettingNames) Option {
	return func(c *config) {
		or := func(name, option string) string {
			if name == "" {
				return option
			}
			return name
		}
		c.settings = settingNames{
			name: or(names.Name, optionNames.name), namespace: or(names.Namespace, optionNames.namespace),
			leaseDuration: or(names.LeaseDuration, optionNames.leaseDuration),
			renewDeadline: or(names.RenewDeadline, optionNames.renewDeadline),
			retryPeriod:   or(names.RetryPeriod, optionNames.retryPeriod),
			assign: func(setting string, value any) string {
				if s, ok := value.(string); ok {
					return fmt.Sprintf("%s=%q", setting, s)
				}
				return fmt.Sprintf("%s=%v", setting, value)
			},
		}
	}
}

// settingNames are how messages refer to the settings an operator changes:
// by default the options of this package (WithSettingNames changes them).
type settingNames struct {
	name, namespace, leaseDuration, renewDeadline, retryPeriod string
	// assign formats a setting and its value: "WithName(\"x\")" or "NAME=\"x\"".
	assign func(setting string, value any) string
}

var optionNames = settingNames{
	name: "WithName", namespace: "WithNamespace",
	leaseDuration: "WithLeaseDuration", renewDeadline: "WithRenewDeadline", retryPeriod: "WithRetryPeriod",
	assign: func(setting string, value any) string {
		if s, ok := value.(string); ok {
			return fmt.Sprintf("%s(%q)", setting, s)
		}
		return fmt.Sprintf("%s(%v)", setting, value)
	},
}

// withClock sets the clock the guard's own rules read (tests use a fake
// one); client-go's elector always reads the real clock.
func withClock(c clock.WithDelayedExecution) Option { return func(cfg *config) { cfg.clock = c } }

func defaults() config {
	return config{
		namespace:       DefaultNamespace,
		leaseDuration:   DefaultLeaseDuration,
		renewDeadline:   DefaultRenewDeadline,
		retryPeriod:     DefaultRetryPeriod,
		logger:          slog.New(slog.DiscardHandler),
		healthTolerance: DefaultHealthTolerance,
		errorLogPeriod:  DefaultErrorLogPeriod,
		watch:           true,
		settings:        optionNames,
		clock:           clock.RealClock{},
	}
}

// WithName sets the name of the Lease object. It is required; replicas that
// share a name elect one leader among themselves.
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithNamespace sets the namespace of the Lease object (default "default").
func WithNamespace(ns string) Option { return func(c *config) { c.namespace = ns } }

// WithLeaseDuration sets how long standbys wait, after they last saw the
// Lease change, before they take it over (default 15s). It bounds failover
// after a crash.
func WithLeaseDuration(d time.Duration) Option { return func(c *config) { c.leaseDuration = d } }

// WithRenewDeadline sets how long the leader keeps trying to renew before it
// gives up (default 10s). Check stops answering "leader" once the last
// successful renewal is this old, even if client-go still believes it leads.
func WithRenewDeadline(d time.Duration) Option { return func(c *config) { c.renewDeadline = d } }

// WithRelease names this replica's release (such as its version and its
// pod template's hash) and turns on the hand-off to the new release, so
// that a rolling update moves leadership once, onto a replica of the new
// release. Default "": off.
//
// The rule: while it runs, each replica records its identity and release
// on the Lease <name>-candidates (an annotation per replica, rewritten
// every four LeaseDurations, a minute at the defaults: one request a
// minute per replica; a replica that stops removes its own, and records
// three periods old are dropped). A leader that releases the Lease (after
// draining, on shutdown) names as successor, in the annotation
// leaderjob.dev/successor, the replica recorded most recently within the
// last period + RetryPeriod whose release differs from its own; releases are compared only for equality, so a leader of the
// outgoing release hands to the incoming one, also on a rollback. Every
// other replica that sees the Lease released with a successor named leaves
// it alone for one RetryPeriod from when it saw it; then, or at once when
// no successor was named, everyone contends as without the rule. An
// expired Lease (its holder crashed) carries no preference. So a graceful
// hand-off takes at most one RetryPeriod longer (when the named successor
// died since its last record), and a crash's failover is unchanged. Needs get, patch and
// create on the candidates Lease; without them the guard warns and
// contends as without the rule.
func WithRelease(release string) Option { return func(c *config) { c.release = release } }

// WithRetryPeriod sets the interval of renewals and of standbys' attempts
// (default 2s).
func WithRetryPeriod(d time.Duration) Option { return func(c *config) { c.retryPeriod = d } }

// WithLogger sets the logger (default: discard). client-go's election
// messages go to it at debug level; the guard's own records (acquired,
// lost, leader changed, access errors) keep their levels.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithUserAgent sets the user agent of the election traffic (default
// "leaderjob/<lease name>").
func WithUserAgent(ua string) Option { return func(c *config) { c.userAgent = ua } }

// WithHealthTolerance sets how long past the lease duration a leader that
// has not renewed may go before Healthy reports an error (default 20s).
func WithHealthTolerance(d time.Duration) Option { return func(c *config) { c.healthTolerance = d } }

// WithErrorLogPeriod sets how often a persisting request failure (missing
// RBAC, a missing namespace, an unreachable apiserver) is logged again, and
// how often a request refused for a reason only an operator can fix is
// retried (default 30s).
func WithErrorLogPeriod(d time.Duration) Option { return func(c *config) { c.errorLogPeriod = d } }

// WithoutWatch turns off the watch on the Lease that lets a standby take a
// released Lease at once. Without it, standbys notice a release on their
// next retry, up to 2.2×RetryPeriod later. Use it where the guard may not
// watch leases; the guard also falls back to this on its own when the watch
// is refused.
func WithoutWatch() Option { return func(c *config) { c.watch = false } }

// validate applies client-go's rules to the timings and Kubernetes' rules
// to the Lease's name and namespace, with messages that name the settings
// an operator would change.
func (c *config) validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	n := c.settings
	ld, rd, rp := c.leaseDuration, c.renewDeadline, c.retryPeriod
	lds, rds, rps := n.assign(n.leaseDuration, ld), n.assign(n.renewDeadline, rd), n.assign(n.retryPeriod, rp)
	switch {
	case ld <= 0 || rd <= 0 || rp <= 0:
		bad("%s, %s and %s must all be positive", lds, rds, rps)
	default:
		if ld < time.Second {
			bad("%s is under 1s; the Lease stores whole seconds", lds)
		}
		if ld <= rd {
			bad("%s must be longer than %s", lds, rds)
		}
		if rd <= time.Duration(jitterFactor*float64(rp)) {
			bad("%s must be longer than 1.2 × %s", rds, rps)
		}
	}
	switch errs := validation.IsDNS1123Subdomain(c.name); {
	case c.name == "":
		bad("the Lease name is empty (%s)", n.name)
	case len(errs) > 0:
		bad("%s is not a valid Lease name: %s", n.assign(n.name, c.name), strings.Join(errs, "; "))
	}
	switch errs := validation.IsDNS1123Label(c.namespace); {
	case c.namespace == "":
		bad("the Lease namespace is empty (%s)", n.namespace)
	case len(errs) > 0:
		bad("%s is not a valid namespace: %s", n.assign(n.namespace, c.namespace), strings.Join(errs, "; "))
	}
	if c.logger == nil {
		bad("the logger is nil")
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("lease: %w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
}
