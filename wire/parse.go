package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxNameBytes bounds a leader name. Pod names are at most 253 bytes; the
// slack is for elector identities that add a suffix.
const MaxNameBytes = 512

// Errors of ParseAnswer, held by an [*AnswerError].
var (
	// ErrMalformedAnswer: the body is not a leader answer (not a JSON
	// object, invalid UTF-8, wrong field types, another protocol).
	ErrMalformedAnswer = errors.New("malformed leader answer")
	// ErrNoLeader: a well-formed answer that names no leader ({},
	// {"name":""}, {"name":null}).
	ErrNoLeader = errors.New("the answer names no leader")
)

// AnswerError is the error of ParseAnswer: what is wrong with the answer,
// for humans, and what to do about it.
type AnswerError struct {
	Err  error  // ErrMalformedAnswer or ErrNoLeader
	What string // what is wrong
	Hint string // what to do about it; may be ""
	// NotJSON reports a body that is not a JSON object at all (empty, not
	// UTF-8, not JSON): most likely another server answered. Its Hint asks
	// whether another server is listening "there"; a caller that knows
	// the address may say where.
	NotJSON bool
}

func (e *AnswerError) Error() string {
	if e.Hint == "" {
		return e.What
	}
	return e.What + ": " + e.Hint
}

// Unwrap returns Err.
func (e *AnswerError) Unwrap() error { return e.Err }

// Leader is an Answer as ParseAnswer reads it: its times parsed, and
// whether each optional field was present.
type Leader struct {
	// Name is the leader's name as the answer gives it, to be compared
	// byte for byte. It is never "" when ParseAnswer returns a nil error.
	Name string
	// LastUpdate is the answer's last_update field; zero if absent. What it
	// means depends on the sidecar: some refresh it on every renewal, others
	// only when the leader changes.
	LastUpdate time.Time

	// The fields below are sent by leaderjob-elector (and ignored by
	// clients of the original protocol); they are zero when absent.

	// Epoch is the answer's "epoch": the Lease's leaseTransitions, a
	// fencing token that grows each time leadership changes hands. It is
	// valid when HasEpoch is true.
	Epoch    int64
	HasEpoch bool
	// EpochScope is the answer's "epoch_scope": what Epoch counts in (the
	// Lease's UID).
	EpochScope string
	// IsLeader is the answer's "is_leader": whether the sidecar itself
	// (its identity, Self) is the leader. Valid when HasIsLeader is true.
	IsLeader    bool
	HasIsLeader bool
	// Self is the answer's "self": the sidecar's own identity.
	Self string
	// LeaseExpires is the answer's "lease_expires": when the holder's
	// lease runs out unless renewed, as the sidecar sees it.
	LeaseExpires time.Time
	// Reason and Error are the answer's "reason" (a short code such as
	// AnswerUnavailable or AnswerStale) and "error": why it names no
	// leader.
	Reason AnswerReason
	Error  string
}

// hintNotElector ends messages about bodies that cannot be a leader answer.
const hintNotElector = `a leader-elector answers {"name":"<pod>"}; is another server listening there?`

// ParseAnswer reads one leader answer: a JSON object whose "name" is the
// leader's name and whose optional "last_update" is an RFC 3339 time, with
// the optional fields of leaderjob-elector (see Answer). Other fields are
// ignored; an optional field of the wrong type makes the answer malformed
// rather than silently ignored.
//
// Its errors are *AnswerError. An absent, null or empty name means the
// leader is unknown: ParseAnswer then returns the Leader (with LastUpdate,
// Reason and Error, if any) and an error wrapping ErrNoLeader. Any other
// error wraps ErrMalformedAnswer and comes with a zero Leader: a body that
// is not a JSON object, is not UTF-8, has trailing data, repeats "name" or
// "last_update", has a name longer than MaxNameBytes, or has the shape of
// another protocol ({"isLeader":...}, {"leader":...}, {"Name":...}).
// Messages quote at most 64 bytes of the body.
func ParseAnswer(body []byte) (Leader, error) {
	l, e := parse(body)
	if e != nil {
		return l, e
	}
	return l, nil
}

func parse(body []byte) (Leader, *AnswerError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Leader{}, notJSON("empty body")
	}
	if !utf8.Valid(body) {
		return Leader{}, notJSON(fmt.Sprintf("body is not valid UTF-8 (starts %s)", excerpt(body)))
	}
	if body := bytes.TrimLeft(body, " \t\r\n"); body[0] != '{' {
		return Leader{}, notJSON(fmt.Sprintf("body is not a JSON object (starts %s)", excerpt(body)))
	}

	fields, e := objectFields(body)
	if e != nil {
		return Leader{}, e
	}
	var l Leader
	name, hasName, e := stringField(fields, "name")
	if e != nil {
		return Leader{}, e
	}
	if l.LastUpdate, e = timeField(fields, "last_update"); e != nil {
		return Leader{}, e
	}
	if e := extras(fields, &l); e != nil {
		return Leader{}, e
	}
	if !hasName {
		if e := foreignShape(fields); e != nil {
			return Leader{}, e
		}
	}
	if len(name) > MaxNameBytes {
		return Leader{}, malformed(fmt.Sprintf("name is %d bytes long (starts %s)", len(name), excerpt([]byte(name))), "pod names are at most 253 bytes")
	}
	if name == "" {
		shape := `{"name":""}`
		if !hasName {
			shape = "no name field"
		}
		what := "the answer names no leader (" + shape + ")"
		if l.Error != "" {
			what += ": " + l.Error
		}
		return l, &AnswerError{
			Err:  ErrNoLeader,
			What: what,
			Hint: "the election has no result yet, or the leader-elector cannot reach the API server; check its logs and its RBAC",
		}
	}
	l.Name = name
	return l, nil
}

// extras decodes the fields leaderjob-elector adds to the original answer:
// epoch, epoch_scope, is_leader, self, lease_expires, reason and error. Each is optional
// (absent or null is zero), but one of the wrong type makes the answer
// malformed.
func extras(fields map[string]json.RawMessage, l *Leader) *AnswerError {
	if raw, ok := fields["epoch"]; ok && string(raw) != "null" {
		var e int64
		if err := json.Unmarshal(raw, &e); err != nil || e < 0 {
			return malformed(fmt.Sprintf("epoch is %s, want a whole number of 0 or more", excerpt(raw)), "")
		}
		l.Epoch, l.HasEpoch = e, true
	}
	if raw, ok := fields["is_leader"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &l.IsLeader); err != nil {
			return malformed(fmt.Sprintf("is_leader is %s, want true or false", excerpt(raw)), "")
		}
		l.HasIsLeader = true
	}
	var e *AnswerError
	if l.LeaseExpires, e = timeField(fields, "lease_expires"); e != nil {
		return e
	}
	var reason string
	for key, dst := range map[string]*string{"self": &l.Self, "reason": &reason, "error": &l.Error, "epoch_scope": &l.EpochScope} {
		v, _, e := stringField(fields, key)
		if e != nil {
			return e
		}
		if len(v) > MaxNameBytes {
			v = v[:MaxNameBytes]
		}
		*dst = v
	}
	l.Reason = AnswerReason(reason)
	return nil
}

// objectFields splits a JSON object into its members. It rejects trailing
// data and a repeated "name" or "last_update", which a lenient decoder would
// resolve silently in favour of the last one.
func objectFields(body []byte) (map[string]json.RawMessage, *AnswerError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	bad := func(err error) *AnswerError {
		return notJSON(fmt.Sprintf("body is not valid JSON: %v (starts %s)", err, excerpt(body)))
	}
	if _, err := dec.Token(); err != nil { // the '{' checked by the caller
		return nil, bad(err)
	}
	fields := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		key, _ := tok.(string) // the decoder only yields strings as keys
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, bad(err)
		}
		if _, dup := fields[key]; dup && (key == "name" || key == "last_update") {
			return nil, malformed(fmt.Sprintf("%q appears twice in the answer", key), "")
		}
		fields[key] = value
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, bad(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("unexpected %v after the object", tok)
		}
		return nil, malformed(fmt.Sprintf("trailing data after the JSON object: %v", err), "")
	}
	return fields, nil
}

// stringField returns fields[key] as a string; a missing or null member is
// "" with ok false.
func stringField(fields map[string]json.RawMessage, key string) (s string, ok bool, e *AnswerError) {
	raw, ok := fields[key]
	if !ok || string(raw) == "null" {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, malformed(fmt.Sprintf("%s is %s, want a JSON string", key, excerpt(raw)), "")
	}
	return s, true, nil
}

// timeField returns fields[key] as an RFC 3339 time; a missing, null or
// empty member is the zero time.
func timeField(fields map[string]json.RawMessage, key string) (time.Time, *AnswerError) {
	stamp, _, e := stringField(fields, key)
	if e != nil || stamp == "" {
		return time.Time{}, e
	}
	t, err := time.Parse(time.RFC3339, stamp)
	if err != nil {
		return time.Time{}, malformed(fmt.Sprintf("%s %s is not an RFC 3339 time", key, excerpt([]byte(stamp))), "")
	}
	return t, nil
}

// foreignShape recognises answers of other protocols, which would otherwise
// read as "no leader" for ever.
func foreignShape(fields map[string]json.RawMessage) *AnswerError {
	has := func(key string) bool { _, ok := fields[key]; return ok }
	switch {
	case has("isLeader"):
		return malformed(`the answer is {"isLeader":...}, from the original elector's /isLeader path`, "point the sidecar URL at / instead")
	case has("leader") || has("is_leader"):
		return malformed(`the answer has "leader" but no "name"`, `this elector speaks another protocol; use one that answers {"name":"<pod>"}`)
	}
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		if key != "name" && strings.EqualFold(key, "name") {
			return malformed(fmt.Sprintf("the answer has %q but no \"name\"", key), "field names are case-sensitive")
		}
	}
	return nil
}

func malformed(what, hint string) *AnswerError {
	return &AnswerError{Err: ErrMalformedAnswer, What: what, Hint: hint}
}

func notJSON(what string) *AnswerError {
	return &AnswerError{Err: ErrMalformedAnswer, What: what, Hint: hintNotElector, NotJSON: true}
}

// MaxExcerpt bounds how much of a body an error message quotes.
const MaxExcerpt = 64

// Excerpt quotes the start of b for an error message: at most MaxExcerpt
// bytes, invalid UTF-8 replaced, "..." after a cut; "" for an empty b.
// Clients of the documents here quote what they were sent with it.
func Excerpt(b []byte) string { return excerpt(b) }

func excerpt(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	cut := len(b) > MaxExcerpt
	if cut {
		b = b[:MaxExcerpt]
	}
	q := strconv.Quote(strings.ToValidUTF8(string(b), "\uFFFD"))
	if cut {
		q += "..."
	}
	return q
}
