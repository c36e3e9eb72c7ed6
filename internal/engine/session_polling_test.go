package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/internal/wire"
)

// pollPeer is a scripted Engine.IO server of one session over HTTP long-polling, with the upgrade
// to a WebSocket (2probe, 3probe, 5) as engine.io does it: once the probe is answered, a pending GET
// is released with a noop; frames queued for the client meanwhile go out on the WebSocket after 5.
// It answers the namespace CONNECT (EIO4; EIO3 sends 40 with the open packet) and acks every
// request 42<id>[...] with 43<id>[<id>].
type pollPeer struct {
	eio  int
	srv  *httptest.Server
	done chan struct{} // closed at the end of the test: pending GETs return

	probed    chan struct{} // the client sent 2probe
	probeGate chan struct{} // closed by the test: the peer answers 3probe

	mu        sync.Mutex
	queue     [][]byte // frames for the client
	wake      chan struct{}
	upgrading bool            // 3probe was sent: GETs get a noop
	ws        *websocket.Conn // the session's WebSocket, once 5 arrived
	log       []peerFrame     // what the client sent, in order
	conns     []*websocket.Conn
}

type peerFrame struct {
	transport string
	frame     string
}

func newPollPeer(t *testing.T, eio int) *pollPeer {
	p := &pollPeer{eio: eio, done: make(chan struct{}), probed: make(chan struct{}), probeGate: make(chan struct{}), wake: make(chan struct{}, 1)}
	up := websocket.Upgrader{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("transport") == "websocket":
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			go p.serveWS(c)
		case r.Method == http.MethodGet && q.Get("sid") == "":
			open := openFrame("engine-sid", long, long, 0)
			open = strings.Replace(open, `"upgrades":[]`, `"upgrades":["websocket"]`, 1)
			frames := [][]byte{[]byte(open)}
			if eio == 3 {
				frames = append(frames, []byte("40"))
			}
			p.writePayload(w, frames)
		case r.Method == http.MethodGet:
			p.serveGet(w, r)
		case r.Method == http.MethodPost:
			body, _ := io.ReadAll(r.Body)
			packets, err := wire.DecodePayload(eio, body, nil)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			for _, pk := range packets {
				p.received("polling", string(pk.Data))
			}
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(func() {
		close(p.done)
		p.srv.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *pollPeer) writePayload(w http.ResponseWriter, frames [][]byte) {
	packets := make([]wire.PayloadPacket, len(frames))
	for i, f := range frames {
		packets[i] = wire.PayloadPacket{Data: f}
	}
	w.Write(wire.AppendPayload(nil, p.eio, packets))
}

// serveGet answers a GET with the frames waiting, or a noop once the upgrade is under way.
func (p *pollPeer) serveGet(w http.ResponseWriter, r *http.Request) {
	for {
		p.mu.Lock()
		frames := p.queue
		p.queue = nil
		upgrading := p.upgrading
		p.mu.Unlock()
		switch {
		case len(frames) > 0:
			p.writePayload(w, frames)
			return
		case upgrading:
			p.writePayload(w, [][]byte{[]byte("6")})
			return
		}
		select {
		case <-p.wake:
		case <-r.Context().Done():
			return
		case <-p.done:
			return
		}
	}
}

// serveWS runs the probe, then reads the session's frames from the WebSocket.
func (p *pollPeer) serveWS(c *websocket.Conn) {
	read := func() string {
		_, data, err := c.ReadMessage()
		if err != nil {
			return ""
		}
		return string(data)
	}
	if read() != "2probe" {
		return
	}
	close(p.probed)
	select {
	case <-p.probeGate:
	case <-p.done:
		return
	}
	if c.WriteMessage(websocket.TextMessage, []byte("3probe")) != nil {
		return
	}
	p.mu.Lock()
	p.upgrading = true
	p.mu.Unlock()
	p.signal()
	if f := read(); f != "5" {
		return
	}
	p.mu.Lock()
	p.log = append(p.log, peerFrame{"websocket", "5"})
	p.ws = c
	for _, f := range p.queue {
		c.WriteMessage(websocket.TextMessage, f)
	}
	p.queue = nil
	p.mu.Unlock()
	for {
		f := read()
		if f == "" {
			return
		}
		p.received("websocket", f)
	}
}

func (p *pollPeer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

var requestFrame = regexp.MustCompile(`^42(\d+)\[`)

// received logs a frame of the client and answers it.
func (p *pollPeer) received(transport, frame string) {
	var reply string
	switch {
	case frame == "40":
		reply = `40{"sid":"socket-sid"}`
	case requestFrame.MatchString(frame):
		id := requestFrame.FindStringSubmatch(frame)[1]
		reply = "43" + id + "[" + id + "]"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, peerFrame{transport, frame})
	if reply == "" {
		return
	}
	if p.ws != nil {
		p.ws.WriteMessage(websocket.TextMessage, []byte(reply))
		return
	}
	p.queue = append(p.queue, []byte(reply))
	p.signal()
}

func (p *pollPeer) frames() []peerFrame {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]peerFrame(nil), p.log...)
}

// TestPollingUpgrade: a session over polling (handshake under EIO3 and EIO4, requests and acks),
// then its upgrade while requests keep coming: the probe, the pause (frames wait), 5 on the
// WebSocket, then everything on the WebSocket. No request is lost, duplicated or reordered, and
// none goes out on polling after 5.
func TestPollingUpgrade(t *testing.T) {
	for _, eio := range []int{3, 4} {
		t.Run(fmt.Sprint("eio", eio), func(t *testing.T) {
			peer := newPollPeer(t, eio)
			u := peer.srv.URL + "/socket.io/?EIO=" + strconv.Itoa(eio) + "&transport=polling"
			if eio == 3 {
				u += "&b64=1"
			}
			pt := NewPolling(PollingConfig{URL: u, EIO: eio, Client: peer.srv.Client(), MaxMessage: 1 << 20})
			ctx, cancel := context.WithTimeout(context.Background(), testkit.Short)
			defer cancel()
			s, err := Handshake(ctx, pt, eio)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int]string{3: "engine-sid", 4: "socket-sid"}[eio]
			if s.ID() != want || pt.SID() != "engine-sid" {
				t.Fatalf("ID() = %q, SID() = %q", s.ID(), pt.SID())
			}
			h := newTestHandler()
			s.Start(h)
			t.Cleanup(func() { s.Close(testkit.Short, nil) })

			acks := make(chan ackCall, 1024)
			var sent atomic.Int64
			request := func() {
				sent.Add(1)
				if _, err := s.Request(requestPayload(`["get"]`), &testAcker{acks: acks}); err != nil {
					t.Error(err)
				}
			}
			got := map[string]bool{} // the acks' payloads: [<id>]
			awaitAcks := func(n int) {
				t.Helper()
				for len(got) < n {
					a := recv(t, acks, "ack")
					if got[a.data] {
						t.Fatalf("ack %s twice", a.data)
					}
					got[a.data] = true
				}
			}

			for range 10 {
				request()
			}
			awaitAcks(10)

			wsURL := "ws" + strings.TrimPrefix(peer.srv.URL, "http") + "/socket.io/?EIO=" + strconv.Itoa(eio) + "&transport=websocket&sid=" + pt.SID()
			s.Upgrade(func(ctx context.Context) (Transport, error) {
				return DialWebSocket(ctx, WebSocketConfig{URL: wsURL, MaxMessage: 1 << 20}, nil)
			})
			recv(t, peer.probed, "2probe")
			for range 10 { // still on polling while the probe waits
				request()
			}
			// Requests keep coming through the pause and the swap.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						request()
						time.Sleep(time.Millisecond) // pace the load, not a wait for anything
					}
				}()
			}
			close(peer.probeGate)
			if err := recv(t, h.upgraded, "Upgraded"); err != nil {
				t.Fatal(err)
			}
			close(stop)
			wg.Wait()
			for range 10 {
				request()
			}
			total := int(sent.Load())
			awaitAcks(total)
			if s.Transport().Name() != "websocket" {
				t.Fatalf("transport %q after the upgrade", s.Transport().Name())
			}

			// The wire: requests 0..total-1 once each and in order; 5 on the WebSocket, and nothing
			// on polling after it.
			next, upgraded := 0, false
			for _, f := range peer.frames() {
				switch {
				case f.frame == "5":
					upgraded = true
				case upgraded && f.transport == "polling":
					t.Fatalf("%q went out on polling after 5", f.frame)
				case requestFrame.MatchString(f.frame):
					if id := requestFrame.FindStringSubmatch(f.frame)[1]; id != strconv.Itoa(next) {
						t.Fatalf("request %s on the wire, want %d", id, next)
					}
					next++
				}
			}
			if !upgraded || next != total {
				t.Fatalf("upgraded %v, %d requests on the wire, want %d", upgraded, next, total)
			}
		})
	}
}

// TestPollingEIO4OnEIO3Server: an EIO4 client polling a server that speaks only Engine.IO v3
// (sails-hook-sockets 1.x and 2.x answer EIO=4 as v3) gets a length-prefixed payload,
// `97:0{...}2:40`. The handshake fails with a protocol error that names the cause and the fix,
// whatever the open packet's length: as an EIO4 payload, a length of 100 to 199 would read as a
// close packet and 200 to 299 as a ping.
func TestPollingEIO4OnEIO3Server(t *testing.T) {
	for _, pad := range []int{0, 60, 160} {
		t.Run(fmt.Sprint("sid+", pad), func(t *testing.T) {
			open := openFrame("engine-sid"+strings.Repeat("x", pad), long, long, 0)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Query().Get("sid") != "" {
					http.Error(w, `{"code":1,"message":"Session ID unknown"}`, http.StatusBadRequest)
					return
				}
				w.Write(wire.AppendPayload(nil, 3, []wire.PayloadPacket{{Data: []byte(open)}, {Data: []byte("40")}}))
			}))
			defer srv.Close()
			pt := NewPolling(PollingConfig{URL: srv.URL + "/socket.io/?EIO=4&transport=polling", EIO: 4, Client: srv.Client(), MaxMessage: 1 << 20})
			ctx, cancel := context.WithTimeout(context.Background(), testkit.Short)
			defer cancel()
			s, err := Handshake(ctx, pt, 4)
			if err == nil {
				s.Close(testkit.Short, nil)
				t.Fatal("handshake succeeded")
			}
			pt.Close()
			msg := err.Error()
			if !errors.Is(err, ErrProtocol) || !strings.Contains(msg, "sails-hook-sockets 1.x and 2.x") || !strings.Contains(msg, "use EIO3") || strings.Contains(msg, "connection ended") {
				t.Errorf("open packet of %d bytes: %v, want a protocol error naming sails-hook-sockets 1.x and 2.x and EIO3", len(open), err)
			}
		})
	}
}
