package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sailsio-go/sailsio"
)

const listenExamples = `  sailsio listen http://localhost:1337 chat --subscribe 'POST /rooms/lobby/join'
  sailsio listen http://localhost:1337 --subscribe 'GET /pet'        # blueprint pub/sub: event "pet"
  sailsio listen http://localhost:1337 news tick --count 10 | jq -c .data
  sailsio listen http://localhost:1337 pet --subscribe 'GET /pet' --for 1m --cookie-jar cookies.txt

Each event is one JSON object on its own line of stdout: {"time":"RFC3339Nano","event":"NAME","data":...}.
Connection life (connect, disconnect, reconnecting, subscription answers) goes to stderr.
Subscriptions are sent again after every reconnection, since a new server-side socket has no rooms.
A subscription succeeds when answered 2xx. When none of a connection's subscriptions succeeds,
listen ends with "no subscription succeeded" and the exit status of the first (4 for a 4xx, 5 for a
5xx, 6 for no answer within --timeout, 1 otherwise); when some succeed, it goes on, and says which
were refused on stderr.
Without an EVENT, listen takes the events the subscriptions name (the first path segment, as
blueprint pub/sub does: 'GET /pet' → "pet") and "message" (the default event of sails.sockets.broadcast).`

func runListen(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "listen", "sailsio listen URL [EVENT...] [--subscribe 'VERB /path']... [--count N] [--for DURATION] [flags]", listenExamples)
	var cf connFlags
	cf.register(fs, true)
	var subs listFlag
	fs.Var(&subs, "subscribe", "a request `'VERB /path [JSON]'` sent on connection and after every reconnection (repeatable)")
	count := fs.Int("count", 0, "end after `N` events (0: no limit)")
	dur := fs.Duration("for", 0, "end after `DURATION` (0: until SIGINT)")
	pos, err := parseFlags(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return usageErrorf("want URL [EVENT...]")
	}
	if *count < 0 || *dur < 0 {
		return usageErrorf("--count and --for must not be negative")
	}
	headers, err := headerMap(cf.headers)
	if err != nil {
		return usageErrorf("-H: %v", err)
	}
	warnHandshakeOnly(e.stderr, "-H", headers)
	var reqs []sailsio.RequestOptions
	for _, s := range subs {
		ro, err := parseRequestLine(s)
		if err != nil {
			return usageErrorf("--subscribe %q: %v", s, err)
		}
		reqs = append(reqs, ro)
	}
	events := pos[1:]
	if len(events) == 0 {
		events = impliedEvents(reqs)
	}
	if len(events) == 0 {
		return usageErrorf("name an EVENT, or a --subscribe whose path names one")
	}
	cs, err := cf.setup(pos[0])
	if err != nil {
		return err
	}
	opts := cs.opts
	if cf.timeout > 0 {
		opts = append(opts, sailsio.WithRequestTimeout(cf.timeout))
	}
	if err := cs.prepare(ctx); err != nil {
		return err
	}
	if len(headers) > 0 {
		opts = append(opts, sailsio.WithHeaders(headers))
	}
	sock, err := sailsio.New(cs.url, opts...)
	if err != nil {
		return exitWith(exitUsage, err)
	}
	defer sock.Close()

	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	var mu sync.Mutex
	n := 0
	for _, ev := range uniq(events) {
		sock.On(ev, func(data json.RawMessage) {
			mu.Lock()
			defer mu.Unlock()
			if *count > 0 && n >= *count {
				return
			}
			n++
			line, _ := json.Marshal(struct {
				Time  string          `json:"time"`
				Event string          `json:"event"`
				Data  json.RawMessage `json:"data"`
			}{time.Now().UTC().Format(time.RFC3339Nano), ev, compactJSON(data)})
			line = append(line, '\n')
			if _, err := e.stdout.Write(line); err != nil {
				stop(exitWith(exitOther, err))
			}
			if *count > 0 && n >= *count {
				stop(nil)
			}
		})
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(e.stderr, "sailsio listen: "+format+"\n", a...)
	}
	lifecycle(sock, logf, func(err error) { stop(err) })
	round := newSubRound(len(reqs))
	sock.On(sailsio.EventConnect, func(json.RawMessage) { round.reset() })
	for i, ro := range reqs {
		sock.Resubscribe(ro, func(_ json.RawMessage, jwr *sailsio.JWRes) {
			name := strings.ToUpper(ro.Method) + " " + ro.URL
			var failure *exitError
			switch {
			case jwr.StatusCode >= 200 && jwr.StatusCode < 300:
				logf("subscribed: %s → %d", name, jwr.StatusCode)
			case errors.Is(jwr.Error, sailsio.ErrDisconnected), errors.Is(jwr.Error, sailsio.ErrClosed):
				// The connection went before the answer: a new connection sends it again.
				logf("subscription %s: no answer: %v", name, jwr.Error)
				return
			case jwr.StatusCode == 0:
				logf("subscription %s failed: %v", name, jwr.Error)
				code := exitOther
				if errors.Is(jwr.Error, sailsio.ErrTimeout) {
					code = exitTimeout
				}
				failure = &exitError{code: code, err: fmt.Errorf("%s: %v", name, jwr.Error)}
			default:
				logf("subscription %s refused: %d %s", name, jwr.StatusCode, compactJSON(jwr.Body))
				code := statusExit(jwr.StatusCode)
				if code == exitOK {
					code = exitOther // a 1xx or 3xx answer is no subscription either
				}
				failure = &exitError{code: code, err: fmt.Errorf("%s → %d", name, jwr.StatusCode)}
			}
			if err := round.answer(i, failure); err != nil {
				stop(err)
			}
		})
	}
	if err := sock.Connect(ctx); err != nil {
		saveJar(e, cs)
		return connectError(ctx, err)
	}
	<-ctx.Done()
	saveJar(e, cs)
	if cause := context.Cause(ctx); cause != nil && cause != context.Canceled && cause != context.DeadlineExceeded && ctx.Err() != nil {
		if _, ok := cause.(*exitError); ok {
			return cause
		}
	}
	return nil
}

// subRound follows the answers to one connection's subscriptions: when every one has been answered
// and none succeeded, listening is pointless (docs/cli.md#events-listen).
type subRound struct {
	mu       sync.Mutex
	failures []*exitError // by subscription; nil: not answered yet, or succeeded
	answered []bool
	ok       bool
}

func newSubRound(n int) *subRound {
	return &subRound{failures: make([]*exitError, n), answered: make([]bool, n)}
}

// reset starts a new connection's round.
func (r *subRound) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.failures)
	clear(r.answered)
	r.ok = false
}

// answer records subscription i's answer (failure nil: it succeeded). It returns the error listen
// ends with once every subscription has failed: the exit status of the first one, in --subscribe
// order, and every failure in the message.
func (r *subRound) answer(i int, failure *exitError) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answered[i] = true
	r.failures[i] = failure
	if failure == nil {
		r.ok = true
	}
	if r.ok || slices.Contains(r.answered, false) {
		return nil
	}
	msgs := make([]string, len(r.failures))
	for j, f := range r.failures {
		msgs[j] = f.err.Error()
	}
	return exitWith(r.failures[0].code, fmt.Errorf("no subscription succeeded (%s)", strings.Join(msgs, "; ")))
}

// lifecycle logs connection life on stderr and calls fatal when the socket will not come back.
func lifecycle(sock *sailsio.SailsSocket, logf func(string, ...any), fatal func(error)) {
	sock.On(sailsio.EventConnect, func(json.RawMessage) { logf("connected (socket id %s)", sock.ID()) })
	sock.On(sailsio.EventDisconnect, func(d json.RawMessage) {
		var v struct{ Reason string }
		_ = json.Unmarshal(d, &v)
		logf("disconnected: %s", v.Reason)
		if v.Reason == "io server disconnect" {
			fatal(exitWith(exitNoConn, fmt.Errorf("the server disconnected the socket")))
		}
	})
	sock.On(sailsio.EventReconnecting, func(d json.RawMessage) {
		var v struct {
			Attempt int   `json:"attempt"`
			DelayMS int64 `json:"delay_ms"`
		}
		_ = json.Unmarshal(d, &v)
		logf("reconnecting: attempt %d in %v", v.Attempt, time.Duration(v.DelayMS)*time.Millisecond)
	})
	sock.On(sailsio.EventReconnect, func(d json.RawMessage) { logf("reconnected %s", compactJSON(d)) })
	sock.On(sailsio.EventConnectError, func(d json.RawMessage) { logf("connect error %s", compactJSON(d)) })
	sock.On(sailsio.EventReconnectFailed, func(d json.RawMessage) {
		logf("reconnection gave up %s", compactJSON(d))
		fatal(exitWith(exitNoConn, fmt.Errorf("reconnection gave up")))
	})
	sock.On(sailsio.EventParseError, func(d json.RawMessage) { logf("server parse error %s", compactJSON(d)) })
}

// parseRequestLine parses "VERB /path [JSON]".
func parseRequestLine(s string) (sailsio.RequestOptions, error) {
	s = strings.TrimSpace(s)
	verb, rest, _ := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	path, body, _ := strings.Cut(rest, " ")
	body = strings.TrimSpace(body)
	ro := sailsio.RequestOptions{Method: strings.ToLower(verb), URL: path}
	switch ro.Method {
	case "get", "post", "put", "patch", "delete", "head", "options":
	default:
		return ro, fmt.Errorf("unknown verb %q (want get, post, put, patch, delete, head, options)", verb)
	}
	if !strings.HasPrefix(path, "/") {
		return ro, fmt.Errorf("path %q must start with /", path)
	}
	if body != "" {
		if !jsonValid([]byte(body)) {
			return ro, fmt.Errorf("body is not valid JSON: %.60q", body)
		}
		ro.Data = rawJSON(body)
	}
	return ro, nil
}

// impliedEvents: the first path segment of each subscription (the blueprint identity) and "message".
func impliedEvents(reqs []sailsio.RequestOptions) []string {
	if len(reqs) == 0 {
		return nil
	}
	out := []string{"message"}
	for _, r := range reqs {
		p, _, _ := strings.Cut(strings.TrimPrefix(r.URL, "/"), "/")
		p, _, _ = strings.Cut(p, "?")
		if p != "" {
			out = append(out, strings.ToLower(p))
		}
	}
	return out
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// compactJSON returns data without insignificant space (as is when it is not JSON; null when empty).
func compactJSON(data []byte) json.RawMessage {
	if len(data) == 0 {
		return json.RawMessage("null")
	}
	var b strings.Builder
	if err := writeJSON(&b, data, false); err != nil || !json.Valid([]byte(b.String())) {
		q, _ := json.Marshal(string(data))
		return q
	}
	return json.RawMessage(strings.TrimSuffix(b.String(), "\n"))
}
