package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Redis is a TCP proxy to a Redis server for one replica. It counts the
// commands the replica sends, reading the client's side of the RESP
// protocol (each command is an array of bulk strings).
type Redis struct {
	ln       *cutListener
	target   string
	commands atomic.Int64
	wg       sync.WaitGroup
}

// NewRedis starts a proxy to the Redis server at target on a free loopback
// port.
func NewRedis(target string) (*Redis, error) {
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	p := &Redis{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the address replicas use as their Redis server.
func (p *Redis) Addr() string { return p.ln.Addr().String() }

// Requests is how many commands the proxy has carried so far.
func (p *Redis) Requests() int64 { return p.commands.Load() }

// SetCut cuts the replica off from Redis, or lets it through again.
func (p *Redis) SetCut(cut bool) { p.ln.setCut(cut) }

// Cut reports whether the replica is cut off.
func (p *Redis) Cut() bool { return p.ln.isCut() }

// Close stops the proxy and closes its connections.
func (p *Redis) Close() error {
	p.ln.setCut(true)
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Redis) serve() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.carry(in)
	}
}

func (p *Redis) carry(in net.Conn) {
	defer in.Close()
	out, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	defer out.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
	go func() { _ = CountCommands(out, in, &p.commands); done <- struct{}{} }()
	<-done // either side ended: end both
}

// CountCommands copies the client's RESP stream from src to dst and adds
// one to n for each command in it. A stream that is not RESP arrays
// (inline commands, as typed into telnet) counts one command per line.
func CountCommands(dst io.Writer, src io.Reader, n *atomic.Int64) error {
	r := bufio.NewReader(src)
	w := bufio.NewWriter(dst)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		if len(line) > 0 && line[0] == '*' {
			if err := copyArray(w, r, line); err != nil {
				return err
			}
		}
		n.Add(1)
		if r.Buffered() == 0 { // nothing more pipelined: send what we have
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}

// copyArray copies the elements of the array whose header is line.
func copyArray(w *bufio.Writer, r *bufio.Reader, header []byte) error {
	count, err := strconv.Atoi(string(trimCRLF(header[1:])))
	if err != nil {
		return errors.New("proxy: bad RESP array header")
	}
	for range count {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		if len(line) == 0 || line[0] != '$' {
			continue // a simple element: the line was all of it
		}
		size, err := strconv.Atoi(string(trimCRLF(line[1:])))
		if err != nil {
			return errors.New("proxy: bad RESP bulk string header")
		}
		if size < 0 {
			continue // a null bulk string
		}
		if _, err := io.CopyN(w, r, int64(size)+2); err != nil { // the data and its CRLF
			return err
		}
	}
	return nil
}

func trimCRLF(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
