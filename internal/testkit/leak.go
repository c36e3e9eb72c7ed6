package testkit

import (
	"bytes"
	"fmt"
	"github.com/sailsio-go/sailsio/internal/skipnote"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests of a package (call it from TestMain), then fails the run if any goroutine of
// the module is still alive once the tests are done (after a bounded wait for those that are
// ending), printing their stacks: no test may leave a socket, server or connection behind.
func Main(m *testing.M) {
	code := m.Run()
	skipnote.Print()
	if code == 0 {
		if leaked := Leaked(Wait); leaked != "" {
			fmt.Fprintf(os.Stderr, "testkit: goroutines left behind after the tests:\n\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

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

func moduleGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var left []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		s := string(g)
		if !strings.Contains(s, "github.com/sailsio-go/sailsio") ||
			strings.Contains(s, "internal/testkit.") ||
			strings.Contains(s, "testing.(*M).") ||
			strings.Contains(s, "testing.tRunner") {
			continue
		}
		left = append(left, s)
	}
	return left
}

// Settle waits (up to Wait) until the number of goroutines is back to base and returns it, for the
// tests of the promise that a closed socket or server leaves nothing behind.
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
