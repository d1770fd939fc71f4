package namedwatch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

func cm(rv string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", ResourceVersion: rv}}
}

// The watch is opened by name from the resynced version, delivers objects,
// follows bookmarks, starts over (resync) when its version expired, and
// backs off after a failure.
func TestRun(t *testing.T) {
	var mu sync.Mutex
	var opened []metav1.ListOptions
	var seen []string
	var ups []bool
	resyncs := 0
	fakes := make(chan *watch.FakeWatcher, 10)
	fail := errors.New("connection refused")
	failedOnce := false
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waits := make(chan time.Duration, 10)
	w := Watcher[*corev1.ConfigMap]{
		Name: "x",
		Watch: func(_ context.Context, o metav1.ListOptions) (watch.Interface, error) {
			mu.Lock()
			defer mu.Unlock()
			opened = append(opened, o)
			if len(opened) == 3 && !failedOnce {
				failedOnce = true
				return nil, fail
			}
			f := watch.NewFake()
			fakes <- f
			return f, nil
		},
		Resync: func(context.Context) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			resyncs++
			return "10", nil
		},
		Seen: func(c *corev1.ConfigMap, deleted bool) {
			mu.Lock()
			defer mu.Unlock()
			s := c.ResourceVersion
			if deleted {
				s += "-"
			}
			seen = append(seen, s)
		},
		Up: func(up bool) { mu.Lock(); ups = append(ups, up); mu.Unlock() },
		Failed: func(err error, wait time.Duration) time.Duration {
			if !errors.Is(err, fail) {
				t.Errorf("Failed(%v)", err)
			}
			waits <- wait
			return time.Millisecond
		},
		MinBackoff: 5 * time.Second, MaxBackoff: time.Minute,
		After: func(time.Duration) <-chan time.Time { c := make(chan time.Time, 1); c <- time.Now(); return c },
	}
	go w.Run(ctx)

	f := <-fakes
	f.Add(cm("11"))
	f.Modify(cm("12"))
	f.Action(watch.Bookmark, cm("15"))
	f.Stop() // ends normally: reopened at once from 15
	f = <-fakes
	f.Delete(cm("16"))
	f.Error(&apierrors.NewResourceExpired("too old").ErrStatus) // starts over: resync
	if wait := <-waits; wait != 5*time.Second {
		t.Errorf("first backoff %v, want MinBackoff", wait)
	}
	f = <-fakes
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if len(opened) != 4 || opened[0].ResourceVersion != "10" || opened[1].ResourceVersion != "15" ||
		opened[2].ResourceVersion != "10" || opened[3].ResourceVersion != "10" || opened[0].FieldSelector != "metadata.name=x" {
		t.Fatalf("watches opened: %+v", opened)
	}
	if resyncs != 2 || len(seen) != 3 || seen[0] != "11" || seen[1] != "12" || seen[2] != "16-" {
		t.Fatalf("resyncs %d, seen %v", resyncs, seen)
	}
	if len(ups) < 3 || !ups[0] || !ups[1] || ups[2] {
		t.Fatalf("up transitions %v, want up, up, down after the failure", ups)
	}
}
