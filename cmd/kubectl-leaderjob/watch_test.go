package main

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// status --watch shows the status again at every tick, each refresh after
// a header with its time, a change (a new leader) in the next refresh; the
// end of its context ends it with exit 0.
func TestStatusWatchRefreshes(t *testing.T) {
	p, cs, out, errOut := fixture(t)
	p.watch, p.interval = true, 2*time.Second
	waited := make(chan time.Duration)
	tick := make(chan time.Time)
	p.after = func(d time.Duration) <-chan time.Time { waited <- d; return tick }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- p.exec(ctx, "status", []string{"shop"}) }()

	if d := <-waited; d != 2*time.Second {
		t.Errorf("waited %v between refreshes, want --interval", d)
	}
	first := out.String()
	l, err := cs.CoordinationV1().Leases("ns").Get(ctx, "shop", metav1.GetOptions{})
	noErr(t, err)
	holder := "pod-b"
	l.Spec.HolderIdentity = &holder
	_, err = cs.CoordinationV1().Leases("ns").Update(ctx, l, metav1.UpdateOptions{})
	noErr(t, err)
	tick <- now
	<-waited
	second := strings.TrimPrefix(out.String(), first)
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	header := "Every 2s: kubectl leaderjob status shop (namespace ns)"
	for i, tc := range []struct{ text, leader string }{{first, "LEADER pod-a"}, {second, "LEADER pod-b"}} {
		if !strings.Contains(tc.text, header) || !strings.Contains(tc.text, tc.leader) || !strings.Contains(tc.text, "smtp: refused") {
			t.Errorf("refresh %d does not have the header, %q and the job's error:\n%s", i+1, tc.leader, tc.text)
		}
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("escape sequences written to a buffer:\n%q", out.String())
	}
}

// An error on the first refresh (an unknown app) ends the watch with the
// error.
func TestStatusWatchFailsFast(t *testing.T) {
	p, _, _, errOut := fixture(t)
	p.watch, p.interval = true, time.Second
	p.after = func(time.Duration) <-chan time.Time { t.Fatal("waited after a failed first refresh"); return nil }
	if code := p.exec(context.Background(), "status", []string{"nope"}); code != exitFailed || !strings.Contains(errOut.String(), `unknown app "nope"`) {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
