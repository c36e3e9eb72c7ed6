package sailsio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

// hookLog records what lifecycle hooks and handlers saw, in order.
type hookLog struct {
	mu    sync.Mutex
	lines []string
	ch    chan string
}

func newHookLog() *hookLog { return &hookLog{ch: make(chan string, 100)} }

func (l *hookLog) add(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	l.ch <- line
}

// waitFor waits for a line that starts with prefix.
func (l *hookLog) waitFor(t *testing.T, prefix string) string {
	t.Helper()
	for {
		line := await(t, l.ch, prefix)
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
}

func (l *hookLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// TestLifecycleHooks: every hook fires with its typed facts, on the callback goroutine after the
// handlers of the event it mirrors, hooks given in several options add up in order, OnNew gets the
// socket before New returns, and a hook may call the socket's methods.
func TestLifecycleHooks(t *testing.T) {
	srv := mockserver.NewT(t)
	log := newHookLog()
	var fromNew *sailsio.SailsSocket
	first := sailsio.LifecycleHooks{
		OnNew: func(s *sailsio.SailsSocket) { fromNew = s },
		OnConnect: func(s *sailsio.SailsSocket, tr sailsio.Transport) {
			log.add("connect %s id=%t", tr, s.ID() != "") // calls the socket: no lock is held
		},
		OnDisconnect: func(s *sailsio.SailsSocket, reason string, cause error) {
			log.add("disconnect %s cause=%t", reason, cause != nil)
		},
		OnReconnecting: func(s *sailsio.SailsSocket, attempt int, delay time.Duration) {
			log.add("reconnecting %d %t", attempt, delay > 0)
		},
		OnReconnect:   func(s *sailsio.SailsSocket, attempt int) { log.add("reconnect %d", attempt) },
		OnServerEvent: func(s *sailsio.SailsSocket, event string, data json.RawMessage) { log.add("event %s %s", event, data) },
		OnClose:       func(s *sailsio.SailsSocket) { log.add("close") },
	}
	second := sailsio.LifecycleHooks{
		OnConnect: func(s *sailsio.SailsSocket, tr sailsio.Transport) { log.add("connect2") },
	}
	s := newSocket(t, srv.URL(), sailsio.WithLifecycleHooks(first), sailsio.WithLifecycleHooks(second),
		sailsio.WithReconnectionDelay(10*time.Millisecond, 20*time.Millisecond))
	if fromNew != s {
		t.Fatalf("OnNew got %p, New returned %p", fromNew, s)
	}
	s.On(sailsio.EventConnect, func(json.RawMessage) { log.add("handler connect") })
	s.On(sailsio.EventDisconnect, func(json.RawMessage) { log.add("handler disconnect") })
	dial(t, s)
	log.waitFor(t, "connect2")

	srv.Blast("news", map[string]int{"n": 1}) // no handler listens: the hook still hears it
	log.waitFor(t, "event news")

	srv.DropConnections()
	log.waitFor(t, "reconnect 1") // after the second connect2

	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "close")

	want := []string{
		"handler connect", "connect websocket id=true", "connect2",
		`event news {"n":1}`,
		"handler disconnect", "disconnect transport close cause=true",
		"reconnecting 1 true",
		"handler connect", "connect websocket id=true", "connect2", "reconnect 1",
		"handler disconnect", "disconnect io client disconnect cause=false",
		"close",
	}
	if got := log.all(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("hooks and handlers ran in this order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLifecycleHookUpgrade: OnUpgrade tells the transport a polling connection moved to.
func TestLifecycleHookUpgrade(t *testing.T) {
	srv := mockserver.NewT(t, mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))
	got := make(chan string, 4)
	s := newSocket(t, srv.URL(), sailsio.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket),
		sailsio.WithLifecycleHooks(sailsio.LifecycleHooks{
			OnConnect: func(s *sailsio.SailsSocket, tr sailsio.Transport) { got <- "connect " + tr.String() },
			OnUpgrade: func(s *sailsio.SailsSocket, tr sailsio.Transport) { got <- "upgrade " + tr.String() },
		}))
	dial(t, s)
	if g := await(t, got, "OnConnect"); g != "connect polling" {
		t.Fatalf("got %q, want connect polling", g)
	}
	if g := await(t, got, "OnUpgrade"); g != "upgrade websocket" {
		t.Fatalf("got %q, want upgrade websocket", g)
	}
}

// TestLifecycleHookPanic: a panicking hook is recovered like a callback, and the hooks after it
// still run.
func TestLifecycleHookPanic(t *testing.T) {
	srv := mockserver.NewT(t)
	got := make(chan string, 1)
	s := newSocket(t, srv.URL(), sailsio.WithLogger(slog.New(slog.DiscardHandler)),
		sailsio.WithLifecycleHooks(sailsio.LifecycleHooks{OnConnect: func(*sailsio.SailsSocket, sailsio.Transport) { panic("boom") }}),
		sailsio.WithLifecycleHooks(sailsio.LifecycleHooks{OnConnect: func(*sailsio.SailsSocket, sailsio.Transport) { got <- "second" }}))
	dial(t, s)
	await(t, got, "the second hook")
}

// TestSendTrace: a request made while disconnected waits in the queue (QueueLen counts it and its
// bytes) and its SendTrace says it was queued and sent once a connection took it; a request made
// while connected is sent without waiting; one that never reached a connection was not sent.
func TestSendTrace(t *testing.T) {
	srv := mockserver.NewT(t)
	srv.Handle("GET /ok", func(req *mockserver.Request, res *mockserver.Response) { res.JSON(true) })
	s := newSocket(t, srv.URL())
	if n, b := s.QueueLen(); n != 0 || b != 0 {
		t.Fatalf("QueueLen of a new socket = %d, %d", n, b)
	}

	var queued sailsio.SendTrace
	done := make(chan error, 1)
	go func() {
		_, err := s.Do(sailsio.WithSendTrace(testCtx(t), &queued), sailsio.RequestOptions{URL: "/ok"})
		done <- err
	}()
	deadline := time.Now().Add(waitLimit)
	for n, _ := s.QueueLen(); n != 1; n, _ = s.QueueLen() {
		if time.Now().After(deadline) {
			t.Fatal("the request never queued")
		}
		time.Sleep(time.Millisecond) // polling an accessor: there is no signal to wait on
	}
	if _, b := s.QueueLen(); b <= 0 {
		t.Fatalf("QueueLen bytes = %d for one queued request", b)
	}
	if _, ok := queued.Sent(); ok || !queued.Queued() {
		t.Fatalf("before Connect: Sent ok=%t Queued=%t, want false, true", ok, queued.Queued())
	}
	before := time.Now()
	dial(t, s)
	if err := await(t, done, "the queued request"); err != nil {
		t.Fatal(err)
	}
	at, ok := queued.Sent()
	if !ok || at.Before(before.Add(-time.Millisecond)) || !queued.Queued() {
		t.Fatalf("queued request: Sent %v %t (connect at %v), Queued %t", at, ok, before, queued.Queued())
	}
	if n, b := s.QueueLen(); n != 0 || b != 0 {
		t.Fatalf("QueueLen after the queue went out = %d, %d", n, b)
	}

	var direct sailsio.SendTrace
	if _, err := s.Do(sailsio.WithSendTrace(testCtx(t), &direct), sailsio.RequestOptions{URL: "/ok"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := direct.Sent(); !ok || direct.Queued() {
		t.Fatalf("request made while connected: Sent %t, Queued %t; want true, false", ok, direct.Queued())
	}

	// Through an interceptor's call of next, for the callback form too.
	var viaChain sailsio.SendTrace
	s2 := newSocket(t, srv.URL(), sailsio.WithInterceptors(func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
		return next(sailsio.WithSendTrace(ctx, &viaChain), req)
	}))
	dial(t, s2)
	cbDone := make(chan *sailsio.JWRes, 1)
	s2.Get("/ok", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { cbDone <- jwr })
	if jwr := await(t, cbDone, "the callback"); jwr.StatusCode != 200 {
		t.Fatalf("callback got %v", jwr)
	}
	if _, ok := viaChain.Sent(); !ok {
		t.Fatal("a callback-form request through the chain: SendTrace not told of the send")
	}

	var never sailsio.SendTrace
	s.Disconnect()
	if _, err := s.Do(sailsio.WithSendTrace(testCtx(t), &never), sailsio.RequestOptions{URL: "/ok"}); !errors.Is(err, sailsio.ErrClosed) {
		t.Fatalf("Do after Disconnect: %v", err)
	}
	if _, ok := never.Sent(); ok || never.Queued() {
		t.Fatal("a request refused at once counts as sent or queued")
	}
}

// TestSocketAccessors: URL and Protocol tell what New made of its URL and options.
func TestSocketAccessors(t *testing.T) {
	s := newSocket(t, "ws://example.test:1337", sailsio.WithPath("/io"), sailsio.WithProtocol(sailsio.EIO4))
	if got := s.URL().String(); got != "http://example.test:1337/io/" {
		t.Errorf("URL() = %s", got)
	}
	s.URL().Host = "changed" // a copy
	if got := s.URL().Host; got != "example.test:1337" {
		t.Errorf("URL() is not a copy: host %s", got)
	}
	if s.Protocol() != sailsio.EIO4 {
		t.Errorf("Protocol() = %v", s.Protocol())
	}
}
