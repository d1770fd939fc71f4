package testutil_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

func TestLogBuffer(t *testing.T) {
	var b testutil.LogBuffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	lines := b.Lines()
	slices.Sort(lines)
	want := []string{"line 0", "line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9"}
	if !slices.Equal(lines, want) {
		t.Errorf("Lines = %q", lines)
	}
	b.Write([]byte("partial"))
	if n := len(b.Lines()); n != 10 {
		t.Errorf("%d lines with an unended one, want 10", n)
	}
	if got := string(b.Bytes()); got != b.String() || len(got) != 10*7+7 {
		t.Errorf("Bytes = %q", got)
	}
	var empty testutil.LogBuffer
	if empty.Lines() != nil || empty.String() != "" {
		t.Error("an empty buffer has lines")
	}
}

func TestEventually(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		testutil.Eventually(t, time.Second, "the fifth call", func() bool { calls++; return calls == 5 })
		// Pauses of 1, 2, 4 and 8ms.
		if took := time.Since(start); took != 15*time.Millisecond {
			t.Errorf("took %v, want 15ms", took)
		}
		calls = 0
		if !testutil.Until(time.Second, func() bool { calls++; return calls == 3 }) || time.Since(start) != 18*time.Millisecond {
			t.Errorf("Until: %d calls, %v", calls, time.Since(start))
		}
		if testutil.Until(time.Second, func() bool { return false }) || time.Since(start) != time.Second+18*time.Millisecond {
			t.Errorf("Until of a false condition: %v", time.Since(start))
		}
		n := 0
		testutil.EventuallyNoError(t, time.Second, "no error", func() error {
			if n++; n < 3 {
				return errors.New("not yet")
			}
			return nil
		})
		got := testutil.Recv(t, func() <-chan int {
			ch := make(chan int, 1)
			go func() { time.Sleep(time.Hour); ch <- 7 }()
			return ch
		}(), 2*time.Hour, "a value")
		if got != 7 {
			t.Errorf("Recv = %d", got)
		}
	})
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

func fails(f func(tb testing.TB)) (msg string) {
	r := &fatalRecorder{}
	defer func() {
		if recover() == r {
			msg = r.msg
		}
	}()
	f(r)
	return ""
}

func TestEventuallyFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		msg := fails(func(tb testing.TB) {
			testutil.Eventually(tb, time.Second, "never", func() bool { return false })
		})
		if msg != "not within 1s: never" || time.Since(start) != time.Second {
			t.Errorf("%q after %v", msg, time.Since(start))
		}
		msg = fails(func(tb testing.TB) {
			testutil.EventuallyNoError(tb, time.Second, "the check", func() error { return errors.New("still 3") })
		})
		if msg != "not within 1s: the check: still 3" {
			t.Errorf("%q", msg)
		}
		msg = fails(func(tb testing.TB) { testutil.Recv(tb, make(chan int), time.Minute, "nothing") })
		if msg != "not within 1m0s: nothing" {
			t.Errorf("%q", msg)
		}
	})
}

// An HTTP server and client on a Listener run in a bubble: the client's
// timeout is on the bubble's clock.
func TestHTTPClientInABubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := testutil.HTTPClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
			io.WriteString(w, "hello "+r.URL.Path)
		}))
		resp, err := c.Get(testutil.PipeURL + "fast")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello /fast" {
			t.Errorf("body %q", body)
		}

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, testutil.PipeURL+"slow", nil)
		if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 3*time.Second {
			t.Errorf("slow request: %v after %v, want the deadline after 3s", err, time.Since(start))
		}
		close(release)
	})
}

func TestListenerClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := testutil.NewListener()
		l.Close()
		if _, err := l.Accept(); err == nil {
			t.Error("Accept after Close")
		}
		if _, err := l.DialContext(context.Background(), "tcp", "x"); err == nil {
			t.Error("Dial after Close")
		}
	})
}
