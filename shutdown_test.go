package sailsio_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// disconnectBound is how long Disconnect may take whatever user code does: its one second of
// grace for the goodbye, plus the machine's slack.
var disconnectBound = time.Second + testkit.Short

// timedDisconnect calls Disconnect and fails the test if it does not return within disconnectBound.
func timedDisconnect(t *testing.T, s *sailsio.SailsSocket) time.Duration {
	t.Helper()
	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		s.Disconnect()
		done <- time.Since(start)
	}()
	took := awaitFor(t, done, disconnectBound, "return from Disconnect while user code blocks")
	t.Logf("Disconnect returned in %v", took.Round(time.Millisecond))
	return took
}

// hangingServer is a mockserver whose GET /hang is never answered (within the test).
func hangingServer(t *testing.T) *mockserver.Server {
	t.Helper()
	srv := mockserver.New()
	srv.Handle("GET /hang", func(req *mockserver.Request, res *mockserver.Response) {})
	t.Cleanup(srv.Close)
	return srv
}

// TestDisconnectDoesNotWaitForUserCode: whatever a handler, a callback or a logger is blocked on,
// Disconnect returns within about a second; the requests that were pending still get their
// callback exactly once (ErrClosed), after the blocked code lets go; Shutdown waits for that
// (or reports its ctx's end), and then no goroutine of the socket remains.
func TestDisconnectDoesNotWaitForUserCode(t *testing.T) {
	cases := []struct {
		name string
		// block makes user code of s block on release, and returns once it does block.
		block func(t *testing.T, srv *mockserver.Server, s *sailsio.SailsSocket, release <-chan struct{})
		opts  func(release <-chan struct{}, blocked chan<- struct{}) []sailsio.Option
	}{
		{name: "event handler hands events to a reader that stopped reading", block: func(t *testing.T, srv *mockserver.Server, s *sailsio.SailsSocket, release <-chan struct{}) {
			ch := make(chan string) // unbuffered, as in the program
			entered := make(chan string, 2)
			s.On("tick", func(d json.RawMessage) {
				entered <- string(d)
				select {
				case ch <- string(d):
				case <-release:
				}
			})
			srv.Blast("tick", 1)
			srv.Blast("tick", 2)
			await(t, ch, "tick 1") // main reads one, then stops reading: the handler is stuck on tick 2
			// Wait until tick 2 has arrived and its handler blocks: else Disconnect could come first.
			for tick := ""; tick != "2"; {
				tick = await(t, entered, "the handler")
			}
		}},
		{name: "request callback blocks", block: func(t *testing.T, srv *mockserver.Server, s *sailsio.SailsSocket, release <-chan struct{}) {
			in := make(chan struct{})
			s.Get("/hello", nil, func(json.RawMessage, *sailsio.JWRes) { close(in); <-release })
			await(t, in, "the callback")
		}},
		{name: "connect handler blocks", block: func(t *testing.T, srv *mockserver.Server, s *sailsio.SailsSocket, release <-chan struct{}) {
			in := make(chan struct{}, 1)
			s.On(sailsio.EventConnect, func(json.RawMessage) { in <- struct{}{}; <-release })
			if err := s.Reconnect(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			await(t, in, "the connect handler")
		}},
		{name: "logger blocks", opts: func(release <-chan struct{}, blocked chan<- struct{}) []sailsio.Option {
			var once sync.Once
			return []sailsio.Option{sailsio.WithLogger(slog.New(funcHandler(func(slog.Record) {
				once.Do(func() { close(blocked); <-release })
			})))}
		}, block: func(t *testing.T, srv *mockserver.Server, s *sailsio.SailsSocket, release <-chan struct{}) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := hangingServer(t)
			srv.Handle("GET /hello", func(req *mockserver.Request, res *mockserver.Response) { res.Send("hi") })
			release := make(chan struct{})
			free := sync.OnceFunc(func() { close(release) })
			t.Cleanup(free)
			blocked := make(chan struct{})
			var opts []sailsio.Option
			if tc.opts != nil {
				opts = tc.opts(release, blocked)
			}
			s, err := sailsio.Connect(testCtx(t), srv.URL(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			tc.block(t, srv, s, release)
			if tc.opts != nil {
				await(t, blocked, "the logger to block")
			}
			// A request in flight: its callback must come exactly once, ErrClosed, after the release.
			var calls atomic.Int32
			got := make(chan error, 2)
			s.Get("/hang", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { calls.Add(1); got <- jwr.Error })
			timedDisconnect(t, s)
			shutdownAfter(t, s, free)
			select {
			case err := <-got:
				if !errors.Is(err, sailsio.ErrClosed) {
					t.Errorf("pending request's callback: %v, want ErrClosed", err)
				}
			default:
				t.Fatal("Shutdown returned before the pending request's callback ran")
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("pending request's callback called %d times", n)
			}
		})
	}
}

// funcHandler is a slog.Handler that hands every record to f.
type funcHandler func(slog.Record)

func (h funcHandler) Enabled(context.Context, slog.Level) bool      { return true }
func (h funcHandler) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h funcHandler) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h funcHandler) WithGroup(string) slog.Handler                 { return h }

// blockingJar is a cookie jar whose Cookies blocks until release once armed.
type blockingJar struct {
	armed   atomic.Bool
	blocked chan struct{}
	once    sync.Once
	release <-chan struct{}
}

func (j *blockingJar) SetCookies(*url.URL, []*http.Cookie) {}
func (j *blockingJar) Cookies(*url.URL) []*http.Cookie {
	if j.armed.Load() {
		j.once.Do(func() { close(j.blocked) })
		<-j.release
	}
	return nil
}

// blockingBackOff blocks in NextBackOff until release.
type blockingBackOff struct {
	blocked chan struct{}
	once    sync.Once
	release <-chan struct{}
}

func (b *blockingBackOff) NextBackOff() time.Duration {
	b.once.Do(func() { close(b.blocked) })
	<-b.release
	return time.Millisecond
}
func (b *blockingBackOff) Reset() {}

// TestDisconnectDoesNotWaitForLifeUserCode: a cookie jar that blocks during a handshake and a
// BackOff policy that blocks during the reconnection loop run on the socket's life owner;
// Disconnect does not wait for them (beyond its bound), and Shutdown waits for them.
func TestDisconnectDoesNotWaitForLifeUserCode(t *testing.T) {
	t.Run("cookie jar", func(t *testing.T) {
		srv := hangingServer(t)
		release := make(chan struct{})
		free := sync.OnceFunc(func() { close(release) })
		defer free()
		jar := &blockingJar{blocked: make(chan struct{}), release: release}
		s, err := sailsio.Connect(testCtx(t), srv.URL(), sailsio.WithCookieJar(jar))
		if err != nil {
			t.Fatal(err)
		}
		jar.armed.Store(true)
		reconnected := make(chan error, 1)
		go func() { reconnected <- s.Reconnect(context.Background()) }()
		await(t, jar.blocked, "the jar to block the handshake")
		timedDisconnect(t, s)
		if err := await(t, reconnected, "Reconnect's return"); !errors.Is(err, sailsio.ErrClosed) {
			t.Errorf("Reconnect interrupted by Disconnect = %v, want ErrClosed", err)
		}
		shutdownAfter(t, s, free)
	})
	t.Run("BackOff policy", func(t *testing.T) {
		srv := hangingServer(t)
		release := make(chan struct{})
		free := sync.OnceFunc(func() { close(release) })
		defer free()
		bo := &blockingBackOff{blocked: make(chan struct{}), release: release}
		s, err := sailsio.Connect(testCtx(t), srv.URL(), sailsio.WithReconnectionBackOffFunc(func() backoff.BackOff { return bo }))
		if err != nil {
			t.Fatal(err)
		}
		srv.DropConnections()
		await(t, bo.blocked, "the policy to block the reconnection loop")
		timedDisconnect(t, s)
		shutdownAfter(t, s, free)
	})
}

// shutdownAfter checks that Shutdown waits while user code blocks, then calls release and checks
// that Shutdown returns.
func shutdownAfter(t *testing.T, s *sailsio.SailsSocket, release func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown while user code blocks = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	release()
	if err := s.Shutdown(testCtx(t)); err != nil {
		t.Errorf("Shutdown after the release: %v", err)
	}
}

// TestShutdownWaitsForQueuedCallbacks: Shutdown returns once every callback queued before it has
// run, and then the socket has no goroutine left.
func TestShutdownWaitsForQueuedCallbacks(t *testing.T) {
	srv := hangingServer(t)
	s, err := sailsio.Connect(testCtx(t), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var ran atomic.Int32
	for i := 0; i < n; i++ {
		s.Get("/hang", nil, func(json.RawMessage, *sailsio.JWRes) {
			time.Sleep(5 * time.Millisecond) // slow callbacks: Shutdown must wait for each
			ran.Add(1)
		})
	}
	if err := s.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := ran.Load(); got != n {
		t.Errorf("%d of %d callbacks had run when Shutdown returned", got, n)
	}
	testkit.Gone(t, "after Shutdown")
}

// TestDisconnectFromCallback: a callback that calls Disconnect is not held up waiting for itself,
// and the callbacks queued behind it still run once it returns.
func TestDisconnectFromCallback(t *testing.T) {
	srv := hangingServer(t)
	srv.Handle("GET /hello", func(req *mockserver.Request, res *mockserver.Response) { res.Send("hi") })
	s, err := sailsio.Connect(testCtx(t), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	pending := make(chan error, 1)
	took := make(chan time.Duration, 1)
	s.Get("/hello", nil, func(json.RawMessage, *sailsio.JWRes) {
		start := time.Now()
		s.Disconnect()
		took <- time.Since(start)
		s.Get("/hang", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { pending <- jwr.Error })
	})
	if d := await(t, took, "Disconnect's return inside the callback"); d >= time.Second {
		t.Errorf("Disconnect from a callback took %v: it waited for the callback goroutine", d)
	}
	if err := await(t, pending, "a request made after Disconnect"); !errors.Is(err, sailsio.ErrClosed) {
		t.Errorf("request after Disconnect: %v, want ErrClosed", err)
	}
	if err := s.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}
