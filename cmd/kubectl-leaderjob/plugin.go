package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/leaderjob/leaderjob/wire"
)

const usage = `kubectl leaderjob: see and steer the scheduled jobs of leaderjob apps.

Usage:
  kubectl leaderjob status [APP] [--watch]             apps, leaders, each job's last runs and pauses (--watch: refresh every --interval until interrupted)
  kubectl leaderjob history APP [JOB]                  the ledger's history of the app's jobs
  kubectl leaderjob pause APP JOB --reason TEXT        skip the job's fires until resumed (--cancel-running: also cancel a run going now)
  kubectl leaderjob resume APP JOB                     let the job's fires run again
  kubectl leaderjob run APP JOB [--request-id ID] [--force]
                                                       run the job once now, on the leader

Flags:
`

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // an error, or a run that did not succeed
	exitUsage   = 2
	exitTimeout = 3 // run: the leader did not answer within --timeout
)

type plugin struct {
	out, errOut io.Writer
	cs          kubernetes.Interface
	ns          string
	output      string
	reason      string
	requestID   string
	force       bool
	timeout     time.Duration
	now         func() time.Time
	watch       bool
	interval    time.Duration
	after       func(time.Duration) <-chan time.Time // time.After; tests drive it

	cancelRunning bool
}

// Main runs the plugin with args (without the program name) and returns
// the exit code.
func Main(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs := pflag.NewFlagSet("kubectl-leaderjob", pflag.ContinueOnError)
	fs.SetOutput(errOut)
	cf := genericclioptions.NewConfigFlags(true)
	cf.AddFlags(fs)
	p := &plugin{out: out, errOut: errOut, now: time.Now, after: time.After}
	fs.StringVarP(&p.output, "output", "o", "", "output format: json or yaml (default: a table)")
	fs.StringVar(&p.reason, "reason", "", "pause: why the job is paused (shown by status)")
	fs.StringVar(&p.requestID, "request-id", "", "run: the request's id; a request id runs once, and expires if no leader runs it within a day (default: a new id)")
	fs.BoolVar(&p.force, "force", false, "run: run the job even if it is paused")
	fs.BoolVar(&p.cancelRunning, "cancel-running", false, "pause: also cancel a run of the job that is going (by default it runs to its end)")
	fs.DurationVar(&p.timeout, "timeout", 10*time.Second, "pause, resume, run: how long to wait for the leader's answer")
	fs.BoolVarP(&p.watch, "watch", "w", false, "status: show it again every --interval until interrupted (on a terminal the screen is redrawn; otherwise each refresh follows the last)")
	fs.DurationVar(&p.interval, "interval", 2*time.Second, "status --watch: time between refreshes")
	fs.Usage = func() { fmt.Fprint(errOut, usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return exitUsage
	}
	if p.watch && p.interval < 100*time.Millisecond {
		fmt.Fprintf(errOut, "error: --interval %v: use 100ms or more\n", p.interval)
		return exitUsage
	}
	if p.output != "" && p.output != "json" && p.output != "yaml" {
		fmt.Fprintf(errOut, "error: --output %q: use json or yaml\n", p.output)
		return exitUsage
	}
	cfg, err := cf.ToRESTConfig()
	if err != nil {
		fmt.Fprintf(errOut, "error: %v\n", err)
		return exitFailed
	}
	cfg.UserAgent = "kubectl-leaderjob"
	if p.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		fmt.Fprintf(errOut, "error: %v\n", err)
		return exitFailed
	}
	if p.ns, _, err = cf.ToRawKubeConfigLoader().Namespace(); err != nil || p.ns == "" {
		p.ns = "default"
	}
	return p.exec(ctx, rest[0], rest[1:])
}

// exec runs command cmd with its arguments and returns the exit code.
func (p *plugin) exec(ctx context.Context, cmd string, rest []string) int {
	errOut := p.errOut
	var err error
	need := func(lo, hi int, what string) bool {
		if len(rest) < lo || len(rest) > hi {
			fmt.Fprintf(errOut, "error: usage: kubectl leaderjob %s %s\n", cmd, what)
			return false
		}
		return true
	}
	var code int
	switch cmd {
	case "status":
		if !need(0, 1, "[APP]") {
			return exitUsage
		}
		if p.watch {
			code, err = p.watchStatus(ctx, rest)
		} else {
			code, err = p.status(ctx, rest)
		}
	case "history":
		if !need(1, 2, "APP [JOB]") {
			return exitUsage
		}
		code, err = p.history(ctx, rest)
	case "pause", "resume":
		if !need(2, 2, "APP JOB") {
			return exitUsage
		}
		code, err = p.pause(ctx, rest[0], rest[1], cmd == "pause")
	case "run":
		if !need(2, 2, "APP JOB") {
			return exitUsage
		}
		code, err = p.run(ctx, rest[0], rest[1])
	default:
		fmt.Fprintf(errOut, "error: unknown command %q: use status, history, pause, resume or run (--help)\n", cmd)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(errOut, "error: %v\n", err)
		if code == exitOK {
			code = exitFailed
		}
	}
	return code
}

// forbidden explains a refusal by the apiserver: the rule to grant.
func (p *plugin) forbidden(err error, verbs, resource, name string) error {
	if !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) {
		return err
	}
	rule := fmt.Sprintf("verbs [%s] on %s", verbs, resource)
	if name != "" {
		rule += fmt.Sprintf(" with resourceNames [%s]", name)
	}
	return fmt.Errorf("%w\nforbidden: grant %s in namespace %s (see examples/kubernetes/operator/rbac.yaml)", err, rule, p.ns)
}

// app is what the plugin reads of one app.
type app struct {
	name   string
	state  wire.Ledger
	ledger *corev1.ConfigMap
}

// apps lists the apps of the namespace by their ledgers' labels.
func (p *plugin) apps(ctx context.Context) ([]app, error) {
	list, err := p.cs.CoreV1().ConfigMaps(p.ns).List(ctx, metav1.ListOptions{LabelSelector: wire.LabelManagedBy + "=" + wire.ManagedBy})
	if err != nil {
		return nil, p.forbidden(err, "list", "configmaps", "")
	}
	var out []app
	for i := range list.Items {
		cm := &list.Items[i]
		name := cm.Labels[wire.LabelApp]
		if name == "" || cm.Name != wire.LedgerConfigMap(name) {
			continue
		}
		a := app{name: name, ledger: cm}
		if err := decodeLedger(cm, &a.state); err != nil {
			return nil, err
		}
		if err := p.readShards(ctx, &a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b app) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// oneApp reads the ledger of the named app; an unknown app is an error
// that lists the known ones.
func (p *plugin) oneApp(ctx context.Context, name string) (app, error) {
	cm, err := p.cs.CoreV1().ConfigMaps(p.ns).Get(ctx, wire.LedgerConfigMap(name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		known := "none"
		if apps, lerr := p.apps(ctx); lerr == nil && len(apps) > 0 {
			var names []string
			for _, a := range apps {
				names = append(names, a.name)
			}
			known = strings.Join(names, ", ")
		}
		return app{}, fmt.Errorf("unknown app %q in namespace %s (no configmap %s); known apps: %s", name, p.ns, wire.LedgerConfigMap(name), known)
	}
	if err != nil {
		return app{}, p.forbidden(err, "get", "configmaps", wire.LedgerConfigMap(name))
	}
	a := app{name: name, ledger: cm}
	if err := decodeLedger(cm, &a.state); err != nil {
		return app{}, err
	}
	return a, p.readShards(ctx, &a)
}

// readShards adds to a's ledger the jobs of the other objects it is spread
// over (LEADERJOB_LEDGER_SHARDS), as the app reads them.
func (p *plugin) readShards(ctx context.Context, a *app) error {
	if a.state.Shards <= 1 {
		return nil
	}
	parts := []wire.Ledger{a.state}
	for i := 1; i < a.state.Shards; i++ {
		name := wire.LedgerShardConfigMap(a.name, i)
		cm, err := p.cs.CoreV1().ConfigMaps(p.ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue // no job of that shard has fired yet
		case err != nil:
			return p.forbidden(err, "get", "configmaps", name)
		}
		var part wire.Ledger
		if err := decodeLedger(cm, &part); err != nil {
			return err
		}
		parts = append(parts, part)
	}
	a.state = wire.MergeLedgers(parts)
	return nil
}

// jobNames are the jobs the app is known to have.
func (a app) jobNames() []string {
	names := slices.Clone(a.state.JobNames)
	for j := range a.state.Jobs {
		if !slices.Contains(names, j) {
			names = append(names, j)
		}
	}
	slices.Sort(names)
	return names
}

func (a app) checkJob(job string) error {
	names := a.jobNames()
	if slices.Contains(names, job) {
		return nil
	}
	return fmt.Errorf("unknown job %q of app %s; known jobs: %s", job, a.name, strings.Join(names, ", "))
}

// control reads the app's control ConfigMap (nil when absent).
func (p *plugin) control(ctx context.Context, name string) (*corev1.ConfigMap, wire.Control, error) {
	cm, err := p.cs.CoreV1().ConfigMaps(p.ns).Get(ctx, wire.ControlConfigMap(name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, wire.Control{}, nil
	}
	if err != nil {
		return nil, wire.Control{}, p.forbidden(err, "get", "configmaps", wire.ControlConfigMap(name))
	}
	c, err := decodeControl(cm)
	return cm, c, err
}

// updateControl applies fn to the app's control ConfigMap, creating it
// when absent, and retrying on conflicts.
func (p *plugin) updateControl(ctx context.Context, name string, fn func(c *wire.Control) error) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, c, err := p.control(ctx, name)
		if err != nil {
			return err
		}
		if c.Paused == nil {
			c.Paused = map[string]wire.PauseRequest{}
		}
		if c.Runs == nil {
			c.Runs = map[string]wire.RunRequest{}
		}
		if err := fn(&c); err != nil {
			return err
		}
		cms := p.cs.CoreV1().ConfigMaps(p.ns)
		if cm == nil {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: wire.ControlConfigMap(name), Namespace: p.ns}}
			if err := encodeControl(cm, name, c); err != nil {
				return err
			}
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("configmaps"), cm.Name, err)
			}
			return p.forbidden(err, "create", "configmaps", "")
		}
		if err := encodeControl(cm, name, c); err != nil {
			return err
		}
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			return err
		}
		return p.forbidden(err, "update", "configmaps", wire.ControlConfigMap(name))
	})
}

// whoAmI is the operator's user name, from a SelfSubjectReview.
func (p *plugin) whoAmI(ctx context.Context) string {
	r, err := p.cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || r.Status.UserInfo.Username == "" {
		fmt.Fprintf(p.errOut, "warning: who you are is unknown (selfsubjectreviews: %v); the request is recorded as by \"unknown\"\n", p.forbidden(err, "create", "selfsubjectreviews.authentication.k8s.io", ""))
		return "unknown"
	}
	return r.Status.UserInfo.Username
}

// waitLedger polls the app's ledger until done holds or --timeout passes.
func (p *plugin) waitLedger(ctx context.Context, name string, done func(s wire.Ledger) bool) (wire.Ledger, bool, error) {
	deadline := time.Now().Add(p.timeout)
	for {
		a, err := p.oneApp(ctx, name)
		if err != nil {
			return wire.Ledger{}, false, err
		}
		if done(a.state) {
			return a.state, true, nil
		}
		if !time.Now().Before(deadline) {
			return a.state, false, nil
		}
		select {
		case <-ctx.Done():
			return a.state, false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p *plugin) pause(ctx context.Context, name, job string, pause bool) (int, error) {
	a, err := p.oneApp(ctx, name)
	if err != nil {
		return exitFailed, err
	}
	if err := a.checkJob(job); err != nil {
		return exitFailed, err
	}
	req := wire.PauseRequest{By: p.whoAmI(ctx), Reason: p.reason, Since: p.now().UTC().Truncate(time.Second), CancelRunning: p.cancelRunning}
	err = p.updateControl(ctx, name, func(c *wire.Control) error {
		if pause {
			if old, ok := c.Paused[job]; ok {
				old.CancelRunning = old.CancelRunning || p.cancelRunning
				c.Paused[job], req = old, old // paused already: keep who and since
				return nil
			}
			c.Paused[job] = req
		} else {
			delete(c.Paused, job)
		}
		return nil
	})
	if err != nil {
		return exitFailed, err
	}
	_, acked, err := p.waitLedger(ctx, name, func(s wire.Ledger) bool {
		got, ok := s.Paused[job]
		if !pause {
			return !ok
		}
		return ok && got.Since.Equal(req.Since) && got.By == req.By
	})
	if err != nil {
		return exitFailed, err
	}
	verb := map[bool]string{true: "paused", false: "resumed"}[pause]
	if !acked {
		fmt.Fprintf(p.errOut, "warning: %s/%s %s, but the leader has not acknowledged it within %v: is a replica of %s running?\n", name, job, verb, p.timeout, name)
		return exitOK, nil
	}
	fmt.Fprintf(p.out, "%s/%s %s (acknowledged by the leader)\n", name, job, verb)
	return exitOK, nil
}

func (p *plugin) run(ctx context.Context, name, job string) (int, error) {
	a, err := p.oneApp(ctx, name)
	if err != nil {
		return exitFailed, err
	}
	if err := a.checkJob(job); err != nil {
		return exitFailed, err
	}
	id := p.requestID
	if id == "" {
		id = strings.ToLower(rand.Text()[:12])
	}
	if r := a.state.Runs[id]; r.Done() {
		if r.Job != job {
			return exitFailed, fmt.Errorf("request id %s was a run of job %s", id, r.Job)
		}
		return p.printRun(id, r, "already done")
	}
	by := p.whoAmI(ctx)
	now := p.now()
	err = p.updateControl(ctx, name, func(c *wire.Control) error {
		if old, ok := c.Runs[id]; ok {
			if old.Job != job {
				return fmt.Errorf("request id %s is a run of job %s", id, old.Job)
			}
			if err := old.Check(now); err != nil {
				return fmt.Errorf("request id %s: %w; leave --request-id out, or choose a new id", id, err)
			}
			return nil
		}
		// Forget the requests the leader answered (the ledger keeps them)
		// and those it will never run (expired).
		for rid, rr := range c.Runs {
			if a.state.Runs[rid].Done() || rr.Check(now) != nil {
				delete(c.Runs, rid)
			}
		}
		c.Runs[id] = wire.RunRequest{Job: job, By: by, At: now.UTC(), Force: p.force}
		return nil
	})
	if err != nil {
		return exitFailed, err
	}
	s, done, err := p.waitLedger(ctx, name, func(s wire.Ledger) bool { return s.Runs[id].Done() })
	if err != nil {
		return exitFailed, err
	}
	if !done {
		state := "not taken by a leader"
		if s.Runs[id] != nil {
			state = "taken by " + s.Runs[id].Holder + ", still running"
		}
		fmt.Fprintf(p.errOut, "warning: run %s of %s/%s requested, %s after %v; see kubectl leaderjob status %s\n", id, name, job, state, p.timeout, name)
		return exitTimeout, nil
	}
	return p.printRun(id, s.Runs[id], "")
}

func (p *plugin) printRun(id string, r *wire.Run, note string) (int, error) {
	code := exitOK
	if r.Outcome != string(wire.OutcomeRan) {
		code = exitFailed
	}
	if p.output != "" {
		return code, p.print(map[string]any{"requestId": id, "run": r})
	}
	if note != "" {
		note = " (" + note + ")"
	}
	fmt.Fprintf(p.out, "run %s of %s: %s on %s in %v%s\n", id, r.Job, r.Outcome, r.Holder, r.Duration, note)
	if r.Error != "" {
		fmt.Fprintf(p.out, "error: %s\n", r.Error)
	}
	return code, nil
}

// print writes v as -o asks, through the cli-runtime printers.
func (p *plugin) print(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	m["apiVersion"], m["kind"] = "leaderjob.dev/v1", "Status"
	obj := &unstructured.Unstructured{Object: m}
	var pr printers.ResourcePrinter = &printers.JSONPrinter{}
	if p.output == "yaml" {
		pr = &printers.YAMLPrinter{}
	}
	return pr.PrintObj(obj, p.out)
}

// AppStatus is one app in status's output.
type AppStatus struct {
	App    string      `json:"app"`
	Leader string      `json:"leader"`
	Epoch  *int64      `json:"epoch,omitempty"` // the Lease's transitions
	Fence  wire.Epoch  `json:"fence"`
	Jobs   []JobStatus `json:"jobs"`
}

// JobStatus is one job in status's output.
type JobStatus struct {
	Name string `json:"name"`
	// Owner is, in spread mode, the replica that last adopted the job.
	Owner         string           `json:"owner,omitempty"`
	LastClaimed   *wire.Claim      `json:"lastClaimed,omitempty"`
	LastCompleted *wire.Completion `json:"lastCompleted,omitempty"`
	LastSuccess   *wire.Completion `json:"lastSuccess,omitempty"`
	Paused        *Paused          `json:"paused,omitempty"`
}

// Paused is a job's pause as requested, and whether the leader has
// acknowledged it.
type Paused struct {
	wire.PauseRequest
	Acknowledged bool `json:"acknowledged"`
}

func (p *plugin) status(ctx context.Context, args []string) (int, error) {
	var apps []app
	if len(args) == 1 {
		a, err := p.oneApp(ctx, args[0])
		if err != nil {
			return exitFailed, err
		}
		apps = []app{a}
	} else {
		var err error
		if apps, err = p.apps(ctx); err != nil {
			return exitFailed, err
		}
	}
	var out []AppStatus
	for _, a := range apps {
		st := AppStatus{App: a.name, Fence: a.state.Fence, Jobs: []JobStatus{}}
		if l, err := p.cs.CoordinationV1().Leases(p.ns).Get(ctx, a.name, metav1.GetOptions{}); err == nil {
			if l.Spec.HolderIdentity != nil {
				st.Leader = *l.Spec.HolderIdentity
			}
			if l.Spec.LeaseTransitions != nil {
				n := int64(*l.Spec.LeaseTransitions)
				st.Epoch = &n
			}
		} else if !apierrors.IsNotFound(err) {
			fmt.Fprintf(p.errOut, "warning: %v\n", p.forbidden(err, "get", "leases.coordination.k8s.io", a.name))
		}
		if st.Leader == "" { // no Lease of that name: the last claimer
			for _, js := range a.state.Jobs {
				if js.Claimed != nil && js.Claimed.Epoch == a.state.Fence {
					st.Leader = js.Claimed.Holder
				}
			}
		}
		_, c, err := p.control(ctx, a.name)
		if err != nil {
			fmt.Fprintf(p.errOut, "warning: %v\n", err)
		}
		for _, name := range a.jobNames() {
			js := JobStatus{Name: name}
			if l := a.state.Jobs[name]; l != nil {
				js.LastClaimed, js.LastCompleted, js.LastSuccess, js.Owner = l.Claimed, l.Completed, l.Success, l.AdoptedBy
			}
			if pr, ok := c.Paused[name]; ok {
				ack, acked := a.state.Paused[name]
				js.Paused = &Paused{PauseRequest: pr, Acknowledged: acked && ack.Since.Equal(pr.Since)}
			}
			st.Jobs = append(st.Jobs, js)
		}
		out = append(out, st)
	}
	if p.output != "" {
		return exitOK, p.print(map[string]any{"namespace": p.ns, "apps": out})
	}
	if len(out) == 0 {
		fmt.Fprintf(p.out, "No leaderjob apps in namespace %s.\n", p.ns)
		return exitOK, nil
	}
	w := printers.GetNewTabWriter(p.out)
	for i, a := range out {
		if i > 0 {
			fmt.Fprintln(w)
		}
		epoch := "-"
		if a.Epoch != nil {
			epoch = fmt.Sprint(*a.Epoch)
		}
		fmt.Fprintf(w, "APP %s\tLEADER %s\tEPOCH %s\n", a.App, orDash(a.Leader), epoch)
		spread := slices.ContainsFunc(a.Jobs, func(j JobStatus) bool { return j.Owner != "" })
		if spread {
			fmt.Fprintln(w, "JOB\tOWNER\tLAST FIRE\tCLAIMED BY\tLAST OUTCOME\tDURATION\tENDED\tPAUSED\tERROR")
		} else {
			fmt.Fprintln(w, "JOB\tLAST FIRE\tCLAIMED BY\tLAST OUTCOME\tDURATION\tENDED\tPAUSED\tERROR")
		}
		for _, j := range a.Jobs {
			fire, by, outcome, dur, ended, errText := "-", "-", "-", "-", "-", ""
			if c := j.LastClaimed; c != nil {
				fire, by = c.At.Format(time.RFC3339), c.Holder
			}
			if c := j.LastCompleted; c != nil {
				outcome, dur, ended, errText = c.Outcome, c.Duration.String(), ago(p.now(), c.Ended), excerpt(c.Error)
			}
			paused := "-"
			if pz := j.Paused; pz != nil {
				paused = fmt.Sprintf("by %s %s", orDash(pz.By), ago(p.now(), pz.Since))
				if pz.Reason != "" {
					paused += ": " + pz.Reason
				}
				if !pz.Acknowledged {
					paused += " (not acknowledged yet)"
				}
			}
			if spread {
				fmt.Fprintf(w, "%s\t%s\t", j.Name, orDash(j.Owner))
			} else {
				fmt.Fprintf(w, "%s\t", j.Name)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fire, by, outcome, dur, ended, paused, errText)
		}
	}
	return exitOK, w.Flush()
}

// HistoryEntry is one completion in history's output.
type HistoryEntry struct {
	Job string `json:"job"`
	wire.Completion
}

func (p *plugin) history(ctx context.Context, args []string) (int, error) {
	a, err := p.oneApp(ctx, args[0])
	if err != nil {
		return exitFailed, err
	}
	jobs := a.jobNames()
	if len(args) == 2 {
		if err := a.checkJob(args[1]); err != nil {
			return exitFailed, err
		}
		jobs = args[1:]
	}
	var out []HistoryEntry
	for _, j := range jobs {
		if js := a.state.Jobs[j]; js != nil {
			for _, c := range js.History {
				out = append(out, HistoryEntry{Job: j, Completion: c})
			}
		}
	}
	slices.SortStableFunc(out, func(x, y HistoryEntry) int { return y.Ended.Compare(x.Ended) })
	if p.output != "" {
		return exitOK, p.print(map[string]any{"app": a.name, "history": out})
	}
	w := printers.GetNewTabWriter(p.out)
	fmt.Fprintln(w, "JOB\tFIRE\tHOLDER\tOUTCOME\tDURATION\tENDED\tERROR")
	for _, e := range out {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Job, e.At.Format(time.RFC3339), e.Holder, e.Outcome, e.Duration, ago(p.now(), e.Ended), excerpt(e.Error))
	}
	return exitOK, w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Truncate(time.Second).String() + " ago"
}

func excerpt(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// watchStatus shows status every --interval until ctx ends (SIGINT or
// SIGTERM), which is a normal end (exit 0). Each refresh is read whole
// before it is shown. On a terminal the screen is cleared and redrawn, as
// watch(1) does; to a pipe or file each refresh follows the last, after a
// header line with its time (with -o json or yaml, one document each, yaml
// ones separated by ---). An error on the first refresh (an unknown app,
// RBAC) ends the command; a later one (the apiserver restarting, say) is
// reported and the next refresh tries again.
func (p *plugin) watchStatus(ctx context.Context, args []string) (int, error) {
	out, errOut := p.out, p.errOut
	defer func() { p.out, p.errOut = out, errOut }()
	tty := isTerminal(out)
	what := "kubectl leaderjob status"
	if len(args) == 1 {
		what += " " + args[0]
	}
	for n := 0; ; n++ {
		var buf, warnings bytes.Buffer
		p.out = &buf
		if tty {
			p.errOut = &warnings // shown under the frame, which clears the screen
		}
		code, err := p.status(ctx, args)
		p.out, p.errOut = out, errOut
		if err != nil && ctx.Err() != nil {
			return exitOK, nil
		}
		if err != nil {
			if n == 0 {
				return code, err
			}
			fmt.Fprintf(p.errOut, "%s error: %v\n", p.now().Format(time.TimeOnly), err)
		} else {
			var frame bytes.Buffer
			switch {
			case tty:
				frame.WriteString("\x1b[H\x1b[2J")
			case n > 0 && p.output == "yaml":
				frame.WriteString("---\n")
			case n > 0 && p.output == "":
				frame.WriteString("\n")
			}
			if p.output == "" {
				fmt.Fprintf(&frame, "Every %v: %s (namespace %s)\t%s\n\n", p.interval, what, p.ns, p.now().Format(time.RFC3339))
			}
			frame.Write(buf.Bytes())
			if _, err := out.Write(frame.Bytes()); err != nil {
				return exitFailed, err // the reader went away
			}
		}
		_, _ = errOut.Write(warnings.Bytes())
		select {
		case <-ctx.Done():
			return exitOK, nil
		case <-p.after(p.interval):
		}
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) // /dev/null is a character device, not a terminal
}
