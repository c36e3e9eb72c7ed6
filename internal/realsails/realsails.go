// Package realsails runs the real Sails.js test servers of testdata/sails, for integration tests and
// for programs such as the benchmark (go run ./bench).
//
// The testdata holds two small Sails 1.5 apps (testdata/sails/app, the shared test app, and
// testdata/sails/webapp, a look-alike of the `sails new` Web App template: see [WithApp]) and one
// directory per sails-hook-sockets major version (testdata/sails/hook1, hook2 and hook3), each
// with its own package.json and lockfile. A server is one app lifted with the node_modules of one
// hook directory, on a free 127.0.0.1 port.
//
// The package has two entry points over one launcher. [Launch] is for any program (the package does
// not import testing): it returns the running server or an error, and the caller stops the server
// with [Server.Stop]:
//
//	srv, err := realsails.Launch(ctx, "hook3")
//	if err != nil {
//		return err // matches realsails.ErrNotInstalled when Node.js or node_modules is missing
//	}
//	defer srv.Stop()
//
// [Start] is for tests: it takes the test (any [TB], such as *testing.T), stops the server when the
// test ends, and skips the test when Node.js or the hook's node_modules is missing (it fails the test
// instead when the environment variable CI is "true"):
//
//	srv := realsails.Start(t, "hook3", realsails.WithEnv("SAILSIO_PING_INTERVAL", "1000"))
//	resp, err := http.Get(srv.URL + "/version")
//
// A server exits by itself when the process that started it dies (its stdin pipe closes).
// See testdata/sails/README.md for the app's routes and its SAILSIO_* settings.
package realsails

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// modulePath identifies the repository root: the directory whose go.mod declares this module.
const modulePath = "github.com/sailsio-go/sailsio"

const (
	// readyTimeout bounds how long Launch and Relaunch wait for the SAILSIO_READY line, and
	// separately how long they wait for a lift slot (see liftSlots).
	readyTimeout = 60 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
	stopGrace = 5 * time.Second
	// killWait bounds the wait for the process after SIGKILL.
	killWait = 5 * time.Second
	// launchAttempts is how many ports Launch and Start try when lifting fails with EADDRINUSE.
	launchAttempts = 3
	// outputLimit is how many bytes of the server's combined stdout/stderr are kept.
	outputLimit = 64 << 10
	// readyPrefix starts the line the launcher prints once the app is lifted.
	readyPrefix = "SAILSIO_READY "
)

// liftSlots bounds how many servers of this process (a test binary, say) are lifting at once. Lifting is CPU-bound
// (about 1.5 s of CPU each), so on a busy machine unbounded parallel lifts would all run late.
var liftSlots = make(chan struct{}, max(2, runtime.NumCPU()))

// hooks lists the hook directories under testdata/sails that the tests cover in full.
var hooks = []string{"hook2", "hook3"}

// legacyHooks lists the hook directories under testdata/sails that the tests cover with a subset
// of the scenarios.
var legacyHooks = []string{"hook1"}

// Hooks lists the hook directories the tests cover in full: "hook2" (sails-hook-sockets 2.x,
// socket.io 2.x, Engine.IO v3 only) and "hook3" (sails-hook-sockets 3.x, socket.io 4.x, Engine.IO
// v4 and v3). The returned slice is a copy.
func Hooks() []string {
	return append([]string(nil), hooks...)
}

// LegacyHooks lists the hook directories of older generations, which [Start] and [Launch] lift
// like the others but which tests cover with a subset of their scenarios (to keep the test run
// short): "hook1" (sails-hook-sockets 1.5.5, socket.io 2.0.3, Engine.IO v3 only), the generation
// many existing apps still pin. The returned slice is a copy.
func LegacyHooks() []string {
	return append([]string(nil), legacyHooks...)
}

// An Option configures a server started by [Launch] or [Start].
type Option func(*config)

type config struct {
	env []string // KEY=VALUE
	app string   // WithApp; "" is "app"
}

// apps lists the test apps under testdata/sails that the launcher lifts (SAILSIO_APP).
var apps = []string{"app", "webapp"}

// Apps lists the test apps a server can lift ([WithApp]): "app", the shared test app the
// conformance suite mirrors (the default), and "webapp", a small look-alike of what `sails new`
// generates with the Web App template (CSRF on, a homepage exposing the token, signup and login,
// a model behind the is-logged-in policy). The returned slice is a copy.
func Apps() []string {
	return append([]string(nil), apps...)
}

// WithApp selects the test app the server lifts: "app" (the default) or "webapp" (see [Apps] and
// testdata/sails/README.md). An unknown name is an error of Launch, and fails the test of Start.
func WithApp(name string) Option {
	return func(c *config) { c.app = name }
}

// WithEnv sets an environment variable for the server process, typically one of the SAILSIO_*
// settings read by the test app:
//
//	SAILSIO_PING_INTERVAL, SAILSIO_PING_TIMEOUT   sockets.pingInterval / pingTimeout in ms
//	SAILSIO_ONLY_ALLOW_ORIGINS                    comma-separated sockets.onlyAllowOrigins
//	SAILSIO_BEFORE_CONNECT_REJECT                 "1": refuse handshakes carrying an x-reject header
//	SAILSIO_MAX_BUFFER                            sockets.maxHttpBufferSize in bytes
//	SAILSIO_LOG_LEVEL                             Sails log level (default "warn")
//	SAILSIO_SESSION_FILE                          keep sessions in this JSON file, so they survive a restart
//	SAILSIO_DATA_DIR                              webapp: keep the records in files there, so they survive a restart
//
// SAILSIO_PORT is chosen by the launcher and SAILSIO_APP by WithApp; neither can be set. Later
// calls for the same key win.
func WithEnv(key, value string) Option {
	return func(c *config) { c.env = append(c.env, key+"="+value) }
}

// Server is a running (or stopped) Sails test server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, "http://127.0.0.1:PORT".
	URL string
	// Hook is the hook directory name: "hook1", "hook2" or "hook3".
	Hook string
	// App is the test app the server lifts, "app" or "webapp" (WithApp).
	App string
	// Port is the TCP port on 127.0.0.1. It stays the same across Relaunch and Restart.
	Port int

	dir  string   // absolute hook directory
	node string   // path of the node binary
	env  []string // full environment for the process, without SAILSIO_PORT

	out *tailBuffer // combined output of every process this Server ran

	mu    sync.Mutex
	proc  *process // nil when stopped
	shown bool     // the output was already included in a failure message
}

// ErrNotInstalled is matched (with errors.Is) by the error of [Launch] when node is not on PATH or the
// hook's node_modules is missing; the error's text names the command that installs them.
var ErrNotInstalled = errors.New("realsails: Node.js or the test servers' node_modules is not installed")

// Launch lifts the test app (the shared one unless [WithApp] names another) with the given hook's
// node_modules on a free 127.0.0.1 port and waits for it to print its ready line (at most 60 s, or
// until ctx ends); if the port was taken in between, it retries on another port. Lifting is
// CPU-bound, so at most max(2, NumCPU) servers of one process lift at a time; the wait for a turn
// is bounded by another 60 s.
//
// The caller stops the server with [Server.Stop]. If the calling process dies first, the server exits
// by itself (its stdin pipe closes). When lifting fails, the error includes the tail of the server's
// output. An unknown hook name is an error; a missing node binary or node_modules is an error that
// matches [ErrNotInstalled].
func Launch(ctx context.Context, hook string, opts ...Option) (*Server, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, fmt.Errorf("realsails: %w", err)
	}
	s, err := newServer(root, hook, opts...)
	if err != nil {
		return nil, err
	}
	if err := s.liftOnFreePort(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// newServer checks the options and the prerequisites and returns a stopped server. Its errors start
// with "realsails: "; a missing prerequisite matches ErrNotInstalled.
func newServer(root, hook string, opts ...Option) (*Server, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	for _, kv := range cfg.env {
		key, _, _ := strings.Cut(kv, "=")
		if key == "" || strings.ContainsRune(key, 0) {
			return nil, fmt.Errorf("realsails: WithEnv: invalid key %q", key)
		}
		if key == "SAILSIO_PORT" {
			return nil, errors.New("realsails: WithEnv: SAILSIO_PORT is chosen by the launcher")
		}
		if key == "SAILSIO_APP" {
			return nil, errors.New("realsails: WithEnv: SAILSIO_APP is set by WithApp")
		}
	}
	app := cfg.app
	if app == "" {
		app = "app"
	}
	if !slices.Contains(apps, app) {
		return nil, fmt.Errorf("realsails: WithApp: unknown app %q (known: %s)", app, strings.Join(apps, ", "))
	}
	dir, node, err := checkPrereqs(root, hook)
	if err != nil {
		return nil, fmt.Errorf("realsails: %w", err)
	}
	return &Server{
		Hook: hook,
		App:  app,
		dir:  dir,
		node: node,
		env:  buildEnv(os.Environ(), append(cfg.env, "SAILSIO_APP="+app)),
		out:  newTailBuffer(outputLimit),
	}, nil
}

// liftOnFreePort launches s on a free port, trying another one when the port was taken in between.
// On failure the error carries the tail of the server's output, and s.shown is set.
func (s *Server) liftOnFreePort(ctx context.Context) error {
	deadline := time.Now().Add(readyTimeout)
	var lastErr error
	for attempt := 0; attempt < launchAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			return fmt.Errorf("realsails: %w", err)
		}
		err = s.launch(ctx, port, deadline)
		if err == nil {
			return nil
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	s.mu.Lock()
	s.shown = true
	s.mu.Unlock()
	return fmt.Errorf("realsails: starting %s: %w\n--- server output (tail) ---\n%s", s.Hook, lastErr, s.Output())
}

// Stop stops the server now: SIGTERM to its process group, SIGKILL if it is still running a few
// seconds later. It returns once the process has been waited for. Stop is idempotent; a stopped
// server can be started again with Relaunch or Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.stop(stopGrace)
	}
}

// Kill stops the server abruptly with SIGKILL to its process group (no graceful close of its
// connections), as a crash would, and waits for the process. Like Stop it is idempotent.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.stop(0)
	}
}

// Relaunch stops the server if it is running and lifts it again on the same port, with the same
// hook and options, waiting (at most 60 s, or until ctx ends) for it to be ready. It fails if the
// server cannot be started, for example because another process took the port in between; the error
// then includes the tail of the server's output.
func (s *Server) Relaunch(ctx context.Context) error {
	s.Stop()
	deadline := time.Now().Add(readyTimeout)
	// After a stop the port is normally free at once; give a slow exit a few seconds.
	retryUntil := time.Now().Add(5 * time.Second)
	for {
		err := s.launch(ctx, s.Port, deadline)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errAddrInUse) || time.Now().After(retryUntil) || ctx.Err() != nil {
			s.mu.Lock()
			s.shown = true
			s.mu.Unlock()
			return fmt.Errorf("realsails: restarting %s on port %d: %w\n--- server output (tail) ---\n%s", s.Hook, s.Port, err, s.Output())
		}
		// Nothing signals that another process released the port: poll it.
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// Running reports whether the server process is running (it may have exited on its own, for
// example after a crash).
func (s *Server) Running() bool {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Output returns the tail (at most 64 KiB) of the server's combined stdout and stderr, across
// restarts.
func (s *Server) Output() string {
	return s.out.String()
}

var errAddrInUse = errors.New("port already in use")

// launch starts the node process on port and waits until it is ready, it exits, deadline passes or
// ctx ends. On success it sets s.proc, s.Port and s.URL.
func (s *Server) launch(ctx context.Context, port int, deadline time.Time) error {
	s.mu.Lock()
	running := s.proc != nil
	s.mu.Unlock()
	if running {
		return errors.New("already running")
	}
	// Wait for a lift slot (bounded by the deadline); the readiness wait below then gets a full
	// readyTimeout of its own, so a long queue does not eat into it.
	slotTimer := time.NewTimer(time.Until(deadline))
	select {
	case liftSlots <- struct{}{}:
		slotTimer.Stop()
	case <-slotTimer.C:
		return fmt.Errorf("no lift slot within %v (too many servers starting at once)", readyTimeout)
	case <-ctx.Done():
		slotTimer.Stop()
		return ctx.Err()
	}
	defer func() { <-liftSlots }()
	deadline = time.Now().Add(readyTimeout)

	fmt.Fprintf(s.out, "--- realsails: starting %s on 127.0.0.1:%d\n", s.Hook, port)
	began := time.Now()

	// This launch's output goes to its own buffer (to look for EADDRINUSE) and to s.out.
	own := newTailBuffer(outputLimit)
	out := io.MultiWriter(own, s.out)
	cmd := exec.Command(s.node, "server.js")
	cmd.Dir = s.dir
	cmd.Env = append(append([]string(nil), s.env...), "SAILSIO_PORT="+strconv.Itoa(port))
	ready := &readyWriter{want: readyPrefix + strconv.Itoa(port), w: out, ready: make(chan struct{})}
	cmd.Stdout = ready
	cmd.Stderr = out
	// If this process dies without stopping the server, the pipe closes and the launcher exits on
	// its own (SAILSIO_EXIT_ON_STDIN_EOF, set by buildEnv).
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	cmd.WaitDelay = 2 * time.Second
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting node: %w", err)
	}
	p := &process{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-ready.ready:
		fmt.Fprintf(s.out, "--- realsails: %s ready after %v\n", s.Hook, time.Since(began).Round(time.Millisecond))
		s.mu.Lock()
		s.proc = p
		if s.Port != port { // only on the first launch: Relaunch keeps the port
			s.Port = port
			s.URL = "http://127.0.0.1:" + strconv.Itoa(port)
		}
		s.mu.Unlock()
		return nil
	case <-p.done:
		if strings.Contains(own.String(), "EADDRINUSE") {
			return fmt.Errorf("%w (127.0.0.1:%d): %v", errAddrInUse, port, p.err)
		}
		return fmt.Errorf("server exited before it was ready: %v", p.err)
	case <-timer.C:
		p.stop(stopGrace)
		return fmt.Errorf("server not ready within %v", readyTimeout)
	case <-ctx.Done():
		p.stop(stopGrace)
		return fmt.Errorf("waiting for the server: %w", ctx.Err())
	}
}

// process is one running node process.
type process struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed once cmd.Wait has returned
	err   error         // cmd.Wait's result; read after done is closed
	once  sync.Once
}

// stop signals the process group (SIGTERM, or SIGKILL at once when grace is 0), escalates to
// SIGKILL after grace, and waits for the process.
func (p *process) stop(grace time.Duration) {
	p.once.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		if grace > 0 {
			terminate(p.cmd)
			select {
			case <-p.done:
				return
			case <-time.After(grace):
			}
		}
		kill(p.cmd)
		select {
		case <-p.done:
		case <-time.After(killWait):
			// The process could not be reaped (this should not happen after SIGKILL); closing
			// stdin makes the launcher exit on its own if it is somehow still alive.
			p.stdin.Close()
		}
	})
}

// missingError reports a missing prerequisite (node or node_modules): Launch's error matches
// ErrNotInstalled, and Start skips the test, or fails it when CI=true.
type missingError struct{ msg string }

func (e *missingError) Error() string { return e.msg }

// Is makes a missingError match ErrNotInstalled.
func (e *missingError) Is(target error) bool { return target == ErrNotInstalled }

// checkPrereqs returns the hook directory and the node binary, or an error; a *missingError when
// node or the hook's node_modules is missing.
func checkPrereqs(root, hook string) (dir, node string, err error) {
	all := append(Hooks(), legacyHooks...)
	known := slices.Contains(all, hook)
	rel := filepath.Join("testdata", "sails", hook)
	dir = filepath.Join(root, rel)
	if !known {
		return "", "", fmt.Errorf("unknown hook %q (known: %s)", hook, strings.Join(all, ", "))
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return "", "", fmt.Errorf("hook %q: %v", hook, err)
	}
	install := fmt.Sprintf("run: npm ci --prefix %s (./test.sh does this for every hook directory)", filepath.ToSlash(rel))
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", &missingError{"node is not on PATH; install Node.js, then " + install}
	}
	for _, pkg := range []string{"sails", "sails-hook-sockets", "sails-hook-orm", "sails-disk"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			return "", "", &missingError{fmt.Sprintf("%s/node_modules/%s is missing; %s", filepath.ToSlash(rel), pkg, install)}
		}
	}
	return dir, node, nil
}

// Versions are the versions the app actually loaded, as reported by its GET /version route.
type Versions struct {
	Sails    string `json:"sails"`    // sails
	Hook     string `json:"hook"`     // sails-hook-sockets
	SocketIO string `json:"socketio"` // socket.io (the server)
	EngineIO string `json:"engineio"` // engine.io (the server)
	ORM      string `json:"orm"`      // sails-hook-orm
	Node     string `json:"node"`     // Node.js, without the leading "v"
}

// Versions asks the running server which versions it loaded (GET /version, over HTTP).
func (s *Server) Versions(ctx context.Context) (Versions, error) {
	var v Versions
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/version", nil)
	if err != nil {
		return v, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return v, fmt.Errorf("realsails: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return v, fmt.Errorf("realsails: GET /version: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("realsails: GET /version: status %d: %.200s", resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("realsails: GET /version: %w", err)
	}
	return v, nil
}

// Root returns the repository root, the directory whose go.mod declares module
// github.com/sailsio-go/sailsio, found from the working directory upwards. The test apps are in
// testdata/sails under it.
func Root() (string, error) { return repoRoot() }

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// repoRoot walks up from the working directory to the directory whose go.mod declares modulePath.
func repoRoot() (string, error) {
	rootOnce.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		rootDir, rootErr = findRoot(wd)
	})
	return rootDir, rootErr
}

func findRoot(dir string) (string, error) {
	for d := dir; ; {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && moduleOf(data) == modulePath {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod for module %s in %s or its parents", modulePath, dir)
		}
		d = parent
	}
}

// moduleOf returns the module path declared in a go.mod file.
func moduleOf(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			rest, _, _ = strings.Cut(rest, "//")
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// buildEnv returns base without any SAILSIO_* or NODE_ENV variables, plus extra, plus the variable
// that makes the launcher exit when its stdin closes.
func buildEnv(base, extra []string) []string {
	env := make([]string, 0, len(base)+len(extra)+1)
	for _, kv := range base {
		if strings.HasPrefix(kv, "SAILSIO_") || strings.HasPrefix(kv, "NODE_ENV=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, extra...)
	return append(env, "SAILSIO_EXIT_ON_STDIN_EOF=1")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	cut   bool // whether bytes were dropped from the front
}

func newTailBuffer(limit int) *tailBuffer { return &tailBuffer{limit: limit} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.limit; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.cut = true
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cut {
		return "[...]" + string(b.buf)
	}
	return string(b.buf)
}

// readyWriter copies the server's stdout to w and closes ready when it sees the line want.
type readyWriter struct {
	want  string
	w     io.Writer
	ready chan struct{}

	mu   sync.Mutex
	line []byte // current partial line, capped
	seen bool
}

func (r *readyWriter) Write(p []byte) (int, error) {
	r.w.Write(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range p {
		if r.seen {
			break
		}
		if c != '\n' {
			if len(r.line) < 256 {
				r.line = append(r.line, c)
			}
			continue
		}
		if strings.TrimRight(string(r.line), "\r") == r.want {
			r.seen = true
			close(r.ready)
		}
		r.line = r.line[:0]
	}
	return len(p), nil
}
