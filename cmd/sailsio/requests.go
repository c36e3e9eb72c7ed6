package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sailsio-go/sailsio"
)

const requestExamples = `  sailsio get http://localhost:1337 /user
  sailsio post http://localhost:1337 /pet -d '{"name":"Rex"}' -H 'authorization: Bearer T'
  sailsio post http://localhost:1337 /login -d @login.json --cookie-jar cookies.txt
  sailsio get http://localhost:1337 /me --cookie-jar cookies.txt -i
  echo '{"text":"hi"}' | sailsio post http://localhost:1337 /chat -d - --csrf
  sailsio request -X options https://example.com /user --cacert ca.pem
  sailsio get http://localhost:1337 /user | jq '.[0].name'`

// verbCommand returns the run function of a request subcommand; verb "" is "request" (-X picks it).
func verbCommand(verb string) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		return runRequest(ctx, e, verb, args)
	}
}

func runRequest(ctx context.Context, e *env, verb string, args []string) error {
	name := verb
	synopsis := "sailsio " + verb + " URL PATH [flags]"
	if verb == "" {
		name = "request"
		synopsis = "sailsio request -X VERB URL PATH [flags]"
	}
	fs := newFlagSet(e, name, synopsis, requestExamples)
	var cf connFlags
	cf.register(fs, true)
	data := fs.String("d", "", "the JSON body: inline, `@FILE`, or - for stdin")
	include := fs.Bool("i", false, "print the status line and the JWR headers before the body")
	method := verb
	if verb == "" {
		fs.StringVar(&method, "X", "get", "the `VERB`: get, post, put, patch, delete, head, options")
	}
	pos, err := parseFlags(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageErrorf("want URL and PATH, got %d arguments", len(pos))
	}
	rawURL, path := pos[0], pos[1]
	if !strings.HasPrefix(path, "/") {
		return usageErrorf("PATH %q must start with /", path)
	}
	method = strings.ToLower(method)
	switch method {
	case "get", "post", "put", "patch", "delete", "head", "options":
	default:
		return usageErrorf("-X %q: want get, post, put, patch, delete, head or options", method)
	}
	headers, err := headerMap(cf.headers)
	if err != nil {
		return usageErrorf("-H: %v", err)
	}
	warnHandshakeOnly(e.stderr, "-H", headers)
	body, err := readData(*data, e.stdin)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		return exitWith(exitOther, err)
	}
	cs, err := cf.setup(rawURL)
	if err != nil {
		return err
	}
	if cf.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cf.timeout)
		defer cancel()
	}
	if err := cs.prepare(ctx); err != nil {
		return err
	}
	sock, err := sailsio.Connect(ctx, cs.url, append(cs.opts, sailsio.WithReconnection(false))...)
	if err != nil {
		saveJar(e, cs)
		return connectError(ctx, err)
	}
	opts := sailsio.RequestOptions{Method: method, URL: path, Headers: headers}
	if body != nil {
		opts.Data = body
	}
	jwr, err := sock.Do(ctx, opts)
	sock.Close()
	saveJar(e, cs)
	var perr *sailsio.ParseError
	if err != nil && !errors.As(err, &perr) {
		return requestError(ctx, err)
	}
	if *include {
		writeStatusHead(e.stdout, jwr.StatusCode, jwr.Headers)
	}
	if method != "head" || len(jwr.Body) > 0 && string(jwr.Body) != "null" {
		if err := writeJSON(e.stdout, jwr.Body, e.stdoutTTY); err != nil {
			return exitWith(exitOther, err)
		}
	}
	if code := statusExit(jwr.StatusCode); code != exitOK {
		return exitWith(code, errSilent)
	}
	return nil
}

// saveJar writes the cookie jar back (a failure is reported, not fatal).
func saveJar(e *env, cs *clientSetup) {
	if cs.jar == nil {
		return
	}
	if err := cs.jar.Save(); err != nil {
		fmt.Fprintln(e.stderr, "sailsio: saving the cookie jar:", err)
	}
}

// connectError classifies a failed connection: 6 when our own deadline ended it, else 3.
func connectError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return exitWith(exitTimeout, fmt.Errorf("connecting: timed out: %w", err))
	}
	if ctx.Err() != nil {
		return exitWith(exitOther, fmt.Errorf("connecting: %w", err))
	}
	if errors.Is(err, sailsio.ErrInvalidOption) {
		return exitWith(exitUsage, err)
	}
	return exitWith(exitNoConn, fmt.Errorf("connecting: %w", err))
}

// requestError classifies a request that got no response.
func requestError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, sailsio.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return exitWith(exitTimeout, fmt.Errorf("request timed out: %w", err))
	case errors.Is(err, sailsio.ErrDisconnected), errors.Is(err, sailsio.ErrClosed):
		return exitWith(exitNoConn, err)
	case errors.Is(err, sailsio.ErrInvalidRequest), errors.Is(err, sailsio.ErrInvalidHeader):
		return exitWith(exitUsage, err)
	case errors.Is(err, sailsio.ErrCSRF):
		return exitWith(exitOther, fmt.Errorf("--csrf: %w", err))
	case ctx.Err() != nil:
		return exitWith(exitOther, err)
	}
	return exitWith(exitOther, err)
}

// httpClient is an HTTP client sharing the socket's cookie jar and TLS settings.
func (cs *clientSetup) httpClient() *http.Client {
	client := &http.Client{Jar: cs.httpJar, Timeout: cs.timeout}
	if cs.tls != nil {
		client.Transport = &http.Transport{TLSClientConfig: cs.tls}
	}
	return client
}

// ensureSessionCookie gives a --cookie-jar without a cookie for the server a Sails session first:
// GET /__getcookie over HTTP (Sails' grant3rdPartyCookie route, as sails.io.js does in browsers), so
// the socket's session is one the jar keeps and the next command resumes. Sails never sends the
// cookie it makes up for a cookie-less handshake (docs/protocol.md#sessions-and-cookies). A server
// without the route is not an error: the socket then has a session of its own, as without a jar.
func ensureSessionCookie(ctx context.Context, cs *clientSetup) error {
	if cs.jar == nil {
		return nil
	}
	base, err := httpBase(cs.url)
	if err != nil {
		return usageErrorf("URL: %v", err)
	}
	if len(cs.jar.Cookies(base.JoinPath("/"))) > 0 {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("/__getcookie").String(), nil)
	if err != nil {
		return exitWith(exitOther, err)
	}
	resp, err := cs.httpClient().Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return exitWith(exitTimeout, fmt.Errorf("GET /__getcookie: %w", err))
		}
		return exitWith(exitNoConn, fmt.Errorf("GET /__getcookie: %w", err))
	}
	resp.Body.Close()
	return nil
}

// prepare runs the HTTP steps before a handshake: a session cookie for a --cookie-jar. (With --csrf
// the SDK's WithCSRF gets the token, over HTTP with the same jar, when an unsafe request needs it.)
func (cs *clientSetup) prepare(ctx context.Context) error {
	return ensureSessionCookie(ctx, cs)
}
