package sailsio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Tests of the connection life: bounded shutdown, errors of Connect and Reconnect, user code that
// calls back into the socket, the BackOff policy, memory held by requests.

// shutdownBound is what Disconnect and a cancelled Reconnect may take in these tests. The contract
// is about one second (closeGrace); the bound leaves room for a loaded machine under -race, and is
// far below what a stuck write would take (pingInterval+pingTimeout, 85 s here).
const shutdownBound = 10 * time.Second

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

type callingBackOff struct {
	s     *atomic.Pointer[SailsSocket]
	calls atomic.Int32
}

func (b *callingBackOff) NextBackOff() time.Duration {
	b.calls.Add(1)
	if s := b.s.Load(); s != nil {
		_ = s.State()
	}
	return time.Millisecond
}
func (b *callingBackOff) Reset() {
	if s := b.s.Load(); s != nil {
		_ = s.IsConnecting()
	}
}

// exclusiveBackOff records calls that overlap.
type exclusiveBackOff struct {
	in, overlaps, calls atomic.Int32
}

func (b *exclusiveBackOff) NextBackOff() time.Duration {
	if b.in.Add(1) > 1 {
		b.overlaps.Add(1)
	}
	b.calls.Add(1)
	time.Sleep(time.Millisecond) // widen the window an overlapping call would fall into
	b.in.Add(-1)
	return time.Millisecond
}
func (b *exclusiveBackOff) Reset() {}

// TestBackOffNeverCalledConcurrently: lost connections and Reconnect calls overlapping never make
// two reconnection loops, so the user's BackOff is never called from two goroutines at once, and no
// reconnecting event follows a connect without a disconnect between them.
func TestBackOffNeverCalledConcurrently(t *testing.T) {
	f := newFake(t, nil)
	stop := make(chan struct{})
	served := make(chan struct{})
	defer func() { close(stop); <-served }()
	go func() { // the server: accept every connection, open it, and drop it at once
		defer close(served)
		for {
			select {
			case c := <-f.conns:
				c.open(EIO3, "s", 25000, 60000, 0)
				c.ws.Close()
			case <-stop:
				return
			}
		}
	}()
	bo := &exclusiveBackOff{}
	s, err := New(f.URL, WithReconnectionBackOff(bo))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seq []string
	for _, ev := range []string{EventConnect, EventDisconnect, EventReconnecting} {
		s.On(ev, func(json.RawMessage) { mu.Lock(); seq = append(seq, ev); mu.Unlock() })
	}
	s.Connect(ctx5(t)) // may see the drop before or after it returns
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				s.Reconnect(ctx)
				cancel()
			}
		}()
	}
	wg.Wait()
	waitFor(t, func() bool { return bo.calls.Load() >= 20 }) // the loop runs on: every connection is dropped
	s.Disconnect()
	if n := bo.overlaps.Load(); n > 0 {
		t.Errorf("the BackOff was called concurrently %d times", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(seq); i++ {
		if seq[i] == EventReconnecting && seq[i-1] == EventConnect {
			t.Fatalf("reconnecting right after connect at %d: %v", i, seq[max(0, i-5):i+1])
		}
	}
}

func TestBackOffServesOneSocket(t *testing.T) {
	opt := WithReconnectionBackOff(&exclusiveBackOff{})
	if _, err := New("http://127.0.0.1:1", opt); err != nil {
		t.Fatal(err)
	}
	if _, err := New("http://127.0.0.1:1", opt); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("a second socket with the same BackOff = %v, want ErrInvalidOption", err)
	}
	mk := WithReconnectionBackOffFunc(func() backoff.BackOff { return &exclusiveBackOff{} })
	for i := 0; i < 2; i++ {
		if _, err := New("http://127.0.0.1:1", mk); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTinyRequestTimeout races a request's timer against its completion (run with -race).
func TestTinyRequestTimeout(t *testing.T) {
	s, c := connectFake(t, newFake(t, nil), EIO3, WithRequestTimeout(time.Nanosecond))
	go func() { // answer whatever arrives
		for i := 0; ; i++ {
			c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, b, err := c.ws.ReadMessage()
			if err != nil {
				return
			}
			if id, ok := strings.CutPrefix(string(b), "42"); ok {
				id = id[:strings.IndexByte(id, '[')]
				c.ws.WriteMessage(1, []byte("43"+id+`[{"statusCode":200}]`))
			}
		}
	}()
	var calls atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		s.Get("/x", nil, func(_ json.RawMessage, jwr *JWRes) {
			calls.Add(1)
			if jwr.StatusCode != 200 && !errors.Is(jwr.Error, ErrTimeout) {
				t.Errorf("got %v", jwr)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if calls.Load() != 200 {
		t.Errorf("%d callbacks for 200 requests", calls.Load())
	}
}

// TestQueueLetsGoOfPayloads: a request that leaves the queue because its ctx ended, and a request
// on the wire, hold no payload; the queue is bounded in bytes too.
func TestQueueLetsGoOfPayloads(t *testing.T) {
	s, err := New("http://127.0.0.1:1", WithQueueBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	big := json.RawMessage(`"` + strings.Repeat("x", 600<<10) + `"`)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { _, err := s.PostContext(ctx, "/a", big); res <- err }()
	waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.queued == 1 })
	s.mu.Lock()
	r := s.queue[0]
	if s.queuedBytes < 600<<10 {
		t.Errorf("queuedBytes = %d with a 600 KiB request waiting", s.queuedBytes)
	}
	s.mu.Unlock()
	if _, err := s.PostContext(ctx5(t), "/b", big); !errors.Is(err, ErrQueueFull) {
		t.Errorf("a second 600 KiB request with a 1 MiB byte bound = %v, want ErrQueueFull", err)
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request = %v", err)
	}
	s.mu.Lock()
	if r.payload != nil || s.queuedBytes != 0 || s.queued != 0 {
		t.Errorf("after cancel: payload held %v, queuedBytes %d, queued %d", r.payload != nil, s.queuedBytes, s.queued)
	}
	s.mu.Unlock()

	// On the wire: the request keeps no payload while it waits for its ack.
	s2, c := connectFake(t, newFake(t, nil), EIO3)
	r2, err := s2.newRequest(RequestOptions{Method: "post", URL: "/c", Data: big})
	if err != nil {
		t.Fatal(err)
	}
	r2.cb = func(json.RawMessage, *JWRes) {}
	s2.submit(r2)
	c.recv()
	s2.mu.Lock()
	if r2.payload != nil || r2.conn == nil {
		t.Errorf("in flight: payload held %v, conn %v", r2.payload != nil, r2.conn)
	}
	s2.mu.Unlock()
}

// waitFor polls cond until it holds (bounded).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestResubscribeOnClosedSocket(t *testing.T) {
	s, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	s.Disconnect()
	got := make(chan *JWRes, 2)
	s.Resubscribe(RequestOptions{URL: "/x"}, func(_ json.RawMessage, jwr *JWRes) { got <- jwr })
	select {
	case jwr := <-got:
		if !errors.Is(jwr.Error, ErrClosed) {
			t.Errorf("Resubscribe on a closed socket: %v, want ErrClosed", jwr.Error)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Resubscribe on a closed socket never called back")
	}
}

// TestPanicIsLoggedByDefault: without WithLogger, a callback's panic goes to slog.Default.
func TestPanicIsLoggedByDefault(t *testing.T) {
	var buf syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	s, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	s.Request(RequestOptions{Method: "bogus", URL: "/x"}, func(json.RawMessage, *JWRes) { panic("boom") })
	s.Disconnect() // waits for the callback
	if !strings.Contains(buf.String(), "boom") {
		t.Errorf("the panic left no trace; default log: %q", buf.String())
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

// TestHandshakeFailuresNameTheCause: a server that closes the upgrade (real Sails on a wrong path),
// one that answers 200 with a page (not a Socket.IO endpoint), and an EIO3-only server asked for
// EIO4 each get an error that says what is likely wrong, on one short line.
func TestHandshakeFailuresNameTheCause(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 4096))
			c.Close()
		}
	}()
	_, err = Connect(ctx5(t), "http://"+ln.Addr().String())
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 0 || !strings.Contains(err.Error(), "WithPath") {
		t.Errorf("closed upgrade: %v, want a *HandshakeError naming WithPath", err)
	}

	page := "<!DOCTYPE html>\n<html>\n<head><title>My app</title></head>\n<body>\n" + strings.Repeat("<p>Welcome to the app</p>\n", 200) + "</body></html>"
	web := newFake(t, func(w http.ResponseWriter, r *http.Request) (http.Header, bool) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(page))
		return nil, false
	})
	_, err = Connect(ctx5(t), web.URL)
	if !errors.As(err, &he) || he.StatusCode != 200 || strings.ContainsAny(he.Body, "\n<>") || len(he.Body) > 130 || !strings.Contains(he.Hint, "not a Socket.IO endpoint") {
		t.Errorf("a web page: %v (body %q), want a short one-line excerpt and a hint", err, he.Body)
	}

	f := newFake(t, nil)
	s, c, connected := startFake(t, f, WithProtocol(EIO4))
	c.send(`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":60000}`)
	c.send("40") // what an EIO3-only server (sails-hook-sockets 2.x) sends by itself
	err = connected()
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "EIO3") {
		t.Errorf("EIO4 against an EIO3-only server: %v, want ErrProtocol naming EIO3", err)
	}
	_ = s
}

func TestRequestURLAndHeaderChecks(t *testing.T) {
	s, c := connectFake(t, newFake(t, nil), EIO3, WithHeaders(map[string]string{"Authorization": "a", "x-keep": "k"}))
	s.Request(RequestOptions{URL: "pet", OmitHeaders: []string{"authorization"}}, nil)
	got := c.recv()
	if !strings.Contains(got, `"url":"/pet"`) || strings.Contains(got, "authorization") || !strings.Contains(got, `"x-keep":"k"`) {
		t.Errorf("frame %s: want url /pet, no authorization, x-keep", got)
	}
	for _, bad := range []RequestOptions{
		{URL: "http://host/pet"},
		{URL: "/x", Headers: map[string]string{"x bad": "v"}},
		{URL: "/x", Headers: map[string]string{"x-ok": "a\r\nb"}},
	} {
		if _, err := s.Do(ctx5(t), bad); !errors.Is(err, ErrInvalidRequest) && !errors.Is(err, ErrInvalidHeader) {
			t.Errorf("Do(%+v) = %v, want ErrInvalidRequest or ErrInvalidHeader", bad, err)
		}
	}
	for _, opt := range []Option{
		WithHeaders(map[string]string{"bad name": "v"}),
		WithHeaders(map[string]string{"x": "a\nb"}),
		WithInitialConnectionHeaders(http.Header{"Bad Name": {"v"}}),
		WithInitialConnectionHeaders(http.Header{"X": {"a\r\nb"}}),
	} {
		if _, err := New("http://127.0.0.1:1", opt); !errors.Is(err, ErrInvalidHeader) || !errors.Is(err, ErrInvalidOption) {
			t.Errorf("New with a bad header = %v, want ErrInvalidOption and ErrInvalidHeader", err)
		}
	}
}

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

// funcBackOff is a BackOff that runs f on every NextBackOff.
type funcBackOff struct{ f func() }

func (b funcBackOff) NextBackOff() time.Duration { b.f(); return time.Millisecond }
func (b funcBackOff) Reset()                     {}

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
