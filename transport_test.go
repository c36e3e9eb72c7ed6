package sailsio_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

var (
	pollingOnly    = sailsio.WithTransports(sailsio.TransportPolling)
	pollingUpgrade = sailsio.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket)
)

// pollProxy stands between the client and servers and records the Socket.IO requests it forwards:
// their queries and headers, how many GETs and POSTs were in flight at once, the POST sizes, and
// the TCP connections the client opened. It forwards to the backends in turn (round robin): with
// two backends it is a load balancer without sticky sessions.
type pollProxy struct {
	*httptest.Server
	backends []*httputil.ReverseProxy
	next     atomic.Int64
	refuseWS atomic.Bool // answer WebSocket upgrades 400
	hangWS   atomic.Bool // never answer WebSocket upgrades

	mu                 sync.Mutex
	reqs               []*http.Request // clones, bodies not kept
	get, post          int             // in flight
	maxGet, maxPost    int
	postSizes          []int
	conns              int
	wsUpgrades         []*http.Request
	holdGets, holdPost chan struct{} // when set, hold such requests until closed
	holdWS             chan struct{} // when set, hold WebSocket upgrades until closed
}

func newPollProxy(t *testing.T, targets ...string) *pollProxy {
	t.Helper()
	p := &pollProxy{}
	for _, target := range targets {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		p.backends = append(p.backends, httputil.NewSingleHostReverseProxy(u))
	}
	p.Server = httptest.NewUnstartedServer(p)
	p.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			p.mu.Lock()
			p.conns++
			p.mu.Unlock()
		}
	}
	p.Start()
	t.Cleanup(p.Close)
	return p
}

func (p *pollProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if websocket.IsWebSocketUpgrade(r) {
		p.mu.Lock()
		p.wsUpgrades = append(p.wsUpgrades, r.Clone(context.Background()))
		hold := p.holdWS
		p.mu.Unlock()
		if p.refuseWS.Load() {
			http.Error(w, "no websockets here", http.StatusBadRequest)
			return
		}
		if p.hangWS.Load() {
			<-r.Context().Done() // never answers the upgrade
			return
		}
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		p.backends[int(p.next.Add(1))%len(p.backends)].ServeHTTP(w, r)
		return
	}
	var body []byte
	if r.Method == http.MethodPost {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	p.mu.Lock()
	p.reqs = append(p.reqs, r.Clone(context.Background()))
	var hold chan struct{}
	if r.Method == http.MethodGet {
		p.get++
		p.maxGet = max(p.maxGet, p.get)
		hold = p.holdGets
	} else {
		p.post++
		p.maxPost = max(p.maxPost, p.post)
		p.postSizes = append(p.postSizes, len(body))
		hold = p.holdPost
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if r.Method == http.MethodGet {
			p.get--
		} else {
			p.post--
		}
		p.mu.Unlock()
	}()
	if hold != nil && r.URL.Query().Get("sid") != "" {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	p.backends[int(p.next.Add(1))%len(p.backends)].ServeHTTP(w, r)
}

// waitHeld waits until a GET and a POST of the session are in flight at the proxy.
func (p *pollProxy) waitHeld(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		p.mu.Lock()
		get, post := p.get, p.post
		p.mu.Unlock()
		if get > 0 && post > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("in flight at the proxy: %d GETs, %d POSTs; want one of each", get, post)
		}
		time.Sleep(5 * time.Millisecond) // the proxy's counters send no signal: poll
	}
}

func (p *pollProxy) requests() []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*http.Request(nil), p.reqs...)
}

func echoServer(t *testing.T, mode sailsio.Protocol, opts ...mockserver.Option) *mockserver.Server {
	srv := mockserver.NewT(t, append([]mockserver.Option{mockserver.WithProtocol(mode),
		mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket)}, opts...)...)
	srv.Handle("/echo", func(req *mockserver.Request, res *mockserver.Response) { res.JSON(req.Body) })
	return srv
}

// TestPollingRequests checks every polling request of a session: t (distinct) and sid (after the
// handshake) on each, the initial connection headers and the jar's cookies on each and on the
// upgrade, at most one GET and one POST in flight, and never more than two TCP connections.
//
// The proxy holds the WebSocket upgrade until the requests were answered, so that they travel over
// polling: the handshake GET, then at least one POST and one GET for the requests. (Let through at
// once, the upgrade may finish before a third polling request.)
func TestPollingRequests(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			srv := echoServer(t, cb.server)
			release := make(chan struct{})
			proxy := newPollProxy(t, srv.URL())
			proxy.mu.Lock()
			proxy.holdWS = release
			proxy.mu.Unlock()
			t.Cleanup(func() {
				select {
				case <-release:
				default:
					close(release)
				}
			})
			jar := newJar(t)
			u, _ := url.Parse(proxy.URL)
			jar.SetCookies(u, []*http.Cookie{{Name: "lb", Value: "sticky-1"}})
			s := newSocket(t, proxy.URL, sailsio.WithProtocol(cb.client), pollingUpgrade, sailsio.WithCookieJar(jar),
				sailsio.WithInitialConnectionHeaders(http.Header{"X-Init": {"yes"}}))
			upgraded := make(chan struct{}, 1)
			s.On(sailsio.EventUpgrade, func(json.RawMessage) { upgraded <- struct{}{} })
			dial(t, s)
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Add(1)
				s.Post("/echo", map[string]int{"i": i}, func(_ json.RawMessage, jwr *sailsio.JWRes) {
					defer wg.Done()
					if jwr.StatusCode != 200 {
						t.Errorf("request %d: %v", i, jwr)
					}
				})
			}
			wg.Wait()
			if tr := s.Transport(); tr != sailsio.TransportPolling {
				t.Fatalf("Transport() = %v while the proxy holds the upgrade", tr)
			}
			close(release)
			await(t, upgraded, "upgrade")
			if jwr, err := s.GetContext(testCtx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 || s.Transport() != sailsio.TransportWebSocket {
				t.Fatalf("after the upgrade: %v %v on %v", jwr, err, s.Transport())
			}
			reqs := proxy.requests()
			if len(reqs) < 3 {
				t.Fatalf("only %d polling requests", len(reqs))
			}
			seen := map[string]bool{}
			for i, r := range reqs {
				q := r.URL.Query()
				if q.Get("transport") != "polling" || q.Get("EIO") != fmt.Sprint(int(cb.client)) {
					t.Errorf("request %d: query %s", i, r.URL.RawQuery)
				}
				if tv := q.Get("t"); tv == "" || seen[tv] {
					t.Errorf("request %d: t %q missing or reused", i, tv)
				} else {
					seen[tv] = true
				}
				if (i == 0) != (q.Get("sid") == "") {
					t.Errorf("request %d (%s): sid %q", i, r.Method, q.Get("sid"))
				}
				if cb.client == sailsio.EIO3 && q.Get("b64") != "1" {
					t.Errorf("request %d: no b64=1 under EIO3", i)
				}
				if r.Header.Get("X-Init") != "yes" || !strings.Contains(r.Header.Get("Cookie"), "lb=sticky-1") {
					t.Errorf("request %d (%s): headers %v", i, r.Method, r.Header)
				}
			}
			proxy.mu.Lock()
			defer proxy.mu.Unlock()
			if proxy.maxGet > 1 || proxy.maxPost > 1 {
				t.Errorf("in flight at once: %d GETs, %d POSTs", proxy.maxGet, proxy.maxPost)
			}
			if len(proxy.wsUpgrades) != 1 {
				t.Fatalf("%d WebSocket upgrades", len(proxy.wsUpgrades))
			}
			up := proxy.wsUpgrades[0]
			if up.URL.Query().Get("sid") == "" || up.Header.Get("X-Init") != "yes" || !strings.Contains(up.Header.Get("Cookie"), "lb=sticky-1") {
				t.Errorf("upgrade request: %s %v", up.URL.RawQuery, up.Header)
			}
			// polling: at most two connections (GET and POST); the upgrade's WebSocket is one more
			if proxy.conns > 3 {
				t.Errorf("%d TCP connections", proxy.conns)
			}
		})
	}
}

// TestPollingSplitsPosts: a burst of requests goes out in POSTs none of which exceeds the
// server's maxPayload.
func TestPollingSplitsPosts(t *testing.T) {
	srv := echoServer(t, sailsio.EIO4, mockserver.WithMaxHTTPBufferSize(2000))
	proxy := newPollProxy(t, srv.URL())
	for _, p := range []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4} {
		s, err := sailsio.Connect(testCtx(t), proxy.URL, sailsio.WithProtocol(p), pollingOnly)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Add(1)
			s.Post("/echo", map[string]string{"s": strings.Repeat("€", 100) + fmt.Sprint(i)}, func(_ json.RawMessage, jwr *sailsio.JWRes) {
				defer wg.Done()
				if jwr.StatusCode != 200 {
					t.Errorf("request %d: %v", i, jwr)
				}
			})
		}
		wg.Wait()
		s.Close()
	}
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	multi := false
	for _, n := range proxy.postSizes {
		if n > 2000 {
			t.Errorf("a POST of %d bytes, over maxPayload 2000", n)
		}
		multi = multi || n > 700
	}
	if !multi {
		t.Errorf("no POST carried more than one request: %v", proxy.postSizes)
	}
}

// TestPollingWithoutStickySessions: behind a load balancer that sends a session's requests to
// another server, the client reports ErrSessionUnknown and reconnects with its backoff.
func TestPollingWithoutStickySessions(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			a, b := echoServer(t, cb.server), echoServer(t, cb.server)
			proxy := newPollProxy(t, a.URL(), b.URL())
			var logs lockedBuffer
			s := newPollingSocket(t, proxy.URL, cb.client, sailsio.WithReconnectionDelay(100*time.Millisecond, 10*time.Second),
				sailsio.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			errs := make(chan string, 64)
			recon := make(chan int64, 64)
			s.On(sailsio.EventConnectError, func(d json.RawMessage) { errs <- string(d) })
			s.On(sailsio.EventDisconnect, func(d json.RawMessage) { errs <- string(d) })
			s.On(sailsio.EventReconnecting, func(d json.RawMessage) {
				var v struct {
					DelayMS int64 `json:"delay_ms"`
				}
				_ = json.Unmarshal(d, &v)
				recon <- v.DelayMS
			})
			err := s.Connect(testCtx(t))
			if err != nil && !errors.Is(err, sailsio.ErrSessionUnknown) {
				t.Fatalf("Connect: %v, want nil or ErrSessionUnknown", err)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "sticky sessions") {
					t.Errorf("error %q does not name the cause", err)
				}
				return // EIO4: the handshake's POST 40 reached the other server
			}
			// EIO3: connected by the open payload; the next request reaches the other server, and
			// so on after every reconnection: the delays keep growing instead of starting over.
			var delays []int64
			for len(delays) < 4 {
				delays = append(delays, await(t, recon, "reconnecting"))
			}
			if delays[0] < 100 || delays[3] < 400 {
				t.Errorf("reconnection delays %v ms: the backoff does not grow", delays)
			}
			if l := logs.String(); !strings.Contains(l, "sticky sessions") {
				t.Errorf("the log does not name the cause:\n%s", l)
			}
		})
	}
}

// TestUpgradeProbeFailure: when the WebSocket cannot be opened, the connection stays on polling,
// says so (upgrade_error), and keeps working.
func TestUpgradeProbeFailure(t *testing.T) {
	srv := echoServer(t, sailsio.EIO4)
	proxy := newPollProxy(t, srv.URL())
	proxy.refuseWS.Store(true)
	s, err := sailsio.New(proxy.URL, sailsio.WithProtocol(sailsio.EIO4), pollingUpgrade)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	failed := make(chan string, 1)
	s.On(sailsio.EventUpgradeError, func(d json.RawMessage) { failed <- string(d) })
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if e := await(t, failed, "upgrade_error"); !strings.Contains(e, "staying on polling") {
		t.Errorf("upgrade_error %s", e)
	}
	if jwr, err := s.GetContext(testCtx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 {
		t.Fatalf("after the failed upgrade: %v %v", jwr, err)
	}
	if tr := s.Transport(); tr != sailsio.TransportPolling {
		t.Errorf("Transport() = %v, want polling", tr)
	}
}

// TestUpgradeInFlight: requests sent during the upgrade, and events pushed during it, are neither
// lost, duplicated nor reordered: the server sees the requests in the order they were sent, each
// once, and the client gets every event in order.
func TestUpgradeInFlight(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			srv := echoServer(t, cb.server)
			var mu sync.Mutex
			var seen []int
			srv.Handle("POST /seq", func(req *mockserver.Request, res *mockserver.Response) {
				var v struct{ N int }
				_ = json.Unmarshal(req.Body, &v)
				mu.Lock()
				seen = append(seen, v.N)
				mu.Unlock()
				res.JSON(v)
			})
			s, err := sailsio.New(srv.URL(), sailsio.WithProtocol(cb.client), pollingUpgrade)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var events []int
			evDone := make(chan struct{})
			const nev = 300
			s.On("tick", func(d json.RawMessage) {
				var n int
				_ = json.Unmarshal(d, &n)
				events = append(events, n) // handlers run one at a time
				if n == nev-1 {
					close(evDone)
				}
			})
			upgraded := make(chan struct{})
			s.On(sailsio.EventUpgrade, func(json.RawMessage) { close(upgraded) })
			if err := s.Connect(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			id := s.ID()
			go func() {
				for i := range nev {
					srv.Emit(id, "tick", i)
					if i%10 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			}()
			const n = 400
			var wg sync.WaitGroup
			var upgradedAt atomic.Int64
			upgradedAt.Store(-1)
			for i := range n {
				wg.Add(1)
				s.Post("/seq", map[string]int{"n": i}, func(body json.RawMessage, jwr *sailsio.JWRes) {
					defer wg.Done()
					var v struct{ N int }
					if jwr.StatusCode != 200 || json.Unmarshal(body, &v) != nil || v.N != i {
						t.Errorf("request %d: %v", i, jwr)
					}
				})
				select {
				case <-upgraded:
					upgradedAt.CompareAndSwap(-1, int64(i))
				default:
				}
				if i%20 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			wg.Wait()
			await(t, upgraded, "upgrade")
			await(t, evDone, "every event")
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != n {
				t.Fatalf("the server got %d requests, want %d", len(seen), n)
			}
			for i, v := range seen {
				if v != i {
					t.Fatalf("the server got request %d at position %d", v, i)
				}
			}
			for i, v := range events {
				if v != i {
					t.Fatalf("event %d at position %d", v, i)
				}
			}
			if at := upgradedAt.Load(); at <= 0 || at >= n-1 {
				t.Logf("the upgrade finished after request %d of %d: not in the middle", at, n)
			}
		})
	}
}

// TestPollingCloseBounded: Close returns within about a second and leaves no goroutine, even
// when the server answers no polling request (the GET in flight is cancelled).
func TestPollingCloseBounded(t *testing.T) {
	for _, p := range []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			srv := echoServer(t, sailsio.EIO4)
			proxy := newPollProxy(t, srv.URL())
			s, err := sailsio.Connect(testCtx(t), proxy.URL, sailsio.WithProtocol(p), pollingOnly)
			if err != nil {
				t.Fatal(err)
			}
			hold := make(chan struct{})
			defer close(hold)
			proxy.mu.Lock()
			proxy.holdGets, proxy.holdPost = hold, hold
			proxy.mu.Unlock()
			s.Post("/echo", nil, nil) // a POST that hangs too
			proxy.waitHeld(t)
			start := time.Now()
			s.Close()
			if d := time.Since(start); d > testkit.D(1500*time.Millisecond) {
				t.Errorf("Close took %v", d)
			}
			testkit.Gone(t, "after Close")
		})
	}
}

// TestMockRefusesPollingByDefault: as real Sails (transports: ['websocket']), a polling handshake
// gets HTTP 400 "Transport unknown", and the client names the cause.
func TestMockRefusesPollingByDefault(t *testing.T) {
	srv := mockserver.NewT(t)
	_, err := sailsio.Connect(testCtx(t), srv.URL(), pollingOnly, sailsio.WithReconnection(false))
	var he *sailsio.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 400 || he.Body != "Transport unknown" || !strings.Contains(he.Hint, "transports") {
		t.Fatalf("Connect over polling: %v, want HandshakeError 400 Transport unknown", err)
	}
}

// TestPollingFaults: the mock's faults over polling: a drop is followed by reconnection, a kick
// by none, and raw frames reach the client.
func TestPollingFaults(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			srv := echoServer(t, cb.server)
			s := newPollingSocket(t, srv.URL(), cb.client, sailsio.WithReconnectionDelay(10*time.Millisecond, 20*time.Millisecond))
			disc := make(chan string, 8)
			conn := make(chan struct{}, 8)
			raw := make(chan string, 8)
			s.On(sailsio.EventDisconnect, func(d json.RawMessage) { disc <- string(d) })
			s.On(sailsio.EventConnect, func(json.RawMessage) { conn <- struct{}{} })
			s.On("raw", func(d json.RawMessage) { raw <- string(d) })
			if err := s.Connect(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			await(t, conn, "connect")
			// raw frames
			if err := srv.SendRaw(s.ID(), []byte(`42["raw","x"]`), false); err != nil {
				t.Fatal(err)
			}
			if got := await(t, raw, "raw event"); got != `"x"` {
				t.Errorf("raw event %s", got)
			}
			// drop: the GET's connection is cut; reconnection follows
			srv.DropConnections()
			if d := await(t, disc, "disconnect"); !strings.Contains(d, "transport") {
				t.Errorf("disconnect after a drop: %s", d)
			}
			await(t, conn, "reconnect")
			// pause: requests wait, then complete
			srv.SetPaused(true)
			done := make(chan *sailsio.JWRes, 1)
			s.Get("/echo", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { done <- jwr })
			none(t, done, 100*time.Millisecond, "response while paused")
			srv.SetPaused(false)
			if jwr := await(t, done, "response"); jwr.StatusCode != 200 {
				t.Errorf("after the pause: %v", jwr)
			}
			// kick: no reconnection
			if err := srv.Kick(s.ID()); err != nil {
				t.Fatal(err)
			}
			if d := await(t, disc, "disconnect"); d != `{"reason":"io server disconnect"}` {
				t.Errorf("disconnect after a kick: %s", d)
			}
			if st := s.State(); st != sailsio.StateDisconnected {
				t.Errorf("state after a kick %v", st)
			}
		})
	}
}

// TestPollingBinary: a binary response (BINARY_ACK and its attachment, b4<base64> under EIO3,
// b<base64> under EIO4 in the payload) reaches the client over polling as over WebSocket.
func TestPollingBinary(t *testing.T) {
	data := []byte{0, 1, 2, 0xfe, 0xff, '\x1e', ':'}
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			srv := echoServer(t, cb.server)
			srv.Handle("GET /bin", func(_ *mockserver.Request, res *mockserver.Response) { res.Send(data) })
			s, err := sailsio.Connect(testCtx(t), srv.URL(), sailsio.WithProtocol(cb.client), pollingOnly)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			jwr, err := s.GetContext(testCtx(t), "/bin", nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			if err := jwr.Decode(&got); err != nil || string(got) != string(data) {
				t.Errorf("binary body %s (%v), want %v", jwr.Body, err, data)
			}
		})
	}
}

// TestPollingHeartbeatFaults: over polling, a server that stops its heartbeats is detected
// (ping timeout, then reconnection), and refused handshakes are reported with their status.
func TestPollingHeartbeatFaults(t *testing.T) {
	for _, cb := range clientCombos {
		t.Run(cb.name, func(t *testing.T) {
			srv := echoServer(t, cb.server, mockserver.WithPingInterval(200*time.Millisecond), mockserver.WithPingTimeout(300*time.Millisecond))
			s := newPollingSocket(t, srv.URL(), cb.client, sailsio.WithReconnectionDelay(10*time.Millisecond, 20*time.Millisecond))
			disc := make(chan string, 8)
			conn := make(chan struct{}, 8)
			cerr := make(chan string, 8)
			s.On(sailsio.EventDisconnect, func(d json.RawMessage) { disc <- string(d) })
			s.On(sailsio.EventConnect, func(json.RawMessage) { conn <- struct{}{} })
			s.On(sailsio.EventConnectError, func(d json.RawMessage) { cerr <- string(d) })
			if err := s.Connect(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			await(t, conn, "connect")
			srv.RefuseHandshakes(1, http.StatusServiceUnavailable)
			srv.StopHeartbeats(true)
			if d := await(t, disc, "disconnect"); d != `{"reason":"ping timeout"}` {
				t.Errorf("disconnect %s, want ping timeout", d)
			}
			srv.StopHeartbeats(false)
			if e := await(t, cerr, "connect_error"); !strings.Contains(e, `"status":503`) {
				t.Errorf("connect_error %s, want status 503", e)
			}
			await(t, conn, "reconnect")
			if jwr, err := s.GetContext(testCtx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 {
				t.Errorf("after reconnecting: %v %v", jwr, err)
			}
		})
	}
}

// TestRememberUpgrade: once an upgrade succeeded, WithRememberUpgrade(true) makes reconnections
// go straight to websocket, as socket.io-client's rememberUpgrade.
func TestRememberUpgrade(t *testing.T) {
	srv := echoServer(t, sailsio.EIO4)
	proxy := newPollProxy(t, srv.URL())
	s, err := sailsio.New(proxy.URL, sailsio.WithProtocol(sailsio.EIO4), pollingUpgrade, sailsio.WithRememberUpgrade(true),
		sailsio.WithReconnectionDelay(10*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	upgraded := make(chan struct{}, 2)
	conn := make(chan sailsio.Transport, 2)
	s.On(sailsio.EventUpgrade, func(json.RawMessage) { upgraded <- struct{}{} })
	s.On(sailsio.EventConnect, func(json.RawMessage) { conn <- s.Transport() })
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	await(t, conn, "connect")
	await(t, upgraded, "upgrade")
	polls := len(proxy.requests())
	srv.DropConnections()
	if tr := await(t, conn, "reconnect"); tr != sailsio.TransportWebSocket {
		t.Errorf("reconnected over %v, want websocket", tr)
	}
	if jwr, err := s.GetContext(testCtx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 {
		t.Fatalf("after reconnecting: %v %v", jwr, err)
	}
	if n := len(proxy.requests()); n != polls {
		t.Errorf("%d polling requests after the reconnection", n-polls)
	}
	none(t, upgraded, 100*time.Millisecond, "second upgrade")
}

// lockedBuffer is a strings.Builder safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPollingTLS: over https, every polling request and the upgrade's wss use WithTLSConfig: an
// untrusted certificate is refused, a trusted one works on both transports.
func TestPollingTLS(t *testing.T) {
	srv := echoServer(t, sailsio.EIO4, mockserver.WithTLS())
	if _, err := sailsio.Connect(testCtx(t), srv.URL(), pollingOnly, sailsio.WithReconnection(false)); !errors.Is(err, sailsio.ErrUnreachable) {
		t.Errorf("untrusted certificate: %v, want ErrUnreachable", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	s, err := sailsio.New(srv.URL(), pollingUpgrade, sailsio.WithTLSConfig(&tls.Config{RootCAs: pool}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	upgraded := make(chan string, 1)
	s.On(sailsio.EventUpgrade, func(json.RawMessage) { upgraded <- "" })
	s.On(sailsio.EventUpgradeError, func(d json.RawMessage) { upgraded <- string(d) })
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if e := await(t, upgraded, "upgrade"); e != "" {
		t.Fatalf("upgrade over wss: %s", e)
	}
	if jwr, err := s.GetContext(testCtx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 {
		t.Fatalf("over wss: %v %v", jwr, err)
	}
}

// TestCloseDuringUpgrade: Close is bounded and leaves no goroutine while an upgrade waits for a
// WebSocket that never opens.
func TestCloseDuringUpgrade(t *testing.T) {
	srv := echoServer(t, sailsio.EIO4)
	proxy := newPollProxy(t, srv.URL())
	proxy.hangWS.Store(true)
	s, err := sailsio.Connect(testCtx(t), proxy.URL, pollingUpgrade)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for {
		proxy.mu.Lock()
		n := len(proxy.wsUpgrades)
		proxy.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no upgrade attempt")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > testkit.D(1500*time.Millisecond) {
		t.Errorf("Close took %v", d)
	}
	testkit.Gone(t, "after Close")
}

// newPollingSocket makes a polling-only socket for url (not connected yet), closed when the test ends.
func newPollingSocket(t testing.TB, url string, p sailsio.Protocol, opts ...sailsio.Option) *sailsio.SailsSocket {
	t.Helper()
	s, err := sailsio.New(url, append([]sailsio.Option{sailsio.WithProtocol(p), pollingOnly}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkPollingOnlyServer checks a server that accepts polling only (transports: ['polling']): a
// websocket client is refused (400 Transport unknown); a polling+websocket client connects over
// polling, is offered no upgrade, and stays there.
func checkPollingOnlyServer(t *testing.T, url string, protos []sailsio.Protocol) {
	for _, p := range protos {
		_, err := sailsio.Connect(testCtx(t), url, sailsio.WithProtocol(p), sailsio.WithReconnection(false))
		var he *sailsio.HandshakeError
		if !errors.As(err, &he) || he.StatusCode != 400 || he.Body != "Transport unknown" {
			t.Errorf("EIO%d websocket client: %v, want HandshakeError 400 Transport unknown", p, err)
		}
		s, err := sailsio.New(url, sailsio.WithProtocol(p), pollingUpgrade)
		if err != nil {
			t.Fatal(err)
		}
		upgrade := make(chan string, 1)
		s.On(sailsio.EventUpgrade, func(d json.RawMessage) { upgrade <- string(d) })
		s.On(sailsio.EventUpgradeError, func(d json.RawMessage) { upgrade <- string(d) })
		if err := s.Connect(testCtx(t)); err != nil {
			t.Fatalf("EIO%d polling+websocket client: %v", p, err)
		}
		for range 3 {
			if jwr, err := s.GetContext(testCtx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 {
				t.Fatalf("EIO%d: %v %v", p, jwr, err)
			}
		}
		none(t, upgrade, 200*time.Millisecond, "upgrade event")
		if tr := s.Transport(); tr != sailsio.TransportPolling {
			t.Errorf("EIO%d: Transport() = %v, want polling", p, tr)
		}
		s.Close()
	}
}

func TestPollingOnlyServer(t *testing.T) {
	for _, mode := range []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4} {
		srv := mockserver.NewT(t, mockserver.WithProtocol(mode), mockserver.WithTransports(sailsio.TransportPolling))
		srv.Handle("/echo", func(req *mockserver.Request, res *mockserver.Response) { res.JSON(req.Body) })
		protos := []sailsio.Protocol{sailsio.EIO3}
		if mode == sailsio.EIO4 {
			protos = append(protos, sailsio.EIO4)
		}
		checkPollingOnlyServer(t, srv.URL(), protos)
	}
}
