package sailsio_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// TestEventHandlerBlockingKeepsReading: a server event's handlers run on the session's reader when
// no callback runs or waits; when one blocks, the watchdog hands the reading over to a new reader,
// so that the connection is read on (a request from another goroutine gets its answer) while the
// events that follow wait for the handler, in order, and the socket leaves no goroutine behind.
func TestEventHandlerBlockingKeepsReading(t *testing.T) {
	for _, tr := range []sailsio.Transport{sailsio.TransportWebSocket, sailsio.TransportPolling} {
		t.Run(tr.String(), func(t *testing.T) {
			srv := mockserver.NewT(t, mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))
			srv.Handle("GET /ping", func(req *mockserver.Request, res *mockserver.Response) { res.Send("pong") })
			s, err := sailsio.Connect(testCtx(t), srv.URL(), sailsio.WithReconnection(false), sailsio.WithTransports(tr))
			if err != nil {
				t.Fatal(err)
			}
			release := make(chan struct{})
			blocked := make(chan struct{})
			done := make(chan []int, 1)
			var got []int // on the callback goroutine only
			s.On("tick", func(d json.RawMessage) {
				n, _ := strconv.Atoi(string(d))
				got = append(got, n)
				switch n {
				case 1:
					close(blocked)
					<-release
				case 5:
					done <- got
				}
			})
			srv.Emit(s.ID(), "tick", 1)
			await(t, blocked, "the blocked handler")
			for i := 2; i <= 5; i++ {
				srv.Emit(s.ID(), "tick", i)
			}
			if jwr, err := s.GetContext(testCtx(t), "/ping", nil); err != nil || string(jwr.Body) != `"pong"` {
				t.Fatalf("GET /ping while a handler blocks: %v %v", jwr, err)
			}
			close(release)
			if g := await(t, done, "the events"); !slices.Equal(g, []int{1, 2, 3, 4, 5}) {
				t.Errorf("events %v, want 1 to 5 in order", g)
			}
			if err := s.Shutdown(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			testkit.Gone(t, "after Shutdown")
		})
	}
}

// TestRequestCallbackBlockingKeepsReading: a request callback runs on the session's reader too when
// no other callback runs or waits (one request at a time in the callback form then costs no
// hand-off); one that blocks — here on a Do of its own, whose answer the connection must still read —
// gets the reading handed over, and the callbacks that follow keep their order.
func TestRequestCallbackBlockingKeepsReading(t *testing.T) {
	for _, tr := range []sailsio.Transport{sailsio.TransportWebSocket, sailsio.TransportPolling} {
		t.Run(tr.String(), func(t *testing.T) {
			srv := mockserver.NewT(t, mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))
			srv.Handle("GET /n/:n", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Param("n")) })
			s, err := sailsio.Connect(testCtx(t), srv.URL(), sailsio.WithReconnection(false), sailsio.WithTransports(tr))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan []string, 1)
			var got []string // on the callback goroutine only
			var next sailsio.Callback
			i := 0
			next = func(body json.RawMessage, jwr *sailsio.JWRes) {
				got = append(got, string(body))
				if i == 2 { // a callback that blocks on a request of its own
					inner, err := s.GetContext(testCtx(t), "/n/inner", nil)
					if err != nil {
						t.Errorf("Do inside a request callback: %v", err)
					} else {
						got = append(got, string(inner.Body))
					}
				}
				if i++; i == 5 {
					done <- got
					return
				}
				s.Get("/n/"+strconv.Itoa(i), nil, next)
			}
			s.Get("/n/0", nil, next)
			want := []string{`"0"`, `"1"`, `"2"`, `"inner"`, `"3"`, `"4"`}
			if g := await(t, done, "the callbacks"); !slices.Equal(g, want) {
				t.Errorf("callbacks %v, want %v", g, want)
			}
			if err := s.Shutdown(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			testkit.Gone(t, "after Shutdown")
		})
	}
}
