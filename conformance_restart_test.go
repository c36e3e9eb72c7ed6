package sailsio_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

// The restart scenarios: the server process dies and comes back on the same address (a real
// Sails killed with SIGKILL and lifted again; the mock's Stop and Start), with a memory session
// store and with a persistent one.

// TestConformanceRestart runs the restart scenario with Sails' default memory session store.
func TestConformanceRestart(t *testing.T) {
	runConformance(t, withHeartbeat(serverSetup{exclusive: true, legacyModes: []string{"websocket"}}), []scenario{
		{name: "restart", run: func(t *testing.T, b *backend) { scenarioRestart(t, b, false) }},
	})
}

// TestConformanceRestartPersistentSessions runs it with sessions kept in a file (real Sails) or
// WithPersistentSessions (the mock).
func TestConformanceRestartPersistentSessions(t *testing.T) {
	setup := withHeartbeat(serverSetup{
		exclusive:   true,
		sessionFile: true,
		mockOpts:    []mockserver.Option{mockserver.WithPersistentSessions()},
		legacyModes: []string{"upgrade"},
	})
	runConformance(t, setup, []scenario{
		{name: "restart", run: func(t *testing.T, b *backend) { scenarioRestart(t, b, true) }},
	})
}

// kill makes the server die at once.
func (b *backend) kill() {
	if b.isMock() {
		b.mock.Stop()
		return
	}
	b.real.Kill()
}

// revive brings the server back on the same address.
func (b *backend) revive(t *testing.T) {
	t.Helper()
	if b.isMock() {
		if err := b.mock.Start(); err != nil {
			t.Fatal(err)
		}
		return
	}
	b.real.Restart(t)
}

// scenarioRestart: a client logged in over HTTP (its cookie jar on the handshake) with
// reconnection on loses its connection when the server dies, queues requests while it is down,
// reconnects once it is back and sends them in order; its session survives only with a
// persistent store.
func scenarioRestart(t *testing.T, b *backend, persistent bool) {
	jar := newJar(t)
	user := uniq(b, "restart")
	httpLogin(t, b, jar, user)
	s := connect(t, b, sailsio.WithCookieJar(jar), sailsio.WithReconnectionDelay(20*time.Millisecond, 100*time.Millisecond))
	events := make(chan string, 64)
	for _, name := range []string{sailsio.EventDisconnect, sailsio.EventReconnect, sailsio.EventConnect} {
		s.On(name, func(d json.RawMessage) { events <- name + " " + string(d) })
	}
	get := func(path string) string {
		t.Helper()
		jwr, err := s.GetContext(testCtx(t), path, nil)
		if err != nil || jwr.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, jwr, err)
		}
		return string(jwr.Body)
	}
	wantMe := `{"user":"` + user + `"}`
	if got := get("/me"); got != wantMe {
		t.Fatalf("GET /me before the restart: %s, want %s", got, wantMe)
	}
	get("/count")
	firstID := s.ID()

	b.kill()
	ev := await(t, events, "disconnect event")
	if ev != sailsio.EventDisconnect+` {"reason":"`+sailsio.ReasonTransportClose+`"}` && ev != sailsio.EventDisconnect+` {"reason":"`+sailsio.ReasonTransportError+`"}` {
		t.Errorf("when the server died: %s, want a disconnect with reason transport close/error", ev)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	if resp, err := hc.Get(b.url + "/version"); err == nil {
		resp.Body.Close()
		t.Errorf("HTTP while the server is down: %s, want the connection refused", resp.Status)
	}

	// Requests made while the server is down wait in the queue and go out in order.
	const n = 20
	key := uniq(b, "queued")
	var wg sync.WaitGroup
	wg.Add(n)
	statuses := make([]int, n)
	for i := 0; i < n; i++ {
		s.Post("/seq", map[string]any{"key": key, "n": i}, func(_ json.RawMessage, jwr *sailsio.JWRes) {
			statuses[i] = jwr.StatusCode
			wg.Done()
		})
	}
	b.revive(t)
	var seen []string
	for {
		ev := await(t, events, "reconnect event")
		seen = append(seen, ev)
		if len(ev) >= len(sailsio.EventReconnect) && ev[:len(sailsio.EventReconnect)+1] == sailsio.EventReconnect+" " {
			break
		}
	}
	if seen[0] != sailsio.EventConnect+" null" {
		t.Errorf("events after the restart %q, want connect then reconnect", seen)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	await(t, done, "the queued requests' callbacks")
	for i, st := range statuses {
		if st != 200 {
			t.Errorf("queued request %d: status %d", i, st)
		}
	}
	var order []int
	if err := json.Unmarshal([]byte(get("/seq?key="+url.QueryEscape(key))), &order); err != nil {
		t.Fatal(err)
	}
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if d := cmp.Diff(want, order); d != "" {
		t.Errorf("order in which the queued requests reached the action (-sent +seen):\n%s", d)
	}
	if s.ID() == firstID || s.ID() == "" {
		t.Errorf("socket id after the restart %q (was %q)", s.ID(), firstID)
	}

	// The session: kept by a persistent store; with a memory store the handshake's cookie names a
	// session the new process does not have.
	me, c1, c2 := get("/me"), get("/count"), get("/count")
	t.Logf("%s after the restart: /me %s, /count %s then %s", b.name, me, c1, c2)
	if persistent {
		if me != wantMe || c1 != `{"count":2}` || c2 != `{"count":3}` {
			t.Errorf("persistent sessions after the restart: /me %s, /count %s, %s; want %s, 2, 3", me, c1, c2, wantMe)
		}
	} else if me != `{"user":null}` || c1 != `{"count":1}` || c2 != `{"count":1}` {
		t.Errorf("memory sessions after the restart: /me %s, /count %s, %s; want no user, and a fresh session for every request", me, c1, c2)
	}
}
