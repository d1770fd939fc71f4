package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

func TestCountCommands(t *testing.T) {
	// SET with a value holding a CRLF, a pipelined GET, a null bulk
	// string, and an inline PING.
	stream := "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n$2\r\nNX\r\n$2\r\nPX\r\n" +
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" +
		"*2\r\n$4\r\nECHO\r\n$-1\r\n" +
		"PING\r\n"
	var out bytes.Buffer
	var n atomic.Int64
	if err := CountCommands(&out, strings.NewReader(stream), &n); err != io.EOF {
		t.Fatalf("err %v; want EOF at the end", err)
	}
	if n.Load() != 4 {
		t.Errorf("counted %d commands; want 4", n.Load())
	}
	if out.String() != stream {
		t.Errorf("copied %q; want the stream unchanged", out.String())
	}
}

// The Redis proxy forwards, counts, and while cut closes connections.
func TestRedisProxyCuts(t *testing.T) {
	server, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	go func() { // answers +OK to each line it reads
		for {
			c, err := server.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					if _, err := c.Write([]byte("+OK\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	p, err := NewRedis(server.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ping := func() error {
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return err
		}
		_, err = bufio.NewReader(c).ReadString('\n')
		return err
	}
	if err := ping(); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.SetCut(true)
	if err := ping(); err == nil {
		t.Error("a command went through while cut")
	}
	p.SetCut(false)
	if err := ping(); err != nil {
		t.Fatalf("after healing: %v", err)
	}
	if p.Requests() != 2 {
		t.Errorf("counted %d; want the 2 commands that went through", p.Requests())
	}
}

// The apiserver proxy forwards to its upstream and counts requests.
func TestAPIProxyCounts(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	defer up.Close()
	cfg := &rest.Config{Host: up.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	p, err := NewAPI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	get := func() (string, error) {
		resp, err := http.Get(p.URL() + "/api/v1/namespaces")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if body, err := get(); err != nil || body != "/api/v1/namespaces" {
		t.Fatalf("got %q, %v", body, err)
	}
	p.SetCut(true)
	if _, err := get(); err == nil {
		t.Error("a request went through while cut")
	}
	p.SetCut(false)
	if _, err := get(); err != nil {
		t.Fatal(err)
	}
	if p.Requests() != 2 {
		t.Errorf("counted %d; want 2", p.Requests())
	}
}
