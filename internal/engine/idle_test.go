package engine

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio/internal/testkit"
)

// setQuietAfter makes a wait for bytes of d count as idle, for the test.
func setQuietAfter(t *testing.T, d time.Duration) {
	old := quietAfter.Swap(int64(d))
	t.Cleanup(func() { quietAfter.Store(old) })
}

// countIdleWaits returns a channel that receives a value each time a session's reader begins to
// wait on a new goroutine (waitRead), for the test.
func countIdleWaits(t *testing.T, n int) <-chan struct{} {
	c := make(chan struct{}, n)
	f := func() {
		select {
		case c <- struct{}{}:
		default:
			panic("more idle waits than the test expects")
		}
	}
	idleWaitHook.Store(&f)
	t.Cleanup(func() { idleWaitHook.Store(nil) })
	return c
}

// startWS connects an EIO3 session to p and starts it.
func startWS(t *testing.T, p *wsPeer) (*Session, *websocket.Conn, *testHandler) {
	t.Helper()
	ws, c := p.dial(t, 1<<20)
	peerSend(t, c, openFrame("engine-sid", long, long, 0), "40")
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Short)
	defer cancel()
	s, err := Handshake(ctx, ws, 3)
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHandler()
	s.Start(h)
	t.Cleanup(func() { s.Close(testkit.Short, nil) })
	return s, c, h
}

// goroutinesIn counts the goroutines of the module whose stack holds fn.
func goroutinesIn(fn string) int {
	count := 0
	for _, g := range testkit.Goroutines() {
		if strings.Contains(g, fn) {
			count++
		}
	}
	return count
}

// TestIdleSessionHoldsLittle: an idle WebSocket session keeps one goroutine, a reader that waits
// for the network on a new goroutine (so on the smallest stack, however deep the reading of the
// last message went), and no read buffer: not its own, not gorilla's beyond a control frame, not
// the connection's. Figures of the runtime, no timing: the sessions idle as soon as they wait.
func TestIdleSessionHoldsLittle(t *testing.T) {
	n := 400
	if testing.Short() || raceBuild {
		n = 20
	}
	setQuietAfter(t, 0) // every wait for the network counts as idle
	waits := countIdleWaits(t, 2*n)
	p := newWSPeer(t)
	runtime.GC()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	type sc struct {
		s *Session
		c *websocket.Conn
		h *testHandler
	}
	socks := make([]sc, n)
	for i := range socks {
		s, c, h := startWS(t, p)
		socks[i] = sc{s, c, h}
		recv(t, waits, "the reader's first wait") // nothing to read after the handshake
	}
	// Every reader reads a message, then waits again on a new goroutine. The first waits began
	// before a garbage collection saw these sessions; these begin after it, when the runtime
	// starts new goroutines on stacks as small as the goroutines it scanned use.
	runtime.GC()
	for i, x := range socks {
		peerSend(t, x.c, fmt.Sprintf(`42["tick",%d]`, i))
	}
	for i, x := range socks {
		if ev := recv(t, x.h.events, "event"); ev != fmt.Sprintf("tick %d", i) {
			t.Fatalf("socket %d: event %q", i, ev)
		}
		recv(t, waits, "the reader's wait after the event")
	}
	runtime.GC()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	if w, r := goroutinesIn("engine.(*Session).waitRead("), goroutinesIn("engine.(*Session).readLoop("); w != n || r != 0 {
		t.Errorf("%d sessions: %d readers waiting in waitRead, %d in readLoop; want %d and 0", n, w, r, n)
	}
	if g := goroutinesIn("internal/engine.(*"); g != n {
		t.Errorf("%d sessions: %d goroutines of the engine, want one each", n, g)
	}
	for i, x := range socks {
		bc := x.s.Transport().(*WebSocket).net
		if bc.ahead != nil || len(bc.pend) > 0 {
			t.Fatalf("socket %d: the connection holds a read buffer while idle", i)
		}
	}
	stack := float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n)
	t.Logf("%d idle sessions: %.0f bytes of goroutine stack each", n, stack)
	// The smallest stack is 2 KiB; a reader parked inside gorilla/websocket needs 4 KiB. The race
	// detector doubles the stack guard (and so 4 KiB); fewer sessions measure too coarsely.
	if !raceBuild && !testing.Short() && stack > 3<<10 {
		t.Errorf("%d idle sessions: %.0f bytes of goroutine stack each, want the smallest stack (2 KiB)", n, stack)
	}
}

// TestWebSocketFramesInOneWrite: frames that arrive together (one write of the server's, a ping and
// a fragmented message among them) are all read, whether the reader waits on a new goroutine
// between them or not, and the ping is answered.
func TestWebSocketFramesInOneWrite(t *testing.T) {
	for _, quiet := range []time.Duration{0, time.Hour} {
		t.Run(fmt.Sprint("quiet after ", quiet), func(t *testing.T) {
			setQuietAfter(t, quiet)
			s, c, h := startWS(t, newWSPeer(t))
			pongs := make(chan string, 1)
			c.SetPongHandler(func(data string) error { pongs <- data; return nil })
			var burst []byte
			burst = append(burst, wsFrame(1, true, []byte(`42["a"]`), false)...)
			burst = append(burst, wsFrame(9, true, []byte("hi"), false)...)
			burst = append(burst, wsFrame(1, false, []byte(`42["b",`), false)...)
			burst = append(burst, wsFrame(0, true, []byte(`1]`), false)...)
			burst = append(burst, wsFrame(1, true, []byte(`42["c"]`), false)...)
			for round := range 3 {
				if _, err := c.NetConn().Write(burst); err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"a null", "b 1", "c null"} {
					if ev := recv(t, h.events, "event"); ev != want {
						t.Fatalf("round %d: event %q, want %q", round, ev, want)
					}
				}
				if _, err := s.Request(requestPayload(`["get"]`), &testAcker{}); err != nil {
					t.Fatal(err)
				}
				peerExpect(t, c, fmt.Sprintf(`42%d["get"]`, round)) // reads the pong on the way
				if p := recv(t, pongs, "pong"); p != "hi" {
					t.Fatalf("pong %q", p)
				}
			}
		})
	}
}

// TestWebSocketHeadAndFramesInOneWrite: a server that sends the 101, the open packet, the CONNECT
// and an event in one write: the client reads the head, then the frames, the last one once the
// session started, with nothing left behind in gorilla's buffer.
func TestWebSocketHeadAndFramesInOneWrite(t *testing.T) {
	setQuietAfter(t, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			served <- nil
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(nc))
		if err != nil {
			nc.Close()
			served <- nil
			return
		}
		sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		out := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
		for _, f := range []string{openFrame("engine-sid", long, long, 0), "40", `42["early",1]`} {
			out = append(out, wsFrame(1, true, []byte(f), false)...)
		}
		nc.Write(out)
		served <- nc
	}()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Short)
	defer cancel()
	ws, err := DialWebSocket(ctx, WebSocketConfig{URL: "ws://" + ln.Addr().String() + "/socket.io/?EIO=3&transport=websocket", MaxMessage: 1 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nc := recv(t, served, "the server's connection")
	if nc == nil {
		t.Fatal("the server failed")
	}
	defer nc.Close()
	s, err := Handshake(ctx, ws, 3)
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHandler()
	s.Start(h)
	defer s.Close(testkit.Short, nil)
	if ev := recv(t, h.events, "event"); ev != "early 1" {
		t.Fatalf("event %q", ev)
	}
	if _, err := nc.Write(wsFrame(1, true, []byte(`42["late",2]`), false)); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, h.events, "event"); ev != "late 2" {
		t.Fatalf("event %q", ev)
	}
}
