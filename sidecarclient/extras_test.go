package sidecarclient

import (
	"errors"
	"testing"
	"time"
)

func TestParseElectorFields(t *testing.T) {
	l, f := parse([]byte(`{"name":"pod-a","last_update":"2026-01-02T03:04:05.5Z","epoch":4,"is_leader":false,"self":"pod-b","lease_expires":"2026-01-02T03:04:15Z"}`))
	if f != nil {
		t.Fatal(f.what)
	}
	want := Leader{Name: "pod-a", LastUpdate: time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC), Epoch: 4, HasEpoch: true,
		HasIsLeader: true, Self: "pod-b", LeaseExpires: time.Date(2026, 1, 2, 3, 4, 15, 0, time.UTC)}
	if !l.LastUpdate.Equal(want.LastUpdate) || !l.LeaseExpires.Equal(want.LeaseExpires) {
		t.Errorf("times: %+v", l)
	}
	l.LastUpdate, l.LeaseExpires, want.LastUpdate, want.LeaseExpires = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if l != want {
		t.Errorf("got %+v, want %+v", l, want)
	}

	l, f = parse([]byte(`{"name":"","reason":"unavailable","error":"renew request timed out","is_leader":false}`))
	if f == nil || !errors.Is(f.kind, ErrLeaderUnknown) || l.Reason != "unavailable" || l.Error == "" {
		t.Errorf("unknown: %+v %+v", l, f)
	}

	for _, body := range []string{
		`{"name":"a","epoch":"3"}`, `{"name":"a","epoch":-1}`, `{"name":"a","epoch":1.5}`,
		`{"name":"a","is_leader":"yes"}`, `{"name":"a","lease_expires":"soon"}`, `{"name":"a","error":3}`,
	} {
		if _, f := parse([]byte(body)); f == nil || f.kind != ErrMalformed {
			t.Errorf("%s: want malformed, got %+v", body, f)
		}
	}
}
