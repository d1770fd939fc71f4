package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// LedgerFormat is the format version of the Ledger this release reads and
// writes (Ledger.Version). A reader refuses a higher one, which a newer
// release wrote, and a writer leaves it alone.
const LedgerFormat = 1

// ErrNewerFormat: the stored ledger has a format version this release does
// not know (see FormatError). Match it with errors.Is.
var ErrNewerFormat = errors.New("ledger: written by a newer release")

// FormatError reports a ledger of a format newer than LedgerFormat. It
// wraps ErrNewerFormat.
type FormatError struct {
	Version int // the ledger's format version
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%v: format %d, this release reads up to %d", ErrNewerFormat, e.Version, LedgerFormat)
}

// Unwrap returns ErrNewerFormat.
func (e *FormatError) Unwrap() error { return ErrNewerFormat }

// ErrNotALedger: the stored data is not a leaderjob ledger: not JSON, JSON
// of another shape (null, a list, an object without the format version),
// or a ledger that breaks the rules every release writes by (see
// Ledger.Validate). Readers refuse it, and writers leave it alone: it
// may be a hand edit gone wrong, or another program's document. Match it
// with errors.Is.
var ErrNotALedger = errors.New("ledger: not a leaderjob ledger")

// DecodeLedger reads a stored ledger. Empty data (or only white space) is
// no ledger yet: a zero Ledger and no error.
//
// It reads the format version first: a ledger of a newer format is a
// *FormatError (wrapping ErrNewerFormat), whatever the rest holds, so
// that it is refused rather than misread. Anything else that is not a
// ledger of this format or an earlier one is an error wrapping
// ErrNotALedger that says what is wrong: data that is not JSON, JSON that
// is not an object (null, a list), an object without the "version" key
// (every release writes it), or a document Ledger.Validate refuses.
func DecodeLedger(data []byte) (Ledger, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Ledger{}, nil
	}
	if bytes.Equal(data, []byte("null")) {
		return Ledger{}, fmt.Errorf("%w: the document is JSON null, not an object", ErrNotALedger)
	}
	if data[0] != '{' {
		if !json.Valid(data) {
			return Ledger{}, fmt.Errorf("%w: the data is not JSON", ErrNotALedger)
		}
		return Ledger{}, fmt.Errorf("%w: the document is not a JSON object", ErrNotALedger)
	}
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Ledger{}, fmt.Errorf("%w: %w", ErrNotALedger, err)
	}
	if head.Version == nil {
		return Ledger{}, fmt.Errorf("%w: the object has no format version (key \"version\"), which every ledger has", ErrNotALedger)
	}
	if *head.Version > LedgerFormat {
		return Ledger{}, &FormatError{Version: *head.Version}
	}
	var l Ledger
	if err := json.Unmarshal(data, &l); err != nil {
		return Ledger{}, fmt.Errorf("%w: %w", ErrNotALedger, err)
	}
	if err := l.Validate(); err != nil {
		return Ledger{}, err
	}
	return l, nil
}

// EncodeLedger returns the stored encoding of l: compact JSON. A ledger
// with no format version yet (Version 0) is written with LedgerFormat,
// and one that Validate refuses is not written (the error says why), so
// that no writer stores what readers refuse.
func EncodeLedger(l Ledger) ([]byte, error) {
	if l.Version == 0 {
		l.Version = LedgerFormat
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(l)
}

// Validate checks l against the rules every release writes a ledger by,
// so that a document that only looks like one is not taken for the
// fleet's memory (and a job's fires run again, or never): an error
// wrapping ErrNotALedger names the first rule broken, or a *FormatError
// when l is of a newer format. The rules:
//
//   - the format version is not negative; version 0 marks a ledger never
//     written, which holds no jobs, run records or pauses (a fence and
//     job names are allowed: earlier releases wrote them so);
//   - each job has a name and a record (not null); its claim, last
//     completion, last success and history name the job and have a fire
//     time (at);
//   - its recent fire times are set, newest first, none after its claim
//     (there is no recent fire without a claim);
//   - each run record is not null (a null would read as a request never
//     run, and run it again).
//
// Fields a reader does not know are not checked. Times are not compared
// with any clock here: a claim far in the future is package ledger's
// concern (ledger.MaxAhead).
func (l Ledger) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrNotALedger, fmt.Sprintf(format, args...))
	}
	switch {
	case l.Version < 0:
		return bad("the format version %d is negative", l.Version)
	case l.Version > LedgerFormat:
		return &FormatError{Version: l.Version}
	case l.Version == 0 && (len(l.Jobs) > 0 || len(l.Runs) > 0 || len(l.Paused) > 0):
		return bad("format version 0 marks a ledger never written, yet it holds %d jobs, %d run records and %d pauses",
			len(l.Jobs), len(l.Runs), len(l.Paused))
	}
	if l.Shards < 0 || l.Shards > MaxLedgerShards {
		return bad("it is spread over %d objects, want 0 to %d", l.Shards, MaxLedgerShards)
	}
	if l.Tokens < 0 || l.Owner < 0 || l.Owner > l.Tokens {
		return bad("fencing tokens out of order: owner %d, last issued %d", l.Owner, l.Tokens)
	}
	for _, name := range slices.Sorted(maps.Keys(l.Jobs)) {
		if err := validateJob(name, l.Jobs[name]); err != nil {
			return bad("%s", err)
		}
		if f := l.Jobs[name].Fence; f < 0 || f > l.Tokens {
			return bad("job %q: its fence %d is not a token the ledger issued (last %d)", name, f, l.Tokens)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(l.Runs)) {
		if l.Runs[id] == nil {
			return bad("run record %q is null", id)
		}
	}
	return nil
}

// validateJob checks the record of job name (see Ledger.Validate).
func validateJob(name string, js *JobState) error {
	if name == "" {
		return errors.New("a job has an empty name")
	}
	if js == nil {
		return fmt.Errorf("job %q is null", name)
	}
	check := func(what, job string, at time.Time) error {
		if job != name {
			return fmt.Errorf("job %q: its %s names job %q", name, what, job)
		}
		if at.IsZero() {
			return fmt.Errorf("job %q: its %s has no fire time (at)", name, what)
		}
		return nil
	}
	if c := js.Claimed; c != nil {
		if err := check("claim", c.Job, c.At); err != nil {
			return err
		}
	}
	if c := js.Completed; c != nil {
		if err := check("last completion", c.Job, c.At); err != nil {
			return err
		}
	}
	if c := js.Success; c != nil {
		if err := check("last success", c.Job, c.At); err != nil {
			return err
		}
	}
	for i := range js.History {
		if err := check(fmt.Sprintf("history entry %d", i), js.History[i].Job, js.History[i].At); err != nil {
			return err
		}
	}
	if !js.GaveUp.IsZero() && js.Claimed == nil {
		return fmt.Errorf("job %q: it has fires given up but no claim", name)
	}
	for i := range js.Open {
		c := &js.Open[i]
		if err := check(fmt.Sprintf("open claim %d", i), c.Job, c.At); err != nil {
			return err
		}
		if js.Claimed == nil || !c.At.Before(js.Claimed.At) {
			return fmt.Errorf("job %q: open claim %d is not older than its claim", name, i)
		}
	}
	for i, t := range js.Recent {
		switch {
		case t.IsZero():
			return fmt.Errorf("job %q: recent fire %d has no time", name, i)
		case js.Claimed == nil:
			return fmt.Errorf("job %q: it has recent fires but no claim", name)
		case t.After(js.Claimed.At):
			return fmt.Errorf("job %q: recent fire %s is after its claim of %s", name, t.Format(time.RFC3339Nano), js.Claimed.At.Format(time.RFC3339Nano))
		case i > 0 && !t.Before(js.Recent[i-1]):
			return fmt.Errorf("job %q: its recent fires are not newest first", name)
		}
	}
	return nil
}

// Ledger is the fleet's ledger of one app, as stored (package ledger's
// State, which adds the fencing rule): for each job the last fire claimed,
// how the last fires ended, and the operators' requests the leader
// acknowledged. Package ledger bounds its size.
type Ledger struct {
	// Version is the format version, LedgerFormat when written by this
	// release; 0 in a ledger never written.
	Version int                  `json:"version"`
	Fence   Epoch                `json:"fence"`
	Jobs    map[string]*JobState `json:"jobs,omitempty"`
	// Paused holds the pauses the leader acknowledged, by job (see Pause).
	Paused map[string]Pause `json:"paused,omitempty"`
	// Runs holds operators' run requests, by request id (see Run).
	Runs map[string]*Run `json:"runs,omitempty"`
	// JobNames are the jobs the last leader scheduled (sorted), whether
	// they claim their fires or not, so that tools can check a name.
	JobNames []string `json:"job_names,omitempty"`
	// Tokens is the last fencing token the ledger issued (ledger's
	// State.Register): each new term of a leader registers and gets a
	// larger one, which its claims and completions carry.
	Tokens int64 `json:"tokens,omitempty"`
	// Owner is the token of the term that took ownership of every job (a
	// single leader's, when it registered).
	Owner int64 `json:"owner,omitempty"`
	// Shards is how many objects the ledger is spread over (see
	// SplitLedger), kept in the ledger ConfigMap's document only; 0 and 1
	// both mean one. Releases that do not know the field read only that
	// object.
	Shards int `json:"shard_count,omitempty"`
}

// Epoch fences writes: the term of the leader that writes.
type Epoch struct {
	Scope string `json:"scope"` // the leadership source's identity, such as a Lease's UID
	N     int64  `json:"n"`     // its transition count at the start of the term
}

// Claim records that a leader's term runs a fire.
type Claim struct {
	Job     string    `json:"job"`
	At      time.Time `json:"at"`  // the fire's scheduled instant
	Key     string    `json:"key"` // its idempotency key
	Epoch   Epoch     `json:"epoch"`
	ClaimID string    `json:"claim_id"` // unique to the claiming process's term
	Holder  string    `json:"holder"`   // the claiming replica
	CatchUp bool      `json:"catch_up,omitempty"`
	Claimed time.Time `json:"claimed"` // when the claim was made (wall clock)
	// Token is the claiming term's fencing token (0: none, a writer that
	// predates tokens: the Epoch fences it).
	Token int64 `json:"token,omitempty"`
}

// Completion records how a claimed fire ended.
type Completion struct {
	Job      string        `json:"job"`
	At       time.Time     `json:"at"`
	ClaimID  string        `json:"claim_id"`
	Holder   string        `json:"holder"`
	Outcome  string        `json:"outcome"` // an Outcome: ran, failed, panicked, canceled
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"` // an excerpt, at most ledger.MaxErrorLen bytes
	Ended    time.Time     `json:"ended"`
	Token    int64         `json:"token,omitempty"` // the completing term's fencing token
}

// JobState is what the ledger keeps of one job.
type JobState struct {
	Claimed   *Claim       `json:"claimed,omitempty"`   // the last fire claimed
	Completed *Completion  `json:"completed,omitempty"` // the last fire completed
	Success   *Completion  `json:"success,omitempty"`   // the last fire that ran without error
	History   []Completion `json:"history,omitempty"`   // newest first, at most ledger.HistoryLen
	// Recent holds the instants of the fires claimed lately, newest first,
	// at most ledger.RecentLen: a missed fire older than the last claimed
	// one (caught up after a newer fire was claimed) may still be claimed
	// once, if it is not among them and not older than the oldest kept
	// (a fire before the job's first claim was never missed).
	Recent []time.Time `json:"recent,omitempty"`
	// Busy holds, newest first, the fires a replica skipped because another
	// live replica's run of the job was still going (spread mode): handled,
	// never caught up, unless a completion shows the run had ended by the
	// fire's time (then the completion drops it). At most 16.
	Busy []time.Time `json:"busy,omitempty"`
	// Open holds the claims older than Claimed that were not completed
	// yet (a run that overran its period, a catch-up run), oldest first,
	// at most ledger.OpenLen: when the term that made one ends without
	// completing it, the next leader runs that fire again (the
	// at-least-once case), as it does for Claimed. Releases that do not
	// know the field ignore it.
	Open []Claim `json:"open,omitempty"`
	// GaveUp: fires at or before it that no term claimed are not to be run:
	// a catch-up gave them up (its cap of missed fires). Open claims are
	// still run again.
	GaveUp time.Time `json:"gave_up,omitzero"`
	// Fence is the highest fencing token that claimed the job: a claim or
	// completion of the job with a lower token (nor lower than
	// Ledger.Owner) is refused.
	Fence int64 `json:"fence,omitempty"`
	// AdoptedBy is, in spread mode, the replica that last adopted the job
	// (its owner as far as the ledger tells); "" otherwise.
	AdoptedBy string `json:"adopted_by,omitempty"`
}

// OpenAt returns the open claim of the fire at, if any.
func (js *JobState) OpenAt(at time.Time) (Claim, bool) {
	if js == nil {
		return Claim{}, false
	}
	for _, c := range js.Open {
		if c.At.Equal(at) {
			return c, true
		}
	}
	return Claim{}, false
}

// Handled reports whether the fire at needs no run as far as the ledger
// tells: it was claimed (the last claim, or one of Recent), skipped while
// another replica ran the job (Busy), a catch-up gave it up (at or before
// GaveUp, and not open), or it is older than what the ledger remembers. A
// job with no claim has handled nothing.
func (js *JobState) Handled(at time.Time) bool {
	if js == nil || js.Claimed == nil {
		return false
	}
	if _, open := js.OpenAt(at); !open && !at.After(js.GaveUp) && !js.GaveUp.IsZero() {
		return true
	}
	if slices.ContainsFunc(js.Busy, at.Equal) {
		if _, open := js.OpenAt(at); !open {
			return true
		}
	}
	if !at.Before(js.Claimed.At) {
		return at.Equal(js.Claimed.At)
	}
	n := len(js.Recent)
	if n == 0 || at.Before(js.Recent[n-1]) {
		// Before the oldest claim remembered: before the job's history
		// began, or beyond what the ledger keeps. Either way not a fire
		// to catch up.
		return true
	}
	for _, t := range js.Recent {
		if t.Equal(at) {
			return true
		}
	}
	return false
}

// Pause is the leader's acknowledgement of an operator's PauseRequest: the
// pause as the operator wrote it (By, Reason, Since) and when and by
// which replica it was acknowledged. While a job is in Ledger.Paused its
// fires are skipped (and claimed, so that no catch-up runs them later).
type Pause struct {
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
	Acked  time.Time `json:"acked"`
	Holder string    `json:"holder"`
}

// Run records an operator's RunRequest (by its request id): the claim of
// the leader that took it, and how it ended. A request id is run once
// fleet-wide: the record is kept twice RunRequestExpiry after Requested,
// and the request is refused once it expired (RunRequest.Check).
type Run struct {
	Job       string        `json:"job"`
	By        string        `json:"by,omitempty"`
	Requested time.Time     `json:"requested"`
	Force     bool          `json:"force,omitempty"`
	Holder    string        `json:"holder"`
	ClaimID   string        `json:"claim_id"`
	Epoch     Epoch         `json:"epoch"`
	Claimed   time.Time     `json:"claimed"`
	Outcome   string        `json:"outcome,omitempty"` // "" while running, else as written by RunOutcome
	Error     string        `json:"error,omitempty"`
	Duration  time.Duration `json:"duration,omitempty"`
	Ended     time.Time     `json:"ended,omitzero"`
}

// Done reports whether the run request was answered.
func (r *Run) Done() bool { return r != nil && r.Outcome != "" }
