package main

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sailsio-go/sailsio/mockserver"
)

func TestRequestExitStatuses(t *testing.T) {
	u := mockURL(t)
	cases := []struct {
		name string
		args []string
		code int
		out  string // a substring of stdout
		err  string // a substring of stderr
	}{
		{"200", []string{"get", u, "/status/200"}, 0, `{"status":200}`, ""},
		{"302", []string{"get", u, "/status/302"}, 0, `{"status":302}`, ""},
		{"404", []string{"get", u, "/status/404"}, 4, `{"status":404}`, ""},
		{"unmatched", []string{"get", u, "/nowhere"}, 4, `"Not Found"`, ""},
		{"503", []string{"get", u, "/status/503"}, 5, `{"status":503}`, ""},
		{"csrf refused", []string{"post", u, "/login", "-d", `{"name":"x"}`}, 4, `"Forbidden"`, ""},
		{"unknown flag", []string{"get", u, "/echo", "--bogus"}, 2, "", "bogus"},
		{"bad eio", []string{"get", u, "/echo", "--eio", "5"}, 2, "", "--eio"},
		{"bad json", []string{"post", u, "/echo", "-d", "{nope"}, 2, "", "JSON"},
		{"bad header", []string{"get", u, "/echo", "-H", "nocolon"}, 2, "", "header"},
		{"missing path", []string{"get", u}, 2, "", "URL and PATH"},
		{"bad url", []string{"get", "ftp://x", "/a"}, 2, "", "URL"},
		{"bad transport", []string{"get", u, "/echo", "--transports", "carrier-pigeon"}, 2, "", "unknown transport"},
		{"refused", []string{"get", "http://127.0.0.1:1", "/echo", "--timeout", "5s"}, 3, "", "connect"},
		{"timeout", []string{"get", u, "/slow?ms=3000", "--timeout", "300ms"}, 6, "", "timed out"},
		{"unknown verb", []string{"request", "-X", "brew", u, "/echo"}, 2, "", "-X"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, nil, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", r.code, c.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, c.out) || !strings.Contains(r.stderr, c.err) {
				t.Fatalf("stdout %q (want %q), stderr %q (want %q)", r.stdout, c.out, r.stderr, c.err)
			}
		})
	}
}

func TestRequestEchoHeadersAndBody(t *testing.T) {
	u := mockURL(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "body.json")
	if err := os.WriteFile(file, []byte(`{"from":"file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"inline", []string{"-d", `{"from":"inline"}`}, "", "inline"},
		{"file", []string{"-d", "@" + file}, "", "file"},
		{"stdin", []string{"-d", "-"}, `{"from":"stdin"}`, "stdin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"request", "-X", "put", u, "/echo?q=1", "-H", "X-Custom: yes", "-H", "authorization: Bearer T", "--eio", "4", "--csrf"}, c.args...)
			r := runCLI(t, strings.NewReader(c.stdin), args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 {
				t.Fatalf("piped output is not one compact line: %q", r.stdout)
			}
			var echo struct {
				Method   string
				URL      string
				Body     map[string]string
				Headers  map[string]string
				IsSocket bool
			}
			if err := json.Unmarshal([]byte(r.stdout), &echo); err != nil {
				t.Fatalf("%v: %q", err, r.stdout)
			}
			if echo.Method != "PUT" || echo.URL != "/echo?q=1" || !echo.IsSocket || echo.Body["from"] != c.want ||
				echo.Headers["x-custom"] != "yes" || echo.Headers["authorization"] != "Bearer T" {
				t.Fatalf("echo = %+v", echo)
			}
		})
	}
}

func TestRequestInclude(t *testing.T) {
	u := mockURL(t)
	r := runCLI(t, nil, "get", u, "/echo", "-i")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	head, body, ok := strings.Cut(r.stdout, "\n\n")
	if !ok || !strings.HasPrefix(head, "HTTP/sails 200 OK\n") || !strings.Contains(head, "\nx-echo: 1") {
		t.Fatalf("head %q", head)
	}
	if !json.Valid([]byte(body)) {
		t.Fatalf("body %q", body)
	}
}

func TestCookieJarSessionAndCSRF(t *testing.T) {
	u := mockURL(t)
	jar := filepath.Join(t.TempDir(), "cookies.txt")
	r := runCLI(t, nil, "post", u, "/login", "-d", `{"name":"ann"}`, "--cookie-jar", jar, "--csrf")
	if r.code != 0 || !strings.Contains(r.stdout, `"ann"`) {
		t.Fatalf("login: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(jar)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "# Netscape HTTP Cookie File") || !strings.Contains(string(b), "\tsails.sid\t") {
		t.Fatalf("jar file:\n%s", b)
	}
	// The next command resumes the session through the jar.
	r = runCLI(t, nil, "get", u, "/me", "--cookie-jar", jar)
	if r.code != 0 || strings.TrimSpace(r.stdout) != `{"user":"ann"}` {
		t.Fatalf("me: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	// Without the jar, a fresh session.
	r = runCLI(t, nil, "get", u, "/me")
	if strings.TrimSpace(r.stdout) != `{"user":null}` {
		t.Fatalf("me without jar: %q", r.stdout)
	}
}

func TestCookieJarReadsCurlFile(t *testing.T) {
	srv := mockserver.NewT(t)
	srv.Handle("GET /who", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]string{"token": req.Cookies["token"], "other": req.Cookies["other"]})
	})
	jar := filepath.Join(t.TempDir(), "curl.txt")
	content := "# Netscape HTTP Cookie File\n# https://curl.se/docs/http-cookies.html\n\n" +
		"127.0.0.1\tFALSE\t/\tFALSE\t0\ttoken\tabc\n" +
		"#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t4102444800\tsails.sid\tsid1\n" +
		"example.com\tFALSE\t/\tFALSE\t0\tother\tnope\n"
	if err := os.WriteFile(jar, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "get", srv.URL(), "/who", "--cookie-jar", jar)
	if r.code != 0 || strings.TrimSpace(r.stdout) != `{"other":"","token":"abc"}` {
		t.Fatalf("exit %d: %q %q", r.code, r.stdout, r.stderr)
	}
	b, _ := os.ReadFile(jar)
	for _, want := range []string{"127.0.0.1\tFALSE\t/\tFALSE\t0\ttoken\tabc", "#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t4102444800\tsails.sid\tsid1", "example.com\tFALSE"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("rewritten jar lacks %q:\n%s", want, b)
		}
	}
}

func TestHandshakeHeaderAndTLS(t *testing.T) {
	srv := mockserver.NewT(t, mockserver.WithTLS(), mockserver.WithOnlyAllowOrigins("http://good.example"))
	srv.Handle("GET /origin", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]string{"origin": req.Get("origin"), "proto": req.Protocol})
	})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	// Unverified certificate: no connection.
	r := runCLI(t, nil, "get", srv.URL(), "/origin", "--handshake-header", "Origin: http://good.example")
	if r.code != 3 {
		t.Fatalf("untrusted certificate: exit %d, want 3; %s", r.code, r.stderr)
	}
	for _, trust := range [][]string{{"--cacert", ca}, {"--insecure"}} {
		r = runCLI(t, nil, append([]string{"get", srv.URL(), "/origin", "--handshake-header", "Origin: http://good.example"}, trust...)...)
		if r.code != 0 || strings.TrimSpace(r.stdout) != `{"origin":"http://good.example","proto":"wss"}` {
			t.Fatalf("%v: exit %d: %q %q", trust, r.code, r.stdout, r.stderr)
		}
	}
	// A refused handshake (wrong origin): no connection, and the server's answer is shown.
	r = runCLI(t, nil, "get", srv.URL(), "/origin", "--insecure", "--handshake-header", "Origin: http://evil.example")
	if r.code != 3 || !strings.Contains(r.stderr, "400") {
		t.Fatalf("refused handshake: exit %d, %q", r.code, r.stderr)
	}
}

func TestHelpShowsExamples(t *testing.T) {
	for _, sub := range []string{"get", "post", "request", "listen", "repl", "load", "mock"} {
		r := runCLI(t, nil, sub, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "sailsio "+sub) {
			t.Errorf("%s --help: exit %d, stdout %q", sub, r.code, r.stdout)
		}
	}
	r := runCLI(t, nil)
	if r.code != 2 || !strings.Contains(r.stderr, "Usage:") {
		t.Errorf("no arguments: exit %d, %q", r.code, r.stderr)
	}
	r = runCLI(t, nil, "frobnicate")
	if r.code != 2 {
		t.Errorf("unknown command: exit %d", r.code)
	}
}

// TestHandshakeOnlyHeaderWarns: a virtual cookie or origin header changes nothing (Sails takes both
// from the handshake), so -H cookie/origin, a scenario's and repl's "headers cookie: ..." say so on
// stderr and name the flags that work; other headers draw no warning.
func TestHandshakeOnlyHeaderWarns(t *testing.T) {
	u := mockURL(t)
	scen := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(scen, []byte("sockets: 1\nduration: 1ms\nheaders: {Cookie: a=b}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		args  []string
		stdin string
		warn  string // "" for none
	}{
		{"get cookie", []string{"get", u, "/echo", "-H", "Cookie: sails.sid=x"}, "", "-H cookie"},
		{"get origin", []string{"get", u, "/echo", "-H", "origin: http://example.com"}, "", "-H origin"},
		{"get other", []string{"get", u, "/echo", "-H", "x-a: b"}, "", ""},
		{"listen", []string{"listen", u, "news", "--for", "100ms", "-H", "cookie: a=b"}, "", "-H cookie"},
		{"load", []string{"load", u, "--sockets", "1", "--duration", "1ms", "--progress", "off", "--json", "-H", "cookie: a=b"}, "", "-H cookie"},
		{"load scenario", []string{"load", u, "--scenario", scen, "--progress", "off", "--json"}, "", "scenario header cookie"},
		{"repl -H", []string{"repl", u, "-H", "cookie: a=b"}, "", "-H cookie"},
		{"repl headers", []string{"repl", u}, "headers cookie: a=b\n", "headers cookie"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, strings.NewReader(c.stdin), c.args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			warned := strings.Contains(r.stderr, "warning: "+c.warn+":") && strings.Contains(r.stderr, "handshake") &&
				strings.Contains(r.stderr, "--handshake-header")
			if c.warn == "" && strings.Contains(r.stderr, "warning") || c.warn != "" && !warned {
				t.Fatalf("stderr %q, want a warning %q", r.stderr, c.warn)
			}
			if strings.Contains(c.warn, "cookie") && !strings.Contains(r.stderr, "--cookie-jar") {
				t.Fatalf("stderr %q does not point to --cookie-jar", r.stderr)
			}
		})
	}
}
