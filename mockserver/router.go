package mockserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HandlerFunc handles the requests routed to it. It answers through res, before or after it
// returns; it runs on its own goroutine.
type HandlerFunc func(req *Request, res *Response)

// Policy runs before a route's handler, like a Sails policy: it calls next to let the request
// through (to the next policy, then the handler), or answers through res itself to stop it.
type Policy func(req *Request, res *Response, next func())

// pattern is a compiled Sails route address.
type pattern struct {
	address string
	verb    string // upper-case verb, or "" for a verbless or "ALL" address
	all     bool   // verb "" means every verb ("ALL /x", "* /x"); else Sails' default verbs (no OPTIONS)
	re      *regexp.Regexp
	keys    []string // names of the capture groups, wildcards as "0", "1", ...

	static   string // the path without its trailing slash, when isStatic
	isStatic bool   // no params or wildcards: matched by comparison

	isRegexp bool     // an "r|expression|names" address: groups are params "0", "1"... and names
	names    []string // the names of a regular-expression address's groups
}

type route struct {
	pattern
	h HandlerFunc
}

type policyRule struct {
	pattern
	ps []Policy
}

// blueprintRoute is a route bound by a Model: blueprint routes come after every explicit route.
type blueprintRoute struct {
	route
	model string
	m     *Model
}

type router struct {
	mu         sync.RWMutex
	routes     []route
	blueprints []blueprintRoute
	global     []Policy
	rules      []policyRule
}

// parseAddress compiles a route address: "VERB /path" or "/path"; the verb may be any case.
// Without a verb the route gets the verbs Sails binds by default (GET, PUT, POST, DELETE, PATCH,
// and HEAD through GET), not OPTIONS; "ALL" or "*" mean every verb, OPTIONS included. Paths
// follow Express 4: ":name" matches one segment, ":name?" an optional one, "*" anything (its
// match is param "0", then "1"...); matching is case-insensitive and ignores one trailing slash.
//
// A path of the form "r|<regular expression>|<names>" is Sails' regular-expression address
// (e.g. "r|^/user/(\\d+)$|id" in Go source): the expression is matched against the path, case
// sensitively, and its groups are the params "0", "1", ... and, in order, the comma-separated
// names.
func parseAddress(address string) (pattern, error) {
	if verb, rest, ok := strings.Cut(strings.TrimSpace(address), " "); ok && strings.HasPrefix(strings.TrimSpace(rest), "r|") {
		return parseRegexpAddress(address, verb, strings.TrimSpace(rest))
	}
	if strings.HasPrefix(strings.TrimSpace(address), "r|") {
		return parseRegexpAddress(address, "", strings.TrimSpace(address))
	}
	f := strings.Fields(address)
	var verb, path string
	switch len(f) {
	case 1:
		path = f[0]
	case 2:
		verb, path = strings.ToUpper(f[0]), f[1]
	default:
		return pattern{}, fmt.Errorf("mockserver: invalid route address %q", address)
	}
	all := false
	switch verb {
	case "", "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD":
	case "ALL", "*":
		verb, all = "", true
	default:
		return pattern{}, fmt.Errorf("mockserver: invalid verb in route address %q", address)
	}
	if !strings.HasPrefix(path, "/") {
		return pattern{}, fmt.Errorf("mockserver: route address %q: the path must start with /", address)
	}
	re, keys := compilePath(path)
	pt := pattern{address: address, verb: verb, all: all, re: re, keys: keys}
	if len(keys) == 0 {
		// No params nor wildcards: the regexp is ^path/?$ (case-insensitive), matched here without it.
		pt.static, pt.isStatic = strings.TrimSuffix(path, "/"), true
	}
	return pt, nil
}

// regexpAddress is Sails' /^r\|(.*)\|(.*)$/: the expression, then the param names.
var regexpAddress = regexp.MustCompile(`^r\|(.*)\|(.*)$`)

func parseRegexpAddress(address, verb, path string) (pattern, error) {
	m := regexpAddress.FindStringSubmatch(path)
	if m == nil {
		return pattern{}, fmt.Errorf("mockserver: invalid regular-expression route address %q (want r|<expression>|<names>)", address)
	}
	re, err := regexp.Compile(m[1])
	if err != nil {
		return pattern{}, fmt.Errorf("mockserver: route address %q: %v", address, err)
	}
	verb = strings.ToUpper(verb)
	all := false
	switch verb {
	case "", "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD":
	case "ALL", "*":
		verb, all = "", true
	default:
		return pattern{}, fmt.Errorf("mockserver: invalid verb in route address %q", address)
	}
	var names []string
	if m[2] != "" {
		names = strings.Split(m[2], ",")
	}
	return pattern{address: address, verb: verb, all: all, re: re, names: names, isRegexp: true}, nil
}

func isNameChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func compilePath(p string) (*regexp.Regexp, []string) {
	var b strings.Builder
	b.WriteString("(?i)^")
	var keys []string
	wild := 0
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '/' && i+2 < len(p) && p[i+1] == ':' && isNameChar(p[i+2]):
			j := i + 2
			for j < len(p) && isNameChar(p[j]) {
				j++
			}
			keys = append(keys, p[i+2:j])
			if j < len(p) && p[j] == '?' {
				b.WriteString(`(?:/([^/]+?))?`)
				j++
			} else {
				b.WriteString(`/([^/]+?)`)
			}
			i = j
		case c == ':' && i+1 < len(p) && isNameChar(p[i+1]):
			j := i + 1
			for j < len(p) && isNameChar(p[j]) {
				j++
			}
			keys = append(keys, p[i+1:j])
			b.WriteString(`([^/]+?)`)
			i = j
		case c == '*':
			keys = append(keys, strconv.Itoa(wild))
			wild++
			b.WriteString(`(.*)`)
			i++
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
			i++
		}
	}
	if strings.HasSuffix(p, "/") {
		b.WriteString("?$")
	} else {
		b.WriteString("/?$")
	}
	return regexp.MustCompile(b.String()), keys
}

// match reports whether the pattern matches, and the params it captured.
func (p *pattern) match(method, path string) (map[string]string, bool) {
	if p.verb != "" && p.verb != method && !(method == "HEAD" && p.verb == "GET") {
		return nil, false
	}
	if p.verb == "" && !p.all && method == "OPTIONS" {
		return nil, false // Sails binds a verbless address to GET, PUT, POST, DELETE and PATCH only
	}
	if p.isStatic {
		if !strings.EqualFold(strings.TrimSuffix(path, "/"), p.static) {
			return nil, false
		}
		return map[string]string{}, true
	}
	m := p.re.FindStringSubmatchIndex(path)
	if m == nil {
		return nil, false
	}
	if p.isRegexp {
		params := make(map[string]string, 2*(len(m)/2-1))
		for i := 1; i < len(m)/2; i++ {
			if m[2*i] < 0 {
				continue
			}
			v := path[m[2*i]:m[2*i+1]]
			if d, err := url.PathUnescape(v); err == nil {
				v = d
			}
			params[strconv.Itoa(i-1)] = v
			if i-1 < len(p.names) {
				params[p.names[i-1]] = v
			}
		}
		return params, true
	}
	params := make(map[string]string, len(p.keys))
	for i, k := range p.keys {
		if m[2*i+2] < 0 {
			continue // an optional param that is absent
		}
		v := path[m[2*i+2]:m[2*i+3]]
		if d, err := url.PathUnescape(v); err == nil {
			v = d
		}
		params[k] = v
	}
	return params, true
}

// Handle routes the requests matching address to h. Addresses are Sails route addresses:
// "GET /user/:id", "/logout" (no verb: GET, PUT, POST, DELETE and PATCH, as Sails binds it, so
// not OPTIONS), "ALL /logout" (every verb), "POST /file/*" (the wildcard's match is
// req.Params["0"]), and Sails' regular-expression addresses: "r|^/user/(\\d+)$|id" (in Go
// source; the first group is req.Params["0"] and req.Params["id"]). Routes are tried in
// registration order and the first match wins; a GET
// route also serves HEAD. An unmatched request gets 404 "Not Found", except OPTIONS, which gets
// Sails' automatic 200 answer with an Allow header. Handle panics on an invalid address.
func (s *Server) Handle(address string, h HandlerFunc) {
	p, err := parseAddress(address)
	if err != nil {
		panic(err)
	}
	if h == nil {
		panic("mockserver: Handle with a nil handler")
	}
	s.router.mu.Lock()
	defer s.router.mu.Unlock()
	s.router.routes = append(s.router.routes, route{pattern: p, h: h})
}

// Use adds a policy that runs before every routed request (not before the 404 of an unmatched
// one), in the order Use was called, before the policies of Policy.
func (s *Server) Use(p Policy) {
	s.router.mu.Lock()
	defer s.router.mu.Unlock()
	s.router.global = append(s.router.global, p)
}

// Policy adds policies that run, in order, before the handler of every routed request that
// matches address (same syntax as Handle, so "/admin/*" covers a whole tree), after the Use
// policies and those of earlier Policy calls. Policy panics on an invalid address.
func (s *Server) Policy(address string, p ...Policy) {
	pt, err := parseAddress(address)
	if err != nil {
		panic(err)
	}
	s.router.mu.Lock()
	defer s.router.mu.Unlock()
	pt.all = pt.all || pt.verb == "" // a verbless policy address covers every verb, OPTIONS included
	s.router.rules = append(s.router.rules, policyRule{pattern: pt, ps: append([]Policy(nil), p...)})
}

// lookup finds the route of a request and the policies that apply to it.
func (rt *router) lookup(method, path string) (HandlerFunc, map[string]string, []Policy, string) {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	found := func(r *route, params map[string]string) (HandlerFunc, map[string]string, []Policy, string) {
		ps := append([]Policy(nil), rt.global...)
		for j := range rt.rules {
			if _, ok := rt.rules[j].match(method, path); ok {
				ps = append(ps, rt.rules[j].ps...)
			}
		}
		return r.h, params, ps, r.address
	}
	for i := range rt.routes {
		if params, ok := rt.routes[i].match(method, path); ok {
			return found(&rt.routes[i], params)
		}
	}
	for i := range rt.blueprints {
		if params, ok := rt.blueprints[i].match(method, path); ok {
			return found(&rt.blueprints[i].route, params)
		}
	}
	return nil, nil, nil, ""
}

// route runs the policies and the handler of a request (on the handler goroutine).
func (s *Server) route(req *Request, res *Response) {
	// Sails binds its CSRF check before every route (csrf.go).
	if s.cfg.csrf && !s.checkCSRF(req, res) {
		return
	}
	h, params, ps, address := s.router.lookup(req.Method, req.Path)
	if h == nil {
		if s.builtinCSRFRoute(req, res) {
			return
		}
		if s.cfg.getCookie && (req.Method == "GET" || req.Method == "HEAD") && strings.EqualFold(strings.TrimSuffix(req.Path, "/"), "/__getcookie") {
			res.Set("content-type", "application/javascript")
			res.Send("_sailsIoJSConnect();")
			return
		}
		if req.Method == "OPTIONS" {
			res.autoOptions(req.IsSocket)
			return
		}
		res.NotFound(nil)
		return
	}
	req.Params = params
	req.route = address
	var step func(i int)
	step = func(i int) {
		if i == len(ps) {
			h(req, res)
			return
		}
		var called atomic.Bool
		ps[i](req, res, func() {
			if called.CompareAndSwap(false, true) {
				step(i + 1)
			}
		})
	}
	step(0)
}

// dispatch runs a request on its own handler goroutine and waits for its answer: the handler's,
// or 500 after a panic or the response timeout. It returns nil when the request's context or
// the server ended first.
func (s *Server) dispatch(req *Request) *result {
	ctx, cancel := context.WithCancel(req.ctx)
	defer cancel()
	req.ctx = ctx
	res := newResponse()
	s.wg.Add(1)
	s.spawn(func() {
		defer s.wg.Done()
		defer func() {
			if v := recover(); v != nil {
				res.override(http.StatusInternalServerError, panicText(v))
			}
		}()
		s.route(req, res)
	})
	t := time.NewTimer(s.cfg.responseTimeout)
	defer t.Stop()
	select {
	case <-res.done:
	case <-t.C:
		res.override(http.StatusInternalServerError, fmt.Sprintf("mockserver: %s %s was not answered within %v", req.Method, req.URL, s.cfg.responseTimeout))
	case <-ctx.Done():
		return nil
	case <-s.ctx.Done():
		return nil
	}
	return res.result()
}

// dispatchInline is dispatch for virtual requests, without a goroutine per request: the route runs
// on the calling goroutine and deliver gets the result once — when the handler answers (before or
// after it returns), or 500 after a panic or the response timeout, delivered by the timer even if
// the handler never returns. Nothing is delivered when the connection or the server ends first.
// yield is called when the handler gives up its turn before returning (Request.Context, or the
// response timeout): see order.go.
func (s *Server) dispatchInline(req *Request, yield func(), deliver func(*result)) {
	ctx, cancel := context.WithCancel(req.ctx)
	req.ctx = ctx
	req.yield = yield
	res := newResponse()
	var once sync.Once
	finish := func() {
		once.Do(func() {
			cancel()
			if s.ctx.Err() == nil {
				deliver(res.result())
			}
		})
	}
	timer := time.AfterFunc(s.cfg.responseTimeout, func() {
		res.override(http.StatusInternalServerError, fmt.Sprintf("mockserver: %s %s was not answered within %v", req.Method, req.URL, s.cfg.responseTimeout))
		finish()
		yield() // a handler stuck past the timeout no longer holds up the socket
	})
	func() {
		defer func() {
			if v := recover(); v != nil {
				res.override(http.StatusInternalServerError, panicText(v))
			}
		}()
		s.route(req, res)
	}()
	select {
	case <-res.done:
		timer.Stop()
		finish()
		return
	default:
	}
	// The handler returned without answering: wait for a later answer without holding this worker.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-res.done:
			finish()
		case <-ctx.Done(): // the connection ended, or the timer answered
		case <-s.ctx.Done():
		}
		timer.Stop()
	}()
}

// serveRoute serves a plain HTTP request through the router.
func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.maxBuffer))
	if err != nil {
		http.Error(w, "Payload Too Large", http.StatusRequestEntityTooLarge)
		return
	}
	body, ok := httpBody(r.Header.Get("Content-Type"), raw)
	if !ok {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	h := r.Header.Clone()
	h.Set("Host", r.Host)
	sid := ""
	if c, err := r.Cookie(SessionCookieName); err == nil {
		sid = c.Value
	}
	sess := s.sessions.lookup(sid)
	newSession := sess == nil
	if newSession {
		sess = s.sessions.create()
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	// The request's context also ends when the server stops.
	run := s.runContext()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(run, cancel)()
	req := s.newRequest(ctx, requestInit{
		contentLength: r.ContentLength,
		method:        r.Method,
		url:           r.URL.RequestURI(),
		path:          r.URL.EscapedPath(),
		query:         r.URL.Query(),
		body:          body,
		headers:       h,
		session:       sess,
		ip:            remoteIP(r.RemoteAddr),
		protocol:      proto,
	})
	var res *result
	if s.waitUnpaused(ctx) {
		res = s.dispatch(req)
	}
	if res == nil || !s.beforeAnswer(ctx) {
		if run.Err() != nil && s.ctx.Err() == nil {
			panic(http.ErrAbortHandler) // Stop: the server died, the connection is cut
		}
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	if newSession {
		http.SetCookie(w, &http.Cookie{Name: SessionCookieName, Value: sess.id, Path: "/", HttpOnly: true})
	}
	res.writeHTTP(w)
}

// httpBody turns an HTTP request body into the JSON body handlers see: JSON as is,
// urlencoded forms as an object of strings (a repeated key as an array), anything else `{}`.
// It reports false for a malformed JSON body.
func httpBody(contentType string, raw []byte) (json.RawMessage, bool) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("{}"), true
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "" && json.Valid(raw):
		if !json.Valid(raw) {
			return nil, false
		}
		return compactJSON(raw), true
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, false
		}
		m := make(map[string]any, len(vals))
		for k, vs := range vals {
			if len(vs) == 1 {
				m[k] = vs[0]
			} else {
				m[k] = vs
			}
		}
		b, err := marshalJSON(m)
		return b, err == nil
	}
	return json.RawMessage("{}"), true
}
