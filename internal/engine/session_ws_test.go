package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio/internal/testkit"
)

// wsPeer is a loopback WebSocket server that a test drives frame by frame.
type wsPeer struct {
	srv   *httptest.Server
	conns chan *websocket.Conn

	mu  sync.Mutex
	all []*websocket.Conn
}

func newWSPeer(t *testing.T) *wsPeer {
	p := &wsPeer{conns: make(chan *websocket.Conn, 4)}
	up := websocket.Upgrader{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.all = append(p.all, c)
		p.mu.Unlock()
		p.conns <- c
	}))
	t.Cleanup(func() {
		p.srv.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.all {
			c.Close()
		}
	})
	return p
}

// dial opens the client's side: a WebSocket transport with the given read limit.
func (p *wsPeer) dial(t *testing.T, maxMessage int64) (*WebSocket, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Short)
	defer cancel()
	u := "ws" + strings.TrimPrefix(p.srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	ws, err := DialWebSocket(ctx, WebSocketConfig{URL: u, MaxMessage: maxMessage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ws, recv(t, p.conns, "the peer's connection")
}

func peerSend(t *testing.T, c *websocket.Conn, frames ...string) {
	t.Helper()
	for _, f := range frames {
		if err := c.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
}

func peerExpect(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testkit.Short))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("peer waiting for %q: %v", want, err)
	}
	if string(data) != want {
		t.Fatalf("peer read %q, want %q", data, want)
	}
}

// wsSession connects an EIO4 session over a loopback WebSocket and starts it.
func wsSession(t *testing.T, maxMessage int64) (*Session, *websocket.Conn, *testHandler) {
	t.Helper()
	p := newWSPeer(t)
	ws, c := p.dial(t, maxMessage)
	peerSend(t, c, openFrame("engine-sid", long, long, 0))
	type result struct {
		s   *Session
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Short)
		defer cancel()
		s, err := Handshake(ctx, ws, 4)
		done <- result{s, err}
	}()
	peerExpect(t, c, "40")
	peerSend(t, c, `40{"sid":"socket-sid"}`)
	r := recv(t, done, "handshake")
	if r.err != nil {
		t.Fatal(r.err)
	}
	h := newTestHandler()
	r.s.Start(h)
	t.Cleanup(func() { r.s.Close(testkit.Short, nil) })
	return r.s, c, h
}

// TestWebSocketSession: a session over a real WebSocket: pong, requests in order with their acks,
// events, and a graceful close (41, then a close frame).
func TestWebSocketSession(t *testing.T) {
	s, c, h := wsSession(t, 1<<20)
	if s.Transport().Name() != "websocket" || s.ID() != "socket-sid" {
		t.Fatalf("transport %q, id %q", s.Transport().Name(), s.ID())
	}
	peerSend(t, c, "2")
	peerExpect(t, c, "3")
	acks := make(chan ackCall, 10)
	for n := range 10 {
		if _, err := s.Request(requestPayload(`["get"]`), &testAcker{n: n, acks: acks}); err != nil {
			t.Fatal(err)
		}
	}
	for n := range 10 {
		peerExpect(t, c, fmt.Sprintf(`42%d["get"]`, n))
	}
	peerSend(t, c, `42["hello",{"a":1}]`, `439[{"ok":true}]`)
	if ev := recv(t, h.events, "event"); ev != `hello {"a":1}` {
		t.Fatalf("event %q", ev)
	}
	if a := recv(t, acks, "ack"); a.n != 9 || a.data != `[{"ok":true}]` {
		t.Fatalf("ack %+v", a)
	}
	s.Close(testkit.Short, nil)
	peerExpect(t, c, "41")
	c.SetReadDeadline(time.Now().Add(testkit.Short))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after 41 the peer read %v, want a normal close", err)
	}
}

// TestWebSocketTooLarge: the WebSocket transport's verdicts: a message over the client's read limit
// (during the handshake or after), and the server's close frames 1009 and 1008, end with
// ErrMessageTooLarge; another close code is a plain transport close.
func TestWebSocketTooLarge(t *testing.T) {
	t.Run("read limit during the handshake", func(t *testing.T) {
		p := newWSPeer(t)
		ws, c := p.dial(t, 32)
		peerSend(t, c, openFrame("engine-sid", long, long, 0))
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Short)
		defer cancel()
		_, err := Handshake(ctx, ws, 3)
		if !errors.Is(err, ErrMessageTooLarge) || errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "exceeded 32 bytes") {
			t.Fatalf("error %v, want ErrMessageTooLarge (exceeded 32 bytes)", err)
		}
	})
	t.Run("read limit", func(t *testing.T) {
		_, c, h := wsSession(t, 512)
		peerSend(t, c, `42["big","`+strings.Repeat("x", 600)+`"]`)
		err := h.expectClosed(t, ReasonTransportError)
		if !errors.Is(err, ErrMessageTooLarge) || !strings.Contains(err.Error(), "exceeded 512 bytes") {
			t.Fatalf("cause %v", err)
		}
	})
	for _, tt := range []struct {
		code int
		msg  string
	}{
		{websocket.CloseMessageTooBig, "1009"},
		{websocket.ClosePolicyViolation, "1008"},
		{websocket.CloseGoingAway, ""},
	} {
		t.Run(fmt.Sprint("close ", tt.code), func(t *testing.T) {
			_, c, h := wsSession(t, 1<<20)
			if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(tt.code, ""), time.Now().Add(testkit.Short)); err != nil {
				t.Fatal(err)
			}
			err := h.expectClosed(t, ReasonTransportClose)
			if tt.msg == "" {
				if errors.Is(err, ErrMessageTooLarge) {
					t.Fatalf("cause %v", err)
				}
				return
			}
			if !errors.Is(err, ErrMessageTooLarge) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("cause %v, want ErrMessageTooLarge naming %s", err, tt.msg)
			}
		})
	}
}

// TestWebSocketCloseBounded: when the server reads nothing, the writer is stuck in a write; Close
// still returns within its grace.
func TestWebSocketCloseBounded(t *testing.T) {
	s, _, h := wsSession(t, 1<<20)
	// More than the loopback socket buffers take: the write blocks.
	if _, err := s.Request(requestPayload(`["post","`+strings.Repeat("x", 32<<20)+`"]`), &testAcker{}); err != nil {
		t.Fatal(err)
	}
	grace := testkit.D(100 * time.Millisecond)
	start := time.Now()
	s.Close(grace, nil)
	if d := time.Since(start); d > grace+testkit.Short {
		t.Fatalf("Close took %v with a grace of %v", d, grace)
	}
	if n := h.nClosed.Load(); n != 0 {
		t.Fatalf("Close told the Handler: %+v", <-h.closed)
	}
}

// TestWebSocketRequestNowAlone: the caller of RequestNow writes its own frame only when no other
// request is in flight (one request at a time); with requests in flight the writer goroutine writes
// it, with whatever accumulates (one system call for a burst). Frames keep the order of their ids.
func TestWebSocketRequestNowAlone(t *testing.T) {
	s, c, _ := wsSession(t, 1<<20)
	acks := make(chan ackCall, 4)
	id, mine, err := s.RequestNow(requestPayload(`["get"]`), &testAcker{n: 0, acks: acks})
	if err != nil || !mine {
		t.Fatalf("first RequestNow = %d, mine %v, %v; want the caller to write it", id, mine, err)
	}
	s.WriteNow()
	id, mine, err = s.RequestNow(requestPayload(`["get"]`), &testAcker{n: 1, acks: acks})
	if mine {
		s.WriteNow() // as its contract says, before anything else (Close would wait for it)
	}
	if err != nil || mine {
		t.Fatalf("RequestNow with one in flight = %d, mine %v, %v; want the writer to write it", id, mine, err)
	}
	peerExpect(t, c, `420["get"]`)
	peerExpect(t, c, `421["get"]`)
	peerSend(t, c, `430[1]`, `431[2]`)
	recv(t, acks, "ack 0")
	recv(t, acks, "ack 1")
	writerIdle(t, s) // the writer goroutine that wrote 421 has ended (it may still be finishing)
	id, mine, err = s.RequestNow(requestPayload(`["get"]`), &testAcker{n: 2, acks: acks})
	if err != nil || !mine {
		t.Fatalf("RequestNow once the others were answered = %d, mine %v, %v; want the caller to write it", id, mine, err)
	}
	s.WriteNow()
	peerExpect(t, c, `422["get"]`)

	// From inside an Ack (a callback run by the reader), with 422 still in flight: the reader
	// writes the next frame itself, with no hand-off to a writer goroutine.
	inAck := make(chan bool, 1)
	peerSend(t, c, `432[3]`) // answers 422, whose acker is acks'
	recv(t, acks, "ack 2")
	peerSend(t, c, "2") // the pong says the reader has left that Ack
	peerExpect(t, c, "3")
	writerIdle(t, s) // and that the writer goroutine that wrote the pong has ended
	id, mine, err = s.RequestNow(requestPayload(`["get"]`), &testAcker{n: 3, acks: acks})
	if mine {
		s.WriteNow()
	}
	if err != nil || !mine {
		t.Fatalf("RequestNow alone = %d, mine %v, %v", id, mine, err)
	}
	peerExpect(t, c, `423["get"]`)
	_, mine, err = s.RequestNow(requestPayload(`["get"]`), ackFunc(func([]byte) error {
		writerIdle(t, s) // the goroutine that wrote 424 has ended (it may still be finishing)
		_, m, err := s.RequestNow(requestPayload(`["get"]`), &testAcker{n: 5, acks: acks})
		if m {
			s.WriteNow()
		}
		if err != nil {
			t.Error(err)
		}
		inAck <- m
		return nil
	}))
	if mine {
		s.WriteNow()
	}
	if err != nil || mine {
		t.Fatalf("RequestNow with 423 in flight = mine %v, %v; want the writer to write it", mine, err)
	}
	peerExpect(t, c, `424["get"]`)
	peerSend(t, c, `434[4]`) // answers 424 while 423 is still in flight: its Ack sends 425
	if !recv(t, inAck, "the request made in Ack") {
		t.Error("a request made inside Ack (on the reader) with another in flight went to the writer goroutine")
	}
	peerExpect(t, c, `425["get"]`)
}

// writerIdle waits until no writer goroutine of s runs (the Writer has no signal for it: this
// polls, within testkit.Short).
func writerIdle(t *testing.T, s *Session) {
	deadline := time.Now().Add(testkit.Short)
	for {
		s.w.mu.Lock()
		running := s.w.running
		s.w.mu.Unlock()
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the writer goroutine still runs after %v", testkit.Short)
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// ackFunc is an Acker whose Ack calls the function.
type ackFunc func([]byte) error

func (f ackFunc) Ack(data []byte) error { return f(data) }
func (ackFunc) Fail(error)              {}
