package sailsio_test

// Reconnection and resilience: lost connections with requests in flight and queued, long series of
// drop/reconnect cycles, the lifecycle events and their payloads, the reconnection policy, kicks,
// half-open connections, session continuity, resubscriptions, the queue, and concurrent use while
// the server keeps dropping connections. Everything runs against the in-process mockserver; the
// real-Sails counterpart is in resilience_real_test.go and the hostile-server fuzzing in
// fuzz_client_test.go.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
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
	s := newSocket(t, srv.URL(), sailsio.WithProtocol(p), sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
	ev := lifecycle(s)
	dial(t, s)
	ev.Expect(t, sailsio.EventConnect)

	results := make(chan outcome, cycles*perCycle)
	calls := make([]atomic.Int32, cycles*perCycle)
	start := time.Now()
	next, refusedAttempts := 0, 0
	for c := range cycles {
		srv.RefuseHandshakes(1<<30, http.StatusServiceUnavailable) // keep it down until the requests wait
		srv.DropConnections()
		if r := reason(t, ev.WaitFor(t, sailsio.EventDisconnect)); !lostReason(r) {
			t.Fatalf("cycle %d: disconnect reason %q", c, r)
		}
		for range perCycle {
			i := next
			next++
			s.Request(sailsio.RequestOptions{URL: "/q/" + strconv.Itoa(i)}, func(_ json.RawMessage, jwr *sailsio.JWRes) {
				calls[i].Add(1)
				results <- outcome{i: i, jwr: jwr}
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
	flush(t, s)
	testkit.Gone(t, "after Disconnect")

	// Exactly once, in order: the wire order over all connections is 0, 1, 2, ...
	var order []int
	conns := map[string]bool{}
	for _, w := range sentRequests(rec, "") {
		if n, ok := strings.CutPrefix(w.URL, "/q/"); ok {
			i, _ := strconv.Atoi(n)
			order = append(order, i)
			conns[w.SocketID] = true
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
	t.Logf("EIO%d: %d cycles in %v (%d requests queued and delivered once each, in order; %d handled; %d refused attempts); no goroutine of the socket left after Disconnect",
		p, cycles, elapsed.Round(time.Millisecond), next, handled, refusedAttempts)
}

// ---------------------------------------------------------------------------------------------
// 3. Lifecycle events, the reconnection policy, kicks and half-open connections

func TestResilienceLifecycleOrder(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			const minD, maxD = 20 * time.Millisecond, 80 * time.Millisecond
			gate := &handshakeGate{}
			srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server), mockserver.WithBeforeConnect(gate.check))
			s := cb.newSocket(t, srv, sailsio.WithReconnectionDelay(minD, maxD))
			news := make(chan json.RawMessage, 16)
			s.On("news", func(d json.RawMessage) { news <- d }) // registered before Connect
			ev := lifecycle(s)
			dial(t, s)
			ev.Expect(t, sailsio.EventConnect)
			var delays []int64
			for round := range 3 {
				oldID := s.ID()
				gate.set(2) // two refused attempts, the third goes through
				mark := gate.count()
				srv.DropConnections()
				if r := reason(t, ev.Expect(t, sailsio.EventDisconnect)); !lostReason(r) {
					t.Errorf("round %d: disconnect reason %q", round, r)
				}
				var rc []reconnecting
				for attempt := 1; attempt <= 3; attempt++ {
					r := testkit.Decode[reconnecting](t, ev.Expect(t, sailsio.EventReconnecting))
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
					if gap > maxD+testkit.D(time.Second) {
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
	gate := &handshakeGate{}
	srv := mockserver.NewT(t, mockserver.WithBeforeConnect(gate.check))
	srv.Handle("GET /ok", func(req *mockserver.Request, res *mockserver.Response) { res.Send("ok") })
	s := newSocket(t, srv.URL(), sailsio.WithProtocol(sailsio.EIO3), sailsio.WithReconnectionAttempts(3), sailsio.WithReconnectionDelay(30*time.Millisecond, 60*time.Millisecond))
	ev := lifecycle(s)
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
	dial(t, s)
	ev.Expect(t, sailsio.EventConnect)
	gate.set(-1)
	mark := gate.count()
	srv.DropConnections()
	ev.Expect(t, sailsio.EventDisconnect)
	if st := await(t, stateInHandler, "state"); st != sailsio.StateReconnecting {
		t.Errorf("State() in the disconnect handler = %v, want reconnecting", st)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		if r := testkit.Decode[reconnecting](t, ev.Expect(t, sailsio.EventReconnecting)); r.Attempt != attempt {
			t.Errorf("reconnecting %+v, want attempt %d", r, attempt)
		}
		ev.Expect(t, sailsio.EventConnectError)
	}
	failed := ev.Expect(t, sailsio.EventReconnectFailed)
	if d := jsonDiff(t, `{"attempts":3}`, failed.Data); d != "" {
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
	dial(t, s)
	if jwr, err := s.GetContext(testCtx(t), "/ok", nil); err != nil || jwr.StatusCode != 200 {
		t.Errorf("request after a new Connect: %v, %v", jwr, err)
	}
	s.Disconnect()
	flush(t, s)
	if c := queuedCalls.Load(); c != 1 {
		t.Errorf("queued request's callback called %d times", c)
	}
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
	gate := &handshakeGate{}
	srv := mockserver.NewT(t, mockserver.WithBeforeConnect(gate.check))
	bo := &resilCountingBackOff{b: backoff.WithMaxRetries(backoff.NewConstantBackOff(25*time.Millisecond), 2)}
	// WithReconnectionDelay is ignored when a policy is given: with it the delays would be >= 1s.
	s := newSocket(t, srv.URL(), sailsio.WithProtocol(sailsio.EIO4), sailsio.WithReconnectionDelay(time.Second, 5*time.Second), sailsio.WithReconnectionBackOff(bo))
	ev := lifecycle(s)
	dial(t, s)
	ev.Expect(t, sailsio.EventConnect)

	// First loss: one refused attempt, then success on the second.
	gate.set(1)
	srv.DropConnections()
	ev.Expect(t, sailsio.EventDisconnect)
	for attempt := 1; attempt <= 2; attempt++ {
		r := testkit.Decode[reconnecting](t, ev.Expect(t, sailsio.EventReconnecting))
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
		if r := testkit.Decode[reconnecting](t, ev.Expect(t, sailsio.EventReconnecting)); r.Attempt != attempt || r.DelayMS != 25 {
			t.Errorf("reconnecting %+v, want attempt %d delay_ms 25", r, attempt)
		}
		ev.Expect(t, sailsio.EventConnectError)
	}
	if f := ev.Expect(t, sailsio.EventReconnectFailed); jsonDiff(t, `{"attempts":2}`, f.Data) != "" {
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
			gate := &handshakeGate{}
			srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server), mockserver.WithBeforeConnect(gate.check))
			srv.Handle("GET /ok/:n", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Param("n")) })
			entered := make(chan struct{}, 1)
			srv.Handle("GET /hold", func(req *mockserver.Request, res *mockserver.Response) {
				entered <- struct{}{}
				<-req.Context().Done()
			})
			// A long delay (longer than any wait of the test): only a forced reconnection can come
			// back quickly, and a loop that waits it out is still there when the test looks.
			s := cb.newSocket(t, srv, sailsio.WithReconnectionDelay(time.Minute, time.Minute))
			ev := lifecycle(s)
			dial(t, s)
			ev.Expect(t, sailsio.EventConnect)
			if _, err := s.GetContext(testCtx(t), "/ok/0", nil); err != nil {
				t.Fatal(err)
			}
			connected := len(testkit.Running(testkit.SDK...)) // the goroutines of a connected socket

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
			if r := reason(t, ev.Expect(t, sailsio.EventDisconnect)); r != sailsio.ReasonClientDisconnect {
				t.Errorf("disconnect reason %q on Reconnect, want %q", r, sailsio.ReasonClientDisconnect)
			}
			ev.Expect(t, sailsio.EventConnect)
			if s.ID() == first || !s.IsConnected() {
				t.Errorf("after Reconnect: ID %q (was %q), connected %v", s.ID(), first, s.IsConnected())
			}

			// While the loop waits its delay: Reconnect connects now, the queue goes out.
			mark := gate.count()
			srv.DropConnections()
			ev.ExpectSkipping(t, sailsio.EventDisconnect, sailsio.EventReconnect)
			if r := testkit.Decode[reconnecting](t, ev.Expect(t, sailsio.EventReconnecting)); r.DelayMS != 60000 {
				t.Errorf("reconnecting %+v, want delay_ms 60000", r)
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
			t.Logf("%s: Reconnect during a 1 min reconnection delay connected in %v", cb.name, took.Round(time.Microsecond))
			if took > testkit.D(2*time.Second) {
				t.Errorf("Reconnect took %v", took)
			}
			// The superseded loop ends now, not when its delay is over: the socket is back to the
			// goroutines of a connected socket.
			testkit.WaitRunning(t, connected, testkit.Short, "the superseded reconnection loop ended", testkit.SDK...)
			// The superseded loop does not linger: Disconnect returns at once and nothing is left.
			began = time.Now()
			s.Disconnect()
			if d := time.Since(began); d > testkit.D(time.Second) {
				t.Errorf("Disconnect took %v", d)
			}
			testkit.Gone(t, "after Disconnect")
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
			gate := &handshakeGate{}
			srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server), mockserver.WithBeforeConnect(gate.check))
			s := cb.newSocket(t, srv, sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
			ev := lifecycle(s)
			dial(t, s)
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
			testkit.Gone(t, "after Disconnect") // the loop's goroutine is gone: no attempt can follow
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
			t.Logf("%s: %d refused attempts before Disconnect, none after", cb.name, attempts)
		})
	}
}

func TestResilienceKick(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			gate := &handshakeGate{}
			srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server), mockserver.WithBeforeConnect(gate.check))
			s := cb.newSocket(t, srv, sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
			ev := lifecycle(s)
			dial(t, s)
			ev.Expect(t, sailsio.EventConnect)
			mark := gate.count()
			if err := srv.Kick(s.ID()); err != nil {
				t.Fatal(err)
			}
			if r := reason(t, ev.Expect(t, sailsio.EventDisconnect)); r != sailsio.ReasonServerDisconnect {
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
				s := cb.newSocket(t, srv, sailsio.WithReconnectionDelay(10*time.Millisecond, 20*time.Millisecond))
				ev := lifecycle(s)
				dial(t, s)
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
				if r := reason(t, disc); r != sailsio.ReasonPingTimeout {
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

			s := newSocket(t, srv.URL(), sailsio.WithProtocol(p), sailsio.WithCookieJar(jar), sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
			ev := lifecycle(s)
			dial(t, s)
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

	s := newSocket(t, srv.URL(), sailsio.WithProtocol(p), sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
	ev := lifecycle(s)
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
	dial(t, s)
	ev.Expect(t, sailsio.EventConnect)

	// wireOrder returns the URLs the server received on socket id, in order.
	wireOrder := func(id string) []string {
		var urls []string
		for _, w := range sentRequests(rec, id) {
			urls = append(urls, w.URL)
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
	flush(t, s)
	if c := joinCalls.Load(); c != int32(rounds+1) {
		t.Errorf("join callback called %d times after stop, want %d", c, rounds+1)
	}
}
