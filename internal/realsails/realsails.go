// Package realsails runs the real Sails.js test servers in testdata/sails for integration tests.
//
// The testdata holds one small Sails 1.5 app (testdata/sails/app) and one directory per
// sails-hook-sockets major version (testdata/sails/hook2, testdata/sails/hook3), each with its own
// package.json and lockfile. [Start] lifts the shared app with the node_modules of one hook directory
// on a free 127.0.0.1 port and stops it when the test ends:
//
//	srv := realsails.Start(t, "hook3", realsails.WithEnv("SAILSIO_PING_INTERVAL", "1000"))
//	resp, err := http.Get(srv.URL + "/version")
//
// When Node.js or the hook's node_modules is missing, Start skips the test, naming the command that
// installs them; when the environment variable CI is "true" it fails the test instead.
// See testdata/sails/README.md for the app's routes and its SAILSIO_* settings.
package realsails

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// modulePath identifies the repository root: the directory whose go.mod declares this module.
const modulePath = "github.com/sailsio-go/sailsio"

const (
	// readyTimeout bounds how long Start and Restart wait for the SAILSIO_READY line, and
	// separately how long they wait for a lift slot (see liftSlots).
	readyTimeout = 60 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
	stopGrace = 5 * time.Second
	// killWait bounds the wait for the process after SIGKILL.
	killWait = 5 * time.Second
	// launchAttempts is how many ports Start tries when lifting fails with EADDRINUSE.
	launchAttempts = 3
	// outputLimit is how many bytes of the server's combined stdout/stderr are kept.
	outputLimit = 64 << 10
	// readyPrefix starts the line the launcher prints once the app is lifted.
	readyPrefix = "SAILSIO_READY "
)

// liftSlots bounds how many servers of this test binary are lifting at once. Lifting is CPU-bound
// (about 1.5 s of CPU each), so on a busy machine unbounded parallel lifts would all run late.
var liftSlots = make(chan struct{}, max(2, runtime.NumCPU()))

// hooks lists the hook directories under testdata/sails.
var hooks = []string{"hook2", "hook3"}

// Hooks lists the testdata apps: "hook2" (sails-hook-sockets 2.x, socket.io 2.x, Engine.IO v3 only)
// and "hook3" (sails-hook-sockets 3.x, socket.io 4.x, Engine.IO v4 and v3).
// The returned slice is a copy.
func Hooks() []string {
	return append([]string(nil), hooks...)
}

// An Option configures a server started by [Start].
type Option func(*config)

type config struct {
	env []string // KEY=VALUE
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
//
// SAILSIO_PORT is chosen by Start and cannot be set. Later calls for the same key win.
func WithEnv(key, value string) Option {
	return func(c *config) { c.env = append(c.env, key+"="+value) }
}

// Server is a running (or stopped) Sails test server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, "http://127.0.0.1:PORT".
	URL string
	// Hook is the hook directory name, "hook2" or "hook3".
	Hook string
	// Port is the TCP port on 127.0.0.1. It stays the same across Restart.
	Port int

	dir  string   // absolute hook directory
	node string   // path of the node binary
	env  []string // full environment for the process, without SAILSIO_PORT

	out *tailBuffer // combined output of every process this Server ran

	mu    sync.Mutex
	proc  *process // nil when stopped
	shown bool     // the output was already included in a failure message
}

// Start lifts the shared Sails app with the given hook's node_modules on a free 127.0.0.1 port and
// waits (at most 60 s) for it to print its ready line; if the port was taken in between, it retries
// on another port. Lifting is CPU-bound, so at most max(2, NumCPU) servers of one test binary lift
// at a time; the wait for a turn is bounded by another 60 s.
//
// Start registers a t.Cleanup that stops the server (SIGTERM to its process group, SIGKILL after a
// few seconds, then waits for the process) and, if the test failed, logs the tail of the server's
// output. The server also exits by itself if the test process dies (its stdin pipe closes).
//
// Start skips the test when node is not on PATH or the hook's node_modules is missing, or fails it
// instead when the environment variable CI is "true". An unknown hook name fails the test.
func Start(t testing.TB, hook string, opts ...Option) *Server {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("realsails: %v", err)
	}
	return start(t, root, hook, opts...)
}

// start is Start with the repository root given.
func start(t testing.TB, root, hook string, opts ...Option) *Server {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	for _, kv := range cfg.env {
		key, _, _ := strings.Cut(kv, "=")
		if key == "" || strings.ContainsRune(key, 0) {
			t.Fatalf("realsails: WithEnv: invalid key %q", key)
		}
		if key == "SAILSIO_PORT" {
			t.Fatalf("realsails: WithEnv: SAILSIO_PORT is chosen by Start")
		}
	}

	dir, node, err := checkPrereqs(root, hook)
	if err != nil {
		var miss *missingError
		if errors.As(err, &miss) {
			if os.Getenv("CI") == "true" {
				t.Fatalf("realsails: %v (CI=true: the real Sails servers must be installed)", err)
			}
			t.Skipf("realsails: %v; skipping", err)
		}
		t.Fatalf("realsails: %v", err)
	}

	s := &Server{
		Hook: hook,
		dir:  dir,
		node: node,
		env:  buildEnv(os.Environ(), cfg.env),
		out:  newTailBuffer(outputLimit),
	}
	t.Cleanup(func() {
		s.Stop()
		s.mu.Lock()
		shown := s.shown
		s.mu.Unlock()
		if t.Failed() && !shown {
			t.Logf("realsails: %s server output (tail):\n%s", s.Hook, s.Output())
		}
	})

	deadline := time.Now().Add(readyTimeout)
	var lastErr error
	for attempt := 0; attempt < launchAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("realsails: %v", err)
		}
		err = s.launch(port, deadline)
		if err == nil {
			return s
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	s.mu.Lock()
	s.shown = true
	s.mu.Unlock()
	t.Fatalf("realsails: starting %s: %v\n--- server output (tail) ---\n%s", hook, lastErr, s.Output())
	return nil
}

// Stop stops the server now: SIGTERM to its process group, SIGKILL if it is still running a few
// seconds later. It returns once the process has been waited for. Stop is idempotent; a stopped
// server can be started again with Restart.
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

// Restart stops the server if it is running and lifts it again on the same port, with the same
// hook and options, waiting (at most 60 s) for it to be ready. It fails t if the server cannot be
// started, for example because another process took the port in between.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	deadline := time.Now().Add(readyTimeout)
	// After a stop the port is normally free at once; give a slow exit a few seconds.
	retryUntil := time.Now().Add(5 * time.Second)
	for {
		err := s.launch(s.Port, deadline)
		if err == nil {
			return
		}
		if !errors.Is(err, errAddrInUse) || time.Now().After(retryUntil) {
			s.mu.Lock()
			s.shown = true
			s.mu.Unlock()
			t.Fatalf("realsails: restarting %s on port %d: %v\n--- server output (tail) ---\n%s", s.Hook, s.Port, err, s.Output())
		}
		time.Sleep(200 * time.Millisecond)
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

// launch starts the node process on port and waits until it is ready, it exits, or deadline passes.
// On success it sets s.proc, s.Port and s.URL.
func (s *Server) launch(port int, deadline time.Time) error {
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
		if s.Port != port { // only on the first launch: Restart keeps the port
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

// missingError reports a missing prerequisite (node or node_modules): the test is skipped, or
// fails when CI=true.
type missingError struct{ msg string }

func (e *missingError) Error() string { return e.msg }

// checkPrereqs returns the hook directory and the node binary, or an error; a *missingError when
// node or the hook's node_modules is missing.
func checkPrereqs(root, hook string) (dir, node string, err error) {
	known := false
	for _, h := range hooks {
		known = known || h == hook
	}
	rel := filepath.Join("testdata", "sails", hook)
	dir = filepath.Join(root, rel)
	if !known {
		return "", "", fmt.Errorf("unknown hook %q (known: %s)", hook, strings.Join(hooks, ", "))
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return "", "", fmt.Errorf("hook %q: %v", hook, err)
	}
	install := fmt.Sprintf("run: npm ci --prefix %s (./test.sh does this for both hooks)", filepath.ToSlash(rel))
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
