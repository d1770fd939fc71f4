package testutil

import (
	"context"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
)

// Listener is an in-memory net.Listener: each connection is one end of a
// net.Pipe whose other end DialContext returned. A goroutine blocked on
// such a connection is durably blocked in a testing/synctest bubble (one
// blocked on a loopback socket is not), so a server and its clients can
// run in a bubble on it. Create it inside the bubble it serves.
type Listener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

// NewListener returns a Listener that accepts until it is closed.
func NewListener() *Listener {
	return &Listener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept waits for a connection dialled by DialContext.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops Accept; connections already accepted stay open.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr returns a made-up address.
func (l *Listener) Addr() net.Addr { return pipeAddr{} }

// DialContext connects to l, whatever network and address it is given;
// after Close it fails as a refused connection does. It has the signature
// of http.Transport's DialContext.
func (l *Listener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		server.Close()
		client.Close()
		return nil, &net.OpError{Op: "dial", Net: "pipe", Addr: pipeAddr{}, Err: syscall.ECONNREFUSED}
	case <-ctx.Done():
		server.Close()
		client.Close()
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// PipeURL is a URL for the clients HTTPClient returns; they send every
// request to the same server whatever its URL.
const PipeURL = "http://pipe/"

// HTTPClient serves h on a new Listener with an http.Server and returns a
// client whose requests, to any URL, reach it. When the test ends the
// client's idle connections are closed, then the server, and the server's
// goroutine has returned. In a synctest bubble, call it inside the bubble.
func HTTPClient(t testing.TB, h http.Handler) *http.Client {
	t.Helper()
	l := NewListener()
	srv := &http.Server{Handler: h}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
	tr := &http.Transport{DialContext: l.DialContext}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Close()
		<-served
	})
	return &http.Client{Transport: tr}
}
