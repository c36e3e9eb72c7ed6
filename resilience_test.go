package sailsio_test

// Reconnection and resilience: lost connections with requests in flight and queued, long series of
// drop/reconnect cycles, the lifecycle events and their payloads, the reconnection policy, kicks,
// half-open connections, session continuity, resubscriptions, the queue, and concurrent use while
// the server keeps dropping connections. Everything runs against the in-process mockserver; the
// real-Sails counterpart is in resilience_real_test.go and the hostile-server fuzzing in
// fuzz_client_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// resilNew makes a socket for srv (not connected yet) that is disconnected when the test ends.
func resilNew(t testing.TB, srv *mockserver.Server, p sailsio.Protocol, opts ...sailsio.Option) *sailsio.SailsSocket {
	t.Helper()
	s, err := sailsio.New(srv.URL(), append([]sailsio.Option{sailsio.WithProtocol(p)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Disconnect() })
	return s
}

func resilDial(t testing.TB, s *sailsio.SailsSocket) {
	t.Helper()
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
}

// resilLifecycleNames are the lifecycle events collected when a test names none.
var resilLifecycleNames = []string{sailsio.EventConnect, sailsio.EventDisconnect, sailsio.EventReconnecting,
	sailsio.EventReconnect, sailsio.EventReconnectFailed, sailsio.EventConnectError}

// resilCollect records the named events of s (the lifecycle events when none are named).
func resilCollect(s *sailsio.SailsSocket, names ...string) *testkit.Events {
	if len(names) == 0 {
		names = resilLifecycleNames
	}
	return testkit.Collect(s.On, names...)
}

type resilReconnecting struct {
	Attempt int   `json:"attempt"`
	DelayMS int64 `json:"delay_ms"`
}

func resilReason(t testing.TB, ev testkit.Event) string {
	t.Helper()
	return testkit.Decode[struct {
		Reason string `json:"reason"`
	}](t, ev).Reason
}

// resilLost reports whether reason is what a cut connection is reported as.
func resilLost(reason string) bool {
	return reason == sailsio.ReasonTransportClose || reason == sailsio.ReasonTransportError
}

// resilFlush waits until every callback posted so far has run. It needs a closed socket: a request
// then fails at once, and its callback is queued behind every earlier one on the callback goroutine.
func resilFlush(t testing.TB, s *sailsio.SailsSocket) {
	t.Helper()
	done := make(chan error, 1)
	s.Get("/flush", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { done <- jwr.Error })
	if err := await(t, done, "flush callback"); !errors.Is(err, sailsio.ErrClosed) {
		t.Fatalf("flush request on a closed socket: %v, want ErrClosed", err)
	}
}

// resilLoops counts the goroutines running a socket's reconnection loop.
func resilLoops() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte("sailsio.(*SailsSocket).reconnectLoop("))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// resilWire is a virtual request as the server received it.
type resilWire struct {
	socketID string
	ack      int64
	method   string
	url      string
}

// resilRequests returns the virtual requests the server received, in the order it logged them
// (wire order for each connection).
func resilRequests(rec *mockserver.FrameRecorder, socketID string) []resilWire {
	var out []resilWire
	for _, f := range rec.Frames(socketID) {
		if f.Dir != mockserver.ClientToServer || !bytes.HasPrefix(f.Data, []byte("42")) {
			continue
		}
		d := f.Data[2:]
		i := 0
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == 0 {
			continue
		}
		ack, _ := strconv.ParseInt(string(d[:i]), 10, 64)
		var arr []json.RawMessage
		var body struct {
			URL string `json:"url"`
		}
		var verb string
		if json.Unmarshal(d[i:], &arr) != nil || len(arr) != 2 || json.Unmarshal(arr[0], &verb) != nil || json.Unmarshal(arr[1], &body) != nil {
			continue
		}
		out = append(out, resilWire{f.SocketID, ack, verb, body.URL})
	}
	return out
}

// resilGate is a beforeConnect hook that records every handshake and refuses some.
type resilGate struct {
	mu     sync.Mutex
	refuse int // handshakes still to refuse; < 0: all
	times  []time.Time
}

func (g *resilGate) check(*http.Request) error {
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

func (g *resilGate) set(refuse int) {
	g.mu.Lock()
	g.refuse = refuse
	g.mu.Unlock()
}

func (g *resilGate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.times)
}

func (g *resilGate) since(i int) []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.times[i:])
}

// resilOutcome is one callback call.
type resilOutcome struct {
	i   int
	jwr *sailsio.JWRes
	at  time.Duration // since a reference instant, when measured
}

// ---------------------------------------------------------------------------------------------
// 1. A thousand requests in flight when the connection drops

func TestResilienceInFlightDrop(t *testing.T) {
	for _, cb := range clientCombos {
		for _, reconnect := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/reconnection=%v", cb.name, reconnect), func(t *testing.T) {
				resilInFlightDrop(t, cb, reconnect)
			})
		}
	}
}

func resilInFlightDrop(t *testing.T, cb combo, reconnect bool) {
	const n = 1000
	srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server))
	var entered atomic.Int32
	all := make(chan struct{})
	release := make(chan struct{})
	srv.Handle("GET /hold/:i", func(req *mockserver.Request, res *mockserver.Response) {
		if entered.Add(1) == n {
			close(all)
		}
		select {
		case <-release:
			res.Send("late")
		case <-req.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	// A short reconnection delay: the new connection races with the failing of the old one's requests.
	s := resilNew(t, srv, cb.client, sailsio.WithReconnection(reconnect), sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
	ev := resilCollect(s)
	resilDial(t, s)
	ev.Expect(t, sailsio.EventConnect)
	// Callbacks and handlers run one at a time on the callback goroutine: a counter orders them.
	var order, lastFailed atomic.Int64
	connectAt := make(chan int64, 4)
	s.On(sailsio.EventConnect, func(json.RawMessage) { connectAt <- order.Add(1) })

	var dropAt atomic.Int64
	calls := make([]atomic.Int32, n)
	results := make(chan resilOutcome, 2*n)
	for i := range n {
		s.Request(sailsio.RequestOptions{Method: "get", URL: "/hold/" + strconv.Itoa(i)}, func(_ json.RawMessage, jwr *sailsio.JWRes) {
			lastFailed.Store(order.Add(1))
			calls[i].Add(1)
			results <- resilOutcome{i, jwr, time.Since(time.Unix(0, dropAt.Load()))}
		})
	}
	await(t, all, fmt.Sprintf("the server receiving all %d requests (got %d)", n, entered.Load()))

	dropAt.Store(time.Now().UnixNano())
	srv.DropConnections()

	var worst time.Duration
	bad := 0
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for k := range n {
		var o resilOutcome
		select {
		case o = <-results:
		case <-timer.C:
			t.Fatalf("%d of %d callbacks within %v of the drop", k, n, waitLimit)
		}
		worst = max(worst, o.at)
		if o.jwr.StatusCode != 0 || !errors.Is(o.jwr.Error, sailsio.ErrDisconnected) || string(o.jwr.Body) != "null" {
			if bad++; bad <= 5 {
				t.Errorf("request %d: %v (status %d, error %v), want status 0 with ErrDisconnected", o.i, o.jwr, o.jwr.StatusCode, o.jwr.Error)
			}
		}
	}
	t.Logf("%s reconnection=%v: %d in-flight callbacks resolved, the last %v after the drop", cb.name, reconnect, n, worst.Round(time.Microsecond))
	if worst > time.Second {
		t.Errorf("the last in-flight callback came %v after the drop, want within 1s", worst)
	}
	if bad > 0 {
		t.Errorf("%d callbacks did not report ErrDisconnected", bad)
	}

	reason := resilReason(t, ev.Expect(t, sailsio.EventDisconnect))
	if !resilLost(reason) {
		t.Errorf("disconnect reason %q, want transport close/error", reason)
	}
	if reconnect {
		ev.WaitFor(t, sailsio.EventReconnect)
		// The old connection's requests have all failed before the new connection's connect handler.
		if c := await(t, connectAt, "connect handler"); c < lastFailed.Load() {
			t.Errorf("the new connection's connect handler ran before %d of the old connection's in-flight failures", lastFailed.Load()-c)
		}
	} else {
		if st := s.State(); st != sailsio.StateDisconnected {
			t.Errorf("State() = %v after a loss without reconnection, want disconnected", st)
		}
		if _, err := s.GetContext(testCtx(t), "/hold/x", nil); !errors.Is(err, sailsio.ErrDisconnected) {
			t.Errorf("request after the loss without reconnection: %v, want ErrDisconnected at once", err)
		}
	}
	s.Disconnect()
	resilFlush(t, s)
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Errorf("request %d: callback called %d times, want 1", i, c)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// 2. A hundred drop/reconnect cycles with requests queued during every outage

func TestResilienceDropCycles(t *testing.T) {
	for _, p := range []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4} {
		t.Run(fmt.Sprintf("EIO%d", p), func(t *testing.T) { resilDropCycles(t, p) })
	}
}

func resilDropCycles(t *testing.T, p sailsio.Protocol) {
	const cycles, perCycle = 100, 5
	rec := &mockserver.FrameRecorder{}
	srv := mockserver.NewT(t, mockserver.WithFrameLog(rec.Log))
	var amu sync.Mutex
	var arrivals []int // handler entry order (handlers run concurrently: informative only)
	counts := map[int]int{}
	srv.Handle("GET /q/:n", func(req *mockserver.Request, res *mockserver.Response) {
		n, _ := strconv.Atoi(req.Param("n"))
		amu.Lock()
		arrivals = append(arrivals, n)
		counts[n]++
		amu.Unlock()
		res.JSON(n)
	})
	base := runtime.NumGoroutine()
	s := resilNew(t, srv, p, sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
	ev := resilCollect(s)
	resilDial(t, s)
	ev.Expect(t, sailsio.EventConnect)
	during := runtime.NumGoroutine()

	results := make(chan resilOutcome, cycles*perCycle)
	calls := make([]atomic.Int32, cycles*perCycle)
	start := time.Now()
	next, refusedAttempts := 0, 0
	for c := range cycles {
		srv.RefuseHandshakes(1<<30, http.StatusServiceUnavailable) // keep it down until the requests wait
		srv.DropConnections()
		if r := resilReason(t, ev.WaitFor(t, sailsio.EventDisconnect)); !resilLost(r) {
			t.Fatalf("cycle %d: disconnect reason %q", c, r)
		}
		for range perCycle {
			i := next
			next++
			s.Request(sailsio.RequestOptions{URL: "/q/" + strconv.Itoa(i)}, func(_ json.RawMessage, jwr *sailsio.JWRes) {
				calls[i].Add(1)
				results <- resilOutcome{i: i, jwr: jwr}
			})
		}
		// At least one attempt fails while the requests wait, then the server takes handshakes again.
		ce := ev.WaitFor(t, sailsio.EventConnectError)
		if st := testkit.Decode[struct{ Status int }](t, ce).Status; st != http.StatusServiceUnavailable {
			t.Fatalf("cycle %d: connect_error %s, want status 503", c, ce)
		}
		srv.RefuseHandshakes(0, 0)
		for {
			e := ev.Next(t)
			if e.Name == sailsio.EventConnectError {
				refusedAttempts++
			}
			if e.Name == sailsio.EventReconnect {
				break
			}
		}
		refusedAttempts++ // the one waited for above
		for range perCycle {
			o := await(t, results, fmt.Sprintf("cycle %d response", c))
			var got int
			if o.jwr.StatusCode != 200 || o.jwr.Decode(&got) != nil || got != o.i {
				t.Fatalf("cycle %d: request %d got %v", c, o.i, o.jwr)
			}
		}
	}
	elapsed := time.Since(start)
	s.Disconnect()
	resilFlush(t, s)
	after := testkit.Settle(t, base)

	// Exactly once, in order: the wire order over all connections is 0, 1, 2, ...
	var order []int
	conns := map[string]bool{}
	for _, w := range resilRequests(rec, "") {
		if n, ok := strings.CutPrefix(w.url, "/q/"); ok {
			i, _ := strconv.Atoi(n)
			order = append(order, i)
			conns[w.socketID] = true
		}
	}
	want := make([]int, next)
	for i := range want {
		want[i] = i
	}
	if d := cmp.Diff(want, order); d != "" {
		t.Errorf("requests on the wire, in order (-want +got):\n%s", d)
	}
	amu.Lock()
	for i := range next {
		if counts[i] != 1 {
			t.Errorf("request %d reached the handler %d times", i, counts[i])
		}
	}
	handled := len(arrivals)
	amu.Unlock()
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Errorf("request %d: callback called %d times", i, c)
		}
	}
	if len(conns) != cycles {
		t.Errorf("the queued requests went out on %d connections, want %d (one per cycle)", len(conns), cycles)
	}
	t.Logf("EIO%d: %d cycles in %v (%d requests queued and delivered once each, in order; %d handled; %d refused attempts); goroutines: %d before the socket, %d while connected, %d after Disconnect",
		p, cycles, elapsed.Round(time.Millisecond), next, handled, refusedAttempts, base, during, after)
}

// ---------------------------------------------------------------------------------------------
// 3. Lifecycle events, the reconnection policy, kicks and half-open connections

func TestResilienceLifecycleOrder(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			const minD, maxD = 20 * time.Millisecond, 80 * time.Millisecond
			gate := &resilGate{}
			srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server), mockserver.WithBeforeConnect(gate.check))
			s := resilNew(t, srv, cb.client, sailsio.WithReconnectionDelay(minD, maxD))
			news := make(chan json.RawMessage, 16)
			s.On("news", func(d json.RawMessage) { news <- d }) // registered before Connect
			ev := resilCollect(s)
			resilDial(t, s)
			ev.Expect(t, sailsio.EventConnect)
			var delays []int64
			for round := range 3 {
				oldID := s.ID()
				gate.set(2) // two refused attempts, the third goes through
				mark := gate.count()
				srv.DropConnections()
				if r := resilReason(t, ev.Expect(t, sailsio.EventDisconnect)); !resilLost(r) {
					t.Errorf("round %d: disconnect reason %q", round, r)
				}
				var rc []resilReconnecting
				for attempt := 1; attempt <= 3; attempt++ {
					r := testkit.Decode[resilReconnecting](t, ev.Expect(t, sailsio.EventReconnecting))
					if r.Attempt != attempt {
						t.Errorf("round %d: reconnecting attempt %d, want %d", round, r.Attempt, attempt)
					}
					if r.DelayMS < minD.Milliseconds() || r.DelayMS > maxD.Milliseconds() {
						t.Errorf("round %d: reconnecting delay_ms %d outside [%d, %d]", round, r.DelayMS, minD.Milliseconds(), maxD.Milliseconds())
					}
					rc = append(rc, r)
					delays = append(delays, r.DelayMS)
					if attempt < 3 {
						ce := ev.Expect(t, sailsio.EventConnectError)
						if st := testkit.Decode[struct{ Status int }](t, ce).Status; st != http.StatusBadRequest {
							t.Errorf("round %d: %s, want status 400 (beforeConnect refusal)", round, ce)
						}
					}
				}
				ev.Expect(t, sailsio.EventConnect)
				if r := testkit.Decode[struct{ Attempt int }](t, ev.Expect(t, sailsio.EventReconnect)); r.Attempt != 3 {
					t.Errorf("round %d: reconnect attempt %d, want 3", round, r.Attempt)
				}
				// The attempts the server saw are spaced by at least the announced delays.
				times := gate.since(mark)
				if len(times) != 3 {
					t.Fatalf("round %d: the server saw %d handshakes, want 3", round, len(times))
				}
				for k := 1; k < 3; k++ {
					gap := times[k].Sub(times[k-1])
					if gap < time.Duration(rc[k].DelayMS)*time.Millisecond {
						t.Errorf("round %d: attempt %d came %v after the previous one, before its delay of %d ms", round, k+1, gap, rc[k].DelayMS)
					}
					if gap > maxD+time.Second {
						t.Errorf("round %d: attempt %d came %v after the previous one (max delay %v)", round, k+1, gap, maxD)
					}
				}
				if s.ID() == oldID || s.ID() == "" {
					t.Errorf("round %d: ID %q after reconnecting (was %q)", round, s.ID(), oldID)
				}
				srv.Blast("news", round)
				if d := await(t, news, "news event after a reconnection"); string(d) != strconv.Itoa(round) {
					t.Errorf("round %d: listener got %s", round, d)
				}
			}
			t.Logf("%s: delay_ms of 9 attempts within [%d, %d]: %v", cb.name, minD.Milliseconds(), maxD.Milliseconds(), delays)
		})
	}
}

func TestResilienceReconnectFailed(t *testing.T) {
	gate := &resilGate{}
	srv := mockserver.NewT(t, mockserver.WithBeforeConnect(gate.check))
	srv.Handle("GET /ok", func(req *mockserver.Request, res *mockserver.Response) { res.Send("ok") })
	s := resilNew(t, srv, sailsio.EIO3, sailsio.WithReconnectionAttempts(3), sailsio.WithReconnectionDelay(30*time.Millisecond, 60*time.Millisecond))
	ev := resilCollect(s)
	queued := make(chan *sailsio.JWRes, 1)
	var queuedCalls atomic.Int32
	stateInHandler := make(chan sailsio.State, 1)
	var first atomic.Bool
	s.On(sailsio.EventDisconnect, func(json.RawMessage) {
		if !first.CompareAndSwap(false, true) {
			return // the final Disconnect
		}
		// The loop is in its first delay: this request waits in the queue.
		stateInHandler <- s.State()
		s.Get("/ok", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { queuedCalls.Add(1); queued <- jwr })
	})
	resilDial(t, s)
	ev.Expect(t, sailsio.EventConnect)
	gate.set(-1)
	mark := gate.count()
	srv.DropConnections()
	ev.Expect(t, sailsio.EventDisconnect)
	if st := await(t, stateInHandler, "state"); st != sailsio.StateReconnecting {
		t.Errorf("State() in the disconnect handler = %v, want reconnecting", st)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		if r := testkit.Decode[resilReconnecting](t, ev.Expect(t, sailsio.EventReconnecting)); r.Attempt != attempt {
			t.Errorf("reconnecting %+v, want attempt %d", r, attempt)
		}
		ev.Expect(t, sailsio.EventConnectError)
	}
	failed := ev.Expect(t, sailsio.EventReconnectFailed)
	if d := jsonDiffResil(`{"attempts":3}`, failed.Data); d != "" {
		t.Errorf("reconnect_failed payload: %s", d)
	}
	jwr := await(t, queued, "queued request's callback")
	if jwr.StatusCode != 0 || !errors.Is(jwr.Error, sailsio.ErrDisconnected) {
		t.Errorf("queued request after reconnect_failed: %v, want ErrDisconnected", jwr)
	}
	if st := s.State(); st != sailsio.StateDisconnected || s.IsConnecting() || s.IsConnected() {
		t.Errorf("State() = %v after reconnect_failed, want disconnected", st)
	}
	if n := len(gate.since(mark)); n != 3 {
		t.Errorf("the server saw %d handshakes, want 3", n)
	}
	began := time.Now()
	if _, err := s.GetContext(testCtx(t), "/ok", nil); !errors.Is(err, sailsio.ErrDisconnected) {
		t.Errorf("request after reconnect_failed: %v, want ErrDisconnected", err)
	}
	if d := time.Since(began); d > 500*time.Millisecond {
		t.Errorf("request after reconnect_failed took %v to fail, want at once", d)
	}
	// Connect works again once the server accepts handshakes.
	gate.set(0)
	resilDial(t, s)
	if jwr, err := s.GetContext(testCtx(t), "/ok", nil); err != nil || jwr.StatusCode != 200 {
		t.Errorf("request after a new Connect: %v, %v", jwr, err)
	}
	s.Disconnect()
	resilFlush(t, s)
	if c := queuedCalls.Load(); c != 1 {
		t.Errorf("queued request's callback called %d times", c)
	}
}

func jsonDiffResil(want string, got []byte) string {
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return err.Error()
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Sprintf("%s: %v", got, err)
	}
	return cmp.Diff(w, g)
}

// resilCountingBackOff counts how it is used.
type resilCountingBackOff struct {
	b      backoff.BackOff
	mu     sync.Mutex
	next   int
	resets int
}

func (c *resilCountingBackOff) NextBackOff() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	return c.b.NextBackOff()
}

func (c *resilCountingBackOff) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resets++
	c.b.Reset()
}

func (c *resilCountingBackOff) counts() (next, resets int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next, c.resets
}

func TestResilienceCustomBackOff(t *testing.T) {
	gate := &resilGate{}
	srv := mockserver.NewT(t, mockserver.WithBeforeConnect(gate.check))
	bo := &resilCountingBackOff{b: backoff.WithMaxRetries(backoff.NewConstantBackOff(25*time.Millisecond), 2)}
	// WithReconnectionDelay is ignored when a policy is given: with it the delays would be >= 1s.
	s := resilNew(t, srv, sailsio.EIO4, sailsio.WithReconnectionDelay(time.Second, 5*time.Second), sailsio.WithReconnectionBackOff(bo))
	ev := resilCollect(s)
	resilDial(t, s)
	ev.Expect(t, sailsio.EventConnect)

	// First loss: one refused attempt, then success on the second.
	gate.set(1)
	srv.DropConnections()
	ev.Expect(t, sailsio.EventDisconnect)
	for attempt := 1; attempt <= 2; attempt++ {
		r := testkit.Decode[resilReconnecting](t, ev.Expect(t, sailsio.EventReconnecting))
		if r.Attempt != attempt || r.DelayMS != 25 {
			t.Errorf("reconnecting %+v, want attempt %d delay_ms 25 (the custom policy)", r, attempt)
		}
		if attempt == 1 {
			ev.Expect(t, sailsio.EventConnectError)
		}
	}
	ev.Expect(t, sailsio.EventConnect)
	ev.Expect(t, sailsio.EventReconnect)

	// Second loss: the policy was reset (2 retries again) and gives up with backoff.Stop.
	gate.set(-1)
	srv.DropConnections()
	ev.Expect(t, sailsio.EventDisconnect)
	for attempt := 1; attempt <= 2; attempt++ {
		if r := testkit.Decode[resilReconnecting](t, ev.Expect(t, sailsio.EventReconnecting)); r.Attempt != attempt || r.DelayMS != 25 {
			t.Errorf("reconnecting %+v, want attempt %d delay_ms 25", r, attempt)
		}
		ev.Expect(t, sailsio.EventConnectError)
	}
	if f := ev.Expect(t, sailsio.EventReconnectFailed); jsonDiffResil(`{"attempts":2}`, f.Data) != "" {
		t.Errorf("reconnect_failed %s, want attempts 2", f.Data)
	}
	if st := s.State(); st != sailsio.StateDisconnected {
		t.Errorf("State() = %v after the policy stopped, want disconnected", st)
	}
	next, resets := bo.counts()
	t.Logf("custom policy: NextBackOff called %d times, Reset %d times", next, resets)
	if next != 5 || resets < 2 {
		t.Errorf("custom policy: NextBackOff %d calls (want 2+3), Reset %d (want one per loss)", next, resets)
	}
}

func TestResilienceForcedReconnect(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			gate := &resilGate{}
			srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server), mockserver.WithBeforeConnect(gate.check))
			srv.Handle("GET /ok/:n", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Param("n")) })
			entered := make(chan struct{}, 1)
			srv.Handle("GET /hold", func(req *mockserver.Request, res *mockserver.Response) {
				entered <- struct{}{}
				<-req.Context().Done()
			})
			base := runtime.NumGoroutine()
			// A long delay: only a forced reconnection can come back quickly.
			s := resilNew(t, srv, cb.client, sailsio.WithReconnectionDelay(10*time.Second, 10*time.Second))
			ev := resilCollect(s)
			resilDial(t, s)
			ev.Expect(t, sailsio.EventConnect)

			// While connected: the current connection is dropped (in flight fails) and a new one made.
			inflight := make(chan error, 1)
			go func() { _, err := s.GetContext(testCtx(t), "/hold", nil); inflight <- err }()
			await(t, entered, "held request")
			first := s.ID()
			if err := s.Reconnect(testCtx(t)); err != nil {
				t.Fatalf("Reconnect while connected: %v", err)
			}
			if err := await(t, inflight, "in-flight result"); !errors.Is(err, sailsio.ErrDisconnected) {
				t.Errorf("in flight during Reconnect: %v, want ErrDisconnected", err)
			}
			if r := resilReason(t, ev.Expect(t, sailsio.EventDisconnect)); r != sailsio.ReasonClientDisconnect {
				t.Errorf("disconnect reason %q on Reconnect, want %q", r, sailsio.ReasonClientDisconnect)
			}
			ev.Expect(t, sailsio.EventConnect)
			if s.ID() == first || !s.IsConnected() {
				t.Errorf("after Reconnect: ID %q (was %q), connected %v", s.ID(), first, s.IsConnected())
			}

			// While the loop waits its 10 s delay: Reconnect connects now, the queue goes out.
			mark := gate.count()
			srv.DropConnections()
			ev.ExpectSkipping(t, sailsio.EventDisconnect, sailsio.EventReconnect)
			if r := testkit.Decode[resilReconnecting](t, ev.Expect(t, sailsio.EventReconnecting)); r.DelayMS != 10000 {
				t.Errorf("reconnecting %+v, want delay_ms 10000", r)
			}
			queued := make(chan *sailsio.JWRes, 1)
			s.Get("/ok/1", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { queued <- jwr })
			began := time.Now()
			if err := s.Reconnect(testCtx(t)); err != nil {
				t.Fatalf("Reconnect during the loop: %v", err)
			}
			took := time.Since(began)
			ev.Expect(t, sailsio.EventConnect)
			if jwr := await(t, queued, "queued request"); jwr.StatusCode != 200 || string(jwr.Body) != `"1"` {
				t.Errorf("queued request after Reconnect: %v", jwr)
			}
			if n := len(gate.since(mark)); n != 1 {
				t.Errorf("the server saw %d handshakes after the drop, want 1 (the forced one)", n)
			}
			t.Logf("%s: Reconnect during a 10 s reconnection delay connected in %v", cb.name, took.Round(time.Microsecond))
			if took > 2*time.Second {
				t.Errorf("Reconnect took %v", took)
			}
			// The superseded loop ends now, not when its 10 s delay is over.
			deadline := time.Now().Add(500 * time.Millisecond)
			for resilLoops() > 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n := resilLoops(); n > 0 {
				t.Errorf("%d reconnection loop goroutine(s) still running 500 ms after Reconnect connected the socket (asleep until its 10 s delay ends)", n)
			}
			// The superseded loop does not linger: Disconnect returns at once and nothing is left.
			began = time.Now()
			s.Disconnect()
			if d := time.Since(began); d > time.Second {
				t.Errorf("Disconnect took %v", d)
			}
			testkit.Settle(t, base)
			if n := len(gate.since(mark)); n != 1 {
				t.Errorf("the server saw %d handshakes after the drop, want 1", n)
			}
			for _, e := range ev.Unread() {
				if e.Name != sailsio.EventDisconnect && e.Name != sailsio.EventReconnect {
					t.Errorf("unexpected event after Reconnect (the superseded loop went on?): %s", e)
				}
			}
		})
	}
}

func TestResilienceDisconnectStopsLoop(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			gate := &resilGate{}
			srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server), mockserver.WithBeforeConnect(gate.check))
			base := runtime.NumGoroutine()
			s := resilNew(t, srv, cb.client, sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
			ev := resilCollect(s)
			resilDial(t, s)
			ev.Expect(t, sailsio.EventConnect)
			gate.set(-1)
			mark := gate.count()
			srv.DropConnections()
			ev.Expect(t, sailsio.EventDisconnect)
			queued := make(chan *sailsio.JWRes, 1)
			s.Get("/never", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { queued <- jwr })
			for range 3 {
				ev.WaitFor(t, sailsio.EventConnectError)
			}
			s.Disconnect()
			if jwr := await(t, queued, "queued request"); !errors.Is(jwr.Error, sailsio.ErrClosed) {
				t.Errorf("queued request on Disconnect: %v, want ErrClosed", jwr)
			}
			if st := s.State(); st != sailsio.StateClosed {
				t.Errorf("State() = %v, want closed", st)
			}
			after := testkit.Settle(t, base) // the loop's goroutine is gone: no attempt can follow
			attempts := len(gate.since(mark))
			// 20 times the longest delay: an attempt would have come by now.
			deadline := time.Now().Add(100 * time.Millisecond)
			for time.Now().Before(deadline) {
				if n := len(gate.since(mark)); n != attempts {
					t.Fatalf("the server saw %d handshakes after Disconnect returned (%d before)", n, attempts)
				}
				time.Sleep(5 * time.Millisecond)
			}
			for _, e := range ev.Unread() {
				if e.Name == sailsio.EventConnect || e.Name == sailsio.EventReconnect {
					t.Errorf("event after Disconnect: %s", e)
				}
			}
			t.Logf("%s: %d refused attempts before Disconnect, none after; goroutines %d -> %d", cb.name, attempts, base, after)
		})
	}
}

func TestResilienceKick(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			gate := &resilGate{}
			srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server), mockserver.WithBeforeConnect(gate.check))
			s := resilNew(t, srv, cb.client, sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
			ev := resilCollect(s)
			resilDial(t, s)
			ev.Expect(t, sailsio.EventConnect)
			mark := gate.count()
			if err := srv.Kick(s.ID()); err != nil {
				t.Fatal(err)
			}
			if r := resilReason(t, ev.Expect(t, sailsio.EventDisconnect)); r != sailsio.ReasonServerDisconnect {
				t.Errorf("disconnect reason %q, want %q", r, sailsio.ReasonServerDisconnect)
			}
			if st := s.State(); st != sailsio.StateDisconnected {
				t.Errorf("State() = %v after a kick, want disconnected", st)
			}
			if _, err := s.GetContext(testCtx(t), "/x", nil); !errors.Is(err, sailsio.ErrDisconnected) {
				t.Errorf("request after a kick: %v, want ErrDisconnected", err)
			}
			// No reconnection: 20 times the longest delay without any attempt.
			deadline := time.Now().Add(100 * time.Millisecond)
			for time.Now().Before(deadline) {
				if n := len(gate.since(mark)); n != 0 {
					t.Fatalf("the server saw %d handshakes after the kick", n)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if evs := ev.Unread(); len(evs) != 0 {
				t.Errorf("events after the kick: %v", evs)
			}
		})
	}
}

func TestResilienceHalfOpen(t *testing.T) {
	const interval, timeout = 100 * time.Millisecond, 200 * time.Millisecond
	const margin = 400 * time.Millisecond
	faults := []struct {
		name string
		set  func(*mockserver.Server, bool)
	}{
		{"StopHeartbeats", (*mockserver.Server).StopHeartbeats},
		{"SetPaused", (*mockserver.Server).SetPaused},
	}
	for _, cb := range clientCombos {
		for _, fault := range faults {
			t.Run(cb.name+"/"+fault.name, func(t *testing.T) {
				rec := &mockserver.FrameRecorder{}
				srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server), mockserver.WithFrameLog(rec.Log),
					mockserver.WithPingInterval(interval), mockserver.WithPingTimeout(timeout))
				srv.Handle("GET /ok", func(req *mockserver.Request, res *mockserver.Response) { res.Send("ok") })
				s := resilNew(t, srv, cb.client, sailsio.WithReconnectionDelay(10*time.Millisecond, 20*time.Millisecond))
				ev := resilCollect(s)
				resilDial(t, s)
				ev.Expect(t, sailsio.EventConnect)
				// Let two heartbeats go by (a pong "3", whichever side sends it), so that the
				// fault starts at any point of the heartbeat cycle, not right after the handshake.
				pongs := 0
				if _, err := rec.Wait(testCtx(t), func(f mockserver.Frame) bool {
					if string(f.Data) == "3" {
						pongs++
					}
					return pongs == 2
				}); err != nil {
					t.Fatalf("no heartbeats: %v", err)
				}
				began := time.Now()
				fault.set(srv, true)
				disc := ev.Expect(t, sailsio.EventDisconnect)
				took := disc.At.Sub(began)
				if r := resilReason(t, disc); r != sailsio.ReasonPingTimeout {
					t.Errorf("disconnect reason %q, want %q", r, sailsio.ReasonPingTimeout)
				}
				t.Logf("%s/%s: half-open connection detected %v after the fault began, right after a heartbeat (pingInterval+pingTimeout = %v)", cb.name, fault.name, took.Round(time.Millisecond), interval+timeout)
				if took > interval+timeout+margin {
					t.Errorf("detected after %v, want within %v + %v", took, interval+timeout, margin)
				}
				if took < timeout-50*time.Millisecond {
					t.Errorf("detected after %v: too early for a heartbeat timeout", took)
				}
				fault.set(srv, false)
				ev.WaitFor(t, sailsio.EventReconnect)
				if jwr, err := s.GetContext(testCtx(t), "/ok", nil); err != nil || jwr.StatusCode != 200 {
					t.Errorf("request after reconnecting: %v, %v", jwr, err)
				}
			})
		}
	}
}

// ---------------------------------------------------------------------------------------------
// 4. Session continuity across reconnections

func TestResilienceSession(t *testing.T) {
	for _, p := range []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4} {
		t.Run(fmt.Sprintf("EIO%d", p), func(t *testing.T) {
			srv := mockserver.NewT(t)
			srv.Handle("POST /login", func(req *mockserver.Request, res *mockserver.Response) {
				req.Session.Set("user", req.Param("name"))
				res.JSON(map[string]any{"user": req.Param("name")})
			})
			srv.Handle("GET /me", func(req *mockserver.Request, res *mockserver.Response) {
				res.JSON(map[string]any{"user": req.Session.Get("user"), "sid": req.Session.ID(), "socket": req.SocketID})
			})
			jar, err := cookiejar.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			hc := &http.Client{Jar: jar, Timeout: waitLimit}
			resp, err := hc.Post(srv.URL()+"/login", "application/json", strings.NewReader(`{"name":"ada"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			hc.CloseIdleConnections()
			u, _ := url.Parse(srv.URL())
			var cookie string
			for _, c := range jar.Cookies(u) {
				if c.Name == mockserver.SessionCookieName {
					cookie = c.Value
				}
			}
			if cookie == "" {
				t.Fatalf("no %s cookie after the HTTP login", mockserver.SessionCookieName)
			}

			s := resilNew(t, srv, p, sailsio.WithCookieJar(jar), sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
			ev := resilCollect(s)
			resilDial(t, s)
			type me struct{ User, Sid, Socket string }
			getMe := func() me {
				t.Helper()
				jwr, err := s.GetContext(testCtx(t), "/me", nil)
				if err != nil {
					t.Fatal(err)
				}
				var m me
				if err := jwr.Decode(&m); err != nil {
					t.Fatal(err)
				}
				return m
			}
			checkHandshake := func(id string) {
				t.Helper()
				hs, ok := srv.Handshake(id)
				if !ok {
					t.Fatalf("no handshake for socket %s", id)
				}
				if hs.SessionID != cookie || !strings.Contains(hs.Cookie, mockserver.SessionCookieName+"="+cookie) {
					t.Errorf("handshake of %s: Cookie %q, session %q; want the HTTP login's %s", id, hs.Cookie, hs.SessionID, cookie)
				}
			}
			before := getMe()
			if before.User != "ada" || before.Sid != cookie {
				t.Fatalf("over the socket before the drop: %+v, want user ada in session %s", before, cookie)
			}
			checkHandshake(before.Socket)
			for round := range 3 {
				srv.DropConnections()
				ev.WaitFor(t, sailsio.EventReconnect)
				after := getMe()
				if after.User != "ada" || after.Sid != before.Sid || after.Socket == before.Socket {
					t.Errorf("round %d after reconnecting: %+v, want user ada in session %s on a new socket", round, after, before.Sid)
				}
				checkHandshake(after.Socket)
				before.Socket = after.Socket
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// 5. Resubscribe: replayed first on every connection

func TestResilienceResubscribe(t *testing.T) {
	for _, p := range []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4} {
		t.Run(fmt.Sprintf("EIO%d", p), func(t *testing.T) { resilResubscribe(t, p) })
	}
}

func resilResubscribe(t *testing.T, p sailsio.Protocol) {
	rec := &mockserver.FrameRecorder{}
	srv := mockserver.NewT(t, mockserver.WithFrameLog(rec.Log))
	srv.Handle("POST /rooms/:room/join", func(req *mockserver.Request, res *mockserver.Response) {
		srv.Join(req.SocketID, req.Param("room"))
		res.JSON(map[string]string{"joined": req.Param("room"), "id": req.SocketID})
	})
	srv.Handle("GET /q/:n", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Param("n")) })

	s := resilNew(t, srv, p, sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
	ev := resilCollect(s)
	chat := make(chan json.RawMessage, 16)
	s.On("chat", func(d json.RawMessage) { chat <- d })
	joins := make(chan string, 16)
	var joinCalls atomic.Int32
	stop := s.Resubscribe(sailsio.RequestOptions{Method: "post", URL: "/rooms/lobby/join"}, func(_ json.RawMessage, jwr *sailsio.JWRes) {
		joinCalls.Add(1)
		var b struct{ Joined, ID string }
		if jwr.StatusCode != 200 || jwr.Decode(&b) != nil || b.Joined != "lobby" {
			joins <- "bad: " + jwr.String()
			return
		}
		joins <- b.ID
	})
	queued := make(chan string, 64)
	queue := func(n int) {
		s.Get("/q/"+strconv.Itoa(n), nil, func(_ json.RawMessage, jwr *sailsio.JWRes) {
			var v string
			if jwr.StatusCode != 200 || jwr.Decode(&v) != nil {
				v = "bad: " + jwr.String()
			}
			queued <- v
		})
	}
	n := 0
	queue(n) // before Connect: after the join
	n++
	resilDial(t, s)
	ev.Expect(t, sailsio.EventConnect)

	// wireOrder returns the URLs the server received on socket id, in order.
	wireOrder := func(id string) []string {
		var urls []string
		for _, w := range resilRequests(rec, id) {
			urls = append(urls, w.url)
		}
		return urls
	}
	checkConn := func(round int, wantQueued []int) {
		t.Helper()
		id := await(t, joins, "join callback")
		if id != s.ID() {
			t.Fatalf("round %d: join callback %q, want the current socket %q", round, id, s.ID())
		}
		for range wantQueued {
			if v := await(t, queued, "queued response"); strings.HasPrefix(v, "bad") {
				t.Fatalf("round %d: queued request %s", round, v)
			}
		}
		want := []string{"/rooms/lobby/join"}
		for _, q := range wantQueued {
			want = append(want, "/q/"+strconv.Itoa(q))
		}
		if d := cmp.Diff(want, wireOrder(id)); d != "" {
			t.Errorf("round %d: requests on socket %s (-want +got):\n%s", round, id, d)
		}
		// The room membership is back: a broadcast reaches the socket.
		srv.Broadcast("lobby", "chat", round)
		if d := await(t, chat, "chat broadcast"); string(d) != strconv.Itoa(round) {
			t.Errorf("round %d: chat %s", round, d)
		}
	}
	checkConn(0, []int{0})
	rounds := 3
	for round := 1; round <= rounds; round++ {
		srv.RefuseHandshakes(1<<30, http.StatusServiceUnavailable)
		srv.DropConnections()
		ev.WaitFor(t, sailsio.EventDisconnect)
		want := []int{n, n + 1}
		queue(n)
		queue(n + 1)
		n += 2
		srv.RefuseHandshakes(0, 0)
		ev.WaitFor(t, sailsio.EventReconnect)
		checkConn(round, want)
	}
	if c := joinCalls.Load(); c != int32(rounds+1) {
		t.Errorf("join callback called %d times, want %d (once per connection)", c, rounds+1)
	}

	// After stop: the next connection does not join; the room does not hold it.
	stop()
	srv.DropConnections()
	ev.WaitFor(t, sailsio.EventReconnect)
	queue(n)
	if v := await(t, queued, "request after stop"); strings.HasPrefix(v, "bad") {
		t.Fatalf("request after stop: %s", v)
	}
	id := s.ID()
	if d := cmp.Diff([]string{"/q/" + strconv.Itoa(n)}, wireOrder(id)); d != "" {
		t.Errorf("requests after stop (-want +got):\n%s", d)
	}
	if slices.Contains(srv.RoomMembers("lobby"), id) {
		t.Errorf("socket %s is in the lobby after stop", id)
	}
	s.Disconnect()
	resilFlush(t, s)
	if c := joinCalls.Load(); c != int32(rounds+1) {
		t.Errorf("join callback called %d times after stop, want %d", c, rounds+1)
	}
}

// ---------------------------------------------------------------------------------------------
// 6. The queue while reconnecting; in-flight requests are never re-sent

// resilDoneWatch is a context that reports when Do starts waiting on it (Do calls Done only after
// the request was queued or sent).
type resilDoneWatch struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (c *resilDoneWatch) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

func TestResilienceQueue(t *testing.T) {
	rec := &mockserver.FrameRecorder{}
	srv := mockserver.NewT(t, mockserver.WithFrameLog(rec.Log))
	srv.Handle("GET /w/:n", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Param("n")) })
	s := resilNew(t, srv, sailsio.EIO3, sailsio.WithQueueLimit(3), sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
	ev := resilCollect(s)
	resilDial(t, s)
	s2 := resilNew(t, srv, sailsio.EIO4, sailsio.WithRequestTimeout(100*time.Millisecond), sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
	ev2 := resilCollect(s2)
	resilDial(t, s2)

	srv.RefuseHandshakes(1<<30, http.StatusServiceUnavailable)
	srv.DropConnections()
	ev.WaitFor(t, sailsio.EventDisconnect)
	ev2.WaitFor(t, sailsio.EventDisconnect)

	results := make(chan resilOutcome, 16)
	calls := make([]atomic.Int32, 10)
	req := func(n int) {
		s.Get("/w/"+strconv.Itoa(n), nil, func(_ json.RawMessage, jwr *sailsio.JWRes) {
			calls[n].Add(1)
			results <- resilOutcome{i: n, jwr: jwr}
		})
	}
	req(1)
	req(2)
	// A Do that waits in the queue (third slot), cancelled later.
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := &resilDoneWatch{Context: cctx, waiting: make(chan struct{})}
	doErr := make(chan error, 1)
	go func() { _, err := s.Do(watch, sailsio.RequestOptions{URL: "/w/3"}); doErr <- err }()
	await(t, watch.waiting, "Do waiting in the queue")
	// The queue is full: the next ones fail at once.
	req(4)
	if o := await(t, results, "queue-full callback"); o.i != 4 || o.jwr.StatusCode != 0 || !errors.Is(o.jwr.Error, sailsio.ErrQueueFull) {
		t.Errorf("request beyond the queue limit: %d %v, want ErrQueueFull", o.i, o.jwr)
	}
	if _, err := s.GetContext(testCtx(t), "/w/5", nil); !errors.Is(err, sailsio.ErrQueueFull) {
		t.Errorf("Do beyond the queue limit: %v, want ErrQueueFull", err)
	}
	// Cancelling the queued Do frees its slot.
	cancel()
	if err := await(t, doErr, "cancelled Do"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled queued Do: %v, want context.Canceled", err)
	}
	req(6)
	// A request timeout counts time in the queue.
	began := time.Now()
	if _, err := s2.GetContext(testCtx(t), "/w/7", nil); !errors.Is(err, sailsio.ErrTimeout) {
		t.Errorf("queued request with a 100ms timeout: %v, want ErrTimeout", err)
	} else if d := time.Since(began); d < 100*time.Millisecond {
		t.Errorf("timed out after %v, before the timeout", d)
	}
	if st := s.State(); st != sailsio.StateReconnecting && st != sailsio.StateConnecting {
		t.Errorf("State() during the outage = %v", st)
	}

	srv.RefuseHandshakes(0, 0)
	ev.WaitFor(t, sailsio.EventReconnect)
	ev2.WaitFor(t, sailsio.EventReconnect)
	got := map[int]*sailsio.JWRes{}
	for range 3 {
		o := await(t, results, "queued response")
		got[o.i] = o.jwr
	}
	for _, n := range []int{1, 2, 6} {
		if jwr := got[n]; jwr == nil || jwr.StatusCode != 200 || string(jwr.Body) != `"`+strconv.Itoa(n)+`"` {
			t.Errorf("queued request %d: %v", n, jwr)
		}
	}
	var urls []string
	for _, w := range resilRequests(rec, "") {
		urls = append(urls, w.url)
	}
	if d := cmp.Diff([]string{"/w/1", "/w/2", "/w/6"}, urls); d != "" {
		t.Errorf("requests on the wire (FIFO; cancelled, refused and timed-out ones never sent) (-want +got):\n%s", d)
	}
	s.Disconnect()
	resilFlush(t, s)
	for _, n := range []int{1, 2, 4, 6} {
		if c := calls[n].Load(); c != 1 {
			t.Errorf("request %d: callback called %d times", n, c)
		}
	}
}

func TestResilienceInFlightNotResent(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			const n = 20
			rec := &mockserver.FrameRecorder{}
			srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server), mockserver.WithFrameLog(rec.Log))
			var mu sync.Mutex
			seen := map[string]int{}
			var entered atomic.Int32
			all := make(chan struct{})
			srv.Handle("GET /hold/:i", func(req *mockserver.Request, res *mockserver.Response) {
				mu.Lock()
				seen[req.Param("i")]++
				mu.Unlock()
				if entered.Add(1) == n {
					close(all)
				}
				<-req.Context().Done()
			})
			srv.Handle("GET /after", func(req *mockserver.Request, res *mockserver.Response) { res.Send("after") })
			s := resilNew(t, srv, cb.client, sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
			ev := resilCollect(s)
			resilDial(t, s)
			errs := make(chan error, n)
			ctx := testCtx(t)
			for i := range n {
				go func() { _, err := s.GetContext(ctx, "/hold/"+strconv.Itoa(i), nil); errs <- err }()
			}
			await(t, all, "all requests at the server")
			srv.DropConnections()
			for range n {
				if err := await(t, errs, "in-flight result"); !errors.Is(err, sailsio.ErrDisconnected) {
					t.Errorf("in flight at the drop: %v, want ErrDisconnected", err)
				}
			}
			ev.WaitFor(t, sailsio.EventReconnect)
			if jwr, err := s.GetContext(testCtx(t), "/after", nil); err != nil || jwr.StatusCode != 200 {
				t.Fatalf("request after reconnecting: %v, %v", jwr, err)
			}
			wire := map[string]int{}
			for _, w := range resilRequests(rec, "") {
				wire[w.url]++
			}
			for i := range n {
				u := "/hold/" + strconv.Itoa(i)
				if wire[u] != 1 {
					t.Errorf("%s sent %d times, want once", u, wire[u])
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for k, c := range seen {
				if c != 1 {
					t.Errorf("/hold/%s handled %d times", k, c)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// 8. Every public method from many goroutines while the server keeps dropping connections

func TestResilienceConcurrentUse(t *testing.T) {
	const workers, iterations = 16, 150
	srv := mockserver.NewT(t)
	srv.Handle("/echo/:i", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Param("i")) })
	srv.Handle("POST /rooms/:room/join", func(req *mockserver.Request, res *mockserver.Response) { res.Send("joined") })
	base := runtime.NumGoroutine()
	s := resilNew(t, srv, sailsio.EIO4, sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond), sailsio.WithQueueLimit(32))
	ev := resilCollect(s, sailsio.EventReconnect)
	resilDial(t, s)

	var nextID atomic.Int64
	var cmu sync.Mutex
	calls := map[int64]int{}
	var bad atomic.Int32
	var outcomes sync.Map // error kind -> count
	count := func(kind string) {
		v, _ := outcomes.LoadOrStore(kind, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
	}
	classify := func(jwr *sailsio.JWRes, err error) string {
		switch {
		case err == nil && jwr != nil && jwr.StatusCode == 200:
			return "200"
		case errors.Is(err, sailsio.ErrDisconnected):
			return "disconnected"
		case errors.Is(err, sailsio.ErrQueueFull):
			return "queue full"
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return "context"
		case errors.Is(err, sailsio.ErrClosed):
			return "closed"
		}
		if bad.Add(1) <= 5 {
			t.Errorf("unexpected outcome %v, %v", jwr, err)
		}
		return "unexpected"
	}
	// callback makes a request id and its callback, which reports to done.
	callback := func(done chan<- struct{}) (string, sailsio.Callback) {
		id := nextID.Add(1) - 1
		return strconv.FormatInt(id, 10), func(_ json.RawMessage, jwr *sailsio.JWRes) {
			cmu.Lock()
			calls[id]++
			cmu.Unlock()
			if jwr.StatusCode == 0 {
				count(classify(nil, jwr.Error))
			} else {
				count(classify(jwr, nil))
			}
			done <- struct{}{}
		}
	}

	// The server drops every connection every 15 ms; the workers go on until there were minDrops.
	const minDrops = 40
	var drops atomic.Int32
	stopDrops := make(chan struct{})
	dropperDone := make(chan struct{})
	go func() {
		defer close(dropperDone)
		tick := time.NewTicker(15 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopDrops:
				return
			case <-tick.C:
				srv.DropConnections()
				srv.Blast("tick", drops.Add(1))
			}
		}
	}()

	var wg sync.WaitGroup
	var reconnects, ops atomic.Int32
	var lastForced atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			// Each worker keeps at most maxOutstanding callback requests under way, so that the
			// workers wait (as real callers would) instead of spinning on a full queue.
			const maxOutstanding = 4
			done := make(chan struct{}, 100*iterations)
			outstanding := 0
			wait := func() bool {
				select {
				case <-done:
					outstanding--
					return true
				case <-time.After(waitLimit):
					t.Errorf("worker %d: %d callbacks missing after %v", w, outstanding, waitLimit)
					return false
				}
			}
			defer func() {
				for outstanding > 0 && wait() {
				}
			}()
			callback := func() (string, sailsio.Callback) {
				for outstanding >= maxOutstanding {
					if !wait() {
						break
					}
				}
				outstanding++
				return callback(done)
			}
			for i := 0; i < iterations || (drops.Load() < minDrops && i < 100*iterations); i++ {
				ops.Add(1)
				switch rng.IntN(14) {
				case 0, 1:
					id, cb := callback()
					s.Request(sailsio.RequestOptions{Method: "get", URL: "/echo/" + id}, cb)
				case 2:
					id, cb := callback()
					[]func(string, any, sailsio.Callback){s.Get, s.Post, s.Put, s.Patch, s.Delete}[rng.IntN(5)]("/echo/"+id, map[string]int{"w": w}, cb)
				case 3, 4:
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(30))*time.Millisecond)
					if rng.IntN(3) == 0 {
						go cancel()
					}
					jwr, err := s.Do(ctx, sailsio.RequestOptions{Method: "post", URL: "/echo/do", Data: w})
					cancel()
					if err == nil && jwr.StatusCode != 200 {
						count(classify(jwr, errors.New("status")))
					} else {
						count(classify(jwr, err))
					}
				case 5:
					off := s.On("tick", func(json.RawMessage) {})
					if rng.IntN(2) == 0 {
						off()
					}
					off()
				case 6:
					s.Off("tick")
					s.On(sailsio.EventConnect, func(json.RawMessage) {})()
				case 7:
					s.SetHeaders(map[string]string{"x-worker": strconv.Itoa(w)})
					if h := s.Headers(); len(h) != 1 {
						t.Errorf("Headers() = %v", h)
					}
				case 8:
					_ = s.ID()
					count("state " + s.State().String())
					_ = s.IsConnected()
					_ = s.IsConnecting()
				case 9:
					// At most one forced reconnection every 50 ms, so that most connections come
					// from the reconnection loop.
					if now := time.Now().UnixNano(); now-lastForced.Load() > int64(50*time.Millisecond) && lastForced.CompareAndSwap(lastForced.Load(), now) {
						ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
						err := s.Reconnect(ctx)
						cancel()
						if err != nil && !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "superseded") {
							// A failed attempt hands over to the reconnection loop; that is fine.
							t.Logf("Reconnect: %v", err)
						}
						reconnects.Add(1)
					}
				case 10:
					stop := s.Resubscribe(sailsio.RequestOptions{Method: "post", URL: "/rooms/w/join"}, nil)
					stop()
				case 11:
					if _, err := s.GetContext(context.Background(), "", nil); !errors.Is(err, sailsio.ErrInvalidRequest) {
						t.Errorf("empty URL: %v", err)
					}
				default:
					id, cb := callback()
					s.Request(sailsio.RequestOptions{Method: "delete", URL: "/echo/" + id, Headers: map[string]string{"x-n": id}}, cb)
				}
			}
		}()
	}
	wg.Wait()
	close(stopDrops)
	<-dropperDone
	// The socket still works once the drops stop.
	reconnected := len(ev.All())
	if _, err := s.Do(testCtx(t), sailsio.RequestOptions{URL: "/echo/final"}); err != nil {
		// The last drop may have cut it: the retry waits for the reconnection.
		if jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{URL: "/echo/final"}); err != nil || jwr.StatusCode != 200 {
			t.Errorf("request after the storm: %v, %v", jwr, err)
		}
	}
	s.Disconnect()
	resilFlush(t, s)
	after := testkit.Settle(t, base)
	issued := nextID.Load()
	cmu.Lock()
	for i := range issued {
		if c := calls[i]; c != 1 {
			t.Errorf("request %d: callback called %d times", i, c)
		}
	}
	cmu.Unlock()
	var summary []string
	outcomes.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%s=%d", k, v.(*atomic.Int32).Load()))
		return true
	})
	slices.Sort(summary)
	t.Logf("%d workers, %d operations: %d callback requests (each called once), %d drops, %d reconnect events, %d forced Reconnects; outcomes %v; goroutines %d -> %d",
		workers, ops.Load(), issued, drops.Load(), reconnected, reconnects.Load(), summary, base, after)
}
