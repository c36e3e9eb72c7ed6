package main

import (
	"context"
	"encoding/json"
	"fmt"
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
	if err := cs.prepare(ctx, cf.csrf, headers); err != nil {
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
	for _, ro := range reqs {
		ro := ro
		sock.Resubscribe(ro, func(_ json.RawMessage, jwr *sailsio.JWRes) {
			if jwr.StatusCode == 0 || jwr.Error != nil {
				logf("subscription %s %s failed: %v", strings.ToUpper(ro.Method), ro.URL, jwr.Error)
				return
			}
			logf("subscribed: %s %s → %d", strings.ToUpper(ro.Method), ro.URL, jwr.StatusCode)
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
