package wire_test

import (
	"errors"
	"fmt"

	"github.com/leaderjob/leaderjob/wire"
)

func ExampleParseAnswer() {
	l, err := wire.ParseAnswer([]byte(`{"name":"pod-a","last_update":"2026-01-02T03:04:05Z"}`))
	fmt.Println(l.Name, l.LastUpdate, err)

	l, err = wire.ParseAnswer([]byte(`{"name":"","reason":"unavailable","error":"renew request timed out"}`))
	fmt.Println(errors.Is(err, wire.ErrNoLeader), l.Reason)

	_, err = wire.ParseAnswer([]byte(`<html>It works!</html>`))
	fmt.Println(errors.Is(err, wire.ErrMalformedAnswer))
	// Output:
	// pod-a 2026-01-02 03:04:05 +0000 UTC <nil>
	// true unavailable
	// true
}

func ExampleDecodeLedger() {
	_, err := wire.DecodeLedger([]byte(`{"version":2,"jobs":"a shape of the future"}`))
	fmt.Println(errors.Is(err, wire.ErrNewerFormat))
	fmt.Println(err)
	// Output:
	// true
	// ledger: written by a newer release: format 2, this release reads up to 1
}
