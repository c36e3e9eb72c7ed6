package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

// mockWithSpec installs the routes file text (YAML) on a mockserver of the test.
func mockWithSpec(t *testing.T, text string) *mockserver.Server {
	t.Helper()
	file := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	spec, err := loadMockSpec(file)
	if err != nil {
		t.Fatal(err)
	}
	srv := mockserver.NewT(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := spec.install(ctx, srv, 3, time.Second); err != nil {
		t.Fatal(err)
	}
	return srv
}

// mockSocket connects a socket to the mock; get sends a GET over it and returns the status and body.
func mockSocket(t *testing.T, srv *mockserver.Server) (get func(path string) (int, string), s *sailsio.SailsSocket) {
	t.Helper()
	s, err := sailsio.Connect(context.Background(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Disconnect() })
	return func(path string) (int, string) {
		t.Helper()
		jwr, err := s.GetContext(context.Background(), path, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return jwr.StatusCode, string(jwr.Body)
	}, s
}

// TestMockSpecOverridesBuiltins: with builtins: true, the file's routes and models come before the
// test app's (its GET /echo and its pet win), and the rest of the app is served.
func TestMockSpecOverridesBuiltins(t *testing.T) {
	srv := mockWithSpec(t, `
routes:
  - route: GET /echo
    body: {mine: true}
models:
  - identity: Pet
    records: [{name: Rex, color: brown}]
builtins: true
`)
	get, s := mockSocket(t, srv)
	for _, c := range []struct{ path, want string }{
		{"/echo", `{"mine":true}`},                     // the file's route
		{"/me", `{"user":null}`},                       // the app's
		{"/status/abc", `{"error":"bad status code"}`}, // the app's, as HarnessController.status answers
		{"/owner", `[]`},                               // the app's other models are there
	} {
		if code, body := get(c.path); body != c.want {
			t.Errorf("GET %s = %d %s, want %s", c.path, code, body, c.want)
		}
	}
	// The file's pet (seeded, no required name), not the app's.
	if _, body := get("/pet"); !strings.Contains(body, `"name":"Rex"`) {
		t.Errorf("GET /pet = %s, want the file's record", body)
	}
	// POST /echo is the app's still: the file's route is GET only.
	jwr, err := s.PostContext(context.Background(), "/echo", map[string]int{"a": 1})
	if err != nil || jwr.StatusCode != 200 || jwr.Headers.Get("x-echo") != "1" {
		t.Errorf("POST /echo = %v, %v; want 200 with x-echo: 1", jwr, err)
	}
}

// TestMockSpecWithoutBuiltins: a routes file alone replaces the test app.
func TestMockSpecWithoutBuiltins(t *testing.T) {
	srv := mockWithSpec(t, "routes:\n  - route: GET /hello\n    echo: true\n")
	get, _ := mockSocket(t, srv)
	if code, _ := get("/me"); code != 404 {
		t.Errorf("GET /me = %d, want 404 without builtins", code)
	}
	if code, body := get("/hello?a=1&a=2&b=3"); code != 200 || !strings.Contains(body, `"query":{"a":["1","2"],"b":"3"}`) {
		t.Errorf("GET /hello (echo: true) = %d %s, want the test app's echo", code, body)
	}
}
