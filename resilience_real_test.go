package sailsio_test

// Reconnection against the real Sails servers of testdata/sails: the server goes away (SIGTERM or
// SIGKILL) with a request in flight and comes back on the same port; the socket reconnects by
// itself, the request made while it was down goes out, listeners still work and the session of an
// HTTP login is still there. The app keeps its sessions in a JSON file (SAILSIO_SESSION_FILE, see
// testdata/sails/app/session-store.js) so that they survive the restart, as they would with a
// Redis or database session store in production.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

func TestResilienceRealSailsRestart(t *testing.T) {
	for _, tc := range []struct {
		hook  string
		proto sailsio.Protocol
		kill  bool   // SIGKILL (a crash) instead of SIGTERM (Sails lowers)
		tr    string // "" (websocket), "polling" or "upgrade" (polling, then websocket)
	}{
		{"hook2", sailsio.EIO3, false, ""},
		{"hook3", sailsio.EIO3, true, ""},
		{"hook3", sailsio.EIO4, false, ""},
		{"hook2", sailsio.EIO3, true, "polling"},
		{"hook3", sailsio.EIO4, false, "upgrade"},
	} {
		how := "stop"
		if tc.kill {
			how = "kill"
		}
		name := fmt.Sprintf("%s/EIO%d/%s", tc.hook, tc.proto, how)
		if tc.tr != "" {
			name += "/" + tc.tr
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resilRealRestart(t, name, tc.hook, tc.proto, tc.kill, tc.tr)
		})
	}
}

func resilRealRestart(t *testing.T, name, hook string, p sailsio.Protocol, kill bool, tr string) {
	// Lifting and restarting take seconds on a loaded machine: generous bounds.
	slow := testkit.D(90 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 4*slow)
	defer cancel()

	sessions := filepath.Join(t.TempDir(), "sessions.json")
	srv := realsails.Start(t, hook, realsails.WithEnv("SAILSIO_SESSION_FILE", sessions), realsails.WithEnv("SAILSIO_TRANSPORTS", "polling,websocket"))
	trs := []sailsio.Transport{sailsio.TransportWebSocket}
	switch tr {
	case "polling":
		trs = []sailsio.Transport{sailsio.TransportPolling}
	case "upgrade":
		trs = []sailsio.Transport{sailsio.TransportPolling, sailsio.TransportWebSocket}
	}

	// HTTP login; the jar then holds the session cookie.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: testkit.D(30 * time.Second)}
	user := "ada-" + strings.NewReplacer("/", "-").Replace(name)
	resp, err := hc.Post(srv.URL+"/login", "application/json", strings.NewReader(`{"name":"`+user+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	hc.CloseIdleConnections()
	if resp.StatusCode != 200 || !strings.Contains(string(body), user) {
		t.Fatalf("HTTP login: %d %s", resp.StatusCode, body)
	}

	s, err := sailsio.New(srv.URL, sailsio.WithProtocol(p), sailsio.WithCookieJar(jar), sailsio.WithTransports(trs...),
		sailsio.WithReconnectionDelay(100*time.Millisecond, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	ev := lifecycle(s)
	news := make(chan json.RawMessage, 16)
	s.On("news", func(d json.RawMessage) { news <- d }) // registered before the first connection
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	ev.Expect(t, sailsio.EventConnect)

	me := func(what string) string {
		t.Helper()
		jwr, err := s.GetContext(ctx, "/me", nil)
		if err != nil {
			t.Fatalf("%s: GET /me: %v", what, err)
		}
		var v struct {
			User *string `json:"user"`
		}
		if err := jwr.Decode(&v); err != nil || jwr.StatusCode != 200 {
			t.Fatalf("%s: GET /me: %v (%v)", what, jwr, err)
		}
		if v.User == nil {
			return ""
		}
		return *v.User
	}
	if got := me("before the restart"); got != user {
		t.Fatalf("GET /me over the socket before the restart: user %q, want %q (the HTTP login)", got, user)
	}
	firstID := s.ID()

	// A slow request in flight; a fast one answered after it proves the server read it.
	inflight := make(chan *sailsio.JWRes, 2)
	s.Get("/slow?ms=10000", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { inflight <- jwr })
	me("with /slow in flight")

	began := time.Now()
	if kill {
		srv.Kill()
	} else {
		srv.Stop()
	}
	stopped := time.Since(began)
	jwr := awaitFor(t, inflight, slow, "the in-flight /slow callback")
	if jwr.StatusCode != 0 || !errors.Is(jwr.Error, sailsio.ErrDisconnected) {
		t.Errorf("in-flight /slow when the server went away: %v, want ErrDisconnected", jwr)
	}
	disc := ev.WaitForWithin(t, sailsio.EventDisconnect, slow)
	reason := reason(t, disc)
	if !lostReason(reason) {
		t.Errorf("disconnect reason %q, want transport close/error (a lost server is not a kick)", reason)
	}
	if !s.IsConnecting() {
		t.Errorf("State() = %v while the server is down, want reconnecting", s.State())
	}

	// Made while the server is down: queued, sent after the reconnection.
	queued := make(chan *sailsio.JWRes, 2)
	s.Get("/me", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { queued <- jwr })

	restartBegan := time.Now()
	srv.Restart(t)
	restarted := time.Since(restartBegan)
	rc := ev.WaitForWithin(t, sailsio.EventReconnect, slow)
	reconnectedAfter := time.Since(restartBegan)

	jwr = awaitFor(t, queued, slow, "the queued /me callback")
	var v struct {
		User *string `json:"user"`
	}
	if jwr.StatusCode != 200 || jwr.Decode(&v) != nil {
		t.Fatalf("queued /me after the restart: %v", jwr)
	}
	sessionKept := v.User != nil && *v.User == user
	if !sessionKept {
		t.Errorf("queued /me after the restart: %s, want user %q: the session did not survive", jwr.Body, user)
	}
	if s.ID() == firstID || s.ID() == "" {
		t.Errorf("socket id after the restart %q (was %q)", s.ID(), firstID)
	}

	// The listener registered before the first connection still works.
	if _, err := s.PostContext(ctx, "/blast", map[string]any{"event": "news", "data": map[string]string{"from": name}}); err != nil {
		t.Fatalf("POST /blast: %v", err)
	}
	select {
	case d := <-news:
		if !strings.Contains(string(d), name) {
			t.Errorf("news event %s", d)
		}
	case <-time.After(slow):
		t.Fatalf("no news event after the restart within %v", slow)
	}
	if got := me("after the restart"); got != user {
		t.Errorf("GET /me after the restart: user %q, want %q", got, user)
	}
	t.Logf("%s: %s took %v; in-flight failed with ErrDisconnected; disconnect %q; restart took %v; %s after %v; queued request answered, session kept: %v; listener works",
		name, map[bool]string{false: "SIGTERM (Stop)", true: "SIGKILL (Kill)"}[kill], stopped.Round(time.Millisecond), reason,
		restarted.Round(time.Millisecond), rc, reconnectedAfter.Round(time.Millisecond), sessionKept)
}
