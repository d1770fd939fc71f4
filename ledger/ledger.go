// Package ledger is the fleet's memory of its fires: for each job of an
// app, the last scheduled fire claimed (by which leader's term), how the
// last completed fire ended, and the last success. A leader claims a fire
// before it runs it, so that a fire is never run by two terms, and a new
// leader can tell which fires were missed.
//
// This package holds the types, the fencing rule (State.Claim,
// State.Complete: pure functions, so that every store applies the same
// rule) and a Ledger built on any Backend that offers compare-and-swap
// (NewLedger), with an in-memory Backend (NewMemory). Package kube provides
// a Backend on a Kubernetes ConfigMap. It depends on the standard library
// only.
//
// # The fencing rule
//
// An Epoch is (Scope, N): the scope is the identity of the leadership
// source (a Lease's UID: a deleted and re-created Lease starts a new
// scope), N its transition count when the term began. Epochs compare only
// within one scope. Each claim also carries a ClaimID unique to the
// claiming process's term. A claim of fire (job, at) by epoch e succeeds
// when:
//
//  1. the ledger's fence is in another scope (or none): the fence is reset
//     to e (State.Claim reports the reset, for a warning), or e.N >= the
//     fence's N; a lower N is ErrFenced (a deposed leader);
//  2. the job's last claimed fire is before at (a new fire), or is at
//     itself with the same ClaimID (the claim's own earlier write, whose
//     reply was lost), or is at itself by another ClaimID that never
//     completed (a term that died mid-run: the claim is re-run, Rerun is
//     true: the one at-least-once case); a fire completed already is
//     ErrHandled;
//  3. a fire older than the last claimed one is claimed when it is open
//     (claimed and not completed: JobState.Open) by another ClaimID (a
//     re-run, as in rule 2), or when no claim of it is remembered within
//     Recent (a catch-up); otherwise it is ErrHandled.
//
// A claim that supersedes a last claim not yet completed (a run that
// overran its period, or whose term died) keeps that claim in Open, at
// most OpenLen of them, so that every dead claim, not only the newest, is
// run again by the next leader. A successful claim raises the fence to e.
// A completion is recorded only for the claim that holds the fire (same
// job, at and ClaimID, the newest or an open one); any other is ErrFenced.
//
// # Fencing tokens
//
// Epochs borrowed from the leadership source cannot order everything: equal
// epochs (a sidecar that gives none), a deleted and re-created Lease (a new
// scope, N from 0), a late write from an older term. So the ledger issues
// tokens of its own. A leader's term registers when it begins
// (State.Register, written with compare-and-swap like every change) and
// gets a token larger than any issued before; the term takes ownership of
// every job (State.Owner). Its claims and completions carry the token, and
// one whose token is below the job's fence (the highest token that claimed
// the job, and at least Owner) is ErrFenced: a later term's registration
// shuts an older term out of every job at once, whatever their epochs, and
// an open claim is taken over only by a later term. A term that its source
// already superseded (a higher epoch of the same scope wrote the ledger)
// does not register. Claims without a token (releases that predate tokens)
// keep the epoch rule above. Tokens are the larger of the last one plus
// one and the registering clock in Unix milliseconds, so they still grow
// after such a release rewrote the ledger without them.
//
// Invariants: tokens only grow; every job's fence is a token the ledger
// issued; a claim or completion the rule accepted carries a token at least
// its job's fence, and no later write lowers a fence. The interleavings are
// pinned one by one in TestFencingTokens (equal epochs, a re-created Lease,
// a claim write delayed past a newer term's claim, a completion after a
// newer term registered, a writer that dropped the tokens).
//
// A job's stored claim more than MaxAhead (a day) after a new claim of the
// job, its fire and its claiming clock (a hand edit, a replica whose clock
// ran ahead) is not trusted: rule 2 would take every fire before it for
// handled. The first claim of a fire after the job's newest trusted
// instant sets it aside, takes its place (ClaimResult.SetAside; the Ledger
// logs an error), and the job goes on.
//
// # Size
//
// A job's record is bounded, whatever its history: one claim, at most
// OpenLen open claims, RecentLen recent instants, a GaveUp watermark and
// HistoryLen+2 completions (the last, the last success, the history), the
// last two errors cut to MaxErrorLen bytes and the history's to
// HistoryErrorLen. A one-shot job keeps the records of its
// newest ReleasesKept releases (State.PruneReleases), and the record of a
// job the App no longer schedules goes after IdleGrace idle
// (State.PruneIdle): the State grows with the jobs an app schedules, not
// with time or releases. How large that is, measured, is in the
// repository's docs/measured.md. A Backend with a size limit refuses a
// larger State with ErrTooLarge (see EncodedSize), which fails the claims
// of that write. Operators' requests add one pause per paused job, and
// the records of the run requests made in the last RunRetention (two
// days), at most RunsMax.
//
// An app with more jobs than one object holds spreads its State over
// several (NewShardedBackend): each job's record lives in one object, a
// write stores only the objects that changed, and an object over its
// limit fails only its own jobs' claims (PartialError). The fencing rule
// is the same: every object keeps a copy of the tokens, which a term's
// registration raises in each, so that a claim is checked against its
// job's fence in the object it writes.
//
// # Run requests
//
// A run request id runs at most once fleet-wide, however long operators
// leave it listed: a request is claimed only within wire.RunRequestExpiry
// (a day) of its request time (State.ClaimRun: ErrExpired after), and its
// record is kept RunRetention after that time, twice as long, so that a
// request whose record is gone has expired for any clock less than a day
// off. Records are dropped by age, never to make room: beyond RunsMax
// records younger than RunRetention, a new request waits (ErrTooLarge).
//
// # The stored document
//
// The types a State is made of, and its encoding (a backend stores
// wire.EncodeLedger of it, and reads it with wire.DecodeLedger, which
// refuses a newer format, and anything that is not a ledger), are package
// wire's: other programs read the ledger too. Their names here are
// aliases kept for compatibility.
package ledger

import (
	"context"
	"errors"

	"github.com/leaderjob/leaderjob/wire"
)

// FormatVersion is the version of State's encoding. A State with a higher
// version was written by a newer release: it is not overwritten.
//
// Deprecated: use wire.LedgerFormat.
const FormatVersion = wire.LedgerFormat

// Errors of claims and completions.
var (
	// ErrFenced: a newer term of the same source has written the ledger
	// (this replica was deposed), or the completion's claim is not the one
	// that holds the fire.
	ErrFenced = errors.New("ledger: fenced by a newer leader")
	// ErrHandled: the fire was completed, or an older one than the last
	// claimed: not to be run (again).
	ErrHandled = errors.New("ledger: fire already handled")
	// ErrUnavailable: the backend could not be read or written.
	ErrUnavailable = errors.New("ledger: unavailable")
	// ErrConflict is returned by Backend.Store when the version changed.
	ErrConflict = errors.New("ledger: version conflict")
	// ErrNewerFormat: the stored State has a FormatVersion this release
	// does not know; it is left alone.
	//
	// Deprecated: use wire.ErrNewerFormat, the same error.
	ErrNewerFormat = wire.ErrNewerFormat
	// ErrCorrupt: the stored State cannot be decoded, or is not a ledger
	// (wire.ErrNotALedger: JSON null, an object without a format version,
	// a job set to null, ...). Claims fail and nothing is written over
	// it; the operator puts the ledger back or deletes the object to
	// recover (the next claim starts an empty ledger).
	ErrCorrupt = errors.New("ledger: corrupt")
	// ErrTooLarge: the State would exceed the backend's size limit.
	ErrTooLarge = errors.New("ledger: too large")
)

// Epoch fences writes: the term of the leader that writes.
//
// Deprecated: use wire.Epoch, the same type.
type Epoch = wire.Epoch

// Claim asks to record that the writer's term runs a fire.
//
// Deprecated: use wire.Claim, the same type.
type Claim = wire.Claim

// Completion records how a claimed fire ended.
//
// Deprecated: use wire.Completion, the same type.
type Completion = wire.Completion

// MaxErrorLen bounds Completion.Error as stored in a job's last completion
// and last success; HistoryLen bounds the completions kept per job, and
// HistoryErrorLen the error of each (status views show it on one line).
const (
	MaxErrorLen     = 256
	HistoryLen      = 10
	HistoryErrorLen = 80
)

// OpenLen bounds JobState.Open: the uncompleted claims older than the
// newest that a job keeps, so that the next leader can run them again. A
// job that overruns more often than that between completions loses the
// oldest (counted as handled).
const OpenLen = 16

// JobState is what the ledger keeps of one job.
//
// Deprecated: use wire.JobState, the same type.
type JobState = wire.JobState

// RecentLen bounds JobState.Recent: catch-up can reach back that many fires
// of a job behind its newest claim.
const RecentLen = 128

// State is the whole ledger of one app: the stored document, wire.Ledger,
// with the fencing rule's methods. It converts to and from wire.Ledger
// (wire.Ledger(s), State(l)) at no cost.
type State wire.Ledger

// ClaimResult is the answer to one claim.
type ClaimResult struct {
	Err        error // nil, ErrFenced, ErrHandled, or an ErrUnavailable/ErrTooLarge/... of the write
	Rerun      bool  // the fire was claimed by a term that never completed it
	ScopeReset bool  // the fence was in another scope and was reset
	// SetAside is the job's stored claim that this claim replaced because
	// it lay more than MaxAhead after the claiming clock (a hand edit, a
	// replica whose clock ran ahead): treated as corrupt, not as a fire
	// handled. nil when none was.
	SetAside *Claim
}

// Ledger records claims and completions. Implementations are safe for
// concurrent use; claims made at about the same time may be written
// together.
type Ledger interface {
	// Claim records claims; the results are in the order of claims. The
	// error is for the call as a whole (ctx ended); per-claim failures are
	// in the results, and a claim whose write failed must not be run.
	Claim(ctx context.Context, claims []wire.Claim) ([]ClaimResult, error)
	// Complete records how a claimed fire ended.
	Complete(ctx context.Context, c wire.Completion) error
	// Snapshot returns the ledger as the backend has it now (the last State
	// seen when it cannot be read): a copy, for status pages and catch-up.
	Snapshot(ctx context.Context) (State, error)
	// Update applies fn to the stored State and writes it if fn reports a
	// change (fn may be applied again after a conflict: it must depend on
	// the State given only). fn's error is returned, and nothing written.
	Update(ctx context.Context, fn func(s *State) (bool, error)) error
}

// Backend stores one State with compare-and-swap: Load returns it with an
// opaque version ("" and a zero State when there is none yet), Store writes
// it if the version is still the one given, else returns ErrConflict.
type Backend interface {
	Load(ctx context.Context) (State, string, error)
	Store(ctx context.Context, s State, version string) error
}
