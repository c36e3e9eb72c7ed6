package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/internal/wire"
)

// The session against a scripted peer: fakeTransport is an in-memory Transport that the test drives
// frame by frame (what the server sends, what the client wrote). session_ws_test.go and
// session_polling_test.go run the session over real WebSocket and polling peers.

type fakeFrame struct {
	data   string
	binary bool
	err    error // ReadFrame returns it
}

type fakeTransport struct {
	in        chan fakeFrame // the peer's frames, for ReadFrame
	out       chan string    // the frames the client wrote, one by one
	closes    chan time.Time // WriteClose calls, with their deadline
	closed    chan struct{}
	closeOnce sync.Once
	lastRead  atomic.Int64
	stall     atomic.Bool // WriteFrames blocks until Close (a peer that never reads)
}

func newFakeTransport() *fakeTransport {
	f := &fakeTransport{
		in:     make(chan fakeFrame, 64),
		out:    make(chan string, 1024),
		closes: make(chan time.Time, 4),
		closed: make(chan struct{}),
	}
	f.lastRead.Store(time.Now().UnixNano())
	return f
}

func (f *fakeTransport) Name() string { return "fake" }

func (f *fakeTransport) ReadFrame(buf *bytes.Buffer) (bool, error) {
	select {
	case fr := <-f.in:
		if fr.err != nil {
			return false, fr.err
		}
		f.lastRead.Store(time.Now().UnixNano())
		buf.Reset()
		buf.WriteString(fr.data)
		return fr.binary, nil
	case <-f.closed:
		return false, net.ErrClosed
	}
}

func (f *fakeTransport) WriteFrames(frames [][]byte, deadline time.Time) error {
	if f.stall.Load() {
		<-f.closed
		return net.ErrClosed
	}
	for _, fr := range frames {
		select {
		case <-f.closed:
			return net.ErrClosed
		case f.out <- string(fr):
		}
	}
	return nil
}

func (f *fakeTransport) WriteClose(deadline time.Time) { f.closes <- deadline }

func (f *fakeTransport) LastRead() time.Time { return time.Unix(0, f.lastRead.Load()) }

func (f *fakeTransport) Close() error {
	f.closeOnce.Do(func() { close(f.closed) })
	return nil
}

// send queues a text frame from the server.
func (f *fakeTransport) send(frames ...string) {
	for _, fr := range frames {
		f.in <- fakeFrame{data: fr}
	}
}

// expect reads the client's next frame and checks it.
func (f *fakeTransport) expect(t *testing.T, want string) {
	t.Helper()
	if got := recv(t, f.out, "frame "+want); got != want {
		t.Fatalf("client wrote %q, want %q", got, want)
	}
}

// openFrame is an open packet; intervals in milliseconds.
func openFrame(sid string, pingInterval, pingTimeout, maxPayload int64) string {
	return string(wire.AppendOpen(nil, wire.Open{SID: sid, Upgrades: []string{}, PingInterval: pingInterval, PingTimeout: pingTimeout, MaxPayload: maxPayload}))
}

// testHandler records what a session reports.
type testHandler struct {
	events   chan string // "name arg"
	closed   chan closedCall
	nClosed  atomic.Int32
	upgraded chan error
}

type closedCall struct {
	reason string
	err    error
}

func newTestHandler() *testHandler {
	return &testHandler{events: make(chan string, 64), closed: make(chan closedCall, 4), upgraded: make(chan error, 4)}
}

func (h *testHandler) Event(name string, arg json.RawMessage) { h.events <- name + " " + string(arg) }

func (h *testHandler) Closed(reason string, err error) {
	h.nClosed.Add(1)
	h.closed <- closedCall{reason, err}
}

func (h *testHandler) Upgraded(transport string, err error) {
	if err == nil && transport != "websocket" {
		err = errors.New("upgraded to " + transport)
	}
	h.upgraded <- err
}

// expectClosed waits for the session's end and checks its reason.
func (h *testHandler) expectClosed(t *testing.T, reason string) error {
	t.Helper()
	c := recv(t, h.closed, "Closed("+reason+")")
	if c.reason != reason {
		t.Fatalf("Closed(%q, %v), want reason %q", c.reason, c.err, reason)
	}
	return c.err
}

// testAcker records the ack of one request, or its failure (in failed, if set).
type testAcker struct {
	n      int
	acks   chan ackCall
	failed *[]int
}

type ackCall struct {
	n    int
	data string
}

func (a *testAcker) Fail(error) {
	if a.failed != nil {
		*a.failed = append(*a.failed, a.n)
	}
}

func (a *testAcker) Ack(data []byte) error {
	a.acks <- ackCall{a.n, string(data)}
	if !json.Valid(data) {
		return errors.New("invalid JSON")
	}
	return nil
}

// requestPayload is a Request payload: Headroom free bytes, then data.
func requestPayload(data string) []byte { return append(make([]byte, Headroom), data...) }

// handshake runs Handshake over f with a bound of testkit.Short.
func handshake(f *fakeTransport, eio int) (*Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Short)
	defer cancel()
	return Handshake(ctx, f, eio)
}

// startSession connects a session over a fake transport (open packet with the given intervals in
// milliseconds and maxPayload) and starts it. The session is closed at the end of the test.
func startSession(t *testing.T, eio int, pingInterval, pingTimeout, maxPayload int64) (*Session, *fakeTransport, *testHandler) {
	t.Helper()
	f := newFakeTransport()
	f.send(openFrame("engine-sid", pingInterval, pingTimeout, maxPayload))
	if eio == 3 {
		f.send("40")
	} else {
		f.send(`40{"sid":"socket-sid"}`)
	}
	s, err := handshake(f, eio)
	if err != nil {
		t.Fatal(err)
	}
	if eio == 4 {
		f.expect(t, "40")
	}
	h := newTestHandler()
	s.Start(h)
	t.Cleanup(func() { s.Close(testkit.Short, nil) })
	return s, f, h
}

const long = 60_000 // a heartbeat interval (ms) no test waits for

func TestHandshake(t *testing.T) {
	open := openFrame("engine-sid", long, long, 0)
	tests := []struct {
		name   string
		eio    int
		server []fakeFrame // what the server sends, in order
		client []string    // what the client must have written, in order
		id     string      // the socket id, when the handshake succeeds
		is     error       // the error's sentinel, when it fails
		msg    string      // a part of the error's message
	}{
		{name: "eio3 server connects", eio: 3, server: frames(open, "40"), id: "engine-sid"},
		{name: "eio3 noop and pong skipped", eio: 3, server: frames(open, "6", "3", "40"), id: "engine-sid"},
		{name: "eio3 other namespace skipped", eio: 3, server: frames(open, "40/admin,", "40"), id: "engine-sid"},
		{name: "eio4 client connects", eio: 4, server: frames(open, `40{"sid":"socket-sid"}`), client: []string{"40"}, id: "socket-sid"},
		{name: "eio4 ping answered", eio: 4, server: frames(open, "2", `40{"sid":"socket-sid"}`), client: []string{"40", "3"}, id: "socket-sid"},
		{name: "eio4 no sid", eio: 4, server: frames(open, "40"), client: []string{"40"}, is: ErrProtocol, msg: "only Engine.IO v3 servers do (sails-hook-sockets 1.x and 2.x): use EIO3"},
		{name: "eio4 sid not a string", eio: 4, server: frames(open, `40{"sid":1}`), is: ErrProtocol, msg: "without a socket id"},
		{name: "connect error", eio: 3, server: frames(open, `44{"message":"nope"}`), msg: `refused the connection: {"message":"nope"}`},
		{name: "not an open packet", eio: 3, server: frames("40"), is: ErrProtocol, msg: "expected an open packet"},
		{name: "invalid open packet", eio: 3, server: frames(`0{"sid":""}`), is: ErrProtocol},
		{name: "close", eio: 3, server: frames(open, "1"), is: ErrProtocol, msg: "closed the session during the handshake"},
		{name: "upgrade packet", eio: 3, server: frames(open, "5"), is: ErrProtocol, msg: "during the handshake"},
		{name: "event before connect", eio: 3, server: frames(open, `42["hello"]`), is: ErrProtocol, msg: "before CONNECT"},
		{name: "invalid packet", eio: 3, server: frames(open, "4x"), is: ErrProtocol},
		{name: "binary frame", eio: 3, server: []fakeFrame{{data: open}, {data: "\x04abc", binary: true}}, is: ErrProtocol, msg: "binary frame during the handshake"},
		{name: "connection ends", eio: 3, server: []fakeFrame{{data: open}, {err: net.ErrClosed}}, is: ErrProtocol, msg: "the connection ended during the Socket.IO handshake"},
		{name: "read limit", eio: 3, server: []fakeFrame{{data: open}, {err: &ReadError{ReasonTransportError, errTooLarge}}}, is: ErrMessageTooLarge, msg: "exceeded 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTransport()
			for _, fr := range tt.server {
				f.in <- fr
			}
			s, err := handshake(f, tt.eio)
			for _, want := range tt.client {
				f.expect(t, want)
			}
			if tt.id != "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.ID() != tt.id {
					t.Fatalf("ID() = %q, want %q", s.ID(), tt.id)
				}
				if s.Open().SID != "engine-sid" {
					t.Fatalf("Open().SID = %q", s.Open().SID)
				}
				s.Close(0, nil)
				return
			}
			if err == nil {
				t.Fatal("the handshake succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not say %q", err, tt.msg)
			}
			f.Close()
		})
	}
	t.Run("connect error is ConnectRefused", func(t *testing.T) {
		f := newFakeTransport()
		f.send(open, `44{"message":"nope"}`)
		_, err := handshake(f, 3)
		var cr *ConnectRefused
		if !errors.As(err, &cr) || string(cr.Data) != `{"message":"nope"}` {
			t.Fatalf("error %v, want a *ConnectRefused with the packet's data", err)
		}
	})
	t.Run("eio3 client sends no 40", func(t *testing.T) {
		s, f, _ := startSession(t, 3, long, long, 0)
		// The first frame the client writes is the request: no CONNECT went before it.
		if _, err := s.Request(requestPayload(`["get",{}]`), &testAcker{acks: make(chan ackCall, 1)}); err != nil {
			t.Fatal(err)
		}
		f.expect(t, `420["get",{}]`)
	})
	t.Run("ctx ends the handshake", func(t *testing.T) {
		f := newFakeTransport()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Handshake(ctx, f, 3); err == nil {
			t.Fatal("the handshake succeeded")
		}
	})
}

var errTooLarge = fmt.Errorf("%w: a message exceeded 10 bytes", ErrMessageTooLarge)

func frames(data ...string) []fakeFrame {
	out := make([]fakeFrame, len(data))
	for i, d := range data {
		out[i] = fakeFrame{data: d}
	}
	return out
}

// TestHeartbeat: under EIO4 the client answers pings; under EIO3 it pings; silence for
// pingInterval+pingTimeout ends the session with ReasonPingTimeout.
func TestHeartbeat(t *testing.T) {
	t.Run("eio4 pong", func(t *testing.T) {
		_, f, _ := startSession(t, 4, long, long, 0)
		f.send("2")
		f.expect(t, "3")
		f.send("2")
		f.expect(t, "3")
	})
	t.Run("eio3 client pings", func(t *testing.T) {
		_, f, _ := startSession(t, 3, 10, long, 0)
		f.expect(t, "2")
		f.send("3")
		f.expect(t, "2") // the timer goes on
	})
	t.Run("eio3 server ping not answered", func(t *testing.T) {
		s, f, h := startSession(t, 3, long, long, 0)
		f.send("2", `42["marker"]`)
		recv(t, h.events, "marker event")
		// The reader handled the ping before the marker: had it answered, the pong would come first.
		if _, err := s.Request(requestPayload(`["get",{}]`), &testAcker{acks: make(chan ackCall, 1)}); err != nil {
			t.Fatal(err)
		}
		f.expect(t, `420["get",{}]`)
	})
	for _, eio := range []int{3, 4} {
		t.Run(fmt.Sprint("timeout eio", eio), func(t *testing.T) {
			_, _, h := startSession(t, eio, 20, 20, 0)
			err := h.expectClosed(t, ReasonPingTimeout)
			if err == nil || !strings.Contains(err.Error(), "no heartbeat") {
				t.Fatalf("Closed error %v", err)
			}
		})
	}
	t.Run("read timeout", func(t *testing.T) {
		_, f, h := startSession(t, 4, long, long, 0)
		f.in <- fakeFrame{err: os.ErrDeadlineExceeded}
		h.expectClosed(t, ReasonPingTimeout)
	})
}

// TestAcks: acks reach the Acker of their request, whatever their order; FailPending fails the
// others in send order; a forgotten request's ack is dropped.
func TestAcks(t *testing.T) {
	s, f, h := startSession(t, 4, long, long, 0)
	acks := make(chan ackCall, 10)
	var ids []int64
	var failed []int
	for n := range 5 {
		id, err := s.Request(requestPayload(fmt.Sprintf(`["get",{"n":%d}]`, n)), &testAcker{n: n, acks: acks, failed: &failed})
		if err != nil {
			t.Fatal(err)
		}
		if id != int64(n) {
			t.Fatalf("ack id %d, want %d", id, n)
		}
		ids = append(ids, id)
	}
	for n := range 5 {
		f.expect(t, fmt.Sprintf(`42%d["get",{"n":%d}]`, n, n))
	}
	f.send(`433[{"body":3}]`, `431[{"body":1}]`)
	if a := recv(t, acks, "ack"); a.n != 3 || a.data != `[{"body":3}]` {
		t.Fatalf("ack %+v, want request 3's", a)
	}
	if a := recv(t, acks, "ack"); a.n != 1 || a.data != `[{"body":1}]` {
		t.Fatalf("ack %+v, want request 1's", a)
	}
	s.Forget(ids[2])
	// An ack for a forgotten (or unknown) request is dropped; a marker event shows it was read.
	f.send(`432[{"body":2}]`, `439[null]`, `42["marker",1]`)
	if ev := recv(t, h.events, "marker"); ev != "marker 1" {
		t.Fatalf("event %q", ev)
	}
	if len(acks) != 0 {
		t.Fatalf("a forgotten request got its ack: %+v", <-acks)
	}
	s.FailPending(errors.New("lost"))
	if !slices.Equal(failed, []int{0, 4}) {
		t.Fatalf("FailPending: requests %v, want [0 4]", failed)
	}
	s.FailPending(errors.New("lost"))
	if len(failed) != 2 {
		t.Fatal("FailPending failed requests twice")
	}
	// A binary ack (EIO4: attachments in binary frames) reaches its Acker too.
	if _, err := s.Request(requestPayload(`["get",{}]`), &testAcker{n: 5, acks: acks}); err != nil {
		t.Fatal(err)
	}
	f.expect(t, `425["get",{}]`)
	f.send(`461-5[{"_placeholder":true,"num":0}]`)
	f.in <- fakeFrame{data: "xyz", binary: true}
	if a := recv(t, acks, "binary ack"); a.n != 5 {
		t.Fatalf("ack %+v, want request 5's", a)
	}
}

// TestRequestRefused: above the server's maxPayload, or once the session is closing, a request is
// refused and nothing is written.
func TestRequestRefused(t *testing.T) {
	s, f, _ := startSession(t, 4, long, long, 16)
	var failed []int
	a := &testAcker{acks: make(chan ackCall, 1), failed: &failed}
	_, err := s.Request(requestPayload(`["get",{"a":"0123456789"}]`), a)
	if !errors.Is(err, ErrMessageTooLarge) || !strings.Contains(err.Error(), "maxPayload of 16") {
		t.Fatalf("error %v, want ErrMessageTooLarge naming maxPayload", err)
	}
	if id, err := s.Request(requestPayload(`["get"]`), a); err != nil || id != 0 {
		t.Fatalf("Request = %d, %v: the refused request must not use an id", id, err)
	}
	f.expect(t, `420["get"]`)
	if s.FailPending(ErrClosed); len(failed) != 1 {
		t.Fatalf("%d pending, want 1", len(failed))
	}
	s.Close(testkit.Short, nil)
	if _, err := s.Request(requestPayload(`["get"]`), a); !errors.Is(err, ErrClosed) {
		t.Fatalf("Request after Close: %v, want ErrClosed", err)
	}
}

// TestSessionEnds: how the server and the transport end a session, and the reason the Handler
// learns.
func TestSessionEnds(t *testing.T) {
	tests := []struct {
		name   string
		frames []fakeFrame
		reason string
		is     error  // the cause's sentinel (nil: none)
		msg    string // a part of the cause's message
	}{
		{name: "server disconnect", frames: frames("41"), reason: ReasonServerDisconnect},
		{name: "connect error", frames: frames(`44{"message":"bye"}`), reason: ReasonServerDisconnect, msg: "refused the connection"},
		{name: "engine close", frames: frames("1"), reason: ReasonTransportClose},
		{name: "transport ends", frames: []fakeFrame{{err: net.ErrClosed}}, reason: ReasonTransportClose, is: net.ErrClosed},
		{name: "transport verdict", frames: []fakeFrame{{err: &ReadError{ReasonTransportError, errTooLarge}}}, reason: ReasonTransportError, is: ErrMessageTooLarge},
		{name: "unknown engine type", frames: frames("9"), reason: ReasonParseError, is: ErrProtocol},
		{name: "empty frame", frames: frames(""), reason: ReasonParseError, is: ErrProtocol},
		{name: "invalid packet", frames: frames("4x"), reason: ReasonParseError, is: ErrProtocol},
		{name: "event without name", frames: frames(`42[]`), reason: ReasonParseError, is: ErrProtocol},
		{name: "event not json", frames: frames(`42["a",`), reason: ReasonParseError, is: ErrProtocol},
		{name: "ack not an array", frames: frames(`430{}`), reason: ReasonParseError, is: ErrProtocol, msg: "array"},
		{name: "unknown ack not json", frames: frames(`437[1,`), reason: ReasonParseError, is: ErrProtocol, msg: "not valid JSON"},
		{name: "binary frame with nothing pending", frames: []fakeFrame{{data: "abc", binary: true}}, reason: ReasonParseError, is: ErrProtocol},
		{name: "packet while attachments wait", frames: frames(`451-["a",{"_placeholder":true,"num":0}]`, `42["b"]`), reason: ReasonParseError, is: ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, f, h := startSession(t, 4, long, long, 0)
			for _, fr := range tt.frames {
				f.in <- fr
			}
			err := h.expectClosed(t, tt.reason)
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("cause %v, want %v", err, tt.is)
			}
			if tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)) {
				t.Fatalf("cause %v does not say %q", err, tt.msg)
			}
			select {
			case <-s.Done():
			default:
				t.Fatal("Done not closed after Closed")
			}
			if _, err := s.Request(requestPayload(`["get"]`), &testAcker{}); !errors.Is(err, ErrClosed) {
				t.Fatalf("Request after the end: %v, want ErrClosed", err)
			}
		})
	}
	t.Run("acker refuses its payload", func(t *testing.T) {
		s, f, h := startSession(t, 4, long, long, 0)
		acks := make(chan ackCall, 1)
		if _, err := s.Request(requestPayload(`["get"]`), &testAcker{acks: acks}); err != nil {
			t.Fatal(err)
		}
		f.expect(t, `420["get"]`)
		f.send(`430[1,`)
		recv(t, acks, "ack")
		if err := h.expectClosed(t, ReasonParseError); !errors.Is(err, ErrProtocol) {
			t.Fatalf("cause %v", err)
		}
	})
}

// TestClosedOnce: the Handler learns of the end once, however many ways it ends, and not at all
// when the client closes.
func TestClosedOnce(t *testing.T) {
	t.Run("ended by the server, then closed", func(t *testing.T) {
		s, f, h := startSession(t, 4, long, long, 0)
		f.send("41", "1")
		f.in <- fakeFrame{err: net.ErrClosed}
		h.expectClosed(t, ReasonServerDisconnect)
		s.Close(testkit.Short, nil)
		s.Wait()
		if n := h.nClosed.Load(); n != 1 {
			t.Fatalf("Closed called %d times", n)
		}
	})
	t.Run("ended by the server during Close", func(t *testing.T) {
		s, f, h := startSession(t, 4, long, long, 0)
		f.stall.Store(true) // the peer reads nothing: Close waits for its grace
		done := make(chan struct{})
		go func() { s.Close(testkit.Wait, nil); close(done) }()
		// Close has begun once requests are refused.
		deadline := time.Now().Add(testkit.Short)
		for {
			if _, err := s.Request(requestPayload(`["get"]`), &testAcker{}); errors.Is(err, ErrClosed) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("Close did not begin")
			}
			runtime.Gosched()
		}
		f.in <- fakeFrame{err: net.ErrClosed}
		recv(t, done, "Close")
		if n := h.nClosed.Load(); n != 0 {
			t.Fatalf("the Handler was told (%+v) of an end during Close", <-h.closed)
		}
	})
	t.Run("closed by the client", func(t *testing.T) {
		s, f, h := startSession(t, 3, 10, long, 0)
		f.expect(t, "2")
		s.Close(testkit.Short, nil)
		s.Close(testkit.Short, nil)
		s.Wait()
		if n := h.nClosed.Load(); n != 0 {
			t.Fatalf("Closed called %d times after Close", n)
		}
	})
}

// TestClose: Close writes what waits and 41, then closes the transport; it is bounded by grace and
// by cut when the peer does not read.
func TestClose(t *testing.T) {
	t.Run("order", func(t *testing.T) {
		s, f, _ := startSession(t, 4, long, long, 0)
		for range 3 {
			if _, err := s.Request(requestPayload(`["get"]`), &testAcker{}); err != nil {
				t.Fatal(err)
			}
		}
		s.Close(testkit.Wait, nil)
		for _, want := range []string{`420["get"]`, `421["get"]`, `422["get"]`, "41"} {
			f.expect(t, want)
		}
		if d := recv(t, f.closes, "WriteClose"); d.IsZero() {
			t.Fatal("WriteClose without a deadline")
		}
	})
	for _, how := range []string{"grace", "cut"} {
		t.Run("peer never reads, "+how, func(t *testing.T) {
			s, f, h := startSession(t, 4, long, long, 0)
			f.stall.Store(true)
			if _, err := s.Request(requestPayload(`["get"]`), &testAcker{}); err != nil {
				t.Fatal(err)
			}
			grace, cut := testkit.D(50*time.Millisecond), make(chan struct{})
			if how == "cut" {
				grace = testkit.Wait
				close(cut)
			}
			start := time.Now()
			s.Close(grace, cut)
			if d := time.Since(start); d > grace+testkit.Short {
				t.Fatalf("Close took %v (grace %v)", d, grace)
			}
			if n := h.nClosed.Load(); n != 0 {
				t.Fatal("Close told the Handler")
			}
		})
	}
}

// blockingHandler is a testHandler whose Event blocks for the event "block" until release is closed.
type blockingHandler struct {
	*testHandler
	blocked chan struct{} // receives when Event blocks
	release chan struct{}
	done    chan struct{} // closed when the blocked Event returned
}

func (h *blockingHandler) Event(name string, arg json.RawMessage) {
	if name == "block" {
		h.blocked <- struct{}{}
		<-h.release
		close(h.done)
		return
	}
	h.testHandler.Event(name, arg)
}

// TestHandoff: while the reader is in Handler.Event, Handoff has a new reader go on (events and
// acks keep coming), the blocked Event is no longer the session's (Close does not wait for it), and
// once it returns its goroutine leaves. Without a reader in Event, Handoff does nothing.
func TestHandoff(t *testing.T) {
	for _, ended := range []bool{false, true} {
		t.Run(fmt.Sprintf("session ended %v", ended), func(t *testing.T) {
			s, f, th := startSession(t, 3, long, long, 0)
			h := &blockingHandler{testHandler: th, blocked: make(chan struct{}, 1), release: make(chan struct{}), done: make(chan struct{})}
			s.h = h // before any event: the reader reads s.h only once a frame arrived
			if s.Handoff() {
				t.Fatal("Handoff without a reader in Event reported true")
			}
			f.send(`42["block"]`)
			recv(t, h.blocked, "the blocked Event")
			if ended {
				s.end(ReasonTransportClose, nil, false)
			}
			if !s.Handoff() {
				t.Fatal("Handoff of a reader in Event reported false")
			}
			if s.Handoff() {
				t.Fatal("a second Handoff of the same Event reported true")
			}
			if !ended {
				acks := make(chan ackCall, 1)
				id, err := s.Request(requestPayload(`["get",{}]`), &testAcker{acks: acks})
				if err != nil {
					t.Fatal(err)
				}
				f.expect(t, fmt.Sprintf(`42%d["get",{}]`, id))
				f.send(`42["after",1]`, fmt.Sprintf(`43%d[{"statusCode":200}]`, id))
				if got := recv(t, h.events, "the event after the handoff"); got != "after 1" {
					t.Fatalf("event %q", got)
				}
				if got := recv(t, acks, "the ack after the handoff"); got.data != `[{"statusCode":200}]` {
					t.Fatalf("ack %q", got.data)
				}
			}
			closed := make(chan struct{})
			go func() {
				s.Close(testkit.Short, nil)
				close(closed)
			}()
			recv(t, closed, "Close while the handed-off Event blocks")
			select {
			case <-h.done:
				t.Fatal("the Event returned before its release")
			default:
			}
			close(h.release)
			recv(t, h.done, "the handed-off Event's return")
			testkit.WaitRunning(t, 0, testkit.Wait, "after the handed-off Event", testkit.Engine)
		})
	}
}
