package sailsio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// Helpers shared by the package's tests.

// waitLimit bounds every wait for something that must happen (the machine may be loaded).
var waitLimit = testkit.Wait

// combo is one server generation / client protocol pair.
type combo struct {
	name   string
	server sailsio.Protocol // mockserver.WithProtocol: EIO3 = hook 2.x, EIO4 = hook 3.x
	client sailsio.Protocol // sailsio.WithProtocol
}

// clientCombos are the mockserver generations and the client protocols each accepts.
var clientCombos = []combo{
	{"hook2-EIO3", sailsio.EIO3, sailsio.EIO3},
	{"hook3-EIO3", sailsio.EIO4, sailsio.EIO3},
	{"hook3-EIO4", sailsio.EIO4, sailsio.EIO4},
}

// testCtx is a context bounded by waitLimit, cancelled when the test ends.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// await receives one value from ch, failing the test after waitLimit.
func await[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return awaitFor(t, ch, waitLimit, what)
}

// awaitFor receives one value from ch, failing the test after d.
func awaitFor[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("no %s within %v", what, d)
		var zero T
		return zero
	}
}

// newSocket returns a socket for url made with New (not connected), disconnected when the test
// ends.
func newSocket(t testing.TB, url string, opts ...sailsio.Option) *sailsio.SailsSocket {
	t.Helper()
	s, err := sailsio.New(url, opts...)
	if err != nil {
		t.Fatalf("New(%s): %v", url, err)
	}
	t.Cleanup(func() { s.Disconnect() })
	return s
}

// dial connects s, failing the test if it cannot within testkit.Wait.
func dial(t testing.TB, s *sailsio.SailsSocket) {
	t.Helper()
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
}

var stopSharedOnce sync.Once

// sharedSails returns the real Sails server of hook with the given settings, lifted once for the
// tests of the package that use it without stopping it.
func sharedSails(t *testing.T, hook string, opts ...realsails.Option) *realsails.Server {
	t.Helper()
	stopSharedOnce.Do(func() { testkit.AtEnd(realsails.StopShared) })
	return realsails.Shared(t, hook, opts...)
}

// hook3 reports whether the mock imitates sails-hook-sockets 3.x.
func (cb combo) hook3() bool { return cb.server == sailsio.EIO4 }

// eio is the Engine.IO semantics the server gives the connection.
func (cb combo) eio() int {
	if cb.hook3() {
		return int(cb.client)
	}
	return 3
}

// forCombos runs f as one subtest per combo.
func forCombos(t *testing.T, f func(t *testing.T, cb combo)) {
	t.Helper()
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) { f(t, cb) })
	}
}

func (cb combo) newServer(t testing.TB, opts ...mockserver.Option) *mockserver.Server {
	t.Helper()
	return mockserver.NewT(t, append([]mockserver.Option{mockserver.WithProtocol(cb.server)}, opts...)...)
}

func (cb combo) options(opts ...sailsio.Option) []sailsio.Option {
	return append([]sailsio.Option{sailsio.WithProtocol(cb.client)}, opts...)
}

// newSocket is newSocket for the server and the combo's client protocol.
func (cb combo) newSocket(t testing.TB, srv *mockserver.Server, opts ...sailsio.Option) *sailsio.SailsSocket {
	t.Helper()
	return newSocket(t, srv.URL(), cb.options(opts...)...)
}

// dial returns a connected socket, disconnected when the test ends (before the server closes).
func (cb combo) dial(t testing.TB, srv *mockserver.Server, opts ...sailsio.Option) *sailsio.SailsSocket {
	t.Helper()
	s := cb.newSocket(t, srv, opts...)
	dial(t, s)
	return s
}

// dialLife is dial with the lifecycle events collected from before Connect; the connect event of
// the first connection is consumed. (A handler registered after Connect returns may or may not see
// that connect event: handlers are looked up when the event's turn comes on the callback goroutine.)
func (cb combo) dialLife(t testing.TB, srv *mockserver.Server, opts ...sailsio.Option) (*sailsio.SailsSocket, *testkit.Events) {
	t.Helper()
	s := cb.newSocket(t, srv, opts...)
	life := lifecycle(s)
	dial(t, s)
	life.Expect(t, sailsio.EventConnect)
	return s, life
}

// nothingIn fails if ch holds a value right now.
func nothingIn[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Errorf("unexpected %s: %v", what, v)
	default:
	}
}

// reply is what a callback got.
type reply struct {
	data json.RawMessage
	jwr  *sailsio.JWRes
}

// callback returns a Callback that sends what it gets to the returned channel and counts its
// calls, so that tests can check "exactly once".
func callback() (sailsio.Callback, <-chan reply, *atomic.Int32) {
	ch := make(chan reply, 4)
	var n atomic.Int32
	return func(data json.RawMessage, jwr *sailsio.JWRes) {
		n.Add(1)
		ch <- reply{data, jwr}
	}, ch, &n
}

// checkFailed checks the JWRes of a request that got no response.
func checkFailed(t testing.TB, r reply, want error) {
	t.Helper()
	if r.jwr == nil {
		t.Fatalf("callback got a nil JWRes")
	}
	if r.jwr.StatusCode != 0 || !errors.Is(r.jwr.Error, want) {
		t.Errorf("callback got status %d, error %v; want status 0 and an error wrapping %q", r.jwr.StatusCode, r.jwr.Error, want)
	}
	if !bytes.Equal(r.data, r.jwr.Body) {
		t.Errorf("resData %q != jwr.Body %q", r.data, r.jwr.Body)
	}
}

// doAsync runs s.Do on a goroutine of its own and sends its error, once Do returns; a JWRes
// returned beside an error (Do's contract says nil) turns into an error naming it.
func doAsync(s *sailsio.SailsSocket, ctx context.Context, opts sailsio.RequestOptions) <-chan error {
	errc := make(chan error, 1)
	go func() {
		jwr, err := s.Do(ctx, opts)
		if jwr != nil {
			err = fmt.Errorf("Do returned a JWRes %v with error %w", jwr, err)
		}
		errc <- err
	}()
	return errc
}

// checkDoFailed checks what Do returned for a request that got no response.
func checkDoFailed(t testing.TB, jwr *sailsio.JWRes, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("Do error = %v, want one wrapping %q", err, want)
	}
	if jwr != nil {
		t.Errorf("Do returned a JWRes (%v) with error %v; want nil", jwr, err)
	}
}

// lifecycle collects the lifecycle events of a socket.
func lifecycle(s *sailsio.SailsSocket) *testkit.Events {
	return testkit.Collect(s.On, sailsio.EventConnect, sailsio.EventDisconnect, sailsio.EventReconnecting,
		sailsio.EventReconnect, sailsio.EventReconnectFailed, sailsio.EventConnectError)
}

// jsonDiff reports the difference between two JSON texts compared as values ("" when equal).
func jsonDiff(t testing.TB, want string, got []byte) string {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON %q: %v", want, err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Sprintf("got invalid JSON %q: %v", got, err)
	}
	return cmp.Diff(w, g)
}

// serial detects overlapping callbacks: every callback and handler of a test runs through run,
// and max must stay 1.
type serial struct {
	inside atomic.Int32
	max    atomic.Int32
}

func (g *serial) run(f func()) {
	n := g.inside.Add(1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			break
		}
	}
	runtime.Gosched() // give an overlapping callback the chance to show
	f()
	g.inside.Add(-1)
}

// doneWatch is a context that reports when Do starts waiting on it: Do only asks for Done after
// the request was submitted (sent or queued).
type doneWatch struct {
	context.Context
	once  sync.Once
	asked chan struct{}
}

func watchDone(ctx context.Context) *doneWatch {
	return &doneWatch{Context: ctx, asked: make(chan struct{})}
}

func (c *doneWatch) Done() <-chan struct{} {
	c.once.Do(func() { close(c.asked) })
	return c.Context.Done()
}

// wireRequest is a virtual request as the client put it on the wire.
type wireRequest struct {
	SocketID string `json:"-"`
	Event    string
	Method   string            `json:"method"`
	URL      string            `json:"url"`
	Headers  map[string]string `json:"headers"`
	Data     json.RawMessage   `json:"data"`
}

// parseRequestFrame decodes a client-to-server EVENT frame with an ack id (42<id>["verb",{...}]).
func parseRequestFrame(f mockserver.Frame) (wireRequest, bool) {
	var w wireRequest
	d := f.Data
	if f.Dir != mockserver.ClientToServer || !bytes.HasPrefix(d, []byte("42")) {
		return w, false
	}
	d = d[2:]
	i := 0
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	if i == 0 {
		return w, false
	}
	var arr []json.RawMessage
	if json.Unmarshal(d[i:], &arr) != nil || len(arr) != 2 {
		return w, false
	}
	if json.Unmarshal(arr[0], &w.Event) != nil || json.Unmarshal(arr[1], &w) != nil {
		return w, false
	}
	w.SocketID = f.SocketID
	return w, true
}

// sentRequests returns the virtual requests socketID sent (every socket's when socketID is ""), in
// wire order for each connection.
func sentRequests(rec *mockserver.FrameRecorder, socketID string) []wireRequest {
	var out []wireRequest
	for _, f := range rec.Frames(socketID) {
		if w, ok := parseRequestFrame(f); ok {
			out = append(out, w)
		}
	}
	return out
}

// sentURLs returns the URLs of the virtual requests socketID sent, in wire order.
func sentURLs(rec *mockserver.FrameRecorder, socketID string) []string {
	var out []string
	for _, w := range sentRequests(rec, socketID) {
		out = append(out, w.URL)
	}
	return out
}

// sentRequest returns the one request socketID sent to url.
func sentRequest(t testing.TB, rec *mockserver.FrameRecorder, socketID, url string) wireRequest {
	t.Helper()
	var found []wireRequest
	for _, w := range sentRequests(rec, socketID) {
		if w.URL == url {
			found = append(found, w)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d frames for %s on the wire, want 1: %v", len(found), url, rec.Frames(socketID))
	}
	return found[0]
}

// waitFrames waits until n frames matching match were recorded.
func waitFrames(t testing.TB, rec *mockserver.FrameRecorder, n int, match func(mockserver.Frame) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	k := 0
	if _, err := rec.Wait(ctx, func(f mockserver.Frame) bool {
		if match(f) {
			k++
		}
		return k >= n
	}); err != nil {
		t.Fatalf("%d of %d expected frames recorded: %v", k, n, err)
	}
}

// lateAnswer matches the server's frames to socketID that carry the body "late".
func lateAnswer(socketID string) func(mockserver.Frame) bool {
	return func(f mockserver.Frame) bool {
		return f.SocketID == socketID && f.Dir == mockserver.ServerToClient && bytes.Contains(f.Data, []byte(`"late"`))
	}
}

// blocker is a route whose requests wait until released (or their socket goes away).
type blocker struct {
	entered chan string // the request ids, as they arrive
	release chan struct{}
	once    sync.Once
}

func newBlocker(t testing.TB, srv *mockserver.Server, address, answer string) *blocker {
	b := &blocker{entered: make(chan string, 64), release: make(chan struct{})}
	srv.Handle(address, func(req *mockserver.Request, res *mockserver.Response) {
		b.entered <- req.ID
		select {
		case <-b.release:
			res.Send(answer)
		case <-req.Context().Done():
		}
	})
	t.Cleanup(b.open) // before the server closes (cleanups run last-in first-out)
	return b
}

func (b *blocker) open() { b.once.Do(func() { close(b.release) }) }

// reconnecting is the payload of a reconnecting event.
type reconnecting struct {
	Attempt int   `json:"attempt"`
	DelayMS int64 `json:"delay_ms"`
}

// reason is the reason of a disconnect event.
func reason(t testing.TB, ev testkit.Event) string {
	t.Helper()
	return testkit.Decode[struct {
		Reason string `json:"reason"`
	}](t, ev).Reason
}

// lostReason reports whether reason is what a cut connection is reported as.
func lostReason(reason string) bool {
	return reason == sailsio.ReasonTransportClose || reason == sailsio.ReasonTransportError
}

// flush waits until every callback posted so far has run. It needs a closed socket: a request
// then fails at once, and its callback is queued behind every earlier one on the callback goroutine.
func flush(t testing.TB, s *sailsio.SailsSocket) {
	t.Helper()
	done := make(chan error, 1)
	s.Get("/flush", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { done <- jwr.Error })
	if err := await(t, done, "flush callback"); !errors.Is(err, sailsio.ErrClosed) {
		t.Fatalf("flush request on a closed socket: %v, want ErrClosed", err)
	}
}

// handshakeGate is a beforeConnect hook that records every handshake and refuses some.
type handshakeGate struct {
	mu     sync.Mutex
	refuse int // handshakes still to refuse; < 0: all
	times  []time.Time
}

func (g *handshakeGate) check(*http.Request) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.times = append(g.times, time.Now())
	if g.refuse == 0 {
		return nil
	}
	if g.refuse > 0 {
		g.refuse--
	}
	return errors.New("refused by the test")
}

func (g *handshakeGate) set(refuse int) {
	g.mu.Lock()
	g.refuse = refuse
	g.mu.Unlock()
}

func (g *handshakeGate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.times)
}

func (g *handshakeGate) since(i int) []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.times[i:])
}

// outcome is one callback call.
type outcome struct {
	i   int
	jwr *sailsio.JWRes
	at  time.Duration // since a reference instant, when measured
}
