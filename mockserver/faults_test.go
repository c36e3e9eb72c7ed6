package mockserver

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestDropConnections(t *testing.T) {
	s := NewT(t)
	a, _ := connect(t, s, 3, nil)
	b, idb := connect(t, s, 4, nil)
	s.DropConnections()
	for _, c := range []*rawClient{a, b} {
		if err := c.expectClosed(); closeCode(err) != websocket.CloseAbnormalClosure {
			t.Errorf("got %v, want an abnormal closure (no close frame)", err)
		}
	}
	if _, err := s.WaitSockets(ctxT(t), func(ids []string) bool { return len(ids) == 0 }); err != nil {
		t.Fatal(err)
	}
	if err := s.Drop(idb); !errors.Is(err, ErrUnknownSocket) {
		t.Errorf("Drop of a gone socket: %v", err)
	}
	c, idc := connect(t, s, 3, nil)
	if err := s.Drop(idc); err != nil {
		t.Fatal(err)
	}
	if err := c.expectClosed(); closeCode(err) != websocket.CloseAbnormalClosure {
		t.Errorf("Drop: got %v", err)
	}
}

func TestKick(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := NewT(t, WithProtocol(m.server))
			c, id := connect(t, s, m.eio, nil)
			s.Join(id, "room")
			if err := s.Kick(id); err != nil {
				t.Fatal(err)
			}
			if got := s.RoomMembers("room"); len(got) != 0 {
				t.Errorf("kicked socket still in room: %v", got)
			}
			c.expect("41")
			if err := c.expectClosed(); closeCode(err) != websocket.CloseNoStatusReceived {
				t.Fatalf("got %v", err)
			}
			// Once the close handshake is over the connection is gone.
			if _, err := s.WaitSockets(ctxT(t), func([]string) bool { return s.conn(id) == nil }); err != nil {
				t.Fatal(err)
			}
			if err := s.Kick(id); !errors.Is(err, ErrUnknownSocket) {
				t.Errorf("Kick of a gone socket: %v", err)
			}
		})
	}
}

func TestSetPaused(t *testing.T) {
	s := NewT(t, WithPingInterval(30*time.Millisecond), WithPingTimeout(10*time.Second))
	s.Handle("/x", func(req *Request, res *Response) { res.OK(nil) })
	c, _ := connect(t, s, 4, nil)
	c.autoPong = false
	c.expect("2")
	c.send("3")
	s.SetPaused(true)
	c.send(`420["get",{"url":"/x"}]`)
	httpDone := make(chan string, 1)
	go func() {
		resp, err := s.Client().Get(s.URL() + "/x")
		if err != nil {
			httpDone <- err.Error()
			return
		}
		resp.Body.Close()
		httpDone <- resp.Status
	}()
	// Paused: no answer and no ping (one would come every 30ms).
	c.expectNothing(300 * time.Millisecond)
	select {
	case st := <-httpDone:
		t.Fatalf("HTTP answered while paused: %s", st)
	default:
	}
	s.SetPaused(false)
	// The held answer and the resumed heartbeat, in either order.
	var gotAck, gotPing bool
	for !gotAck || !gotPing {
		switch f := c.nextText(); f {
		case `430[{"body":"OK","headers":{},"statusCode":200}]`:
			gotAck = true
		case "2":
			gotPing = true
			c.send("3")
		default:
			t.Fatalf("unexpected frame %q", f)
		}
	}
	if st := <-httpDone; st != "200 OK" {
		t.Errorf("HTTP after resume: %s", st)
	}
}

func TestPausedServerDoesNotTimeOut(t *testing.T) {
	const window = time.Second // pingInterval + pingTimeout
	s := NewT(t, WithPingInterval(window/2), WithPingTimeout(window/2))
	c, _ := connect(t, s, 3, nil)
	s.SetPaused(true)
	c.send("2")                     // not answered while paused
	c.expectNothing(window * 3 / 2) // and no close although the ping timeout ran out
	s.SetPaused(false)              // timers restart
	c.send("2")
	c.expect("3")
}

func TestSetDelay(t *testing.T) {
	s := NewT(t)
	s.Handle("/x", func(req *Request, res *Response) { res.OK(nil) })
	c, _ := connect(t, s, 3, nil)
	s.SetDelay(150 * time.Millisecond)
	start := time.Now()
	c.request(0, "get", "/x", nil)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered after %v", d)
	}
	s.SetDelay(0)
	c.request(1, "get", "/x", nil)
}

func TestRefuseHandshakes(t *testing.T) {
	s := NewT(t)
	s.RefuseHandshakes(2, http.StatusServiceUnavailable)
	for i := 0; i < 2; i++ {
		if status, body := refused(t, s, query(3), nil); status != 503 || body != "Service Unavailable\n" {
			t.Fatalf("attempt %d: %d %q", i, status, body)
		}
	}
	connect(t, s, 3, nil)
	s.RefuseHandshakes(1, 500)
	s.RefuseHandshakes(0, 0)
	connect(t, s, 4, nil)
}

func TestSendRaw(t *testing.T) {
	s := NewT(t)
	c, id := connect(t, s, 3, nil)
	if err := s.SendRaw(id, []byte("4garbage"), false); err != nil {
		t.Fatal(err)
	}
	c.expect("4garbage")
	if err := s.SendRaw(id, []byte{4, 0xff}, true); err != nil {
		t.Fatal(err)
	}
	if m := c.next(); m.typ != websocket.BinaryMessage || string(m.data) != "\x04\xff" {
		t.Fatalf("got %v %x", m.typ, m.data)
	}
	if err := s.SendRaw("nobody", []byte("x"), false); !errors.Is(err, ErrUnknownSocket) {
		t.Errorf("unknown socket: %v", err)
	}
}

func TestStopHeartbeats(t *testing.T) {
	s := NewT(t, WithPingInterval(30*time.Millisecond), WithPingTimeout(10*time.Second))
	v4c, _ := connect(t, s, 4, nil)
	v4c.autoPong = false
	v3c, _ := connect(t, s, 3, nil)
	v4c.expect("2")
	v4c.send("3")
	s.StopHeartbeats(true)
	v3c.send("2") // not answered
	v4c.expectNothing(300 * time.Millisecond)
	v3c.expectNothing(0)
	s.StopHeartbeats(false)
	v4c.expect("2")
	v4c.send("3")
	v3c.send("2")
	v3c.expect("3")
}
