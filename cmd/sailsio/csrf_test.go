package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sailsio-go/sailsio/mockserver"
)

// templateApp is a mockserver set up as a `sails new` Web App is: CSRF on, no /csrfToken route, the
// token only in the page's window.SAILS_LOCALS; a POST without the session's token is refused 403.
func templateApp(t *testing.T, exposeToken bool) *mockserver.Server {
	srv := mockserver.NewT(t)
	token := func(req *mockserver.Request) string { return "t-" + req.Session.ID()[:10] }
	srv.Handle("GET /", func(req *mockserver.Request, res *mockserver.Response) {
		locals := `me: unescape(null),`
		if exposeToken {
			locals = `_csrf: unescape('` + token(req) + `'), ` + locals
		}
		res.Send(`<html><script> window.SAILS_LOCALS = { ` + locals + ` }; </script></html>`)
	})
	srv.Handle("POST /thing", func(req *mockserver.Request, res *mockserver.Response) {
		if req.Header("x-csrf-token") != token(req) {
			res.Forbidden(nil)
			return
		}
		res.Created(map[string]string{"ok": "yes"})
	})
	return srv
}

// TestCSRFTemplateApp: --csrf works on an app that exposes its token only in its pages, and the
// cookie jar keeps the session the token belongs to.
func TestCSRFTemplateApp(t *testing.T) {
	srv := templateApp(t, true)
	jar := filepath.Join(t.TempDir(), "jar.txt")
	r := runCLI(t, nil, "post", srv.URL(), "/thing", "-d", `{}`, "--csrf", "--cookie-jar", jar)
	if r.code != 0 || strings.TrimSpace(r.stdout) != `{"ok":"yes"}` {
		t.Fatalf("exit %d: %q %q", r.code, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(jar); err != nil || !strings.Contains(string(b), "sails.sid") {
		t.Errorf("jar %q (%v) holds no session cookie", b, err)
	}
}

// TestCSRFNoToken: when no token is found, --csrf says where it looked and what the app may
// lack, and the cookie jar is still written.
func TestCSRFNoToken(t *testing.T) {
	srv := templateApp(t, false)
	jar := filepath.Join(t.TempDir(), "jar.txt")
	r := runCLI(t, nil, "post", srv.URL(), "/thing", "-d", `{}`, "--csrf", "--cookie-jar", jar)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %q", r.code, r.stderr)
	}
	for _, want := range []string{"GET /csrfToken answered 404", "GET / answered 200", "exposeLocalsToBrowser", "sails.config.security.csrf"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not say %q", r.stderr, want)
		}
	}
	if strings.Contains(r.stderr, "is CSRF protection on?)") && strings.Contains(r.stderr, "404 Not Found (") {
		t.Errorf("stderr still gives the old hint: %q", r.stderr)
	}
	if b, err := os.ReadFile(jar); err != nil || !strings.Contains(string(b), "sails.sid") {
		t.Errorf("jar %q (%v) was not written", b, err)
	}
}
