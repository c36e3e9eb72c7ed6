package sailsio_test

// The queue: requests made while the socket is not connected (before Connect, during an outage)
// wait and go out in order once it is; the queue limit, cancelled queued Do calls and the request
// timeout (which counts time in the queue).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

func TestQueue(t *testing.T) {
	t.Run("before Connect", queueBeforeConnect)
	t.Run("during an outage", queueDuringOutage)
}

// queueBeforeConnect: requests made before Connect wait in the queue.
func queueBeforeConnect(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		route := func(srv *mockserver.Server) {
			srv.Handle("/q/:n", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Params["n"]) })
		}

		t.Run("requests before Connect go out in order", func(t *testing.T) {
			var rec mockserver.FrameRecorder
			srv := cb.newServer(t, mockserver.WithFrameLog(rec.Log))
			route(srv)
			s := cb.newSocket(t, srv)
			const n = 8
			var calls [n]atomic.Int32
			done := make(chan string, 2*n)
			var want []string
			for i := range n {
				u := "/q/" + strconv.Itoa(i)
				want = append(want, u)
				send := s.Get
				if i%2 == 1 {
					send = s.Post
				}
				send(u, nil, func(data json.RawMessage, jwr *sailsio.JWRes) {
					calls[i].Add(1)
					if jwr.StatusCode != 200 || string(data) != strconv.Quote(strconv.Itoa(i)) {
						done <- fmt.Sprintf("%s: %v", u, jwr)
						return
					}
					done <- ""
				})
			}
			nothingIn(t, done, "callback before Connect")
			if err := s.Connect(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			for range n {
				if msg := await(t, done, "callback"); msg != "" {
					t.Error(msg)
				}
			}
			if d := cmp.Diff(want, sentURLs(&rec, s.ID())); d != "" {
				t.Errorf("arrival order at the server (-want +got):\n%s", d)
			}
			// One more round trip, then every callback must still have run exactly once.
			if _, err := s.GetContext(testCtx(t), "/q/last", nil); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if c := calls[i].Load(); c != 1 {
					t.Errorf("callback of /q/%d ran %d times", i, c)
				}
			}
		})

		t.Run("queue limit", func(t *testing.T) {
			srv := cb.newServer(t)
			route(srv)
			s := cb.newSocket(t, srv, sailsio.WithQueueLimit(2))
			var chans []<-chan reply
			var counts []*atomic.Int32
			for i := range 3 {
				c, ch, n := callback()
				s.Get("/q/"+strconv.Itoa(i), nil, c)
				chans, counts = append(chans, ch), append(counts, n)
			}
			checkFailed(t, await(t, chans[2], "ErrQueueFull callback"), sailsio.ErrQueueFull)
			jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{URL: "/q/3"})
			checkDoFailed(t, jwr, err, sailsio.ErrQueueFull)
			nothingIn(t, chans[0], "callback of a queued request before Connect")
			if err := s.Connect(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				r := await(t, chans[i], "callback")
				if r.jwr.StatusCode != 200 || string(r.data) != strconv.Quote(strconv.Itoa(i)) {
					t.Errorf("queued request %d: %v", i, r.jwr)
				}
			}
			if _, err := s.GetContext(testCtx(t), "/q/last", nil); err != nil {
				t.Fatal(err)
			}
			for i, n := range counts {
				if c := n.Load(); c != 1 {
					t.Errorf("callback %d ran %d times", i, c)
				}
			}
		})

		t.Run("cancelled queued Do is removed", func(t *testing.T) {
			var rec mockserver.FrameRecorder
			srv := cb.newServer(t, mockserver.WithFrameLog(rec.Log))
			route(srv)
			s := cb.newSocket(t, srv, sailsio.WithQueueLimit(1))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			wctx := watchDone(ctx)
			errc := doAsync(s, wctx, sailsio.RequestOptions{URL: "/q/cancelled"})
			await(t, wctx.asked, "Do waiting for its queued request")
			cancel()
			if err := await(t, errc, "Do's return"); !errors.Is(err, context.Canceled) {
				t.Errorf("Do = %v, want an error wrapping context.Canceled", err)
			}
			// The slot is free again (limit 1), and the cancelled request never goes out.
			c, ch, _ := callback()
			s.Get("/q/after", nil, c)
			if err := s.Connect(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			if r := await(t, ch, "callback"); r.jwr.StatusCode != 200 {
				t.Errorf("request queued after the cancelled one: %v", r.jwr)
			}
			if d := cmp.Diff([]string{"/q/after"}, sentURLs(&rec, s.ID())); d != "" {
				t.Errorf("requests at the server (-want +got):\n%s", d)
			}
		})

		t.Run("request timeout counts time in the queue", func(t *testing.T) {
			srv := cb.newServer(t)
			route(srv)
			s := cb.newSocket(t, srv, sailsio.WithRequestTimeout(50*time.Millisecond))
			c, ch, _ := callback()
			s.Get("/q/0", nil, c)
			checkFailed(t, await(t, ch, "callback of a request that timed out in the queue"), sailsio.ErrTimeout)
		})
	})
}

// queueDuringOutage: requests made while the socket reconnects wait in the queue, FIFO; the
// queue limit, a cancelled queued Do and the request timeout work as before Connect.
func queueDuringOutage(t *testing.T) {
	rec := &mockserver.FrameRecorder{}
	srv := mockserver.NewT(t, mockserver.WithFrameLog(rec.Log))
	srv.Handle("GET /w/:n", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Param("n")) })
	s := newSocket(t, srv.URL(), sailsio.WithProtocol(sailsio.EIO3), sailsio.WithQueueLimit(3), sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
	ev := lifecycle(s)
	dial(t, s)
	s2 := newSocket(t, srv.URL(), sailsio.WithProtocol(sailsio.EIO4), sailsio.WithRequestTimeout(100*time.Millisecond), sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond))
	ev2 := lifecycle(s2)
	dial(t, s2)

	srv.RefuseHandshakes(1<<30, http.StatusServiceUnavailable)
	srv.DropConnections()
	ev.WaitFor(t, sailsio.EventDisconnect)
	ev2.WaitFor(t, sailsio.EventDisconnect)

	results := make(chan outcome, 16)
	calls := make([]atomic.Int32, 10)
	req := func(n int) {
		s.Get("/w/"+strconv.Itoa(n), nil, func(_ json.RawMessage, jwr *sailsio.JWRes) {
			calls[n].Add(1)
			results <- outcome{i: n, jwr: jwr}
		})
	}
	req(1)
	req(2)
	// A Do that waits in the queue (third slot), cancelled later.
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := watchDone(cctx)
	doErr := make(chan error, 1)
	go func() { _, err := s.Do(watch, sailsio.RequestOptions{URL: "/w/3"}); doErr <- err }()
	await(t, watch.asked, "Do waiting in the queue")
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
	for _, w := range sentRequests(rec, "") {
		urls = append(urls, w.URL)
	}
	if d := cmp.Diff([]string{"/w/1", "/w/2", "/w/6"}, urls); d != "" {
		t.Errorf("requests on the wire (FIFO; cancelled, refused and timed-out ones never sent) (-want +got):\n%s", d)
	}
	s.Disconnect()
	flush(t, s)
	for _, n := range []int{1, 2, 4, 6} {
		if c := calls[n].Load(); c != 1 {
			t.Errorf("request %d: callback called %d times", n, c)
		}
	}
}
