package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chzyer/readline"

	"github.com/sailsio-go/sailsio"
)

const replExamples = `  sailsio repl http://localhost:1337 --cookie-jar cookies.txt
  > get /user
  > post /pet {"name":"Rex"}
  > headers authorization: Bearer T
  > on pet
  > subscribe get /pet
  > off pet
  > exit

Commands: get|post|put|patch|delete|head|options PATH [JSON]; on EVENT; off EVENT; headers [name: value]
(no argument: list; "headers -name": remove); subscribe VERB PATH [JSON] (sent again after every
reconnection); id; help; exit (or Ctrl-D). Responses and events print as they arrive; on a terminal
the line editor keeps history (--history) and completes verbs, commands and event names (Tab).
With stdin not a terminal, repl reads one command per line (a script) and prints compact JSON; blank
lines and lines starting with # are comments, and a line that is neither a comment nor a command
ends the script with "script line N: ..." and exit status 2.`

// replVerbs are the request verbs the repl takes as commands.
var replVerbs = []string{"get", "post", "put", "patch", "delete", "head", "options"}

func runRepl(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "repl", "sailsio repl URL [flags]", replExamples)
	var cf connFlags
	cf.register(fs, true)
	home, _ := os.UserHomeDir()
	defHistory := ""
	if home != "" {
		defHistory = filepath.Join(home, ".sailsio_history")
	}
	history := fs.String("history", defHistory, "history `FILE` of the line editor (\"\": none)")
	pos, err := parseFlags(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("want URL")
	}
	headers, err := headerMap(cf.headers)
	if err != nil {
		return usageErrorf("-H: %v", err)
	}
	warnHandshakeOnly(e.stderr, "-H", headers)
	cs, err := cf.setup(pos[0])
	if err != nil {
		return err
	}
	if err := cs.prepare(ctx); err != nil {
		return err
	}
	opts := cs.opts
	if len(headers) > 0 {
		opts = append(opts, sailsio.WithHeaders(headers))
	}
	sock, err := sailsio.New(cs.url, opts...)
	if err != nil {
		return exitWith(exitUsage, err)
	}
	defer sock.Close()
	defer saveJar(e, cs)

	r := &repl{e: e, sock: sock, timeout: cf.timeout, pretty: e.stdoutTTY, events: map[string]func(){}}
	var rl *readline.Instance
	if e.stdinTTY && e.stdoutTTY {
		rl, err = readline.NewEx(&readline.Config{
			Prompt:          "sails> ",
			HistoryFile:     *history,
			AutoComplete:    r.completer(),
			InterruptPrompt: "^C",
			EOFPrompt:       "exit",
		})
		if err != nil {
			return exitWith(exitOther, err)
		}
		defer rl.Close()
		r.out = rl.Stdout()
	} else {
		r.out = e.stdout
	}
	logf := func(format string, a ...any) { r.printf(e.stderr, "# "+format+"\n", a...) }
	lifecycle(sock, logf, func(err error) { logf("%v", err) })
	cctx := ctx
	if cf.timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, cf.timeout)
		defer cancel()
	}
	if err := sock.Connect(cctx); err != nil {
		return connectError(cctx, err)
	}
	lines := make(chan string)
	lineNo := 0
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		if rl != nil {
			for {
				line, err := rl.Readline()
				if errors.Is(err, readline.ErrInterrupt) {
					continue
				}
				if err != nil {
					readErr <- err
					return
				}
				lines <- line
			}
		}
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		readErr <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				if err := <-readErr; err != nil && !errors.Is(err, io.EOF) {
					return exitWith(exitOther, err)
				}
				return nil
			}
			lineNo++
			quit, err := r.exec(ctx, strings.TrimSpace(line))
			if err != nil {
				if rl == nil {
					// A script stops at a line it cannot run: what follows may depend on it.
					return usageErrorf("script line %d: %v", lineNo, err)
				}
				r.printf(e.stderr, "# %v (try help)\n", err)
			}
			if quit {
				return nil
			}
		}
	}
}

// repl is the state of an interactive session.
type repl struct {
	e       *env
	sock    *sailsio.SailsSocket
	out     io.Writer
	timeout time.Duration
	pretty  bool

	mu     sync.Mutex // serialises output
	events map[string]func()
	subs   []func()
}

func (r *repl) printf(w io.Writer, format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(w, format, a...)
}

// completer completes verbs and commands, and event names after "off".
func (r *repl) completer() readline.AutoCompleter {
	var items []readline.PrefixCompleterInterface
	for _, v := range replVerbs {
		items = append(items, readline.PcItem(v))
	}
	events := func(string) []string {
		r.mu.Lock()
		defer r.mu.Unlock()
		out := make([]string, 0, len(r.events))
		for n := range r.events {
			out = append(out, n)
		}
		sort.Strings(out)
		return out
	}
	subVerbs := make([]readline.PrefixCompleterInterface, 0, len(replVerbs))
	for _, v := range replVerbs {
		subVerbs = append(subVerbs, readline.PcItem(v))
	}
	items = append(items,
		readline.PcItem("on"), readline.PcItem("off", readline.PcItemDynamic(events)),
		readline.PcItem("headers"), readline.PcItem("subscribe", subVerbs...),
		readline.PcItem("id"), readline.PcItem("help"), readline.PcItem("exit"))
	return readline.NewPrefixCompleter(items...)
}

// exec runs one command line; it returns true to end the session, and an error for a line that is
// not a command (blank lines and lines starting with # are comments).
func (r *repl) exec(ctx context.Context, line string) (bool, error) {
	if line == "" || strings.HasPrefix(line, "#") {
		return false, nil
	}
	cmd, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(cmd) {
	case "exit", "quit":
		return true, nil
	case "help", "?":
		r.printf(r.out, "%s\n", replExamples[strings.Index(replExamples, "Commands:"):])
	case "id":
		r.printf(r.out, "%s\n", r.sock.ID())
	case "on":
		return false, r.on(rest)
	case "off":
		r.off(rest)
	case "headers":
		return false, r.headers(rest)
	case "subscribe":
		ro, err := parseRequestLine(rest)
		if err != nil {
			return false, fmt.Errorf("subscribe: %v", err)
		}
		stop := r.sock.Resubscribe(ro, func(_ json.RawMessage, jwr *sailsio.JWRes) { r.printResponse(jwr, nil) })
		r.mu.Lock()
		r.subs = append(r.subs, stop)
		r.mu.Unlock()
	default:
		ro, err := parseRequestLine(line)
		if err != nil {
			return false, err
		}
		rctx := ctx
		if r.timeout > 0 {
			var cancel context.CancelFunc
			rctx, cancel = context.WithTimeout(ctx, r.timeout)
			defer cancel()
		}
		jwr, err := r.sock.Do(rctx, ro)
		r.printResponse(jwr, err)
	}
	return false, nil
}

func (r *repl) on(name string) error {
	if name == "" || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("on: want one EVENT name, got %q", name)
	}
	r.mu.Lock()
	_, dup := r.events[name]
	r.mu.Unlock()
	if dup {
		return nil
	}
	off := r.sock.On(name, func(data json.RawMessage) {
		r.printf(r.out, "event %s %s\n", name, compactJSON(data))
	})
	r.mu.Lock()
	r.events[name] = off
	r.mu.Unlock()
	return nil
}

func (r *repl) off(name string) {
	r.mu.Lock()
	off, ok := r.events[name]
	delete(r.events, name)
	r.mu.Unlock()
	if ok {
		off()
	} else {
		r.printf(r.e.stderr, "# not listening to %q\n", name)
	}
}

func (r *repl) headers(arg string) error {
	h := r.sock.Headers()
	switch {
	case arg == "":
		names := make([]string, 0, len(h))
		for n := range h {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			r.printf(r.out, "%s: %s\n", n, h[n])
		}
		return nil
	case strings.HasPrefix(arg, "-"):
		name := strings.ToLower(strings.TrimPrefix(arg, "-"))
		for n := range h {
			if strings.ToLower(n) == name {
				delete(h, n)
			}
		}
	default:
		n, v, err := parseHeader(arg)
		if err != nil {
			return fmt.Errorf("headers: %v", err)
		}
		for _, w := range handshakeOnlyWarnings("headers", map[string]string{n: v}) {
			r.printf(r.e.stderr, "# %s\n", w)
		}
		h[strings.ToLower(n)] = v
	}
	r.sock.SetHeaders(h)
	return nil
}

// printResponse prints "STATUS BODY" (compact, one line) or, on a terminal, the status line and the
// indented body; a request without a response prints its error on stderr.
func (r *repl) printResponse(jwr *sailsio.JWRes, err error) {
	var perr *sailsio.ParseError
	if err != nil && !errors.As(err, &perr) {
		r.printf(r.e.stderr, "# no response: %v\n", err)
		return
	}
	if jwr.StatusCode == 0 {
		r.printf(r.e.stderr, "# no response: %v\n", jwr.Error)
		return
	}
	var b strings.Builder
	_ = writeJSON(&b, jwr.Body, r.pretty)
	if r.pretty {
		r.printf(r.out, "%d %s\n%s", jwr.StatusCode, http.StatusText(jwr.StatusCode), b.String())
		return
	}
	r.printf(r.out, "%d %s", jwr.StatusCode, b.String())
}
