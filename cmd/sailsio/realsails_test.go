package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio/internal/realsails"
)

// TestRealSails drives the command against the project's Sails test app on both hook generations
// (skipped when Node.js or the hooks' node_modules are missing; required when CI=true).
func TestRealSails(t *testing.T) {
	for _, hook := range realsails.Hooks() {
		t.Run(hook, func(t *testing.T) {
			t.Parallel()
			srv := realsails.Start(t, hook, realsails.WithEnv("SAILSIO_PING_INTERVAL", "1000"))
			eios := []string{"3"}
			if hook == "hook3" {
				eios = append(eios, "4")
			}
			for _, eio := range eios {
				t.Run("eio"+eio, func(t *testing.T) { realSailsScenarios(t, srv.URL, eio) })
			}
		})
	}
}

// TestMockAsRealSails drives the command against `sailsio mock` (its built-in routes: the Go copy of
// the test app, internal/testapp) with the scenarios of TestRealSails, so that what the mock serves
// is what they check on real Sails, in both of its modes (the conformance suite covers the EIO3
// client of the hook 3.x mode).
func TestMockAsRealSails(t *testing.T) {
	for _, eio := range []string{"3", "4"} {
		t.Run("eio"+eio, func(t *testing.T) {
			t.Parallel()
			u := startProc(t, "mock", "--eio", eio, "--ping-interval", "1s", "--quiet").line(t, 15*time.Second)
			realSailsScenarios(t, u, eio)
		})
	}
}

func realSailsScenarios(t *testing.T, u, eio string) {
	t.Run("requests", func(t *testing.T) {
		r := runCLI(t, nil, "put", u, "/echo?q=1", "-d", `{"a":1}`, "-H", "x-custom: yes", "-i", "--eio", eio)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "HTTP/sails 200 OK\n") || !strings.Contains(r.stdout, "x-echo: 1") {
			t.Fatalf("exit %d: %q %q", r.code, r.stdout, r.stderr)
		}
		_, body, _ := strings.Cut(r.stdout, "\n\n")
		var echo struct {
			Method   string
			IsSocket bool
			Body     map[string]any
			Headers  map[string]string
		}
		if err := json.Unmarshal([]byte(body), &echo); err != nil {
			t.Fatal(err)
		}
		if echo.Method != "PUT" || !echo.IsSocket || echo.Body["a"] != float64(1) || echo.Headers["x-custom"] != "yes" {
			t.Fatalf("echo %+v", echo)
		}
		for path, code := range map[string]int{"/status/404": 4, "/status/503": 5, "/status/302": 0, "/secret": 4} {
			if r := runCLI(t, nil, "get", u, path, "--eio", eio); r.code != code {
				t.Errorf("%s: exit %d, want %d (%s)", path, r.code, code, r.stdout)
			}
		}
		if r := runCLI(t, nil, "get", u, "/secret", "-H", "x-api-key: letmein", "--eio", eio); r.code != 0 || strings.TrimSpace(r.stdout) != `{"secret":42}` {
			t.Errorf("secret with key: exit %d %q", r.code, r.stdout)
		}
		if r := runCLI(t, nil, "get", u, "/slow?ms=3000", "--timeout", "500ms", "--eio", eio); r.code != 6 {
			t.Errorf("slow: exit %d, want 6", r.code)
		}
	})
	t.Run("session through the cookie jar", func(t *testing.T) {
		jar := filepath.Join(t.TempDir(), "cookies.txt")
		if r := runCLI(t, nil, "post", u, "/login", "-d", `{"name":"ann"}`, "--cookie-jar", jar, "--eio", eio); r.code != 0 {
			t.Fatalf("login: exit %d %s", r.code, r.stderr)
		}
		if r := runCLI(t, nil, "get", u, "/me", "--cookie-jar", jar, "--eio", eio); r.code != 0 || !strings.Contains(r.stdout, `"ann"`) {
			t.Fatalf("me: exit %d %q", r.code, r.stdout)
		}
	})
	t.Run("listen", func(t *testing.T) {
		room := "room" + eio
		l := startProc(t, "listen", u, "chat", "--subscribe", "POST /rooms/"+room+"/join", "--count", "1", "--eio", eio)
		l.waitStderr(t, "subscribed: POST /rooms/"+room+"/join → 200", 1, 20*time.Second)
		if r := runCLI(t, nil, "post", u, "/rooms/"+room+"/say", "-d", `{"text":"hello"}`, "--eio", eio); r.code != 0 {
			t.Fatalf("say: exit %d %s", r.code, r.stderr)
		}
		ev := parseEventLine(t, l.line(t, 10*time.Second))
		if ev.Event != "chat" || !strings.Contains(string(ev.Data), `"text":"hello"`) {
			t.Fatalf("event %+v", ev)
		}
		if code := l.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("exit %d", code)
		}
		// The app's policy refuses GET /secret without its key: 403, so listen has nothing to wait for.
		r := runCLI(t, nil, "listen", u, "secret", "--subscribe", "GET /secret", "--for", "5s", "--eio", eio)
		if r.code != 4 || !strings.Contains(r.stderr, "subscription GET /secret refused: 403") || !strings.Contains(r.stderr, "no subscription succeeded") {
			t.Fatalf("refused subscription: exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("load", func(t *testing.T) {
		room := "load" + eio
		r := runCLI(t, nil, "load", u, "--sockets", "20", "--rate", "200", "--duration", "2500ms", "--think", "50ms", "--eio", eio, "--json",
			"--request", "3:GET /echo", "--request", `1:POST /rooms/`+room+`/say {"text":"{{stamp}}"}`,
			"--subscribe", "POST /rooms/"+room+"/join", "--fanout", "chat")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var rep report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Sockets.Connected != 20 || rep.Sockets.DropsInHold != 0 || rep.RequestsAll.Count == 0 || rep.Fanout == nil || rep.Fanout.Deliveries == 0 {
			t.Fatalf("report sockets %+v all %+v fanout %+v", rep.Sockets, rep.RequestsAll, rep.Fanout)
		}
		for _, q := range rep.Requests {
			if q.Status != 200 {
				t.Errorf("route %+v", q)
			}
		}
	})
}

// TestRealSailsWebAppCSRF: --csrf on an app as `sails new` makes it (testdata/sails/webapp: CSRF
// on, the token only in its pages, everything behind a login): a signup, then with the session kept
// in the cookie jar, a protected create in a second process, and a logged-out create refused 401.
func TestRealSailsWebAppCSRF(t *testing.T) {
	for _, hook := range realsails.Hooks() {
		t.Run(hook, func(t *testing.T) {
			t.Parallel()
			u := realsails.Start(t, hook, realsails.WithApp("webapp")).URL
			jar := filepath.Join(t.TempDir(), "jar.txt")
			account := `{"emailAddress":"ada@example.com","password":"lovelace-1815","fullName":"Ada"}`
			if r := runCLI(t, nil, "post", u, "/api/v1/entrance/signup", "-d", account, "--csrf", "--cookie-jar", jar); r.code != 0 {
				t.Fatalf("signup: exit %d: %q %q", r.code, r.stdout, r.stderr)
			}
			if r := runCLI(t, nil, "post", u, "/thing", "-d", `{"name":"first"}`, "--csrf", "--cookie-jar", jar); r.code != 0 || !strings.Contains(r.stdout, `"name": "first"`) && !strings.Contains(r.stdout, `"name":"first"`) {
				t.Fatalf("create with the jar's session: exit %d: %q %q", r.code, r.stdout, r.stderr)
			}
			if r := runCLI(t, nil, "post", u, "/thing", "-d", `{"name":"second"}`, "--csrf"); r.code != 4 {
				t.Errorf("create without a login: exit %d, want 4 (401): %q %q", r.code, r.stdout, r.stderr)
			}
		})
	}
}
