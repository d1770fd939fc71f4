// Package leaderjob runs scheduled jobs on exactly one replica of a
// Kubernetes Deployment, declared with Spring's @Scheduled vocabulary.
//
// An App holds named jobs, each with a Schedule (Cron, FixedRate,
// FixedDelay, Once; WithInitialDelay, InZone) and a Func. Run schedules them
// on gocron v2 and passes every fire through the App's guard (package guard):
// the job is called only when the guard answers, right before the run and
// within a short deadline, that this replica leads. Every attempt, whether
// it ran or was skipped, is one log record ("job run") and one sample of
// leaderjob_runs_total.
//
// # Choosing the guard
//
// New reads LEADERJOB_GUARD: always, never, or auto (always outside a
// cluster, with a warning), and — with package kube's sources, the one
// import a main adds (leaderjob.New(name, kube.Guards())) — lease (an
// in-process Lease elector, package guard/lease) and sidecar (a
// leader-elector sidecar, package guard/sidecar); auto picks lease inside a
// cluster. This package imports nothing under k8s.io, so programs and job
// tests that do not elect stay small. WithGuard overrides the environment.
// The README lists every variable.
//
// # Semantics
//
//   - A job never overlaps itself: a fire that comes while the previous run
//     is going is skipped, with a record (reason already_running).
//   - Errors and panics are logged and counted; the schedule continues.
//   - The run context carries RunInfo and ends on timeout (ErrRunTimeout),
//     shutdown (guard.ErrShuttingDown) and, with guards that can tell, on
//     loss of leadership (guard.ErrLeadershipLost); context.Cause says which.
//   - Shutdown stops scheduling, cancels running jobs and waits for them up to
//     the drain timeout, and only then releases the guard, so a standby can
//     take over at once without overlapping a job still running here.
//
// # Missed fires
//
// Jobs with a catch-up policy (WithCatchUp, LEADERJOB_CATCH_UP), one-shot
// jobs and jobs with WithClaim claim each fire in the fleet's ledger
// (package ledger; WithLedger, or the one the guard source brings) before
// they run: a deposed leader's claim is refused, a fire is run once, and a
// new leader runs the fires the fleet missed within the policy's window.
// RunInfo.Key is the fire's idempotency key.
//
// # Observability
//
// Each run attempt the guard lets through is also one OpenTelemetry span,
// "job <name>", in the job's context (WithTracerProvider; by default the
// global provider, a no-op until a program installs an SDK); a standby's
// fires start none. leaderjob_fire_lag_seconds and
// leaderjob_runs_in_progress join the Prometheus series, and a job's series
// exist at zero from Schedule. docs/observability.md has the attributes.
//
// # Testing
//
// Package leaderjobtest runs an App against a fake guard and a fake clock.
package leaderjob
