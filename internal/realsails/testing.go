package realsails

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/sailsio-go/sailsio/internal/skipnote"
)

// TB is the part of testing.TB that [Start] and [Server.Restart] use; *testing.T, *testing.B and
// *testing.F satisfy it. It lets this package serve tests without importing testing, so that
// programs can use [Launch].
type TB interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Start is [Launch] for a test: it lifts the test app (the shared one unless [WithApp] names another)
// with the given hook's node_modules on a free 127.0.0.1 port, and fails t if it cannot.
//
// Start registers a t.Cleanup that stops the server (SIGTERM to its process group, SIGKILL after a
// few seconds, then waits for the process) and, if the test failed, logs the tail of the server's
// output. The server also exits by itself if the test process dies (its stdin pipe closes).
//
// Start skips the test when node is not on PATH or the hook's node_modules is missing, or fails it
// instead when the environment variable CI is "true". An unknown hook name fails the test.
func Start(t TB, hook string, opts ...Option) *Server {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("realsails: %v", err)
	}
	return start(t, root, hook, opts...)
}

// start is Start with the repository root given.
func start(t TB, root, hook string, opts ...Option) *Server {
	t.Helper()
	s, err := newServer(root, hook, opts...)
	if err != nil {
		if errors.Is(err, ErrNotInstalled) {
			skipNotInstalled(t, err)
		}
		t.Fatalf("%v", err)
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
	if err := s.liftOnFreePort(context.Background()); err != nil {
		t.Fatalf("%v", err)
	}
	return s
}

// skipNotInstalled skips t because of err (a missing Node.js or node_modules), or fails it when CI
// is "true".
func skipNotInstalled(t TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (CI=true: the real Sails servers must be installed)", err)
	}
	skipnote.Note("the tests against real Sails servers", "run ./test.sh, which installs them (npm ci in testdata/sails/hook1, hook2 and hook3; it needs Node.js and npm)")
	t.Skipf("%v; skipping", err)
}

// Restart is [Server.Relaunch] for a test: it stops the server if it is running and lifts it again on
// the same port, with the same hook and options, failing t if it cannot.
func (s *Server) Restart(t TB) {
	t.Helper()
	if err := s.Relaunch(context.Background()); err != nil {
		t.Fatalf("%v", err)
	}
}

// shared holds the servers of Shared, by hook and options.
var shared struct {
	mu      sync.Mutex
	servers map[string]*sharedServer
}

type sharedServer struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared is [Start] for a server that several tests of a process use without stopping or
// restarting it: the first call for a hook and options lifts the server, later calls return the same
// one (or fail the same way). It stays up until [StopShared], which the test binary calls once its
// tests are done (testkit.AtEnd). Like Start, it skips t when Node.js or node_modules is missing, or
// fails it when CI is "true".
func Shared(t TB, hook string, opts ...Option) *Server {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	app := cfg.app
	if app == "" {
		app = "app"
	}
	key := hook + "\x00" + app + "\x00" + strings.Join(cfg.env, "\x00")
	shared.mu.Lock()
	if shared.servers == nil {
		shared.servers = map[string]*sharedServer{}
	}
	ss := shared.servers[key]
	if ss == nil {
		ss = &sharedServer{}
		shared.servers[key] = ss
	}
	shared.mu.Unlock()
	ss.once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			ss.err = fmt.Errorf("realsails: %w", err)
			return
		}
		s, err := newServer(root, hook, opts...)
		if err == nil {
			err = s.liftOnFreePort(context.Background())
		}
		ss.srv, ss.err = s, err
	})
	if ss.err != nil {
		if errors.Is(ss.err, ErrNotInstalled) {
			skipNotInstalled(t, ss.err)
		}
		t.Fatalf("%v", ss.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("realsails: shared %s server output (tail):\n%s", hook, ss.srv.Output())
		}
	})
	return ss.srv
}

// StopShared stops the servers of [Shared]; a later Shared lifts them again.
func StopShared() {
	shared.mu.Lock()
	servers := shared.servers
	shared.servers = nil
	shared.mu.Unlock()
	var wg sync.WaitGroup
	for _, ss := range servers {
		if ss.srv != nil {
			wg.Add(1)
			go func() { defer wg.Done(); ss.srv.Stop() }()
		}
	}
	wg.Wait()
}
