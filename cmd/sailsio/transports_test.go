package main

import (
	"strings"
	"testing"
	"time"
)

func TestTransports(t *testing.T) {
	m := startProc(t, "mock", "--transports", "polling,websocket", "--quiet")
	u := m.line(t, 15*time.Second)
	for _, tr := range []string{"polling", "polling,websocket", "websocket"} {
		for _, eio := range []string{"3", "4"} {
			r := runCLI(t, nil, "get", u, "/echo", "--transports", tr, "--eio", eio)
			if r.code != 0 || !strings.Contains(r.stdout, `"isSocket":true`) {
				t.Errorf("--transports %s --eio %s: exit %d %q %q", tr, eio, r.code, r.stdout, r.stderr)
			}
		}
	}
	l := startProc(t, "listen", u, "chat", "--subscribe", "POST /rooms/p/join", "--count", "1", "--transports", "polling")
	l.waitStderr(t, "subscribed:", 1, 15*time.Second)
	if r := runCLI(t, nil, "post", u, "/rooms/p/say", "-d", `{"text":"over polling"}`); r.code != 0 {
		t.Fatalf("say: exit %d", r.code)
	}
	if ev := parseEventLine(t, l.line(t, 10*time.Second)); !strings.Contains(string(ev.Data), "over polling") {
		t.Fatalf("event %+v", ev)
	}
	// A websocket-only server refuses a polling-only client: no connection.
	ws := startProc(t, "mock", "--quiet")
	if r := runCLI(t, nil, "get", ws.line(t, 15*time.Second), "/echo", "--transports", "polling", "--timeout", "5s"); r.code != 3 {
		t.Errorf("polling against a websocket-only server: exit %d, want 3: %s", r.code, r.stderr)
	}
}
