// Package testutil holds the few helpers the project's tests share: a log
// buffer safe for concurrent writers, polling with a deadline for tests
// that run in real time, and an in-memory network for tests that run in a
// testing/synctest bubble.
//
// Tests whose timing is in-process should run in a synctest bubble and use
// synctest.Wait instead of polling; Eventually is for what a bubble cannot
// hold: other processes, a real apiserver, loopback sockets.
//
// The package imports only the standard library: the library's own tests
// import it, and it must not add to their dependencies.
package testutil

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// LogBuffer is an io.Writer that keeps what is written to it, safe for
// concurrent writers and readers. The zero value is ready to use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Bytes returns a copy of everything written so far.
func (l *LogBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// Lines returns the complete lines written so far, without their line
// ends; a last line not yet ended by a newline is left out.
func (l *LogBuffer) Lines() []string {
	s := l.String()
	end := strings.LastIndexByte(s, '\n')
	if end < 0 {
		return nil
	}
	return strings.Split(s[:end], "\n")
}

// pollMax is the longest pause between two polls.
const pollMax = 20 * time.Millisecond

// Eventually calls cond until it returns true, and fails the test with
// "not within <within>: <what>" if it has not by then. cond is called at
// once and then after pauses growing from 1ms to 20ms, so a condition met
// soon is seen soon. Eventually must be called from the test's goroutine.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	EventuallyNoError(t, within, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

type notYet struct{}

func (notYet) Error() string { return "" }

var errNotYet error = notYet{}

// EventuallyNoError calls check until it returns nil, as Eventually does,
// and fails the test with the last error check returned if it has not by
// the end of within.
func EventuallyNoError(t testing.TB, within time.Duration, what string, check func() error) {
	t.Helper()
	var err error
	if Until(within, func() bool { err = check(); return err == nil }) {
		return
	}
	if err == errNotYet {
		t.Fatalf("not within %v: %s", within, what)
	}
	t.Fatalf("not within %v: %s: %v", within, what, err)
}

// Until calls cond as Eventually does, but does not fail the test: it
// reports whether cond returned true within within. It is for waits whose
// end the test judges itself, and may be called from any goroutine.
func Until(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	pause := time.Millisecond
	for !cond() {
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(min(pause, time.Until(deadline)))
		pause = min(2*pause, pollMax)
	}
	return true
}

// Recv receives a value from ch, and fails the test if none comes within
// within; what says what was awaited. Recv must be called from the test's
// goroutine.
func Recv[T any](t testing.TB, ch <-chan T, within time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("not within %v: %s", within, what)
		var zero T
		return zero
	}
}
