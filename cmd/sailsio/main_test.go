package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio/internal/testkit"
)

// binPath is the sailsio binary built once by TestMain; the tests drive it as a process.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sailsio-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "sailsio")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sailsio:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	testkit.AtEnd(func() {
		stopSharedMock()
		os.RemoveAll(dir)
	})
	testkit.Main(m)
}

// result is what one run of the command gave.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs the binary with args (and stdin, if not nil), bounded by 30 seconds.
func runCLI(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.D(30*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errb, stdin
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("sailsio %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("sailsio %s: did not end within 30s; stderr: %s", strings.Join(args, " "), errb.String())
	}
	return result{out.String(), errb.String(), code}
}

// proc is a long-running sailsio process (mock, listen, load) the test started.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, line by line; closed at EOF
	mu     sync.Mutex
	stderr bytes.Buffer
	notify chan struct{} // closed and replaced on every stderr write
	done   chan struct{}
	err    error
}

// lockedWriter serialises writes to the process's stderr buffer.
type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	n, err := w.p.stderr.Write(b)
	close(w.p.notify)
	w.p.notify = make(chan struct{})
	return n, err
}

// The process helpers below take unscaled bounds and scale them (testkit.D).

// waitStderr waits up to d until stderr holds n occurrences of substr.
func (p *proc) waitStderr(t testing.TB, substr string, n int, d time.Duration) {
	t.Helper()
	d = testkit.D(d)
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		got := strings.Count(p.stderr.String(), substr)
		ch := p.notify
		p.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-p.done:
			t.Fatalf("process ended before %d× %q on stderr: %s", n, substr, p.stderrText())
		case <-deadline.C:
			t.Fatalf("no %d× %q on stderr within %v: %s", n, substr, d, p.stderrText())
		}
	}
}

// startProc starts the binary with args; the process is killed (by pid) when the test ends.
func startProc(t testing.TB, args ...string) *proc {
	t.Helper()
	p := startProcNoCleanup(t, args...)
	t.Cleanup(func() { p.kill() })
	return p
}

func startProcNoCleanup(t testing.TB, args ...string) *proc {
	p := &proc{cmd: exec.Command(binPath, args...), done: make(chan struct{}), notify: make(chan struct{})}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.lines = make(chan string, 1<<16)
	p.cmd.Stderr = lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = p.cmd.Wait() // after every read from the pipe, as os/exec requires
		close(p.done)
	}()
	return p
}

// line reads one stdout line within d.
func (p *proc) line(t testing.TB, d time.Duration) string {
	t.Helper()
	d = testkit.D(d)
	select {
	case s, ok := <-p.lines:
		if !ok {
			t.Fatalf("stdout ended; stderr: %s", p.stderrText())
		}
		return s
	case <-time.After(d):
		t.Fatalf("no stdout line within %v; stderr: %s", d, p.stderrText())
	}
	return ""
}

func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// signal sends sig to the process (by its pid) and waits up to d for it to end; it returns the exit code.
func (p *proc) signal(t testing.TB, sig os.Signal, d time.Duration) int {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	return p.wait(t, d)
}

// wait waits up to d for the process to end and returns its exit code.
func (p *proc) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	d = testkit.D(d)
	select {
	case <-p.done:
	case <-time.After(d):
		p.kill()
		t.Fatalf("process did not end within %v; stderr: %s", d, p.stderrText())
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

var (
	sharedMockOnce sync.Once
	sharedMock     *proc
	sharedMockURL  string
)

// mockURL returns the URL of one `sailsio mock --csrf` process shared by the tests that only send
// requests (started on first use, stopped by TestMain).
func mockURL(t *testing.T) string {
	t.Helper()
	sharedMockOnce.Do(func() {
		sharedMock = startProcNoCleanup(t, "mock", "--csrf", "--quiet")
		sharedMockURL = sharedMock.line(t, 15*time.Second)
	})
	if sharedMockURL == "" {
		t.Fatal("the shared mock did not start")
	}
	return sharedMockURL
}

func stopSharedMock() {
	if sharedMock != nil {
		_ = sharedMock.cmd.Process.Signal(os.Interrupt)
		select {
		case <-sharedMock.done:
		case <-time.After(testkit.D(10 * time.Second)):
			sharedMock.kill()
		}
	}
}

// runShell runs a /bin/sh script (bounded like runCLI).
func runShell(t *testing.T, script string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.D(30*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}
