// Command sailsio is curl and wscat for Sails.js sockets: it sends virtual requests (get, post, put,
// patch, delete, request), listens to server events (listen), talks interactively (repl), generates
// load (load) and runs a Sails-like mock server (mock).
//
// Exit status: 0 a response with status 1xx–3xx (and listen ending normally); 4 a 4xx response;
// 5 a 5xx response; 2 bad usage; 3 no connection; 6 timeout; 1 anything else.
//
// Run "sailsio help" or "sailsio SUBCOMMAND --help" for the flags and examples of each subcommand.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses (docs/cli.md#exit-status).
const (
	exitOK        = 0
	exitOther     = 1
	exitUsage     = 2
	exitNoConn    = 3
	exitStatus4xx = 4
	exitStatus5xx = 5
	exitTimeout   = 6
)

// exitError carries an exit status and a message for stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a bad-usage error (exit status 2).
func usageErrorf(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// exitWith wraps err with an exit status.
func exitWith(code int, err error) error { return &exitError{code: code, err: err} }

// env is what a subcommand runs with: its streams and its context (cancelled on SIGINT/SIGTERM).
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// stdoutTTY and stderrTTY report whether the streams are terminals.
	stdoutTTY, stderrTTY, stdinTTY bool
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"get", "send a GET virtual request", verbCommand("get")},
		{"post", "send a POST virtual request", verbCommand("post")},
		{"put", "send a PUT virtual request", verbCommand("put")},
		{"patch", "send a PATCH virtual request", verbCommand("patch")},
		{"delete", "send a DELETE virtual request", verbCommand("delete")},
		{"request", "send a virtual request with any verb (-X)", verbCommand("")},
		{"listen", "print server events, one JSON object per line", runListen},
		{"repl", "an interactive session on one socket", runRepl},
		{"load", "a load generator with a latency report", runLoad},
		{"mock", "run the Sails-like mock server as a process", runMock},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		stdoutTTY: isTerminal(os.Stdout), stderrTTY: isTerminal(os.Stderr), stdinTTY: isTerminal(os.Stdin),
	}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and turns its error into an exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		topUsage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run(ctx, e, []string{args[1], "--help"})
		}
		topUsage(e.stdout)
		return exitOK
	case "version", "--version":
		fmt.Fprintln(e.stdout, "sailsio", version())
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return exitCode(e, c.run(ctx, e, args[1:]))
		}
	}
	fmt.Fprintf(e.stderr, "sailsio: unknown command %q\n\n", args[0])
	topUsage(e.stderr)
	return exitUsage
}

// exitCode prints err (unless it is only a status) and returns its exit status.
func exitCode(e *env, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errHelp) {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && !errors.Is(ee.err, errSilent) {
			fmt.Fprintln(e.stderr, "sailsio:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(e.stderr, "sailsio:", err)
	return exitOther
}

// errSilent marks an exit status whose reason was already printed.
var errSilent = errors.New("silent")

func topUsage(w io.Writer) {
	fmt.Fprintln(w, `sailsio: curl and wscat for Sails.js sockets

Usage:
  sailsio get|post|put|patch|delete URL PATH [flags]
  sailsio request -X VERB URL PATH [flags]
  sailsio listen URL [EVENT...] [--subscribe 'VERB /path']... [--count N] [--for DURATION]
  sailsio repl URL
  sailsio load URL [flags | --scenario FILE] [--out report.json]
  sailsio mock [--routes FILE] [--addr 127.0.0.1:PORT] [--eio 3|4]

Commands:`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, `
Exit status: 0 a 1xx-3xx response (or a normal end), 4 a 4xx response, 5 a 5xx response,
2 bad usage, 3 no connection, 6 timeout, 1 anything else.

Run "sailsio COMMAND --help" for the flags and examples of a command.`)
}
