package sailsio_test

// Concurrent use: every public method of one socket from many goroutines (run with -race), on a
// steady connection and while the server keeps dropping connections.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

func TestConcurrentUse(t *testing.T) {
	t.Run("connected", concurrentConnected)
	t.Run("while the server drops connections", concurrentWithDrops)
}

// concurrentConnected: every public method from many goroutines on a connected socket, with
// server pushes; callbacks and handlers never overlap.
func concurrentConnected(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		srv := cb.newServer(t)
		srv.Handle("/echo", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Param("n")) })
		s := cb.dial(t, srv)
		ctx := testCtx(t)
		var g serial
		var ticks atomic.Int64
		s.On("tick", func(json.RawMessage) { g.run(func() { ticks.Add(1) }) })

		const workers, calls, blasts = 8, 100, 400
		var issued, duplicates atomic.Int64
		completed := make(chan struct{}, workers*calls)
		errs := make(chan string, workers*calls)
		stop := make(chan struct{})
		var blaster sync.WaitGroup
		blaster.Add(1)
		go func() {
			defer blaster.Done()
			for i := range blasts { // bounded: the pushes must not starve the requests
				select {
				case <-stop:
					return
				default:
				}
				srv.Blast("tick", i)
				runtime.Gosched()
			}
		}()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range calls {
					n := strconv.Itoa(w*calls + i)
					switch (w + i) % 9 {
					case 0, 1:
						issued.Add(1)
						var once atomic.Bool
						method := []string{"get", "post"}[i%2]
						s.Request(sailsio.RequestOptions{Method: method, URL: "/echo?n=" + n}, func(data json.RawMessage, jwr *sailsio.JWRes) {
							g.run(func() {
								if once.Swap(true) {
									duplicates.Add(1)
								}
								if jwr.StatusCode != 200 || string(data) != strconv.Quote(n) {
									errs <- fmt.Sprintf("request %s: %v", n, jwr)
								}
								completed <- struct{}{}
							})
						})
					case 2:
						jwr, err := s.Do(ctx, sailsio.RequestOptions{Method: "put", URL: "/echo", Data: map[string]string{"n": n}})
						if err != nil || string(jwr.Body) != strconv.Quote(n) {
							errs <- fmt.Sprintf("Do %s: %v %v", n, jwr, err)
						}
					case 3:
						off := s.On("tick", func(json.RawMessage) { g.run(func() {}) })
						s.On("other", func(json.RawMessage) {})
						off()
						s.Off("other")
					case 4:
						s.SetHeaders(map[string]string{"x-worker": strconv.Itoa(w), "x-call": n})
					case 5:
						if h := s.Headers(); h != nil { // nil before the first SetHeaders
							h["x-mutated"] = n // a copy: must not race with the socket
						}
					case 6:
						if s.ID() == "" {
							errs <- "ID() empty while connected"
						}
					case 7:
						if !s.IsConnected() || s.IsConnecting() {
							errs <- "not connected"
						}
					case 8:
						if _, err := s.GetContext(ctx, "/echo?n="+n, nil); err != nil {
							errs <- fmt.Sprintf("GetContext %s: %v", n, err)
						}
					}
				}
			}()
		}
		wg.Wait()
		for i := int64(0); i < issued.Load(); i++ {
			await(t, completed, fmt.Sprintf("callback (%d of %d done)", i, issued.Load()))
		}
		close(stop)
		blaster.Wait()
		// A final round trip: every callback already ran; none may run twice.
		if _, err := s.GetContext(ctx, "/echo?n=x", nil); err != nil {
			t.Fatal(err)
		}
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		if d := duplicates.Load(); d != 0 {
			t.Errorf("%d callbacks ran more than once", d)
		}
		nothingIn(t, completed, "extra callback")
		if m := g.max.Load(); m != 1 {
			t.Errorf("up to %d callbacks/handlers ran at the same time, want 1", m)
		}
		if ticks.Load() == 0 {
			t.Errorf("no tick event was delivered during the hammer")
		}
	})
}

// concurrentWithDrops: every public method from many goroutines while the server keeps dropping
// connections; every callback runs once and the socket leaves nothing behind.
func concurrentWithDrops(t *testing.T) {
	const workers, iterations = 16, 150
	srv := mockserver.NewT(t)
	srv.Handle("/echo/:i", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Param("i")) })
	srv.Handle("POST /rooms/:room/join", func(req *mockserver.Request, res *mockserver.Response) { res.Send("joined") })
	s := newSocket(t, srv.URL(), sailsio.WithProtocol(sailsio.EIO4), sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond), sailsio.WithQueueLimit(32))
	ev := testkit.Collect(s.On, sailsio.EventReconnect)
	dial(t, s)

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
	flush(t, s)
	testkit.Gone(t, "after Disconnect")
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
	t.Logf("%d workers, %d operations: %d callback requests (each called once), %d drops, %d reconnect events, %d forced Reconnects; outcomes %v",
		workers, ops.Load(), issued, drops.Load(), reconnected, reconnects.Load(), summary)
}
