package mockserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestStopStart: Stop cuts every connection without a close frame, refuses new ones, ends the
// contexts of running handlers and aborts HTTP requests in flight; Start serves again on the same
// URL; sessions are lost (a socket whose cookie names a lost session gets a fresh one per request).
func TestStopStart(t *testing.T) {
	s := NewT(t)
	url := s.URL()
	virtualWaiting := make(chan struct{})
	virtualEnded := make(chan error, 1)
	httpWaiting := make(chan struct{})
	httpEnded := make(chan error, 1)
	s.Handle("GET /wait", func(req *Request, res *Response) {
		ctx := req.Context()
		if req.IsSocket {
			close(virtualWaiting)
			<-ctx.Done()
			virtualEnded <- ctx.Err()
			return
		}
		close(httpWaiting)
		<-ctx.Done()
		httpEnded <- ctx.Err()
	})
	s.Handle("GET /count", func(req *Request, res *Response) {
		n, _ := req.Session.Get("n").(int)
		req.Session.Set("n", n+1)
		res.JSON(n + 1)
	})
	// A session known to the server before the restart, carried by the handshake.
	resp, body := httpGet(t, s.Client(), url+"/count", nil)
	if body != "1" {
		t.Fatalf("HTTP /count: %s", body)
	}
	cookie := resp.Header.Get("Set-Cookie")
	cookie = cookie[:strings.IndexByte(cookie, ';')]
	c, _ := connect(t, s, 3, http.Header{"Cookie": {cookie}})
	if r := c.request(0, "get", "/count", nil); string(r.Body) != "2" {
		t.Fatalf("socket /count: %s", r.Body)
	}
	c.send(`421["get",{"url":"/wait"}]`)
	<-virtualWaiting
	httpErr := make(chan error, 1)
	go func() {
		resp, err := s.Client().Get(url + "/wait")
		if err == nil {
			resp.Body.Close()
		}
		httpErr <- err
	}()
	<-httpWaiting

	s.Stop()
	if !s.Stopped() {
		t.Error("Stopped() = false after Stop")
	}
	if err := c.expectClosed(); closeCode(err) != websocket.CloseAbnormalClosure {
		t.Errorf("connection after Stop: %v, want cut without a close frame (1006)", err)
	}
	if err := <-virtualEnded; !errors.Is(err, context.Canceled) {
		t.Errorf("virtual handler's context: %v", err)
	}
	if err := <-httpEnded; !errors.Is(err, context.Canceled) {
		t.Errorf("HTTP handler's context: %v", err)
	}
	if err := <-httpErr; err == nil {
		t.Error("HTTP request in flight during Stop got an answer, want the connection cut")
	}
	if _, _, err := tryDial(t, s, query(3), nil); err == nil {
		t.Error("handshake while stopped succeeded")
	}
	if conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://")); err == nil {
		conn.Close()
		t.Error("TCP connection while stopped accepted")
	}
	s.Stop() // idempotent

	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if s.URL() != url || s.Stopped() {
		t.Fatalf("URL after Start %s (was %s), stopped %v", s.URL(), url, s.Stopped())
	}
	if err := s.Start(); err == nil {
		t.Error("Start on a running server succeeded")
	}
	c2, id := connect(t, s, 3, http.Header{"Cookie": {cookie}})
	for i := 0; i < 2; i++ {
		if r := c2.request(i, "get", "/count", nil); string(r.Body) != "1" {
			t.Errorf("socket /count %d after the restart: %s, want 1 (the session was lost)", i, r.Body)
		}
	}
	if h, _ := s.Handshake(id); h.SessionID != "" {
		t.Errorf("session of a socket whose cookie names a lost session: %q", h.SessionID)
	}
	s.Close()
	if err := s.Start(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

func TestStopStartPersistentSessions(t *testing.T) {
	s := NewT(t, WithPersistentSessions(), WithProtocol(4))
	s.Handle("GET /count", func(req *Request, res *Response) {
		n, _ := req.Session.Get("n").(int)
		req.Session.Set("n", n+1)
		res.JSON(n + 1)
	})
	hdr := http.Header{"Cookie": {"sails.sid=keep"}}
	c, _ := connect(t, s, 3, hdr)
	c.request(0, "get", "/count", nil)
	s.Stop()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c2, _ := connect(t, s, 3, hdr)
	if r := c2.request(0, "get", "/count", nil); string(r.Body) != "2" {
		t.Errorf("/count after the restart: %s, want 2", r.Body)
	}
}

func TestWithAddr(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := NewT(t, WithAddr(addr))
	if s.URL() != "http://"+addr {
		t.Errorf("URL %s, want http://%s", s.URL(), addr)
	}
	s.Stop()
	if err := s.Start(); err != nil || s.URL() != "http://"+addr {
		t.Errorf("Start: %v, URL %s", err, s.URL())
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("New on a taken address did not panic")
			}
		}()
		New(WithAddr(addr))
	}()
}
