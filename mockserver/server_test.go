package mockserver

import (
	"bytes"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// settleGoroutines waits until at most n goroutines run, and reports the final count.
func settleGoroutines(n int) int {
	deadline := time.Now().Add(waitTimeout)
	for {
		got := runtime.NumGoroutine()
		if got <= n || time.Now().After(deadline) {
			return got
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling: goroutine exits have no signal
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	transport := &http.Transport{}
	client := &http.Client{Transport: transport}

	s := New(WithPingInterval(20 * time.Millisecond))
	transcriptApp(s)
	started := make(chan struct{})
	s.Handle("/block", func(req *Request, res *Response) {
		close(started)
		<-req.Context().Done() // until the server closes
	})
	a, _ := connect(t, s, 3, nil)
	b, _ := connect(t, s, 4, nil)
	a.request(0, "post", "/rooms/demo/join", nil)
	b.request(0, "post", "/rooms/demo/join", nil)
	a.send(`421["get",{"url":"/block"}]`)
	<-started
	for i := 0; i < 3; i++ {
		resp, _ := httpGet(t, client, s.URL()+"/echo", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
	}
	// An EIO4 client still waiting for its CONNECT, and one that reads nothing.
	c4 := dialRaw(t, s, query(4), nil)
	c3 := dialRaw(t, s, query(3), nil)

	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return")
	}
	s.Close() // idempotent
	// Clients see the server's close frame.
	if err := a.expectClosed(); closeCode(err) != websocket.CloseNoStatusReceived {
		t.Errorf("client a: %v", err)
	}
	if err := b.expectClosed("2"); closeCode(err) != websocket.CloseNoStatusReceived {
		t.Errorf("client b: %v", err)
	}
	if _, _, err := websocket.DefaultDialer.Dial(s.WebSocketURL()+"?"+query(3), nil); err == nil {
		t.Error("dial after Close succeeded")
	}
	for _, c := range []*rawClient{a, b, c3, c4} {
		c.close()
	}
	transport.CloseIdleConnections()
	if got := settleGoroutines(before); got > before {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, got, buf[:n])
	}
}

func TestFrameRecorder(t *testing.T) {
	var rec FrameRecorder
	s := NewT(t, WithFrameLog(rec.Log))
	s.Handle("/x", func(req *Request, res *Response) { res.OK(nil) })
	c, id := connect(t, s, 3, nil)
	c.request(0, "get", "/x", nil)
	f, err := rec.Wait(ctxT(t), func(f Frame) bool { return f.Dir == ServerToClient && strings.HasPrefix(string(f.Data), "430") })
	if err != nil || f.SocketID != id || f.String() != id+` < 430[{"body":"OK","headers":{},"statusCode":200}]` {
		t.Fatalf("Wait: %v %v", f, err)
	}
	frames := rec.Frames(id)
	if len(frames) != 4 || frames[1].String() != id+" < 40" || frames[2].Dir != ClientToServer {
		t.Fatalf("frames %v", frames)
	}
	// Wait also sees frames still to come.
	go func() { _ = s.SendRaw(id, []byte("4later"), false) }()
	if f, err := rec.Wait(ctxT(t), func(f Frame) bool { return bytes.Equal(f.Data, []byte("4later")) }); err != nil || f.Dir != ServerToClient {
		t.Fatalf("Wait for a future frame: %v %v", f, err)
	}
	rec.Reset()
	if len(rec.Frames("")) != 0 {
		t.Fatal("Reset")
	}
}

func TestNewPanicsOnBadOptions(t *testing.T) {
	for _, o := range []Option{WithProtocol(5), WithPingInterval(0), WithMaxHTTPBufferSize(0), WithResponseTimeout(-1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			New(o).Close()
		}()
	}
}
