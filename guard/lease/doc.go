// Package lease is a [guard.Guard] backed by a coordination.k8s.io/v1 Lease:
// the replicas that share a Lease name elect one leader with client-go's
// leader election, and Check says "leader" on that one only.
//
// # What "leader" means here
//
// client-go's LeaderElector.IsLeader reports the last holder it observed; it
// stays true after renewals start failing and while the process is frozen
// (SIGSTOP, a stalled VM) past the lease. This package keeps its own answer.
// Check says "leader" only while
//
//   - the elector is in its leading phase (its leading context is alive), and
//   - the last successful renewal of the Lease by this replica started less
//     than RenewDeadline ago (monotonic clock).
//
// Standbys take the Lease over no earlier than LeaseDuration after they last
// saw it change, and LeaseDuration > RenewDeadline, so the old leader stops
// saying "leader" before anyone else can start. A process that was frozen
// past its lease answers "not leader" after it resumes until it has renewed
// again — which it can only do if nobody took the Lease meanwhile, because
// every write is a compare-and-swap on the Lease's resourceVersion.
//
// Each uninterrupted stretch of "leader" answers is a term. The Decision of a
// term carries a Lost channel that is closed when the term ends (the elector
// lost the Lease, a renewal is overdue, or the guard is released), so
// [guard.Run] cancels running jobs' contexts with cause
// [guard.ErrLeadershipLost].
//
// # Fencing
//
// Leader election alone cannot stop a leader that lost its term without
// noticing (a long GC pause in the middle of a write) from writing after its
// successor started. Decision.Epoch is the Lease's spec.leaseTransitions,
// which grows by one every time the Lease changes hands (HasEpoch is true).
// A job that writes to a shared store passes the epoch along and lets the
// store refuse writes from an older epoch, for example:
//
//	d, _ := guard.DecisionFrom(ctx)
//	res, err := db.ExecContext(ctx,
//		`UPDATE reports SET body = $1, epoch = $2 WHERE id = $3 AND epoch <= $2`,
//		body, d.Epoch, id)
//	// zero rows affected: a newer leader has written; stop.
//
// The epoch does not change when the same replica keeps the Lease, nor when
// a term ends for a late renewal and the next renewal succeeds (nobody else
// can have taken the Lease in between).
//
// # Hand-off
//
// Release (called by the application after it has drained its jobs) stops
// the elector, which clears the Lease's holder (client-go's
// ReleaseOnCancel). Standbys watch the Lease object; when they see it
// released or deleted, or see its holder's lease run out by their own
// observation, they restart their elector, whose first attempt is
// immediate, instead of waiting for client-go's retry tick (RetryPeriod plus
// up to 120% jitter). A graceful hand-off then takes one watch event plus
// one request (the update; the read is served by the watch) — milliseconds
// on a healthy apiserver.
//
// While the watch is up, a standby's elector reads the Lease as the watch
// last showed it instead of asking the apiserver: it keeps client-go's
// rules and timing (it notices a renewal, or its absence, on its own retry
// tick, and takes the Lease over once it has stayed unchanged for
// LeaseDuration), but sends no requests while another replica renews. A
// Lease seen on the watch is as good as a read for the compare-and-swap that
// guards every write; a write based on a stale one fails with a conflict,
// after which the next read goes to the apiserver. Reads go to the
// apiserver, as in client-go, while the watch is down, before it has shown
// the Lease, after the Lease was deleted, and while this replica holds the
// Lease. Without the watch (no permission, [WithoutWatch], an apiserver that
// keeps failing it) the guard still works: standbys poll on client-go's
// retry tick and notice a release on their next attempt.
//
// # Permissions
//
// The replica's identity needs, in the Lease's namespace, on
// leases.coordination.k8s.io: get, create, update, and watch (optional, for
// the fast hand-off). get, update and watch may be limited to the Lease's
// name with resourceNames; create cannot. See examples/kubernetes/lease.
//
// New refuses a Lease name that is not a valid object name (an RFC 1123
// subdomain) and a namespace that is not a valid namespace name (an RFC 1123
// label), naming the option to change (or the name WithSettingNames gives
// it: package kube names the environment variables).
//
// A request the apiserver refuses for a reason no retry fixes by itself —
// missing permissions, rejected credentials, a missing namespace, a request
// it finds invalid — is a configuration problem: Check returns an
// [*AccessError] (wrapping [guard.ErrForbidden] unless the request was
// invalid, so skipped runs say "forbidden"), Ready returns it too, with the
// rule or object that is needed, and it is logged as a warning at most once
// per [WithErrorLogPeriod]. Healthy stays nil: a restart would not help.
// While the problem lasts the guard sends one request per error log period
// instead of one per retry tick, so that fixing the cause (granting the
// Role, creating the namespace) makes it contend again within about one
// period, without a restart.
//
// # Traffic and logging
//
// Election requests use their own client: a copy of the given rest.Config
// with a request timeout of RenewDeadline/2, QPS 5, burst 10 and the user
// agent "leaderjob/<name>". A request that fails or times out (a slow link
// to the apiserver) makes Check return an error wrapping
// [guard.ErrUnavailable] that names the request ("renew request timed out
// after 5s"); it does not wrap [context.DeadlineExceeded], so a caller does
// not take it for its own check's timeout.
//
// The leader sends one update per RetryPeriod. A standby whose watch is up
// sends nothing while the leader renews; without the watch, one get per
// 1–2.2 RetryPeriods. Each replica keeps one watch open, re-established
// every 5–10 minutes. With WithRelease, every replica also writes its
// hand-off record once every four LeaseDurations.
//
// client-go's messages (the elector's and the REST client's, errors
// included) are routed to the guard's slog logger at debug level, through
// the context logger client-go reads: every request the guard sends carries
// it, so nothing is written through klog's global logger (stderr), and
// nothing process-wide is changed. A logger above debug level gets none of
// them. The guard logs the events that matter itself: contending, leading,
// leadership ended, leader changed, released, and request failures (at most
// once per [WithErrorLogPeriod] while they last).
package lease
