package testkit

import (
	"bytes"
	"fmt"
	"github.com/sailsio-go/sailsio/internal/skipnote"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Main runs the tests of a package (call it from TestMain), then fails the run if any goroutine of
// the module is still alive once the tests are done (after a bounded wait for those that are
// ending), printing their stacks: no test may leave a socket, server or connection behind.
func Main(m *testing.M) {
	code := m.Run()
	runAtEnd()
	skipnote.Print()
	if code == 0 {
		if leaked := Leaked(Wait); leaked != "" {
			fmt.Fprintf(os.Stderr, "testkit: goroutines left behind after the tests:\n\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// AtEnd registers f to run once the tests of the package are done, before the leak check: for
// what several tests share, such as a server lifted once (realsails.StopShared).
func AtEnd(f func()) {
	atEndMu.Lock()
	atEnd = append(atEnd, f)
	atEndMu.Unlock()
}

var (
	atEndMu sync.Mutex
	atEnd   []func()
)

func runAtEnd() {
	atEndMu.Lock()
	fs := atEnd
	atEnd = nil
	atEndMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// The module's packages whose goroutines tests look for.
const (
	// Root is the SDK's root package (its code, not its tests).
	Root = "github.com/sailsio-go/sailsio"
	// Engine is the Engine.IO session under the SDK.
	Engine = "github.com/sailsio-go/sailsio/internal/engine"
	// Mockserver is the fake Sails server.
	Mockserver = "github.com/sailsio-go/sailsio/mockserver"
)

// SDK lists the packages whose goroutines belong to a socket.
var SDK = []string{Root, Engine}

// Leaked waits up to d for the module's goroutines to end and returns the stacks of those left.
func Leaked(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		left := moduleGoroutines()
		if len(left) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(10 * time.Millisecond) // goroutines that end send no signal: poll
	}
}

// Goroutines returns the stacks of the module's goroutines alive now, other than the test runner's.
func Goroutines() []string { return moduleGoroutines() }

// Running returns the stacks of the goroutines that run code of one of the packages (import
// paths such as [Root]: a package's own functions, not its sub-packages' or its external tests'),
// or that such code started; the test runner's and testkit's goroutines are left out, and so are
// the mockserver's (which runs engine code too) unless [Mockserver] is named.
func Running(pkgs ...string) []string {
	mock := slices.Contains(pkgs, Mockserver)
	var out []string
	for _, g := range stacks() {
		if inPackages(g, pkgs) && (mock || !inPackages(g, []string{Mockserver})) {
			out = append(out, g)
		}
	}
	return out
}

// WaitRunning waits up to d until at most n goroutines run code of the packages (see [Running]),
// and fails t with their stacks otherwise. With n = 0 it is the check that a closed socket or
// server left nothing behind (use [Gone]). It counts the goroutines of the whole process: a test
// that calls it must not run in parallel with other tests that use those packages.
func WaitRunning(t testing.TB, n int, d time.Duration, what string, pkgs ...string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := Running(pkgs...)
		if len(left) <= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d goroutines of %v after %v, want at most %d:\n\n%s", what, len(left), pkgs, d, n, strings.Join(left, "\n\n"))
		}
		time.Sleep(5 * time.Millisecond) // goroutines that end send no signal: poll
	}
}

// Gone waits (up to Wait) until no goroutine runs code of the packages, [SDK] when none are named:
// what a closed socket must leave. See [WaitRunning].
func Gone(t testing.TB, what string, pkgs ...string) {
	t.Helper()
	if len(pkgs) == 0 {
		pkgs = SDK
	}
	WaitRunning(t, 0, Wait, what, pkgs...)
}

// inPackages reports whether a goroutine's stack has a frame of one of pkgs, or was created by one.
func inPackages(stack string, pkgs []string) bool {
	for _, line := range strings.Split(stack, "\n") {
		line = strings.TrimPrefix(line, "created by ")
		for _, p := range pkgs {
			if rest, ok := strings.CutPrefix(line, p+"."); ok && rest != "" && !strings.HasPrefix(rest, "Test") {
				return true
			}
		}
	}
	return false
}

// stacks returns the stacks of every goroutine but the test runner's and testkit's.
func stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		s := string(g)
		if strings.Contains(s, "internal/testkit.") ||
			strings.Contains(s, "testing.(*M).") ||
			strings.Contains(s, "testing.tRunner") {
			continue
		}
		out = append(out, s)
	}
	return out
}

func moduleGoroutines() []string {
	var left []string
	for _, s := range stacks() {
		if strings.Contains(s, "github.com/sailsio-go/sailsio") {
			left = append(left, s)
		}
	}
	return left
}

// Settle waits (up to Wait) until the number of goroutines is back to base and returns it. It
// counts every goroutine of the process; new tests use [Gone], which looks for the goroutines of
// the SDK's packages (Settle stays until the package's internal tests move to Gone).
func Settle(t testing.TB, base int) int {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, baseline %d:\n%s", n, base, strings.Join(moduleGoroutines(), "\n\n"))
		}
		time.Sleep(5 * time.Millisecond) // goroutines that end send no signal: poll
	}
}
