package wire_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// A run request may run within RunRequestExpiry of its time; one without
// a time, older, or dated that far ahead is expired, and the message says
// what to do.
func TestRunRequestCheck(t *testing.T) {
	day := wire.RunRequestExpiry
	for _, tt := range []struct {
		name string
		at   time.Time
		want string // "" = may run
	}{
		{"just requested", t0, ""},
		{"a day old", t0.Add(-day), ""},
		{"a minute ahead", t0.Add(time.Minute), ""},
		{"older than a day", t0.Add(-day - time.Second), "request the run again"},
		{"no time", time.Time{}, "no request time"},
		{"more than a day ahead", t0.Add(day + time.Second), "check the clocks"},
	} {
		err := wire.RunRequest{Job: "report", At: tt.at}.Check(t0)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (!errors.Is(err, wire.ErrRunExpired) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want ErrRunExpired saying %q", tt.name, err, tt.want)
		}
	}
}
