// Command testsum summarises `go test -json` as it runs, for test.sh: one line per package when it
// finishes (its elapsed time and how many tests passed, failed and were skipped), one line per
// long top-level test as it ends (so that a long package shows progress), and, for a package that
// failed, the output of its failing tests and its own output (a panic, a timeout, the leak check).
//
//	go test -json ./... | go run ./internal/testsum [-slow 10s]
//
// It exits 1 when a test, a package or a build failed, or when the input had no package result.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time        time.Time
	Action      string
	Package     string
	ImportPath  string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

type pkgState struct {
	start            time.Time
	out              strings.Builder             // the package's own output (no test)
	tests            map[string]*strings.Builder // output per test
	failed           []string                    // failed tests, in order
	pass, fail, skip int
	running          map[string]time.Time // top-level tests under way, and when they started
}

func main() {
	slow := flag.Duration("slow", 10*time.Second, "print top-level tests that take at least this long")
	flag.Parse()
	os.Exit(run(os.Stdin, os.Stdout, *slow))
}

func run(in io.Reader, out io.Writer, slow time.Duration) int {
	pkgs := map[string]*pkgState{}
	builds := map[string]*strings.Builder{} // build output per import path
	get := func(name string) *pkgState {
		p := pkgs[name]
		if p == nil {
			p = &pkgState{start: time.Now(), tests: map[string]*strings.Builder{}, running: map[string]time.Time{}}
			pkgs[name] = p
		}
		return p
	}
	code, results := 0, 0
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(out, "%s\n", line) // not test2json: pass it on
			continue
		}
		if e.Action == "build-output" {
			b := builds[e.ImportPath]
			if b == nil {
				b = &strings.Builder{}
				builds[e.ImportPath] = b
			}
			b.WriteString(e.Output)
			continue
		}
		if e.Action == "build-fail" {
			fmt.Fprintf(out, "FAIL build %s\n%s", e.ImportPath, indent(builds[e.ImportPath].String()))
			code = 1
			continue
		}
		if e.Package == "" {
			continue
		}
		p := get(e.Package)
		switch e.Action {
		case "start":
			p.start = time.Now()
		case "run":
			if !strings.Contains(e.Test, "/") {
				p.running[e.Test] = e.Time
			}
		case "output":
			if e.Test == "" {
				p.out.WriteString(e.Output)
			} else {
				b := p.tests[e.Test]
				if b == nil {
					b = &strings.Builder{}
					p.tests[e.Test] = b
				}
				b.WriteString(e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test != "" {
				switch e.Action {
				case "pass":
					p.pass++
					delete(p.tests, e.Test) // its output is not needed any more
				case "fail":
					p.fail++
					p.failed = append(p.failed, e.Test)
				case "skip":
					p.skip++
				}
				if !strings.Contains(e.Test, "/") {
					// The time since the test started, not Elapsed: a test's Elapsed leaves out
					// its parallel subtests.
					d := e.Time.Sub(p.running[e.Test])
					delete(p.running, e.Test)
					if d >= slow || e.Action == "fail" {
						fmt.Fprintf(out, "    %-4s %s %s (%s)\n", strings.ToUpper(e.Action), e.Test, fmtDur(d), e.Package)
					}
				}
				continue
			}
			results++
			elapsed := time.Duration(e.Elapsed * float64(time.Second))
			if elapsed == 0 {
				elapsed = time.Since(p.start)
			}
			status := "ok  "
			if e.Action == "fail" {
				status, code = "FAIL", 1
			}
			counts := fmt.Sprintf("%d passed", p.pass)
			if p.fail > 0 {
				counts += fmt.Sprintf(", %d failed", p.fail)
			}
			if p.skip > 0 {
				counts += fmt.Sprintf(", %d skipped", p.skip)
			}
			if p.pass+p.fail+p.skip == 0 {
				counts = "no tests"
			}
			fmt.Fprintf(out, "%s %-52s %8s  (%s)\n", status, e.Package, fmtDur(elapsed), counts)
			if e.Action == "fail" {
				report(out, p, builds[e.FailedBuild])
			}
			delete(pkgs, e.Package)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testsum: reading the test output: %v\n", err)
		return 1
	}
	if results == 0 {
		fmt.Fprintln(out, "testsum: no package result in the input")
		return 1
	}
	return code
}

// report prints what explains a failed package: the output of every failed test that has no
// failed subtest (its parents' output is only their --- FAIL lines), and the package's own output.
func report(out io.Writer, p *pkgState, build *strings.Builder) {
	if build != nil {
		fmt.Fprint(out, indent(build.String()))
	}
	for _, name := range p.failed {
		leaf := !slices.ContainsFunc(p.failed, func(o string) bool { return strings.HasPrefix(o, name+"/") })
		if b := p.tests[name]; leaf && b != nil {
			fmt.Fprintf(out, "  --- %s\n%s", name, indent(b.String()))
		}
	}
	// Tests still running when the package failed: a panic or a timeout.
	for name := range p.running {
		if b := p.tests[name]; b != nil {
			fmt.Fprintf(out, "  --- %s (did not end)\n%s", name, indent(tail(b.String(), 200)))
		}
	}
	if s := p.out.String(); strings.TrimSpace(s) != "" {
		fmt.Fprintf(out, "  --- package output\n%s", indent(s))
	}
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	s = strings.TrimRight(s, "\n")
	return "      " + strings.ReplaceAll(s, "\n", "\n      ") + "\n"
}

// tail keeps the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n") + "\n"
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}
