package realsails

import (
	"context"
	"errors"
	"os"

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

// Start is [Launch] for a test: it lifts the shared Sails app with the given hook's node_modules on
// a free 127.0.0.1 port, and fails t if it cannot.
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
			if os.Getenv("CI") == "true" {
				t.Fatalf("%v (CI=true: the real Sails servers must be installed)", err)
			}
			skipnote.Note("the tests against real Sails servers", "run ./test.sh, which installs them (npm ci in testdata/sails/hook2 and hook3; it needs Node.js and npm)")
			t.Skipf("%v; skipping", err)
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

// Restart is [Server.Relaunch] for a test: it stops the server if it is running and lifts it again on
// the same port, with the same hook and options, failing t if it cannot.
func (s *Server) Restart(t TB) {
	t.Helper()
	if err := s.Relaunch(context.Background()); err != nil {
		t.Fatalf("%v", err)
	}
}
