// Package proxy puts a loopback proxy between one replica and the server it
// depends on (the kube-apiserver, or Redis), to count the replica's
// requests and to cut the replica off.
//
// Each replica gets a proxy of its own. While cut, a proxy closes every
// connection it carries and every new one as soon as it is accepted: the
// replica sees its requests fail at once, as behind a partition that
// rejects (rather than drops) its packets. Everything listens on
// 127.0.0.1.
package proxy

import (
	"net"
	"sync"
)

// cutListener is a net.Listener whose connections can all be closed at
// once, and that closes new ones while cut.
type cutListener struct {
	net.Listener

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func listen() (*cutListener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &cutListener{Listener: ln, conns: map[net.Conn]struct{}{}}, nil
}

// Accept returns the next connection accepted while not cut.
func (l *cutListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.cut {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		tc := &trackedConn{Conn: c, l: l}
		l.conns[tc] = struct{}{}
		l.mu.Unlock()
		return tc, nil
	}
}

// setCut cuts (closing every open connection) or heals.
func (l *cutListener) setCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if !cut {
		return
	}
	for c := range l.conns {
		_ = c.(*trackedConn).Conn.Close()
	}
	clear(l.conns)
}

func (l *cutListener) isCut() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cut
}

// trackedConn forgets itself when closed.
type trackedConn struct {
	net.Conn
	l *cutListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
