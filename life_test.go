package sailsio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

// Tests of the connection life: bounded shutdown, errors of Connect and Reconnect, user code that
// calls back into the socket, the BackOff policy, memory held by requests.

// shutdownBound is what Disconnect and a cancelled Reconnect may take in these tests. The contract
// is about one second (closeGrace); the bound leaves room for a loaded machine under -race, and is
// far below what a stuck write would take (pingInterval+pingTimeout, 85 s here).
var shutdownBound = testkit.D(5 * time.Second)

// promptly bounds what must take no time but a loaded machine's scheduling (a Disconnect during a
// handshake, far below the connect timeout of those tests).
var promptly = testkit.D(500 * time.Millisecond)

// stuckServer connects a socket to a server that stops reading after the handshake, and makes
// the socket's writer block on a request larger than the loopback buffers.
func stuckServer(t *testing.T) (*SailsSocket, <-chan *JWRes) {
	t.Helper()
	f := newFake(t, nil)
	s, c, connected := startFake(t, f, WithReconnection(false))
	c.open(EIO3, "sid", 25000, 60000, 0) // 85 s of heartbeat: only a bounded shutdown ends sooner
	if err := connected(); err != nil {
		t.Fatal(err)
	}
	done := make(chan *JWRes, 2)
	s.Post("/big", json.RawMessage(`"`+strings.Repeat("x", 64<<20)+`"`), func(_ json.RawMessage, jwr *JWRes) { done <- jwr })
	return s, done
}

func TestDisconnectBoundedWhenServerStopsReading(t *testing.T) {
	s, done := stuckServer(t)
	start := time.Now()
	s.Disconnect()
	d := time.Since(start)
	t.Logf("Disconnect with a server that stopped reading took %v", d)
	if d > shutdownBound {
		t.Errorf("Disconnect took %v with a server that stopped reading", d)
	}
	select {
	case jwr := <-done:
		if !errors.Is(jwr.Error, ErrClosed) {
			t.Errorf("the stuck request got %v, want ErrClosed", jwr.Error)
		}
	default:
		t.Error("Disconnect returned before the stuck request's callback ran")
	}
	if len(done) != 0 {
		t.Error("the callback ran twice")
	}
}

func TestReconnectHonoursContextWhenWriterIsStuck(t *testing.T) {
	s, done := stuckServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Reconnect(ctx)
	if d := time.Since(start); d > shutdownBound {
		t.Errorf("Reconnect took %v with a stuck writer", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Reconnect = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if jwr := <-done; !errors.Is(jwr.Error, ErrDisconnected) {
		t.Errorf("the stuck request got %v, want ErrDisconnected", jwr.Error)
	}
}

// blackHole accepts TCP connections and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + ln.Addr().String()
}

// TestConnectDeadlineWrapsContextError: whichever timer fires first (the ctx's, or the deadline
// the dial derives from it), the error wraps ctx.Err().
func TestConnectDeadlineWrapsContextError(t *testing.T) {
	url := blackHole(t)
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(5+i)*time.Millisecond)
		_, err := Connect(ctx, url)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Connect past its deadline = %v, want an error wrapping context.DeadlineExceeded", err)
		}
	}
	_, err := Connect(context.Background(), url, WithConnectTimeout(20*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "WithConnectTimeout") {
		t.Errorf("Connect past WithConnectTimeout = %v", err)
	}
}

// TestOverlappingConnects: Connect, Reconnect and Disconnect called while another is under way
// return nil or a documented error, never an undocumented "superseded".
func TestOverlappingConnects(t *testing.T) {
	f := newFake(t, nil)
	s, err := New(f.URL, WithReconnection(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	first := make(chan error, 1)
	go func() { first <- s.Connect(ctx5(t)) }()
	c := f.accept(t) // the first attempt waits for its open packet
	second := make(chan error, 1)
	go func() { second <- s.Reconnect(ctx5(t)) }()
	third := make(chan error, 1)
	go func() { third <- s.Connect(ctx5(t)) }()
	c.open(EIO3, "one", 25000, 60000, 0)
	if err := <-first; err != nil {
		t.Errorf("first Connect = %v", err)
	}
	c2 := f.accept(t) // Reconnect's attempt
	c2.open(EIO3, "two", 25000, 60000, 0)
	if err := <-second; err != nil {
		t.Errorf("Reconnect = %v", err)
	}
	if err := <-third; err != nil {
		t.Errorf("second Connect = %v", err)
	}
	if s.ID() != "two" {
		t.Errorf("ID = %q, want the Reconnect's connection", s.ID())
	}
	// Disconnect during an attempt: the attempt's Connect gets ErrClosed.
	s2, err := New(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	pending := make(chan error, 1)
	go func() { pending <- s2.Connect(ctx5(t)) }()
	f.accept(t)
	s2.Disconnect()
	if err := <-pending; !errors.Is(err, ErrClosed) {
		t.Errorf("Connect cut by Disconnect = %v, want ErrClosed", err)
	}
}

// reentrantHandler is a slog handler that calls back into the socket, as a user's may.
type reentrantHandler struct {
	s     atomic.Pointer[SailsSocket]
	calls atomic.Int32
}

func (h *reentrantHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *reentrantHandler) Handle(context.Context, slog.Record) error {
	if s := h.s.Load(); s != nil {
		_ = s.State()
		_ = s.ID()
		_ = s.IsConnected()
		h.calls.Add(1)
	}
	return nil
}
func (h *reentrantHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *reentrantHandler) WithGroup(string) slog.Handler      { return h }

// TestUserCodeMayCallTheSocket: loggers, BackOff policies, callbacks and handlers call the socket's
// methods (the SDK never runs them under its lock), through connect, loss, reconnection and close.
func TestUserCodeMayCallTheSocket(t *testing.T) {
	h := &reentrantHandler{}
	var sock atomic.Pointer[SailsSocket]
	bo := &callingBackOff{s: &sock}
	f := newFake(t, nil)
	s, c, connected := startFake(t, f, WithLogger(slog.New(h)), WithReconnectionBackOff(bo))
	h.s.Store(s)
	sock.Store(s)
	for _, ev := range []string{EventConnect, EventDisconnect, EventReconnecting, EventReconnect} {
		s.On(ev, func(json.RawMessage) { _ = s.State(); _ = s.Headers() })
	}
	c.open(EIO3, "one", 25000, 60000, 0)
	if err := connected(); err != nil {
		t.Fatal(err)
	}
	c.send(`42["connect"]`) // logged: a server event with a reserved name
	c.ws.Close()            // logged: disconnected; then the BackOff is asked
	c2 := f.accept(t)
	c2.open(EIO3, "two", 25000, 60000, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if jwr, err := s.GetContext(ctx, "/x", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetContext = %v, %v; want the ctx's deadline (the fake never answers)", jwr, err)
	}
	s.Disconnect()
	if h.calls.Load() == 0 || bo.calls.Load() == 0 {
		t.Errorf("logger called %d times, BackOff %d times: the test did not exercise them", h.calls.Load(), bo.calls.Load())
	}
}

// waitFor polls cond until it holds (bounded).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testkit.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", testkit.Wait)
		}
		time.Sleep(time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// TestDisconnectBoundedWhenServerTrickles: a server that sends a large frame one byte at a time
// (the heartbeat never fires: bytes keep arriving) does not hold Disconnect up.
func TestDisconnectBoundedWhenServerTrickles(t *testing.T) {
	f := newFake(t, nil)
	s, c := connectFake(t, f, EIO3)
	nc := c.ws.NetConn()
	// A text frame announcing 1 MiB (unmasked, 64-bit length), then its payload byte by byte.
	if _, err := nc.Write([]byte{0x81, 127, 0, 0, 0, 0, 0, 0x10, 0, 0}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				if _, err := nc.Write([]byte("4")); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-trickled }()
	res := make(chan error, 1)
	go func() { _, err := s.GetContext(context.Background(), "/x", nil); res <- err }()
	start := time.Now()
	s.Disconnect()
	d := time.Since(start)
	t.Logf("Disconnect with a server that trickles bytes took %v", d)
	if d > shutdownBound {
		t.Errorf("Disconnect took %v with a server that trickles bytes", d)
	}
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Errorf("pending request = %v, want ErrClosed", err)
	}
}

// funcHandler is a slog handler that runs f for every record.
type funcHandler struct{ f func(slog.Record) }

func (h funcHandler) Enabled(context.Context, slog.Level) bool      { return true }
func (h funcHandler) Handle(_ context.Context, r slog.Record) error { h.f(r); return nil }
func (h funcHandler) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h funcHandler) WithGroup(string) slog.Handler                 { return h }

// TestUserCodeMayCloseTheSocket: a logger's handler or a BackOff policy that calls Disconnect or
// Reconnect does not deadlock the socket.
func TestUserCodeMayCloseTheSocket(t *testing.T) {
	// connectThenDrop connects a socket made with opts, publishes it in sock for the user code,
	// and drops its connection from the server's side.
	connectThenDrop := func(t *testing.T, sock *atomic.Pointer[SailsSocket], opts ...Option) (*SailsSocket, *fakeServer) {
		t.Helper()
		f := newFake(t, nil)
		s, c, connected := startFake(t, f, opts...)
		sock.Store(s)
		c.open(EIO3, "one", 25000, 60000, 0)
		if err := connected(); err != nil {
			t.Fatal(err)
		}
		c.ws.Close()
		return s, f
	}
	closed := func(t *testing.T, s *SailsSocket) {
		t.Helper()
		waitFor(t, func() bool { return s.State() == StateClosed })
	}
	t.Run("logger calls Disconnect", func(t *testing.T) {
		var sock atomic.Pointer[SailsSocket]
		log := slog.New(funcHandler{func(r slog.Record) {
			if strings.Contains(r.Message, "disconnected") {
				sock.Load().Disconnect()
			}
		}})
		s, _ := connectThenDrop(t, &sock, WithLogger(log))
		closed(t, s)
	})
	t.Run("BackOff calls Disconnect", func(t *testing.T) {
		var sock atomic.Pointer[SailsSocket]
		s, _ := connectThenDrop(t, &sock, WithReconnectionBackOff(funcBackOff{func() { sock.Load().Disconnect() }}))
		closed(t, s)
	})
	t.Run("BackOff calls Reconnect", func(t *testing.T) {
		var sock atomic.Pointer[SailsSocket]
		var once sync.Once
		s, f := connectThenDrop(t, &sock, WithReconnectionBackOff(funcBackOff{func() {
			once.Do(func() {
				if err := sock.Load().Reconnect(context.Background()); err != nil {
					t.Errorf("Reconnect from a BackOff: %v", err)
				}
			})
		}}))
		c2 := f.accept(t)
		c2.open(EIO3, "two", 25000, 60000, 0)
		waitFor(t, func() bool { return s.ID() == "two" })
	})
}

// TestDisconnectDuringHandshake: Disconnect while a connection attempt waits for a server
// that accepted the WebSocket but has not sent the open packet yet: the first Connect, and an
// attempt of the reconnection loop. Disconnect returns at once (not after the connect timeout), the
// interrupted Connect returns ErrClosed, no attempt follows, no goroutine is left. The timing of
// Disconnect against the attempt varies, so each case runs a few times.
func TestDisconnectDuringHandshake(t *testing.T) {
	const connectTimeout = 1500 * time.Millisecond // what a stuck attempt costs
	const rounds = 40                              // each case stops at its first failing round
	t.Run("first Connect", func(t *testing.T) {
		f := newFake(t, nil)
		for round := range rounds {
			s, c, connected := startFake(t, f, WithConnectTimeout(connectTimeout))
			c.t = t
			began := time.Now()
			s.Disconnect()
			failed := false
			if d := time.Since(began); d > promptly {
				t.Errorf("round %d: Disconnect took %v", round, d)
				failed = true
			}
			if err := connected(); !errors.Is(err, ErrClosed) {
				t.Errorf("round %d: Connect interrupted by Disconnect: %v after %v, want ErrClosed at once", round, err, time.Since(began))
				failed = true
			} else if d := time.Since(began); d > promptly {
				t.Errorf("round %d: Connect returned %v after Disconnect (connect timeout %v)", round, d, connectTimeout)
				failed = true
			}
			c.ws.Close()
			if failed {
				break
			}
		}
		f.CloseClientConnections()
		testkit.Gone(t, "after Disconnect")
	})
	t.Run("reconnection attempt", func(t *testing.T) {
		f := newFake(t, nil)
		for round := range rounds {
			s, c, connected := startFake(t, f, WithConnectTimeout(connectTimeout), WithReconnectionDelay(time.Millisecond, time.Millisecond))
			c.t = t
			c.open(EIO3, "sid1", 25000, 60000, 0)
			if err := connected(); err != nil {
				t.Fatal(err)
			}
			c.ws.Close()
			c2 := f.accept(t) // the loop's attempt, left waiting for the open packet
			began := time.Now()
			s.Disconnect()
			d := time.Since(began)
			if d > promptly {
				t.Errorf("round %d: Disconnect during a reconnection attempt took %v (connect timeout %v)", round, d, connectTimeout)
			}
			if st := s.State(); st != StateClosed {
				t.Errorf("round %d: State() = %v", round, st)
			}
			c2.ws.Close()
			select {
			case <-f.conns:
				t.Errorf("round %d: a connection attempt after Disconnect", round)
			default:
			}
			if d > promptly {
				break
			}
		}
		f.CloseClientConnections()
		testkit.Gone(t, "after Disconnect")
	})
}

// TestDisconnectDuringUpgrade: Disconnect while a connection attempt waits for the
// answer to its WebSocket upgrade request (the server took the TCP connection and the request but
// does not answer: overloaded, or a half-open path). Disconnect, and the Connect it interrupts,
// return at once, not when the connect timeout ends the attempt.
func TestDisconnectDuringUpgrade(t *testing.T) {
	const connectTimeout = 1500 * time.Millisecond
	// stalling makes the fake hold every upgrade request after the first allowed ones.
	stallingFake := func(t *testing.T, allowed int32) (*fakeServer, <-chan struct{}) {
		var seen atomic.Int32
		entered := make(chan struct{}, 16)
		release := make(chan struct{})
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) (http.Header, bool) {
			if seen.Add(1) <= allowed {
				return nil, true
			}
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			http.Error(w, "too late", http.StatusServiceUnavailable)
			return nil, false
		})
		t.Cleanup(func() { close(release) }) // before the fake closes
		return f, entered
	}
	t.Run("first Connect", func(t *testing.T) {
		f, entered := stallingFake(t, 0)
		s, err := New(f.URL, WithConnectTimeout(connectTimeout))
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- s.Connect(context.Background()) }()
		began := disconnectWhenStalled(t, s, entered)
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Connect interrupted by Disconnect: %v, want ErrClosed", err)
			}
			if d := time.Since(began); d > promptly {
				t.Errorf("Connect returned %v after Disconnect (connect timeout %v)", d, connectTimeout)
			}
		case <-time.After(2 * connectTimeout):
			t.Fatal("Connect did not return")
		}
	})
	t.Run("reconnection attempt", func(t *testing.T) {
		f, entered := stallingFake(t, 1)
		s, c, connected := startFake(t, f, WithConnectTimeout(connectTimeout), WithReconnectionDelay(time.Millisecond, time.Millisecond))
		c.t = t
		c.open(EIO3, "sid1", 25000, 60000, 0)
		if err := connected(); err != nil {
			t.Fatal(err)
		}
		c.ws.Close()
		disconnectWhenStalled(t, s, entered)
	})
}

// disconnectWhenStalled waits until an attempt of s stalls at the fake's upgrade (entered), then
// checks that Disconnect returns promptly; it returns when Disconnect was called.
func disconnectWhenStalled(t *testing.T, s *SailsSocket, entered <-chan struct{}) time.Time {
	t.Helper()
	select {
	case <-entered:
	case <-time.After(fuzzWait):
		t.Fatal("no connection attempt reached the upgrade")
	}
	began := time.Now()
	s.Disconnect()
	if d := time.Since(began); d > promptly {
		t.Errorf("Disconnect during an attempt waiting for its upgrade took %v", d)
	}
	return began
}

// Life against a fake session (fakesession_test.go): the order of a connection's first
// callbacks, what a lost connection does to requests in flight and in the queue, the reconnection
// loop, and a close whatever the session does.

var quickReconnect = WithReconnectionDelay(time.Millisecond, 2*time.Millisecond)

// TestLifeInstallOrder: on a connection, the connect handlers run before any callback; the
// resubscriptions go out before the queue, the queue in call order, each request once; callbacks
// and events run in arrival order; a server event named like a lifecycle event is dropped.
func TestLifeInstallOrder(t *testing.T) {
	s, d := newLifeSocket(t)
	tr := newTrace(s, EventConnect, "chat")
	s.Get("/q1", nil, tr.cb("q1"))
	s.Resubscribe(RequestOptions{URL: "/room/join"}, tr.cb("join"))
	s.Get("/q2", nil, tr.cb("q2"))
	sess := newFakeSession("one")
	d.push(sess)
	if err := s.Connect(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/room/join", "/q1", "/q2"}, sess.sentURLs(t)); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	sess.answer(t, 0, 200, `"joined"`)
	sess.answer(t, 1, 200, `1`)
	sess.event(EventConnect, `"from the server"`) // a server event with a lifecycle name is ignored
	sess.event("chat", `{"m":1}`)
	sess.answer(t, 2, 200, `2`)
	want := []string{"connect null", `join 200 "joined"`, "q1 200 1", `chat {"m":1}`, "q2 200 2"}
	if diff := cmp.Diff(want, tr.waitLen(t, len(want))); diff != "" {
		t.Errorf("callbacks (-want +got):\n%s", diff)
	}
	if s.ID() != "one" || s.Transport() != TransportWebSocket {
		t.Errorf("ID %q, Transport %v: not read from the live session", s.ID(), s.Transport())
	}
}

// TestLifeLostConnection: requests in flight fail with ErrDisconnected (wrapping the cause), once;
// disconnect, reconnecting and reconnect fire in order; requests made meanwhile wait and go out
// once on the next connection, after the resubscription.
func TestLifeLostConnection(t *testing.T) {
	s, d := newLifeSocket(t, quickReconnect)
	tr := newTrace(s, EventConnect, EventDisconnect, EventReconnect)
	s.Resubscribe(RequestOptions{URL: "/sub"}, nil)
	first := newFakeSession("one")
	d.push(first)
	if err := s.Connect(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	s.Get("/inflight", nil, tr.cb("inflight"))
	cause := errors.New("wire cut")
	first.end(ReasonTransportClose, cause)
	s.Get("/waiting", nil, tr.cb("waiting"))
	second := newFakeSession("two")
	d.push(second)
	want := []string{
		"connect null",
		`disconnect {"reason":"transport close"}`,
		"inflight 0 " + disconnectedError(cause).Error(),
		"connect null",
		`reconnect {"attempt":1}`,
	}
	got := tr.waitLen(t, len(want))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("callbacks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/sub", "/inflight"}, first.sentURLs(t)); diff != "" {
		t.Errorf("first connection (-want +got):\n%s", diff)
	}
	// The reconnect handler may run while the connection is still being installed: wait for the
	// two requests install sends, then check which they are.
	waitFor(t, func() bool { return len(second.sentURLs(t)) == 2 })
	if diff := cmp.Diff([]string{"/sub", "/waiting"}, second.sentURLs(t)); diff != "" {
		t.Errorf("second connection (-want +got):\n%s", diff)
	}
	second.answer(t, 1, 200, `"ok"`)
	if got := tr.waitLen(t, len(want)+1); got[len(want)] != `waiting 200 "ok"` {
		t.Errorf("the queued request's callback: %q", got[len(want)])
	}
}

// TestLifeKick: a server kick is not followed by reconnection; requests fail at once.
func TestLifeKick(t *testing.T) {
	s, d := newLifeSocket(t, quickReconnect)
	sess := newFakeSession("one")
	d.push(sess)
	if err := s.Connect(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	sess.end(ReasonServerDisconnect, nil)
	if st := s.State(); st != StateDisconnected {
		t.Fatalf("state after a kick: %v", st)
	}
	if _, err := s.GetContext(ctx5(t), "/x", nil); !errors.Is(err, ErrDisconnected) {
		t.Errorf("request after a kick: %v, want ErrDisconnected", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.attempts != 1 {
		t.Errorf("%d connection attempts, want 1: a kick is not followed by reconnection", d.attempts)
	}
}

// TestLifeReconnectFailed: when the attempts run out, reconnect_failed fires and the queue fails.
func TestLifeReconnectFailed(t *testing.T) {
	s, d := newLifeSocket(t, quickReconnect, WithReconnectionAttempts(2))
	tr := newTrace(s, EventReconnectFailed)
	sess := newFakeSession("one")
	d.push(sess)
	if err := s.Connect(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	sess.end(ReasonPingTimeout, nil)
	s.Get("/waiting", nil, tr.cb("waiting"))
	got := tr.waitLen(t, 2)
	want := []string{"waiting 0 " + ErrDisconnected.Error(), `reconnect_failed {"attempts":2}`}
	if !slices.Contains(got, want[0]) || !slices.Contains(got, want[1]) {
		t.Errorf("callbacks %q, want %q (the queued request may fail before or after the event)", got, want)
	}
	if st := s.State(); st != StateDisconnected {
		t.Errorf("state: %v", st)
	}
}

// TestLifeCloseWhateverTheSession: a session whose close and goroutines hang does not hold up
// Disconnect beyond its bound; Shutdown waits for it, or says its ctx ended.
func TestLifeCloseWhateverTheSession(t *testing.T) {
	s, d := newLifeSocket(t)
	sess := newFakeSession("one")
	sess.closeGap = make(chan struct{})
	d.push(sess)
	if err := s.Connect(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	tr := newTrace(s)
	s.Get("/pending", nil, tr.cb("pending"))
	start := time.Now()
	s.Disconnect()
	if took := time.Since(start); took > closeGrace+testkit.Short {
		t.Errorf("Disconnect took %v with a session that never closes", took)
	}
	if got := tr.waitLen(t, 1); got[0] != "pending 0 "+ErrClosed.Error() {
		t.Errorf("pending request: %q", got[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "sailsio: ") {
		t.Errorf("Shutdown with the session still closing = %v", err)
	}
	close(sess.closeGap)
	if err := s.Shutdown(ctx5(t)); err != nil {
		t.Errorf("Shutdown once the session closed: %v", err)
	}
}

// TestLifeReconnectPreemptsTheLoop: Reconnect during the reconnection loop's delay connects at
// once instead of waiting out the delay.
func TestLifeReconnectPreemptsTheLoop(t *testing.T) {
	s, d := newLifeSocket(t, WithReconnectionDelay(time.Hour, time.Hour))
	tr := newTrace(s, EventReconnecting)
	sess := newFakeSession("one")
	d.push(sess)
	if err := s.Connect(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	sess.end(ReasonTransportClose, nil)
	tr.waitLen(t, 1) // the loop waits its hour
	d.push(newFakeSession("two"))
	if err := s.Reconnect(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if s.ID() != "two" {
		t.Errorf("ID %q after Reconnect", s.ID())
	}
}

// TestLifeBackOffCallsConnect: a BackOff policy that calls Connect while the loop asks it for a
// delay does not deadlock: the owner stops waiting for the policy and makes the attempt.
func TestLifeBackOffCallsConnect(t *testing.T) {
	var s *SailsSocket
	errs := make(chan error, 1)
	calls := 0
	bo := funcBackOff{func() {
		calls++ // the policy is never called concurrently
		if calls == 1 {
			errs <- s.Connect(context.Background())
		}
	}}
	s, d := newLifeSocket(t, WithReconnectionBackOff(bo))
	sess := newFakeSession("one")
	d.push(sess)
	if err := s.Connect(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	d.push(newFakeSession("two"))
	sess.end(ReasonTransportClose, nil)
	if err := awaitErr(t, errs); err != nil {
		t.Fatalf("Connect from the BackOff: %v", err)
	}
	if s.ID() != "two" {
		t.Errorf("ID %q", s.ID())
	}
}

func awaitErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(testkit.Wait):
		t.Fatal("no result within testkit.Wait")
		return nil
	}
}

// TestDoDoesNotWaitForAStuckPeer: a caller writes its own small frame only without waiting (a
// write the socket cannot take at once goes to the writer goroutine), so however full the
// connection is, Do returns when its context ends, and the connection stays up.
func TestDoDoesNotWaitForAStuckPeer(t *testing.T) {
	f := newFake(t, nil)
	s, c, connected := startFake(t, f, WithReconnection(false))
	c.open(EIO3, "sid", 25000, 60000, 0)
	if err := connected(); err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	body := json.RawMessage(`"` + strings.Repeat("x", 12<<10) + `"`) // under the size a caller writes itself
	// The peer reads nothing: after a few MB the socket takes no more, and each Do must still
	// return at its deadline.
	for i := 0; i < 600; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		start := time.Now()
		_, err := s.Do(ctx, RequestOptions{Method: "post", URL: "/x", Data: body})
		d := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("request %d: Do = %v, want an error wrapping context.DeadlineExceeded", i, err)
		}
		if d > promptly {
			t.Fatalf("request %d: Do took %v with a 1 ms context (the peer reads nothing)", i, d)
		}
	}
	if st := s.State(); st != StateConnected {
		t.Fatalf("state %v after cancelled requests, want connected", st)
	}
}

// TestLifeCallerWritesItsFrame: on a live connection a request's caller offers to write its own
// frame, and writes it once the socket's lock is released; requests sent by Life itself (queued,
// resubscriptions, as a connection comes up) go to the connection's writer.
func TestLifeCallerWritesItsFrame(t *testing.T) {
	s, d := newLifeSocket(t)
	s.Get("/queued", nil, nil)
	s.Resubscribe(RequestOptions{URL: "/room/join"}, nil)
	sess := newFakeSession("one")
	sess.mine, sess.sock, sess.sentCh = true, s, make(chan struct{}, 8)
	d.push(sess)
	if err := s.Connect(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	s.Get("/cb", nil, nil)
	done := make(chan error, 1)
	go func() {
		_, err := s.Do(ctx5(t), RequestOptions{URL: "/do"})
		done <- err
	}()
	for range 4 {
		select {
		case <-sess.sentCh:
		case <-time.After(testkit.Wait):
			t.Fatal("the requests were not all sent")
		}
	}
	sess.answer(t, 3, 200, `1`)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if diff := cmp.Diff([]bool{false, false, true, true}, sess.now); diff != "" {
		t.Errorf("now offered for [/room/join /queued /cb /do] (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{true, true}, sess.wroteNow); diff != "" {
		t.Errorf("writeNow calls, with the socket's lock free (-want +got):\n%s", diff)
	}
}
