package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio/mockserver"
)

// eventLine is one line of listen's stdout.
type eventLine struct {
	Time  string          `json:"time"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

func parseEventLine(t *testing.T, s string) eventLine {
	t.Helper()
	var ev eventLine
	if err := json.Unmarshal([]byte(s), &ev); err != nil {
		t.Fatalf("not a JSON object per line: %q: %v", s, err)
	}
	if _, err := time.Parse(time.RFC3339Nano, ev.Time); err != nil {
		t.Fatalf("time %q: %v", ev.Time, err)
	}
	return ev
}

func TestListenCountAndSubscription(t *testing.T) {
	u := mockURL(t)
	l := startProc(t, "listen", u, "chat", "--subscribe", "POST /rooms/lobby/join", "--count", "2", "--csrf")
	l.waitStderr(t, "subscribed: POST /rooms/lobby/join → 200", 1, 15*time.Second)
	for _, text := range []string{"one", "two", "three"} {
		if r := runCLI(t, nil, "post", u, "/rooms/lobby/say", "-d", `{"text":"`+text+`"}`, "--csrf"); r.code != 0 {
			t.Fatalf("say: exit %d %s", r.code, r.stderr)
		}
	}
	for _, want := range []string{"one", "two"} {
		ev := parseEventLine(t, l.line(t, 10*time.Second))
		if ev.Event != "chat" || !strings.Contains(string(ev.Data), `"text":"`+want+`"`) {
			t.Fatalf("event %+v, want chat %q", ev, want)
		}
	}
	if code := l.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("listen --count 2 exited %d: %s", code, l.stderrText())
	}
	if rest, ok := <-l.lines; ok {
		t.Fatalf("more than --count lines: %q", rest)
	}
	if !strings.Contains(l.stderrText(), "connected (socket id ") {
		t.Fatalf("no lifecycle on stderr: %s", l.stderrText())
	}
}

func TestListenImpliedBlueprintEvent(t *testing.T) {
	u := mockURL(t)
	l := startProc(t, "listen", u, "--subscribe", "GET /pet", "--count", "1", "--eio", "4")
	l.waitStderr(t, "subscribed: GET /pet → 200", 1, 15*time.Second)
	if r := runCLI(t, nil, "post", u, "/pet", "-d", `{"name":"Rex"}`, "--csrf"); r.code != 0 {
		t.Fatalf("create: exit %d %s", r.code, r.stderr)
	}
	ev := parseEventLine(t, l.line(t, 10*time.Second))
	if ev.Event != "pet" || !strings.Contains(string(ev.Data), `"verb":"created"`) {
		t.Fatalf("event %+v", ev)
	}
	if code := l.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestListenResubscribesAfterReconnection(t *testing.T) {
	srv := mockserver.NewT(t)
	srv.Handle("POST /rooms/:room/join", func(req *mockserver.Request, res *mockserver.Response) {
		srv.Join(req.SocketID, req.Params["room"])
		res.OK(map[string]string{"joined": req.Params["room"]})
	})
	l := startProc(t, "listen", srv.URL(), "chat", "--subscribe", "POST /rooms/lobby/join")
	l.waitStderr(t, "subscribed:", 1, 15*time.Second)
	srv.DropConnections()
	l.waitStderr(t, "disconnected:", 1, 15*time.Second)
	l.waitStderr(t, "subscribed:", 2, 30*time.Second)
	srv.Broadcast("lobby", "chat", map[string]string{"after": "reconnection"})
	ev := parseEventLine(t, l.line(t, 10*time.Second))
	if ev.Event != "chat" || string(ev.Data) != `{"after":"reconnection"}` {
		t.Fatalf("event %+v", ev)
	}
	if code := l.signal(t, os.Interrupt, 10*time.Second); code != 0 {
		t.Fatalf("SIGINT: exit %d: %s", code, l.stderrText())
	}
}

func TestListenForAndErrors(t *testing.T) {
	u := mockURL(t)
	start := time.Now()
	r := runCLI(t, nil, "listen", u, "news", "--for", "300ms")
	if r.code != 0 || r.stdout != "" || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("--for: exit %d, %q, %v", r.code, r.stdout, time.Since(start))
	}
	if r := runCLI(t, nil, "listen", "http://127.0.0.1:1", "news", "--timeout", "5s"); r.code != 3 {
		t.Fatalf("refused: exit %d", r.code)
	}
	if r := runCLI(t, nil, "listen", u); r.code != 2 {
		t.Fatalf("no event: exit %d", r.code)
	}
	if r := runCLI(t, nil, "listen", u, "x", "--subscribe", "FETCH /a"); r.code != 2 {
		t.Fatalf("bad subscription: exit %d", r.code)
	}
}

// TestListenRefusedSubscriptions: a subscription answered with a status outside 2xx is refused;
// listen ends with the status's exit code when no subscription of a connection succeeded, and
// goes on (saying so on stderr) when at least one did.
func TestListenRefusedSubscriptions(t *testing.T) {
	srv := mockserver.NewT(t)
	srv.Handle("POST /rooms/:room/join", func(req *mockserver.Request, res *mockserver.Response) {
		srv.Join(req.SocketID, req.Params["room"])
		res.OK(map[string]string{"joined": req.Params["room"]})
	})
	srv.Handle("POST /private/join", func(req *mockserver.Request, res *mockserver.Response) {
		res.Status(401).JSON(map[string]string{"error": "log in first"})
	})
	srv.Handle("POST /broken/join", func(req *mockserver.Request, res *mockserver.Response) {
		res.ServerError("broken")
	})
	for _, c := range []struct {
		subs []string
		code int
	}{
		{[]string{"POST /private/join"}, 4},
		{[]string{"POST /broken/join"}, 5},
		{[]string{"POST /private/join", "POST /broken/join"}, 4}, // the first one's
	} {
		args := []string{"listen", srv.URL(), "chat", "--for", "5s"}
		for _, s := range c.subs {
			args = append(args, "--subscribe", s)
		}
		r := runCLI(t, nil, args...)
		if r.code != c.code || !strings.Contains(r.stderr, "sailsio: no subscription succeeded") || !strings.Contains(r.stderr, "log in first") && c.subs[0] == "POST /private/join" {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and 'no subscription succeeded'", c.subs, r.code, r.stderr, c.code)
		}
	}
	l := startProc(t, "listen", srv.URL(), "chat", "--subscribe", "POST /private/join", "--subscribe", "POST /rooms/lobby/join", "--count", "1")
	l.waitStderr(t, "subscribed: POST /rooms/lobby/join → 200", 1, 15*time.Second)
	l.waitStderr(t, "subscription POST /private/join refused: 401", 1, 15*time.Second)
	srv.Broadcast("lobby", "chat", map[string]string{"still": "listening"})
	if ev := parseEventLine(t, l.line(t, 10*time.Second)); ev.Event != "chat" {
		t.Fatalf("event %+v", ev)
	}
	if code := l.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("one of two subscriptions refused: exit %d: %s", code, l.stderrText())
	}
}
