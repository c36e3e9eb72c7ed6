package main

import (
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
	"strconv"
	"strings"
	"sync"
	"time"
)

// The real Sails server: the shared test app in testdata/sails/app, lifted with the node_modules of
// one hook directory (testdata/sails/hook2 or hook3), the way internal/realsails does it for tests.

const (
	sailsReadyPrefix  = "SAILSIO_READY "
	sailsReadyTimeout = 90 * time.Second
	sailsStopGrace    = 5 * time.Second
	sailsKillWait     = 5 * time.Second
	sailsOutputLimit  = 64 << 10
)

var errAddrInUse = errors.New("port already in use")

// sailsServer is one running node process serving the test app on 127.0.0.1.
type sailsServer struct {
	URL  string
	Hook string

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed once cmd.Wait returned
	out   *tailBuffer
	once  sync.Once
}

// startSails lifts the app with the given hook on a free port and waits for its ready line.
func startSails(ctx context.Context, root, node, hook string) (*sailsServer, error) {
	dir := filepath.Join(root, "testdata", "sails", hook)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := launchSails(ctx, dir, node, hook, port)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return nil, lastErr
}

func launchSails(ctx context.Context, dir, node, hook string, port int) (*sailsServer, error) {
	s := &sailsServer{Hook: hook, done: make(chan struct{}), out: newTailBuffer(sailsOutputLimit)}
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Env = append(withoutSailsEnv(os.Environ()),
		"SAILSIO_PORT="+strconv.Itoa(port),
		// The server exits by itself when this program goes away and its stdin pipe closes.
		"SAILSIO_EXIT_ON_STDIN_EOF=1",
	)
	ready := &readyWriter{want: sailsReadyPrefix + strconv.Itoa(port), w: s.out, ready: make(chan struct{})}
	cmd.Stdout = ready
	cmd.Stderr = s.out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	cmd.WaitDelay = 2 * time.Second
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting node: %w", err)
	}
	s.cmd, s.stdin = cmd, stdin
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	timer := time.NewTimer(sailsReadyTimeout)
	defer timer.Stop()
	select {
	case <-ready.ready:
		s.URL = "http://127.0.0.1:" + strconv.Itoa(port)
		return s, nil
	case <-s.done:
		if strings.Contains(s.out.String(), "EADDRINUSE") {
			return nil, fmt.Errorf("%w (127.0.0.1:%d)", errAddrInUse, port)
		}
		return nil, fmt.Errorf("sails (%s) exited before it was ready%s", hook, indented(s.out.String()))
	case <-timer.C:
		s.Stop()
		return nil, fmt.Errorf("sails (%s) not ready within %v%s", hook, sailsReadyTimeout, indented(s.out.String()))
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
}

// Stop sends SIGTERM to the server's process group, SIGKILL if it is still there a few seconds
// later, and waits for it. It is idempotent.
func (s *sailsServer) Stop() {
	s.once.Do(func() {
		select {
		case <-s.done:
			return
		default:
		}
		terminate(s.cmd)
		select {
		case <-s.done:
			return
		case <-time.After(sailsStopGrace):
		}
		kill(s.cmd)
		select {
		case <-s.done:
		case <-time.After(sailsKillWait):
			_ = s.stdin.Close() // the launcher exits on stdin EOF
		}
	})
}

// Running reports whether the server process is still there.
func (s *sailsServer) Running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Versions asks the app which sails, hook, socket.io and node it runs (GET /version).
func (s *sailsServer) Versions(ctx context.Context) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/version", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v map[string]string
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&v); err != nil {
		return nil, fmt.Errorf("GET /version: %w", err)
	}
	return v, nil
}

// withoutSailsEnv drops inherited SAILSIO_* settings, so the server runs with the app's defaults.
func withoutSailsEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "SAILSIO_") {
			out = append(out, kv)
		}
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// readyWriter passes output through to w and closes ready once a whole line equal to want went by.
type readyWriter struct {
	want  string
	w     io.Writer
	ready chan struct{}

	mu   sync.Mutex
	line []byte
	seen bool
}

func (r *readyWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range p {
		if c != '\n' {
			if len(r.line) < 256 {
				r.line = append(r.line, c)
			}
			continue
		}
		if !r.seen && strings.TrimSuffix(string(r.line), "\r") == r.want {
			r.seen = true
			close(r.ready)
		}
		r.line = r.line[:0]
	}
	return r.w.Write(p)
}

// indented returns s on its own lines, indented, or "" when s is empty.
func indented(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return ""
	}
	return "\n    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	cut   bool
}

func newTailBuffer(limit int) *tailBuffer { return &tailBuffer{limit: limit} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.limit {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.limit:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(bytes.TrimSpace(t.buf))
	if t.cut {
		s = "[...]" + s
	}
	return s
}
