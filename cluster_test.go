package sailsio_test

// The SDK against a real Sails cluster (internal/cluster): two nodes of the test app per hook, Redis
// (socket.io adapter and session store) and nginx, always through the balancer. Round-robin for
// WebSocket; a balancer that hashes the session cookie for polling and polling then upgrade (with
// WithSessionCookie, every socket has one); polling through round-robin must fail clearly. Each
// scenario logs its counts and timings ("cluster:" lines).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/cluster"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

var clusterSlow = testkit.D(60 * time.Second) // lifting a node on a loaded machine

type clusterCombo struct {
	proto sailsio.Protocol
	tr    string // "websocket", "polling", "upgrade"
}

func TestCluster(t *testing.T) {
	for _, hc := range []struct {
		hook   string
		protos []sailsio.Protocol
	}{
		{"hook2", []sailsio.Protocol{sailsio.EIO3}},
		{"hook3", []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4}},
	} {
		t.Run(hc.hook, func(t *testing.T) {
			t.Parallel() // two clusters of their own
			c := cluster.Start(t, hc.hook)
			for _, p := range hc.protos {
				for _, tr := range []string{"websocket", "polling", "upgrade"} {
					cc := clusterCombo{p, tr}
					t.Run(fmt.Sprintf("EIO%d/%s", p, tr), func(t *testing.T) {
						t.Run("rooms", func(t *testing.T) { clusterRooms(t, c, cc) })
						if tr == "websocket" {
							t.Run("http-login", func(t *testing.T) { clusterHTTPLogin(t, c, cc) })
						}
						t.Run("failover", func(t *testing.T) { clusterFailover(t, c, cc) })
						if tr == "websocket" {
							t.Run("rolling-restart", func(t *testing.T) { clusterRolling(t, c, cc) })
						}
					})
				}
				t.Run(fmt.Sprintf("EIO%d/polling-not-sticky", p), func(t *testing.T) { clusterNotSticky(t, c, p) })
			}
			t.Run("redis-restart", func(t *testing.T) { clusterRedisRestart(t, c) })
		})
	}
}

// clusterURL is the balancer for a transport: polling needs the sticky one.
func clusterURL(c *cluster.Cluster, cc clusterCombo) string {
	if cc.tr == "websocket" {
		return c.URL
	}
	return c.StickyURL
}

func clusterOpts(cc clusterCombo, extra ...sailsio.Option) []sailsio.Option {
	o := []sailsio.Option{sailsio.WithProtocol(cc.proto), sailsio.WithSessionCookie(),
		sailsio.WithReconnectionDelay(50*time.Millisecond, time.Second), sailsio.WithConnectTimeout(testkit.D(10 * time.Second))}
	switch cc.tr {
	case "polling":
		o = append(o, sailsio.WithTransports(sailsio.TransportPolling))
	case "upgrade":
		o = append(o, sailsio.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))
	}
	return append(o, extra...)
}

func clusterSocket(t *testing.T, url string, opts []sailsio.Option) *sailsio.SailsSocket {
	t.Helper()
	s, err := sailsio.New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Disconnect() })
	return s
}

func clusterCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*clusterSlow)
	t.Cleanup(cancel)
	return ctx
}

// clusterNode returns the port of the node serving the socket.
func clusterNode(t *testing.T, ctx context.Context, s *sailsio.SailsSocket) int {
	t.Helper()
	jwr, err := s.GetContext(ctx, "/version", nil)
	if err != nil {
		t.Fatalf("GET /version: %v", err)
	}
	var v struct{ Port int }
	if err := jwr.Decode(&v); err != nil || v.Port == 0 {
		t.Fatalf("GET /version: %s (%v)", jwr.Body, err)
	}
	return v.Port
}

// clusterSpread connects n sockets (more if they all landed on one node, up to 3n) and returns them
// with their nodes; it fails unless they span every node.
func clusterSpread(t *testing.T, ctx context.Context, c *cluster.Cluster, cc clusterCombo, n int, extra ...sailsio.Option) ([]*sailsio.SailsSocket, map[int]int) {
	t.Helper()
	var socks []*sailsio.SailsSocket
	nodes := map[int]int{}
	last := 0
	for i := 0; i < 3*n && (len(socks) < n || len(nodes) < len(c.Nodes)); i++ {
		s := clusterSocket(t, clusterURL(c, cc), clusterOpts(cc, extra...))
		if err := s.Connect(ctx); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		socks = append(socks, s)
		port := clusterNode(t, ctx, s)
		nodes[port]++
		if port == last {
			// With WithSessionCookie every socket makes two requests through the balancer (GET
			// /__getcookie, then the handshake), so plain round-robin among two nodes sends every
			// handshake to one node. One more request moves the next socket on.
			clusterHTTPGet(t, clusterURL(c, cc)+"/version")
		}
		last = port
	}
	if len(nodes) < len(c.Nodes) {
		t.Fatalf("%d sockets all on %v: the balancer does not spread", len(socks), nodes)
	}
	return socks, nodes
}

// Rooms and blasts across nodes: every socket of a room gets a broadcast sent on another node.
func clusterRooms(t *testing.T, c *cluster.Cluster, cc clusterCombo) {
	ctx := clusterCtx(t)
	socks, nodes := clusterSpread(t, ctx, c, cc, 4)
	room := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	chat := make(chan int, 64)
	news := make(chan int, 64)
	for i, s := range socks {
		s.On("chat", func(json.RawMessage) { chat <- i })
		s.On("news", func(json.RawMessage) { news <- i })
		if jwr, err := s.PostContext(ctx, "/rooms/"+room+"/join", nil); err != nil || jwr.StatusCode != 200 {
			t.Fatalf("join: %v %v", jwr, err)
		}
	}
	if _, err := socks[0].PostContext(ctx, "/rooms/"+room+"/say", map[string]string{"text": "hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := socks[len(socks)-1].PostContext(ctx, "/blast", map[string]any{"event": "news", "data": map[string]string{"room": room}}); err != nil {
		t.Fatal(err)
	}
	got := func(ch chan int, what string) int {
		seen := map[int]bool{}
		deadline := time.After(testkit.D(15 * time.Second))
		for len(seen) < len(socks) {
			select {
			case i := <-ch:
				seen[i] = true
			case <-deadline:
				t.Errorf("%s reached %d of %d sockets", what, len(seen), len(socks))
				return len(seen)
			}
		}
		return len(seen)
	}
	nc, nn := got(chat, "broadcast"), got(news, "blast")
	t.Logf("cluster: %s: %d sockets over nodes %v; broadcast reached %d, blast reached %d", t.Name(), len(socks), nodes, nc, nn)
}

// An HTTP login through the balancer is seen by sockets on every node.
func clusterHTTPLogin(t *testing.T, c *cluster.Cluster, cc clusterCombo) {
	ctx := clusterCtx(t)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: testkit.Wait}
	defer hc.CloseIdleConnections()
	user := "http-" + strings.ReplaceAll(t.Name(), "/", "-")
	resp, err := hc.Post(c.URL+"/login", "application/json", strings.NewReader(`{"name":"`+user+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	socks, nodes := clusterSpread(t, ctx, c, cc, 4, sailsio.WithCookieJar(jar))
	for _, s := range socks {
		if got := clusterMe(t, ctx, s); got != user {
			t.Errorf("socket on node %d: user %q, want %q", clusterNode(t, ctx, s), got, user)
		}
	}
	t.Logf("cluster: %s: HTTP login seen by %d sockets over nodes %v", t.Name(), len(socks), nodes)
}

func clusterMe(t *testing.T, ctx context.Context, s *sailsio.SailsSocket) string {
	t.Helper()
	jwr, err := s.GetContext(ctx, "/me", nil)
	if err != nil || jwr.StatusCode != 200 {
		t.Fatalf("GET /me: %v %v", jwr, err)
	}
	var v struct{ User *string }
	jwr.Decode(&v)
	if v.User == nil {
		return ""
	}
	return *v.User
}

// Failover: the node of a socket is killed with a request in flight. The request fails, the socket
// is back on the other node, its session (a login over the socket) and room (Resubscribe) are there,
// and the requests queued during the outage go out once, in order.
func clusterFailover(t *testing.T, c *cluster.Cluster, cc clusterCombo) {
	ctx := clusterCtx(t)
	s := clusterSocket(t, clusterURL(c, cc), clusterOpts(cc))
	ev := lifecycle(s)
	chat := make(chan string, 16)
	s.On("chat", func(d json.RawMessage) { chat <- string(d) })
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	room := strings.NewReplacer("/", "-").Replace(t.Name())
	joined := make(chan *sailsio.JWRes, 4)
	s.Resubscribe(sailsio.RequestOptions{Method: "post", URL: "/rooms/" + room + "/join"}, func(_ json.RawMessage, jwr *sailsio.JWRes) { joined <- jwr })
	// Sails saves a socket's session after each request: a join still running when the login
	// completes would write back the session without the user. Log in once the join is done.
	awaitFor(t, joined, testkit.D(15*time.Second), "the room join")
	user := "sock-" + strings.ReplaceAll(t.Name(), "/", "-")
	if jwr, err := s.PostContext(ctx, "/login", map[string]string{"name": user}); err != nil || jwr.StatusCode != 200 {
		t.Fatalf("login over the socket: %v %v", jwr, err)
	}
	port := clusterNode(t, ctx, s)
	node := c.Node(port)

	inflight := make(chan error, 1)
	go func() {
		_, err := s.GetContext(ctx, "/slow?ms=5000", nil)
		inflight <- err
	}()
	clusterNode(t, ctx, s) // answered after /slow reached the server: /slow is in flight there
	disconnected := make(chan time.Time, 1)
	offDisc := s.On(sailsio.EventDisconnect, func(json.RawMessage) {
		select {
		case disconnected <- time.Now():
		default:
		}
	})
	killed := time.Now()
	node.Kill()
	err := awaitFor(t, inflight, testkit.D(20*time.Second), "the in-flight request to fail")
	failedAfter := time.Since(killed)
	if !errors.Is(err, sailsio.ErrDisconnected) {
		t.Errorf("in-flight request: %v, want ErrDisconnected", err)
	}
	awaitFor(t, disconnected, testkit.D(20*time.Second), "disconnect")
	offDisc()
	// Requests made during the outage queue and go out once, in order, on the new node.
	const queued = 5
	key := fmt.Sprintf("q-%d", time.Now().UnixNano())
	results := make([]chan *sailsio.JWRes, queued)
	for i := range queued {
		results[i] = make(chan *sailsio.JWRes, 2)
		s.Post("/seq", map[string]any{"key": key, "n": i}, func(_ json.RawMessage, jwr *sailsio.JWRes) { results[i] <- jwr })
	}
	ev.WaitForWithin(t, sailsio.EventReconnect, testkit.D(30*time.Second))
	reconnectedAfter := time.Since(killed)
	newPort := clusterNode(t, ctx, s)
	servingAfter := time.Since(killed)
	for i := range queued {
		if jwr := awaitFor(t, results[i], testkit.D(20*time.Second), "a queued request"); jwr.StatusCode != 200 {
			t.Errorf("queued request %d: %v", i, jwr)
		}
	}
	jwr, err := s.GetContext(ctx, "/seq?key="+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seq []int
	jwr.Decode(&seq)
	if fmt.Sprint(seq) != "[0 1 2 3 4]" {
		t.Errorf("queued requests reached the server as %v (%s), want [0 1 2 3 4] once each", seq, jwr.Body)
	}
	for i := range queued {
		select {
		case jwr := <-results[i]:
			t.Errorf("queued request %d answered twice: %v", i, jwr)
		default:
		}
	}
	if newPort == port {
		t.Errorf("still on node %d after it was killed", port)
	}
	if got := clusterMe(t, ctx, s); got != user {
		t.Errorf("after the failover: user %q, want %q (the login over the socket)", got, user)
	}
	// The room was joined again (Resubscribe): a socket elsewhere reaches it.
	o := clusterSocket(t, clusterURL(c, cc), clusterOpts(cc))
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := o.PostContext(ctx, "/rooms/"+room+"/say", map[string]string{"text": "after"}); err != nil {
		t.Fatal(err)
	}
	awaitFor(t, chat, testkit.D(15*time.Second), "the room's broadcast after the failover")
	t.Logf("cluster: %s: node %d killed -> in-flight failed %v -> reconnected %v (node %d) -> first request answered %v; %d queued requests once, in order; session and room kept",
		t.Name(), port, failedAfter.Round(time.Millisecond), reconnectedAfter.Round(time.Millisecond), newPort, servingAfter.Round(time.Millisecond), queued)
	if err := node.Relaunch(ctx); err != nil {
		t.Fatalf("relaunch node %d: %v", port, err)
	}
}

// Rolling restart under load: 20 sockets send requests one after another while each node in turn is
// stopped (SIGTERM) and lifted again. No request may be answered twice or hang, and every socket
// must be back within the backoff bound after each restart.
func clusterRolling(t *testing.T, c *cluster.Cluster, cc clusterCombo) {
	ctx := clusterCtx(t)
	const nsock = 20
	backBound := testkit.D(10 * time.Second) // reconnection delay ≤ 1 s, plus handshakes on a loaded machine
	socks, nodes := clusterSpread(t, ctx, c, cc, nsock, sailsio.WithRequestTimeout(testkit.D(30*time.Second)))
	var sent, ok, failed, double, hung atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var calls atomic.Int32
				done := make(chan *sailsio.JWRes, 2)
				sent.Add(1)
				s.Get(fmt.Sprintf("/echo?s=%d&n=%d", i, n), nil, func(_ json.RawMessage, jwr *sailsio.JWRes) {
					if calls.Add(1) > 1 {
						double.Add(1)
					}
					done <- jwr
				})
				select {
				case jwr := <-done:
					var e struct{ Query map[string]string }
					if jwr.StatusCode == 200 && jwr.Decode(&e) == nil && e.Query["n"] == fmt.Sprint(n) && e.Query["s"] == fmt.Sprint(i) {
						ok.Add(1)
					} else if jwr.StatusCode == 0 {
						failed.Add(1)
						select {
						case <-stop:
							return
						case <-time.After(10 * time.Millisecond): // do not spin while reconnecting
						}
					} else {
						t.Errorf("socket %d request %d: %v", i, n, jwr)
					}
				case <-time.After(testkit.D(35 * time.Second)):
					hung.Add(1)
					t.Errorf("socket %d request %d: no answer", i, n)
					return
				}
			}
		}()
	}
	allBack := func(what string) time.Duration {
		began := time.Now()
		for {
			n := 0
			for _, s := range socks {
				if s.IsConnected() {
					n++
				}
			}
			if n == len(socks) {
				return time.Since(began)
			}
			if time.Since(began) > backBound {
				t.Errorf("%s: %d of %d sockets back within %v", what, n, len(socks), backBound)
				return time.Since(began)
			}
			time.Sleep(20 * time.Millisecond) // polling the sockets' state: no event spans all of them
		}
	}
	var report []string
	for _, node := range c.Nodes {
		before := ok.Load()
		node.Stop()
		back := allBack(fmt.Sprintf("after stopping node %d", node.Port))
		if err := node.Relaunch(ctx); err != nil {
			t.Fatalf("relaunch: %v", err)
		}
		report = append(report, fmt.Sprintf("node %d stopped: all sockets back in %v (%d answers meanwhile)", node.Port, back.Round(time.Millisecond), ok.Load()-before))
	}
	time.Sleep(500 * time.Millisecond) // a little load on both nodes again
	close(stop)
	wg.Wait()
	if double.Load() != 0 || hung.Load() != 0 {
		t.Errorf("double answers %d, hangs %d", double.Load(), hung.Load())
	}
	if sent.Load() != ok.Load()+failed.Load()+hung.Load() {
		t.Errorf("sent %d != ok %d + failed %d + hung %d", sent.Load(), ok.Load(), failed.Load(), hung.Load())
	}
	t.Logf("cluster: %s: %d sockets over %v; %d requests: %d answered, %d failed with an error (in flight at a restart), %d answered twice, %d hung; %s",
		t.Name(), len(socks), nodes, sent.Load(), ok.Load(), failed.Load(), double.Load(), hung.Load(), strings.Join(report, "; "))
}

// Polling through a balancer without stickiness: the SDK names the cause and does not spin.
func clusterNotSticky(t *testing.T, c *cluster.Cluster, p sailsio.Protocol) {
	s := clusterSocket(t, c.URL, []sailsio.Option{sailsio.WithProtocol(p), sailsio.WithTransports(sailsio.TransportPolling),
		sailsio.WithReconnectionDelay(100*time.Millisecond, time.Second), sailsio.WithConnectTimeout(5 * time.Second)})
	var mu sync.Mutex
	var msgs []string
	var attempts atomic.Int32
	record := func(name string) func(json.RawMessage) {
		return func(d json.RawMessage) {
			if name == sailsio.EventReconnecting {
				attempts.Add(1)
			}
			mu.Lock()
			msgs = append(msgs, name+" "+string(d))
			mu.Unlock()
		}
	}
	for _, n := range []string{sailsio.EventDisconnect, sailsio.EventConnectError, sailsio.EventReconnecting} {
		s.On(n, record(n))
	}
	ctx, cancel := context.WithTimeout(context.Background(), testkit.D(5*time.Second))
	defer cancel()
	const window = 2 * time.Second
	began := time.Now()
	var connectErr error
	if err := s.Connect(ctx); err != nil {
		connectErr = err
	}
	// Requests keep failing over to the other node for the window.
	for time.Since(began) < window {
		rctx, rcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		s.GetContext(rctx, "/version", nil)
		rcancel()
	}
	s.Disconnect()
	mu.Lock()
	all := strings.Join(msgs, "\n")
	mu.Unlock()
	named := strings.Contains(all, "sticky") || (connectErr != nil && strings.Contains(connectErr.Error(), "sticky"))
	if connectErr != nil && (!errors.Is(connectErr, sailsio.ErrSessionUnknown) || errors.Is(connectErr, sailsio.ErrUnreachable)) {
		t.Errorf("Connect: %v, want ErrSessionUnknown (and not ErrUnreachable)", connectErr)
	}
	if !named {
		t.Errorf("no event names sticky sessions as the cause; Connect: %v; events:\n%s", connectErr, all)
	}
	// Delays grow from one lost connection to the next (100 ms, doubling, up to 1 s): a handful of
	// attempts in the window, not hundreds.
	if n := attempts.Load(); n > 10 {
		t.Errorf("%d reconnection attempts in %v: the SDK spins", n, window)
	}
	first := all
	if i := strings.Index(all, "sticky"); i >= 0 {
		first = all[max(0, i-150):min(len(all), i+60)]
	}
	t.Logf("cluster: %s: Connect: %v; %d reconnection attempts in %v; cause reported: %q", t.Name(), connectErr, attempts.Load(), window, first)
}

// Redis restarted under connected clients: what the sockets see while it is down and after.
func clusterRedisRestart(t *testing.T, c *cluster.Cluster) {
	ctx := clusterCtx(t)
	cc := clusterCombo{sailsio.EIO3, "websocket"}
	socks, nodes := clusterSpread(t, ctx, c, cc, 4)
	user := "redis-user"
	for _, s := range socks {
		if _, err := s.PostContext(ctx, "/login", map[string]string{"name": user}); err != nil {
			t.Fatal(err)
		}
	}
	room := "redis-" + c.Hook
	var got atomic.Int32
	for _, s := range socks {
		s.On("chat", func(json.RawMessage) { got.Add(1) })
		s.Resubscribe(sailsio.RequestOptions{Method: "post", URL: "/rooms/" + room + "/join"}, nil)
	}
	var disconnects atomic.Int32
	for _, s := range socks {
		s.On(sailsio.EventDisconnect, func(json.RawMessage) { disconnects.Add(1) })
	}
	c.Redis.Kill()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	jwr, err := socks[0].GetContext(rctx, "/me", nil)
	cancel()
	down := fmt.Sprintf("GET /me while Redis is down: %v", err)
	if err == nil {
		down = fmt.Sprintf("GET /me while Redis is down: %d %s", jwr.StatusCode, excerptOf(jwr.Body))
	}
	if err := c.Redis.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	// Broadcasts across nodes work again once the adapters are back on Redis (observed for a few
	// seconds: what Sails does, not the SDK's business).
	const observe = 3 * time.Second
	var back time.Duration
	for time.Since(restarted) < observe {
		got.Store(0)
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		socks[0].PostContext(rctx, "/rooms/"+room+"/say", map[string]string{"text": "x"})
		cancel()
		deadline := time.Now().Add(time.Second)
		for got.Load() < int32(len(socks)) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // counting broadcasts that may never come
		}
		if got.Load() == int32(len(socks)) {
			back = time.Since(restarted)
			break
		}
	}
	backs := "broadcasts across nodes back " + back.Round(time.Millisecond).String() + " after Redis"
	if back == 0 {
		// What Sails does, not the SDK: sails-hook-sockets' Redis clients (machinepack-redis) do not
		// subscribe again, so broadcasts stay on the node they were sent on until it restarts.
		backs = "broadcasts across nodes NOT back within " + observe.String() + " after Redis (the nodes must be restarted)"
	}
	if n := disconnects.Load(); n != 0 {
		t.Errorf("%d sockets disconnected because of Redis", n)
	}
	connected := 0
	for _, s := range socks {
		if s.IsConnected() {
			connected++
		}
	}
	me := clusterMe(t, ctx, socks[0])
	t.Logf("cluster: %s: %d sockets over %v; Redis SIGKILLed and restarted (empty: no persistence): %d disconnects, %d still connected; %s; %s; /me afterwards %q (sessions were in Redis)",
		t.Name(), len(socks), nodes, disconnects.Load(), connected, down, backs, me)
}

func excerptOf(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

func clusterHTTPGet(t *testing.T, u string) {
	t.Helper()
	hc := &http.Client{Timeout: testkit.Wait}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
