package sailsio_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// TestInFlightOnLostConnection: requests in flight when the server drops the connection (1000 over
// WebSocket, 300 over polling) fail once each with ErrDisconnected, soon after the drop and before
// the new connection's connect handler; none is sent again; the reconnected socket works, and
// without reconnection the socket fails requests at once.
func TestInFlightOnLostConnection(t *testing.T) {
	for _, cb := range clientCombos {
		for _, tr := range []sailsio.Transport{sailsio.TransportWebSocket, sailsio.TransportPolling} {
			for _, reconnect := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%s/reconnection=%v", cb.name, tr, reconnect), func(t *testing.T) {
					inFlightOnLostConnection(t, cb, tr, reconnect)
				})
			}
		}
	}
}

func inFlightOnLostConnection(t *testing.T, cb combo, tr sailsio.Transport, reconnect bool) {
	n := 1000
	if tr == sailsio.TransportPolling {
		n = 300
	}
	srv := mockserver.NewT(t, mockserver.WithProtocol(cb.server), mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))
	var entered atomic.Int32
	all := make(chan struct{})
	release := make(chan struct{})
	srv.Handle("GET /hold/:i", func(req *mockserver.Request, res *mockserver.Response) {
		if entered.Add(1) == int32(n) {
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
	srv.Handle("GET /after", func(req *mockserver.Request, res *mockserver.Response) { res.Send("after") })
	s := cb.newSocket(t, srv, sailsio.WithTransports(tr), sailsio.WithReconnection(reconnect), sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
	ev := lifecycle(s)
	dial(t, s)
	ev.Expect(t, sailsio.EventConnect)
	// Callbacks and handlers run one at a time on the callback goroutine: a counter orders them.
	var order, lastFailed atomic.Int64
	connectAt := make(chan int64, 4)
	s.On(sailsio.EventConnect, func(json.RawMessage) { connectAt <- order.Add(1) })

	var dropAt atomic.Int64
	calls := make([]atomic.Int32, n)
	results := make(chan outcome, 2*n)
	for i := range n {
		s.Request(sailsio.RequestOptions{Method: "get", URL: "/hold/" + strconv.Itoa(i)}, func(_ json.RawMessage, jwr *sailsio.JWRes) {
			lastFailed.Store(order.Add(1))
			calls[i].Add(1)
			results <- outcome{i, jwr, time.Since(time.Unix(0, dropAt.Load()))}
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
		var o outcome
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
	if worst > testkit.D(time.Second) {
		t.Errorf("the last in-flight callback came %v after the drop, want within %v", worst, testkit.D(time.Second))
	}
	if bad > 0 {
		t.Errorf("%d callbacks did not report ErrDisconnected", bad)
	}

	reason := reason(t, ev.Expect(t, sailsio.EventDisconnect))
	if !lostReason(reason) {
		t.Errorf("disconnect reason %q, want transport close/error", reason)
	}
	if reconnect {
		ev.WaitFor(t, sailsio.EventReconnect)
		// The old connection's requests have all failed before the new connection's connect handler.
		if c := await(t, connectAt, "connect handler"); c < lastFailed.Load() {
			t.Errorf("the new connection's connect handler ran before %d of the old connection's in-flight failures", lastFailed.Load()-c)
		}
		if jwr, err := s.GetContext(testCtx(t), "/after", nil); err != nil || jwr.StatusCode != 200 {
			t.Fatalf("request after reconnecting: %v, %v", jwr, err)
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
	flush(t, s)
	if e := entered.Load(); e != int32(n) {
		t.Errorf("the server saw %d requests, want %d: an in-flight request was sent again", e, n)
	}
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Errorf("request %d: callback called %d times, want 1", i, c)
		}
	}
}
