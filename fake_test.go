package sailsio

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

// fakeServer is a scripted Socket.IO peer for protocol edge cases: each connection runs script.
type fakeServer struct {
	*httptest.Server
	conns chan *fakeConn
}

type fakeConn struct {
	ws  *websocket.Conn
	req *http.Request
	t   testing.TB
}

// newFake starts a server whose upgraded connections are handed to the test through conns.
// handshake, if non-nil, may refuse the upgrade by writing a response and returning false, or give
// headers for the upgrade response.
func newFake(t testing.TB, handshake func(w http.ResponseWriter, r *http.Request) (http.Header, bool)) *fakeServer {
	t.Helper()
	f := &fakeServer{conns: make(chan *fakeConn, 16)}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h http.Header
		if handshake != nil {
			var ok bool
			if h, ok = handshake(w, r); !ok {
				return
			}
		}
		ws, err := up.Upgrade(w, r, h)
		if err != nil {
			return
		}
		f.conns <- &fakeConn{ws: ws, req: r, t: t}
	}))
	t.Cleanup(f.Close)
	return f
}

// accept returns the next connection.
func (f *fakeServer) accept(t testing.TB) *fakeConn {
	t.Helper()
	select {
	case c := <-f.conns:
		t.Cleanup(func() { c.ws.Close() })
		return c
	case <-time.After(testkit.Short):
		t.Fatalf("no connection within %v", testkit.Short)
		return nil
	}
}

func (c *fakeConn) send(frame string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Errorf("fake server write %q: %v", frame, err)
	}
}

func (c *fakeConn) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Errorf("fake server write binary: %v", err)
	}
}

// recv reads the next text frame from the client, skipping EIO3 pings (answered) unless keepPings.
func (c *fakeConn) recv() string {
	c.t.Helper()
	for {
		c.ws.SetReadDeadline(time.Now().Add(testkit.Short))
		mt, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("fake server read: %v", err)
		}
		if mt == websocket.TextMessage && string(b) == "2" {
			c.send("3")
			continue
		}
		return string(b)
	}
}

// open performs the server side of the handshake for protocol p with the given intervals (ms).
// Under EIO4 it expects the client's 40 and answers with socket id sid+"-io".
func (c *fakeConn) open(p Protocol, sid string, interval, timeout, maxPayload int) {
	c.t.Helper()
	frame := `0{"sid":"` + sid + `","upgrades":[],"pingInterval":` + strconv.Itoa(interval) + `,"pingTimeout":` + strconv.Itoa(timeout)
	if maxPayload > 0 {
		frame += `,"maxPayload":` + strconv.Itoa(maxPayload)
	}
	c.send(frame + "}")
	if p == EIO3 {
		c.send("40")
		return
	}
	if got := c.recv(); got != "40" {
		c.t.Fatalf("EIO4 client sent %q first, want 40", got)
	}
	c.send(`40{"sid":"` + sid + `-io"}`)
}

// startFake makes a socket for f and starts connecting it; connected waits for Connect's result.
func startFake(t testing.TB, f *fakeServer, opts ...Option) (s *SailsSocket, c *fakeConn, connected func() error) {
	t.Helper()
	s, err := New(f.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Disconnect() })
	errc := make(chan error, 1)
	go func() { errc <- s.Connect(context.Background()) }()
	c = f.accept(t)
	return s, c, func() error {
		select {
		case err := <-errc:
			return err
		case <-time.After(testkit.Short):
			t.Fatalf("Connect did not return within %v", testkit.Short)
			return nil
		}
	}
}

// connectFake is startFake plus a standard handshake with long intervals.
func connectFake(t testing.TB, f *fakeServer, p Protocol, opts ...Option) (*SailsSocket, *fakeConn) {
	t.Helper()
	s, c, connected := startFake(t, f, append([]Option{WithProtocol(p)}, opts...)...)
	c.open(p, "sid1", 25000, 60000, 0)
	if err := connected(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return s, c
}
