package sidecarclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// maxNameBytes bounds a leader name. Pod names are at most 253 bytes; the
// slack is for elector identities that add a suffix.
const maxNameBytes = 512

// hintNotElector ends messages about bodies that cannot be a leader-elector
// answer.
const hintNotElector = `a leader-elector answers {"name":"<pod>"}; is another server listening there?`

// parse decodes one leader-elector answer: a JSON object whose "name" is
// the leader's name and whose optional "last_update" is an RFC 3339 time.
// Other fields are ignored. An absent, null or empty name means the leader
// is unknown: parse then returns the Leader (with LastUpdate, if any) and an
// ErrLeaderUnknown fault.
func parse(body []byte) (Leader, *fault) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Leader{}, malformed("empty body", hintNotElector)
	}
	if !utf8.Valid(body) {
		return Leader{}, malformed(fmt.Sprintf("body is not valid UTF-8 (starts %s)", excerpt(body)), hintNotElector)
	}
	if body := bytes.TrimLeft(body, " \t\r\n"); body[0] != '{' {
		return Leader{}, malformed(fmt.Sprintf("body is not a JSON object (starts %s)", excerpt(body)), hintNotElector)
	}

	fields, f := objectFields(body)
	if f != nil {
		return Leader{}, f
	}
	var l Leader
	name, hasName, f := stringField(fields, "name")
	if f != nil {
		return Leader{}, f
	}
	if stamp, _, f := stringField(fields, "last_update"); f != nil {
		return Leader{}, f
	} else if stamp != "" {
		t, err := time.Parse(time.RFC3339, stamp)
		if err != nil {
			return Leader{}, malformed(fmt.Sprintf("last_update %s is not an RFC 3339 time", excerpt([]byte(stamp))), "")
		}
		l.LastUpdate = t
	}
	if f := extras(fields, &l); f != nil {
		return Leader{}, f
	}
	if !hasName {
		if f := foreignShape(fields); f != nil {
			return Leader{}, f
		}
	}
	if len(name) > maxNameBytes {
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
		return l, &fault{
			kind: ErrLeaderUnknown,
			what: what,
			hint: "the election has no result yet, or the leader-elector cannot reach the API server; check its logs and its RBAC",
		}
	}
	l.Name = name
	return l, nil
}

// extras decodes the fields leaderjob-elector adds to the original answer:
// epoch, is_leader, self, lease_expires, reason and error. Each is optional
// (absent or null is zero), but one of the wrong type makes the answer
// malformed rather than silently ignored.
func extras(fields map[string]json.RawMessage, l *Leader) *fault {
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
	if stamp, _, f := stringField(fields, "lease_expires"); f != nil {
		return f
	} else if stamp != "" {
		t, err := time.Parse(time.RFC3339, stamp)
		if err != nil {
			return malformed(fmt.Sprintf("lease_expires %s is not an RFC 3339 time", excerpt([]byte(stamp))), "")
		}
		l.LeaseExpires = t
	}
	for key, dst := range map[string]*string{"self": &l.Self, "reason": &l.Reason, "error": &l.Error} {
		v, _, f := stringField(fields, key)
		if f != nil {
			return f
		}
		if len(v) > maxNameBytes {
			v = v[:maxNameBytes]
		}
		*dst = v
	}
	return nil
}

// objectFields splits a JSON object into its members. It rejects trailing
// data and a repeated "name" or "last_update", which a lenient decoder would
// resolve silently in favour of the last one.
func objectFields(body []byte) (map[string]json.RawMessage, *fault) {
	dec := json.NewDecoder(bytes.NewReader(body))
	bad := func(err error) *fault {
		return malformed(fmt.Sprintf("body is not valid JSON: %v (starts %s)", err, excerpt(body)), hintNotElector)
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
func stringField(fields map[string]json.RawMessage, key string) (s string, ok bool, f *fault) {
	raw, ok := fields[key]
	if !ok || string(raw) == "null" {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, malformed(fmt.Sprintf("%s is %s, want a JSON string", key, excerpt(raw)), "")
	}
	return s, true, nil
}

// foreignShape recognises answers of other protocols, which would otherwise
// read as "no leader" for ever.
func foreignShape(fields map[string]json.RawMessage) *fault {
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

func malformed(what, hint string) *fault {
	return &fault{kind: ErrMalformed, what: what, hint: hint}
}
