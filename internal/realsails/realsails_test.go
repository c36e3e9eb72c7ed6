package realsails

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio/internal/testkit"
)

var httpClient = &http.Client{Timeout: testkit.D(15 * time.Second)}

// wantVersions gives, per hook directory, the version prefixes it must load.
var wantVersions = map[string]Versions{
	"hook1": {Sails: "1.5.", Hook: "1.5.5", SocketIO: "2.0.", EngineIO: "3.1."},
	"hook2": {Sails: "1.5.", Hook: "2.", SocketIO: "2.", EngineIO: "3."},
	"hook3": {Sails: "1.5.", Hook: "3.", SocketIO: "4.", EngineIO: "6."},
}

func getJSON(t *testing.T, url string, header http.Header, v any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
	return resp
}

func checkVersions(t *testing.T, s *Server) {
	t.Helper()
	got, err := s.Versions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := wantVersions[s.Hook]
	for _, c := range []struct{ name, got, prefix string }{
		{"sails", got.Sails, want.Sails},
		{"sails-hook-sockets", got.Hook, want.Hook},
		{"socket.io", got.SocketIO, want.SocketIO},
		{"engine.io", got.EngineIO, want.EngineIO},
	} {
		if !strings.HasPrefix(c.got, c.prefix) {
			t.Errorf("%s: %s version %q, want %s*", s.Hook, c.name, c.got, c.prefix)
		}
	}
	if got.Node == "" {
		t.Errorf("%s: no node version in %+v", s.Hook, got)
	}
	t.Logf("%s on port %d: %+v", s.Hook, s.Port, got)
}

func TestStartEachHook(t *testing.T) {
	for _, hook := range append(Hooks(), LegacyHooks()...) {
		t.Run(hook, func(t *testing.T) {
			t.Parallel()
			s := Start(t, hook)
			if s.Hook != hook || s.Port == 0 || s.URL != "http://127.0.0.1:"+strconv.Itoa(s.Port) {
				t.Fatalf("Server = {Hook:%q Port:%d URL:%q}", s.Hook, s.Port, s.URL)
			}
			checkVersions(t, s)

			var echo struct {
				Method   string            `json:"method"`
				Path     string            `json:"path"`
				Query    map[string]any    `json:"query"`
				Headers  map[string]string `json:"headers"`
				IsSocket bool              `json:"isSocket"`
				IP       string            `json:"ip"`
			}
			resp := getJSON(t, s.URL+"/echo?x=1", http.Header{"X-Custom": {"hello"}}, &echo)
			if resp.Header.Get("X-Echo") != "1" {
				t.Errorf("x-echo response header = %q, want 1", resp.Header.Get("X-Echo"))
			}
			if echo.Method != "GET" || echo.Path != "/echo" || echo.Query["x"] != "1" ||
				echo.Headers["x-custom"] != "hello" || echo.IsSocket || echo.IP != "127.0.0.1" {
				t.Errorf("echo = %+v", echo)
			}
		})
	}
}

func TestConcurrentServers(t *testing.T) {
	t.Parallel()
	a := Start(t, "hook3")
	b := Start(t, "hook3")
	if a.Port == b.Port {
		t.Fatalf("both servers on port %d", a.Port)
	}
	checkVersions(t, a)
	checkVersions(t, b)
}

// TestLaunch uses the program API: no TB, the caller stops the server.
func TestLaunch(t *testing.T) {
	t.Parallel()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := checkPrereqs(root, "hook3"); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*readyTimeout)
	defer cancel()
	s, err := Launch(ctx, "hook3", WithEnv("SAILSIO_LOG_LEVEL", "warn"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	checkVersions(t, s)
	port := s.Port
	if err := s.Relaunch(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Port != port || !s.Running() {
		t.Fatalf("after Relaunch: port %d (was %d), running %v", s.Port, port, s.Running())
	}
	s.Stop()
	refused(t, port)

	// A context that has ended stops the wait for the ready line, and the process with it.
	ended, cancelEnded := context.WithCancel(context.Background())
	cancelEnded()
	if _, err := Launch(ended, "hook3"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Launch with an ended context: %v, want context.Canceled", err)
	}
}

// TestLaunchErrors checks the errors Launch's setup returns instead of skipping or failing a test.
func TestLaunchErrors(t *testing.T) {
	root := t.TempDir()
	hookDir := filepath.Join(root, "testdata", "sails", "hook3")
	if err := os.MkdirAll(hookDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hookDir, "package.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := newServer(root, "hook3")
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "npm ci --prefix testdata/sails/hook3") {
		t.Errorf("node_modules missing: %v, want ErrNotInstalled naming the install command", err)
	}
	for _, hook := range []string{"hook9", "hook2"} { // unknown; known but no directory under root
		if _, err := newServer(root, hook); err == nil || errors.Is(err, ErrNotInstalled) {
			t.Errorf("%s: %v, want an error other than ErrNotInstalled", hook, err)
		}
	}
	if _, err := newServer(root, "hook3", WithEnv("SAILSIO_PORT", "1")); err == nil || !strings.Contains(err.Error(), "SAILSIO_PORT") {
		t.Errorf("SAILSIO_PORT: %v", err)
	}
	if _, err := newServer(root, "hook3", WithEnv("SAILSIO_APP", "webapp")); err == nil || !strings.Contains(err.Error(), "WithApp") {
		t.Errorf("SAILSIO_APP: %v", err)
	}
	if _, err := newServer(root, "hook3", WithApp("shop")); err == nil || errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), `unknown app "shop"`) {
		t.Errorf("WithApp(shop): %v", err)
	}
}

func refused(t *testing.T, port int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), testkit.D(2*time.Second))
	if err == nil {
		c.Close()
		t.Fatalf("port %d still accepts connections", port)
	}
	if runtime.GOOS != "windows" && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial port %d: %v, want connection refused", port, err)
	}
}

func TestStopRestartKill(t *testing.T) {
	t.Parallel()
	s := Start(t, "hook3")
	port := s.Port
	if !s.Running() {
		t.Fatal("Running() = false after Start")
	}

	start := time.Now()
	s.Stop()
	t.Logf("Stop took %v", time.Since(start))
	if s.Running() {
		t.Fatal("Running() = true after Stop")
	}
	refused(t, port)
	s.Stop() // idempotent

	s.Restart(t)
	if s.Port != port {
		t.Fatalf("Restart moved the server from port %d to %d", port, s.Port)
	}
	checkVersions(t, s)

	s.Kill()
	refused(t, port)
	s.Kill()
	s.Stop()

	// A taken port is reported as such (Start retries on another port; Restart cannot).
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	err = s.launch(context.Background(), port, time.Now().Add(readyTimeout))
	l.Close()
	if !errors.Is(err, errAddrInUse) {
		t.Fatalf("launch on a taken port: %v, want errAddrInUse", err)
	}
	if s.Running() {
		t.Fatal("Running() = true after a failed launch")
	}

	s.Restart(t)
	checkVersions(t, s)
	if !strings.Contains(s.Output(), "SAILSIO_READY "+strconv.Itoa(port)) {
		t.Errorf("Output() lacks the ready line:\n%s", s.Output())
	}
}

// handshake performs a WebSocket upgrade to the server's socket.io endpoint and returns the HTTP
// status, and for a 101 the first WebSocket message (the Engine.IO open packet).
func handshake(t *testing.T, s *Server, header map[string]string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), testkit.Short)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testkit.Wait))
	req := "GET /socket.io/?__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=node&__sails_io_sdk_language=javascript&EIO=3&transport=websocket HTTP/1.1\r\n" +
		"Host: 127.0.0.1:" + strconv.Itoa(s.Port) + "\r\n" +
		"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for k, v := range header {
		req += k + ": " + v + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading upgrade response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		return resp.StatusCode, ""
	}
	// One unmasked server frame: FIN+text, then a 7-bit or 16-bit length.
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		t.Fatalf("reading frame: %v", err)
	}
	n := int(hdr[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			t.Fatal(err)
		}
		n = int(ext[0])<<8 | int(ext[1])
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatalf("reading frame payload: %v", err)
	}
	return resp.StatusCode, string(payload)
}

func TestWithEnv(t *testing.T) {
	for _, hook := range append(Hooks(), LegacyHooks()...) {
		t.Run(hook, func(t *testing.T) {
			t.Parallel()
			s := Start(t, hook,
				WithEnv("SAILSIO_PING_INTERVAL", "1234"),
				WithEnv("SAILSIO_PING_TIMEOUT", "4321"),
				WithEnv("SAILSIO_ONLY_ALLOW_ORIGINS", "http://good.example, http://also.example"),
			)
			status, open := handshake(t, s, map[string]string{"Origin": "http://also.example"})
			if status != http.StatusSwitchingProtocols {
				t.Fatalf("allowed origin: status %d, want 101", status)
			}
			if !strings.HasPrefix(open, "0{") || !strings.Contains(open, `"pingInterval":1234`) || !strings.Contains(open, `"pingTimeout":4321`) {
				t.Errorf("open packet %q lacks the configured ping settings", open)
			}
			if status, _ := handshake(t, s, map[string]string{"Origin": "http://evil.example"}); status != http.StatusBadRequest {
				t.Errorf("other origin: status %d, want 400", status)
			}
			if status, _ := handshake(t, s, nil); status != http.StatusBadRequest {
				t.Errorf("no origin: status %d, want 400", status)
			}
		})
	}
}

func TestBeforeConnectReject(t *testing.T) {
	t.Parallel()
	s := Start(t, "hook2", WithEnv("SAILSIO_BEFORE_CONNECT_REJECT", "1"))
	if status, _ := handshake(t, s, nil); status != http.StatusSwitchingProtocols {
		t.Errorf("plain handshake: status %d, want 101", status)
	}
	if status, _ := handshake(t, s, map[string]string{"X-Reject": "1"}); status != http.StatusBadRequest {
		t.Errorf("x-reject handshake: status %d, want 400", status)
	}
}

// fakeTB records Skipf/Fatalf and ends the goroutine like the real ones do.
type fakeTB struct {
	testing.TB
	skipped, failed string
	cleanups        []func()
}

func (f *fakeTB) Helper()          {}
func (f *fakeTB) Cleanup(c func()) { f.cleanups = append(f.cleanups, c) }
func (f *fakeTB) Failed() bool     { return f.failed != "" }
func (f *fakeTB) Logf(format string, args ...any) {
	f.TB.Logf("fakeTB.Logf: "+format, args...)
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// runStart calls start with a fakeTB in its own goroutine and returns the fakeTB.
func runStart(t *testing.T, root, hook string, opts ...Option) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		start(f, root, hook, opts...)
		f.failed = "start returned"
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return f
}

// TestMissingPrerequisites covers the skip/fail decisions; it changes the environment, so it does
// not run in parallel.
func TestMissingPrerequisites(t *testing.T) {
	root := t.TempDir()
	hookDir := filepath.Join(root, "testdata", "sails", "hook3")
	if err := os.MkdirAll(hookDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hookDir, "package.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("unknown hook", func(t *testing.T) {
		f := runStart(t, root, "hook9")
		if !strings.Contains(f.failed, `unknown hook "hook9"`) || f.skipped != "" {
			t.Errorf("failed=%q skipped=%q", f.failed, f.skipped)
		}
	})
	t.Run("hook dir missing", func(t *testing.T) {
		f := runStart(t, root, "hook2") // known name, but no such directory under root
		if !strings.Contains(f.failed, "hook2") || f.skipped != "" {
			t.Errorf("failed=%q skipped=%q", f.failed, f.skipped)
		}
	})
	t.Run("SAILSIO_PORT", func(t *testing.T) {
		f := runStart(t, root, "hook3", WithEnv("SAILSIO_PORT", "1"))
		if !strings.Contains(f.failed, "SAILSIO_PORT") {
			t.Errorf("failed=%q skipped=%q", f.failed, f.skipped)
		}
	})
	t.Run("node_modules missing", func(t *testing.T) {
		t.Setenv("CI", "")
		f := runStart(t, root, "hook3")
		if f.failed != "" || !strings.Contains(f.skipped, "run: npm ci --prefix testdata/sails/hook3") {
			t.Errorf("CI unset: failed=%q skipped=%q", f.failed, f.skipped)
		}
		t.Setenv("CI", "true")
		f = runStart(t, root, "hook3")
		if f.skipped != "" || !strings.Contains(f.failed, "run: npm ci --prefix testdata/sails/hook3") || !strings.Contains(f.failed, "CI=true") {
			t.Errorf("CI=true: failed=%q skipped=%q", f.failed, f.skipped)
		}
	})
	t.Run("node missing", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		t.Setenv("CI", "")
		f := runStart(t, root, "hook3")
		if f.failed != "" || !strings.Contains(f.skipped, "node is not on PATH") {
			t.Errorf("failed=%q skipped=%q", f.failed, f.skipped)
		}
	})
}

// TestStartFailure checks that a server that cannot lift fails the test with its output.
func TestStartFailure(t *testing.T) {
	t.Parallel()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := checkPrereqs(root, "hook3"); err != nil {
		t.Skip(err)
	}
	f := runStart(t, root, "hook3", WithEnv("SAILSIO_PING_INTERVAL", "soon"))
	if !strings.Contains(f.failed, "exited before it was ready") || !strings.Contains(f.failed, "SAILSIO_PING_INTERVAL must be") {
		t.Errorf("failed=%q", f.failed)
	}
}

func TestFindRoot(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "testdata", "sails", "app", "lift.js")); err != nil {
		t.Errorf("root %s: %v", root, err)
	}
	if _, err := findRoot(t.TempDir()); err == nil {
		t.Error("findRoot(temp dir) succeeded")
	}
	for in, want := range map[string]string{
		"module github.com/sailsio-go/sailsio\n\ngo 1.22\n": modulePath,
		"// c\nmodule \"example.com/x\" // comment\n":       "example.com/x",
		"modulex foo\n": "",
		"go 1.22\n":     "",
	} {
		if got := moduleOf([]byte(in)); got != want {
			t.Errorf("moduleOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	b := newTailBuffer(8)
	fmt.Fprint(b, "hello")
	if b.String() != "hello" {
		t.Fatalf("got %q", b.String())
	}
	fmt.Fprint(b, " world!")
	if b.String() != "[...]o world!" {
		t.Fatalf("got %q", b.String())
	}
}

func TestReadyWriter(t *testing.T) {
	r := &readyWriter{want: "SAILSIO_READY 80", w: io.Discard, ready: make(chan struct{})}
	for _, chunk := range []string{"noise\nSAILSIO_READY 8", "0", "0\n", "SAILSIO_READ", "Y 80\r", "\nmore\n"} {
		r.Write([]byte(chunk))
	}
	select {
	case <-r.ready:
	default:
		t.Fatal("ready line not detected")
	}
	r2 := &readyWriter{want: "SAILSIO_READY 80", w: io.Discard, ready: make(chan struct{})}
	r2.Write([]byte("SAILSIO_READY 800\nxSAILSIO_READY 80\n"))
	select {
	case <-r2.ready:
		t.Fatal("wrong line accepted")
	default:
	}
}

// TestWebApp lifts the webapp (the Web App template's look-alike) with each hook: GET / renders
// the homepage with window.SAILS_LOCALS holding a CSRF token, and an unsafe request without the
// token is refused 403, with it let through (to the is-logged-in policy: 401).
func TestWebApp(t *testing.T) {
	for _, hook := range Hooks() {
		t.Run(hook, func(t *testing.T) {
			t.Parallel()
			s := Start(t, hook, WithApp("webapp"))
			if s.App != "webapp" {
				t.Fatalf("App = %q, want webapp", s.App)
			}
			checkVersions(t, s)

			resp, err := httpClient.Get(s.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			page, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("GET /: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			m := sailsLocalsCSRF.FindSubmatch(page)
			if m == nil {
				t.Fatalf("GET /: no window.SAILS_LOCALS with a _csrf in\n%s", page)
			}
			token := string(m[1])
			var cookie *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == "sails.sid" {
					cookie = c
				}
			}
			if cookie == nil {
				t.Fatalf("GET /: no sails.sid cookie in %v", resp.Header["Set-Cookie"])
			}
			t.Logf("%s: GET / exposes _csrf %q", hook, token)

			put := func(tok string) int {
				t.Helper()
				req, err := http.NewRequest(http.MethodPut, s.URL+"/api/v1/entrance/login", strings.NewReader(`{"emailAddress":"nobody@example.com","password":"x"}`))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json")
				req.AddCookie(cookie)
				if tok != "" {
					req.Header.Set("X-Csrf-Token", tok)
				}
				resp, err := httpClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := put(""); got != http.StatusForbidden {
				t.Errorf("PUT login without a token: status %d, want 403", got)
			}
			if got := put(token); got != http.StatusUnauthorized {
				t.Errorf("PUT login with the token, unknown user: status %d, want 401", got)
			}
		})
	}
}

// sailsLocalsCSRF finds the token in what exposeLocalsToBrowser renders:
// window.SAILS_LOCALS = { _csrf: unescape('...'), ... }.
var sailsLocalsCSRF = regexp.MustCompile(`window\.SAILS_LOCALS = \{ _csrf: unescape\('([^']+)'\)`)
