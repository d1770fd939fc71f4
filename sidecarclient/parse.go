package sidecarclient

import (
	"errors"

	"github.com/leaderjob/leaderjob/wire"
)

// maxNameBytes bounds a leader name (wire.MaxNameBytes).
const maxNameBytes = wire.MaxNameBytes

// parse reads one answer with wire.ParseAnswer and turns its error into a
// fault of this package's own kind: ErrLeaderUnknown when the answer names
// no leader (the Leader then holds what the answer said), else
// ErrMalformed.
func parse(body []byte) (Leader, *fault) {
	l, err := wire.ParseAnswer(body)
	if err == nil {
		return l, nil
	}
	var ae *wire.AnswerError
	if !errors.As(err, &ae) { // not expected: ParseAnswer's errors are *AnswerError
		return Leader{}, malformed(err.Error(), "")
	}
	f := &fault{kind: ErrMalformed, what: ae.What, hint: ae.Hint, notJSON: ae.NotJSON}
	if errors.Is(err, wire.ErrNoLeader) {
		f.kind = ErrLeaderUnknown
	}
	return l, f
}

func malformed(what, hint string) *fault {
	return &fault{kind: ErrMalformed, what: what, hint: hint}
}
