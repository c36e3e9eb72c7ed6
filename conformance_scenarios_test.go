package sailsio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

// The scenarios of the conformance suite (see conformance_test.go). Each runs against every
// backend and asserts what real Sails does.

type echo struct {
	Method   string            `json:"method"`
	URL      string            `json:"url"`
	Path     string            `json:"path"`
	Params   map[string]any    `json:"params"`
	Body     map[string]any    `json:"body"`
	Query    map[string]any    `json:"query"`
	Headers  map[string]string `json:"headers"`
	IsSocket bool              `json:"isSocket"`
	IP       string            `json:"ip"`
}

// echoKeys are the keys of an /echo answer, in order (res.json of an object literal).
var echoKeys = []string{"method", "url", "path", "params", "body", "query", "headers", "isSocket", "ip"}

func decodeEcho(t *testing.T, jwr *sailsio.JWRes) echo {
	t.Helper()
	var e echo
	if err := jwr.Decode(&e); err != nil {
		t.Fatalf("echo body %s: %v", jwr.Body, err)
	}
	return e
}

var generatedCookie = regexp.MustCompile(`^sails\.sid=s%3A[^;]+$`)

// headerNames returns the sorted names of an echo's headers.
func headerNames(h map[string]string) []string {
	var names []string
	for k := range h {
		names = append(names, k)
	}
	sortStrings(names)
	return names
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func scenarioVersion(t *testing.T, b *backend) {
	s := connect(t, b)
	jwr, err := s.GetContext(testCtx(t), "/version", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"sails", "hook", "socketio", "engineio", "orm", "node"}, keysOf(t, jwr.Body)); d != "" {
		t.Errorf("version keys (-want +got):\n%s", d)
	}
	var v map[string]string
	if err := jwr.Decode(&v); err != nil {
		t.Fatal(err)
	}
	wantHook, wantIO := "2.", "2."
	switch {
	case b.hook == 3:
		wantHook, wantIO = "3.", "4."
	case b.legacy():
		wantHook, wantIO = "1.5.5", "2.0."
	}
	if !strings.HasPrefix(v["hook"], wantHook) || !strings.HasPrefix(v["socketio"], wantIO) {
		t.Errorf("versions %s, want hook %s* socket.io %s*", jwr.Body, wantHook, wantIO)
	}
	if b.isMock() {
		if v["sails"] != "mock" || !strings.HasSuffix(v["hook"], "-mock") {
			t.Errorf("mock versions %s", jwr.Body)
		}
	} else if !strings.HasPrefix(v["sails"], "1.") {
		t.Errorf("sails version %q, want 1.x", v["sails"])
	}
	t.Logf("%s: %s", b.name, jwr.Body)
}

func scenarioEcho(t *testing.T, b *backend) {
	s := connect(t, b)
	type res struct {
		body json.RawMessage
		jwr  *sailsio.JWRes
	}
	got := make(chan res, 1)
	s.Get("/echo?x=1", map[string]any{"a": 1}, func(body json.RawMessage, jwr *sailsio.JWRes) { got <- res{body, jwr} })
	r := await(t, got, "callback")
	if r.jwr.StatusCode != 200 || r.jwr.Error != nil || string(r.body) != string(r.jwr.Body) {
		t.Fatalf("callback: %v", r.jwr)
	}
	if d := cmp.Diff(echoKeys, keysOf(t, r.jwr.Body)); d != "" {
		t.Errorf("echo keys (-want +got):\n%s", d)
	}
	e := decodeEcho(t, r.jwr)
	want := echo{Method: "GET", URL: "/echo?x=1", Path: "/echo", Params: map[string]any{"x": "1", "a": 1.0},
		Body: map[string]any{"a": 1.0}, Query: map[string]any{"x": "1"}, IsSocket: true, IP: "127.0.0.1"}
	if d := cmp.Diff(want, e, cmpIgnoreField("Headers")); d != "" {
		t.Errorf("GET echo (-want +got):\n%s", d)
	}
	// Over a socket the only header the server adds is the handshake's cookie (a session cookie the
	// server generated, as this handshake had none): no host, no origin.
	if d := cmp.Diff([]string{"cookie"}, headerNames(e.Headers)); d != "" || !generatedCookie.MatchString(e.Headers["cookie"]) {
		t.Errorf("server saw headers %v (-want names +got):\n%s", e.Headers, d)
	}
	if d := cmp.Diff(http.Header{"X-Echo": {"1"}}, r.jwr.Headers); d != "" {
		t.Errorf("response headers (-want +got):\n%s", d)
	}
	jwr, err := s.PostContext(testCtx(t), "/echo", map[string]any{"name": "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	e = decodeEcho(t, jwr)
	if e.Method != "POST" || e.Body["name"] != "Ada" || e.Params["name"] != "Ada" || !e.IsSocket {
		t.Errorf("POST echo %s", jwr.Body)
	}
	for _, m := range []string{"put", "patch", "delete"} {
		jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{Method: m, URL: "/echo/"})
		if err != nil || jwr.StatusCode != 200 || decodeEcho(t, jwr).Method != strings.ToUpper(m) {
			t.Errorf("%s: %v %v", m, jwr, err)
		}
	}
}

func cmpIgnoreField(name string) cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == "."+name }, cmp.Ignore())
}

func scenarioHeaders(t *testing.T, b *backend) {
	s := connect(t, b, sailsio.WithHeaders(map[string]string{"X-Global": "g", "x-both": "global"}))
	jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{URL: "/echo", Headers: map[string]string{"X-Both": "request", "origin": "http://evil.example"}})
	if err != nil {
		t.Fatal(err)
	}
	h := decodeEcho(t, jwr).Headers
	if h["x-global"] != "g" || h["x-both"] != "request" {
		t.Errorf("server saw headers %v", h)
	}
	// The virtual origin is always the handshake's, which had none here.
	if _, ok := h["origin"]; ok {
		t.Errorf("per-request origin reached the server: %v", h)
	}
	// A per-request host header is passed through (Sails only fills host when it is missing, from
	// sails.config.host, unset here).
	jwr, err = s.Do(testCtx(t), sailsio.RequestOptions{URL: "/echo", Headers: map[string]string{"host": "virtual.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if h := decodeEcho(t, jwr).Headers; h["host"] != "virtual.example" {
		t.Errorf("per-request host: server saw %v", h)
	}
	s.SetHeaders(map[string]string{"x-later": "1"})
	jwr, err = s.GetContext(testCtx(t), "/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := decodeEcho(t, jwr).Headers; h["x-later"] != "1" || h["x-global"] != "" {
		t.Errorf("after SetHeaders the server saw %v", h)
	}
	_, err = s.Do(testCtx(t), sailsio.RequestOptions{URL: "/echo", Headers: map[string]string{"x-a": "1\r\nx-b: 2"}})
	if !errors.Is(err, sailsio.ErrInvalidHeader) {
		t.Errorf("CRLF header: %v, want ErrInvalidHeader", err)
	}
	// W3C trace context as virtual headers reaches the action's req.headers (GET /trace), as it
	// would over HTTP: what otelsailsio relies on.
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	jwr, err = s.Do(testCtx(t), sailsio.RequestOptions{URL: "/trace", Headers: map[string]string{"traceparent": tp, "baggage": "k=v"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(jwr.Body), `{"traceparent":"`+tp+`","tracestate":null,"baggage":"k=v"}`; got != want {
		t.Errorf("GET /trace answered %s, want %s", got, want)
	}
}

// scenarioCookieIgnored: the session is the handshake's. A per-request cookie header, even one of
// a logged-in session, changes nothing.
func scenarioCookieIgnored(t *testing.T, b *backend) {
	jar := newJar(t)
	httpLogin(t, b, jar, "eve")
	u, _ := url.Parse(b.url)
	var sid string
	for _, c := range jar.Cookies(u) {
		if c.Name == "sails.sid" {
			sid = c.Value
		}
	}
	if sid == "" {
		t.Fatalf("HTTP login set no sails.sid cookie: %v", jar.Cookies(u))
	}
	s := connect(t, b) // no jar: the server generates the socket's session cookie
	cookie := map[string]string{"cookie": "sails.sid=" + sid}
	jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{URL: "/me", Headers: cookie})
	if err != nil || string(jwr.Body) != `{"user":null}` {
		t.Errorf("/me with a per-request cookie: %v %v, want {\"user\":null}", jwr, err)
	}
	jwr, err = s.Do(testCtx(t), sailsio.RequestOptions{URL: "/echo", Headers: cookie})
	if err != nil {
		t.Fatal(err)
	}
	if c := decodeEcho(t, jwr).Headers["cookie"]; c == cookie["cookie"] || !generatedCookie.MatchString(c) {
		t.Errorf("server saw cookie %q, want the handshake's generated one", c)
	}
}

func scenarioStatus(t *testing.T, b *backend) {
	s := connect(t, b)
	for _, code := range []int{200, 201, 302, 400, 403, 404, 500} {
		jwr, err := s.GetContext(testCtx(t), "/status/"+strconv.Itoa(code), nil)
		if err != nil {
			t.Fatalf("status %d: %v", code, err)
		}
		var se *sailsio.StatusError
		isErr := code >= 400
		if jwr.StatusCode != code || (jwr.Error != nil) != isErr || (isErr && (!errors.As(jwr.Error, &se) || se.StatusCode != code)) {
			t.Errorf("status %d: got %v", code, jwr)
		}
		if want := `{"status":` + strconv.Itoa(code) + `}`; string(jwr.Body) != want || len(jwr.Headers) != 0 {
			t.Errorf("status %d: body %s headers %v, want %s and no headers", code, jwr.Body, jwr.Headers, want)
		}
	}
	for _, c := range []struct{ url, body string }{
		{"/status/abc", `{"error":"bad status code"}`},
		{"/status/99", `{"error":"bad status code"}`},
	} {
		jwr, err := s.GetContext(testCtx(t), c.url, nil)
		if err != nil || jwr.StatusCode != 400 || string(jwr.Body) != c.body {
			t.Errorf("%s: %v %v, want 400 %s", c.url, jwr, err, c.body)
		}
	}
	// The code is read as JavaScript's Number reads it.
	if jwr, err := s.GetContext(testCtx(t), "/status/2e2", nil); err != nil || jwr.StatusCode != 200 || string(jwr.Body) != `{"status":200}` {
		t.Errorf("/status/2e2: %v %v, want 200 {\"status\":200}", jwr, err)
	}
	// No route: 404 with the body "Not Found" (res.notFound), whatever the verb.
	for _, m := range []string{"get", "post", "delete"} {
		jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{Method: m, URL: "/no/such/route"})
		var se *sailsio.StatusError
		if err != nil || jwr.StatusCode != 404 || string(jwr.Body) != `"Not Found"` || !errors.As(jwr.Error, &se) || string(se.Body) != `"Not Found"` {
			t.Errorf("%s unknown route: %v %v", m, jwr, err)
		}
	}
	// A verb a route does not have: 404 too (POST /login exists, GET /login does not).
	if jwr, err := s.GetContext(testCtx(t), "/login", nil); err != nil || jwr.StatusCode != 404 {
		t.Errorf("GET /login: %v %v", jwr, err)
	}
}

// scenarioRedirect: res.redirect answers a JWR with status 302 and a Location header; the client
// does not follow it.
func scenarioRedirect(t *testing.T, b *backend) {
	s := connect(t, b)
	for _, c := range []struct{ url, location, body string }{
		{"/redirect", "/echo", `"Redirecting to /echo"`},
		{"/redirect?to=" + url.QueryEscape("/far away"), "/far away", `"Redirecting to /far%20away"`},
	} {
		jwr, err := s.GetContext(testCtx(t), c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if jwr.StatusCode != 302 || jwr.Error != nil || string(jwr.Body) != c.body {
			t.Errorf("%s: %v, want 302 %s", c.url, jwr, c.body)
		}
		if jwr.Headers.Get("Location") != c.location || jwr.Headers.Get("Content-Type") != "text/html" {
			t.Errorf("%s: headers %v, want Location %q and Content-Type text/html", c.url, jwr.Headers, c.location)
		}
	}
}

// scenarioOptionsHead: OPTIONS never reaches an action bound without a verb (Sails binds those to
// GET, PUT, POST, DELETE and PATCH): the router answers 200 with an Allow header and no body, on
// any path. HEAD is served by the GET route, body included.
func scenarioOptionsHead(t *testing.T, b *backend) {
	s := connect(t, b)
	wantHeaders := http.Header{
		"Allow":                  {"DELETE, GET, HEAD, PATCH, POST, PUT"},
		"Content-Length":         {"35"},
		"Content-Type":           {"text/plain"},
		"X-Content-Type-Options": {"nosniff"},
	}
	for _, u := range []string{"/echo", "/version", "/pet", "/no/such/route"} {
		jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{Method: "options", URL: u})
		if err != nil {
			t.Fatal(err)
		}
		if jwr.StatusCode != 200 || jwr.Error != nil || string(jwr.Body) != "null" {
			t.Errorf("OPTIONS %s: %v, want 200 without a body", u, jwr)
		}
		if d := cmp.Diff(wantHeaders, jwr.Headers); d != "" {
			t.Errorf("OPTIONS %s headers (-want +got):\n%s", u, d)
		}
	}
	jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{Method: "head", URL: "/echo?h=1"})
	if err != nil {
		t.Fatal(err)
	}
	if e := decodeEcho(t, jwr); jwr.StatusCode != 200 || e.Method != "HEAD" || e.Query["h"] != "1" || jwr.Headers.Get("X-Echo") != "1" {
		t.Errorf("HEAD /echo: %v", jwr)
	}
	jwr, err = s.Do(testCtx(t), sailsio.RequestOptions{Method: "head", URL: "/version"})
	if err != nil || jwr.StatusCode != 200 || !strings.Contains(string(jwr.Body), `"hook"`) {
		t.Errorf("HEAD /version (a GET route): %v %v", jwr, err)
	}
	jwr, err = s.Do(testCtx(t), sailsio.RequestOptions{Method: "head", URL: "/no/such/route"})
	if err != nil || jwr.StatusCode != 404 || string(jwr.Body) != `"Not Found"` {
		t.Errorf("HEAD unknown route: %v %v", jwr, err)
	}
}

// scenarioPolicy: the policy calls res.forbidden({error: 'no key'}); Sails' res.forbidden ignores
// its argument and sends "Forbidden".
func scenarioPolicy(t *testing.T, b *backend) {
	s := connect(t, b)
	jwr, err := s.GetContext(testCtx(t), "/secret", nil)
	var se *sailsio.StatusError
	if err != nil || jwr.StatusCode != 403 || string(jwr.Body) != `"Forbidden"` || len(jwr.Headers) != 0 ||
		!errors.As(jwr.Error, &se) || se.StatusCode != 403 {
		t.Errorf("without key: %v %v, want 403 \"Forbidden\"", jwr, err)
	}
	s.SetHeaders(map[string]string{"x-api-key": "letmein"})
	jwr, err = s.GetContext(testCtx(t), "/secret", nil)
	if err != nil || jwr.StatusCode != 200 || string(jwr.Body) != `{"secret":42}` {
		t.Errorf("with key: %v %v", jwr, err)
	}
}

func scenarioCancel(t *testing.T, b *backend) {
	s := connect(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := s.GetContext(ctx, "/slow?ms=1500", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow request: %v, want DeadlineExceeded", err)
	}
	jwr, err := s.GetContext(testCtx(t), "/echo", nil)
	if err != nil || jwr.StatusCode != 200 || !s.IsConnected() {
		t.Errorf("after cancelling: %v %v", jwr, err)
	}
	jwr, err = s.GetContext(testCtx(t), "/slow?ms=50", nil)
	if err != nil || string(jwr.Body) != `{"slow":true}` {
		t.Errorf("short slow request: %v %v", jwr, err)
	}
}

func scenarioBig(t *testing.T, b *backend) {
	s := connect(t, b)
	jwr, err := s.GetContext(testCtx(t), "/big?n=2000000", nil)
	if err != nil {
		t.Fatal(err)
	}
	var str string
	if err := jwr.Decode(&str); err != nil || len(str) != 2000000 || strings.Trim(str, "x") != "" {
		t.Errorf("big body: %d bytes, %v", len(str), err)
	}
	if jwr, err := s.GetContext(testCtx(t), "/big?n=3", nil); err != nil || string(jwr.Body) != `"xxx"` {
		t.Errorf("small big: %v %v", jwr, err)
	}
	big := strings.Repeat("y", 1<<20)
	jwr, err = s.PostContext(testCtx(t), "/size", map[string]string{"s": big})
	if err != nil || string(jwr.Body) != `{"bytes":`+strconv.Itoa(len(big)+8)+`}` {
		t.Errorf("size: %v %v", jwr, err)
	}
	// JSON.stringify(body).length counts UTF-16 code units: é is 1, 😀 is 2.
	jwr, err = s.PostContext(testCtx(t), "/size", map[string]any{"u": "é😀", "n": 1.5})
	if err != nil || string(jwr.Body) != `{"bytes":`+strconv.Itoa(len(`{"u":"","n":1.5}`)+3)+`}` {
		t.Errorf("size of non-ASCII: %v %v", jwr, err)
	}
}

func scenarioSession(t *testing.T, b *backend) {
	jar := newJar(t)
	httpLogin(t, b, jar, "ada")
	s := connect(t, b, sailsio.WithCookieJar(jar))
	jwr, err := s.GetContext(testCtx(t), "/me", nil)
	if err != nil || string(jwr.Body) != `{"user":"ada"}` {
		t.Errorf("socket /me after HTTP login: %v %v", jwr, err)
	}
	// Without the cookie the socket has a session of its own, per connection.
	s2 := connect(t, b)
	for want := 1; want <= 2; want++ {
		jwr, err := s2.GetContext(testCtx(t), "/count", nil)
		if err != nil || string(jwr.Body) != `{"count":`+strconv.Itoa(want)+`}` {
			t.Errorf("count %d: %v %v", want, jwr, err)
		}
	}
	jwr, err = s2.GetContext(testCtx(t), "/me", nil)
	if err != nil || string(jwr.Body) != `{"user":null}` {
		t.Errorf("/me without cookie: %v %v", jwr, err)
	}
	// An empty name is stored, and /me answers null for it: (req.session.user || null).
	if jwr, err := s2.PostContext(testCtx(t), "/login", map[string]string{"name": ""}); err != nil || string(jwr.Body) != `{"user":""}` {
		t.Errorf("socket login with an empty name: %v %v", jwr, err)
	}
	if jwr, err := s2.GetContext(testCtx(t), "/me", nil); err != nil || string(jwr.Body) != `{"user":null}` {
		t.Errorf("/me after a login with an empty name: %v %v", jwr, err)
	}
	// A socket login lasts as long as the socket's session.
	if jwr, err := s2.PostContext(testCtx(t), "/login", map[string]string{"name": "bob"}); err != nil || string(jwr.Body) != `{"user":"bob"}` {
		t.Errorf("socket login: %v %v", jwr, err)
	}
	if jwr, err := s2.GetContext(testCtx(t), "/me", nil); err != nil || string(jwr.Body) != `{"user":"bob"}` {
		t.Errorf("/me after socket login: %v %v", jwr, err)
	}
}

// scenarioSessionReconnect: with the cookie in a jar the handshake carries it again after
// Reconnect, so the session survives; without it the server generates a new session.
func scenarioSessionReconnect(t *testing.T, b *backend) {
	jar := newJar(t)
	httpLogin(t, b, jar, "grace")
	s := connect(t, b, sailsio.WithCookieJar(jar))
	plain := connect(t, b)
	for _, sock := range []*sailsio.SailsSocket{s, plain} {
		if jwr, err := sock.GetContext(testCtx(t), "/count", nil); err != nil || string(jwr.Body) != `{"count":1}` {
			t.Fatalf("count before Reconnect: %v %v", jwr, err)
		}
	}
	for _, sock := range []*sailsio.SailsSocket{s, plain} {
		before := sock.ID()
		if err := sock.Reconnect(testCtx(t)); err != nil {
			t.Fatalf("Reconnect: %v", err)
		}
		if sock.ID() == before || sock.ID() == "" {
			t.Errorf("socket id %q after Reconnect, was %q", sock.ID(), before)
		}
	}
	if jwr, err := s.GetContext(testCtx(t), "/me", nil); err != nil || string(jwr.Body) != `{"user":"grace"}` {
		t.Errorf("/me after Reconnect with the jar: %v %v", jwr, err)
	}
	if jwr, err := s.GetContext(testCtx(t), "/count", nil); err != nil || string(jwr.Body) != `{"count":2}` {
		t.Errorf("count after Reconnect with the jar: %v %v, want 2", jwr, err)
	}
	if jwr, err := plain.GetContext(testCtx(t), "/count", nil); err != nil || string(jwr.Body) != `{"count":1}` {
		t.Errorf("count after Reconnect without a jar: %v %v, want 1 (a new session)", jwr, err)
	}
}

func scenarioRooms(t *testing.T, b *backend) {
	room := "room-" + b.slug()
	a := connect(t, b)
	bb := connect(t, b)
	chatsA := make(chan string, 4)
	chatsB := make(chan string, 4)
	a.On("chat", func(d json.RawMessage) { chatsA <- string(d) })
	bb.On("chat", func(d json.RawMessage) { chatsB <- string(d) })
	for _, s := range []*sailsio.SailsSocket{a, bb} {
		jwr, err := s.PostContext(testCtx(t), "/rooms/"+room+"/join", nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"joined":"` + room + `","id":"` + s.ID() + `"}`; string(jwr.Body) != want {
			t.Errorf("join: %s, want %s", jwr.Body, want)
		}
	}
	if jwr, err := a.PostContext(testCtx(t), "/rooms/"+room+"/say", map[string]string{"text": "hi from A"}); err != nil || string(jwr.Body) != `{"sent":true}` {
		t.Fatalf("say: %v %v", jwr, err)
	}
	want := `{"room":"` + room + `","text":"hi from A","from":"` + a.ID() + `"}`
	if got := await(t, chatsB, "chat on the second socket"); got != want {
		t.Errorf("chat %s, want %s", got, want)
	}
	if got := await(t, chatsA, "chat on the sender (in the room too)"); got != want {
		t.Errorf("chat to the sender %s, want %s", got, want)
	}
	jwr, err := bb.PostContext(testCtx(t), "/rooms/"+room+"/leave", nil)
	if want := `{"left":"` + room + `","id":"` + bb.ID() + `"}`; err != nil || string(jwr.Body) != want {
		t.Errorf("leave: %v %v, want %s", jwr, err, want)
	}
	// No text: the key is left out (undefined), as JSON.stringify does.
	if _, err := a.PostContext(testCtx(t), "/rooms/"+room+"/say", nil); err != nil {
		t.Fatal(err)
	}
	if got, want := await(t, chatsA, "second chat"), `{"room":"`+room+`","from":"`+a.ID()+`"}`; got != want {
		t.Errorf("chat without text %s, want %s", got, want)
	}
	none(t, chatsB, 300*time.Millisecond, "chat after leaving the room")
	// Over HTTP the room actions refuse (400), and say has no sender.
	resp, err := http.Post(b.url+"/rooms/"+room+"/join", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("HTTP join: %s, want 400", resp.Status)
	}
	// say over HTTP: from is null, and text comes from the query as well (req.param).
	resp, err = http.Post(b.url+"/rooms/"+room+"/say?text=over+http", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HTTP say: %s, want 200", resp.Status)
	}
	if got, want := await(t, chatsA, "chat said over HTTP"), `{"room":"`+room+`","text":"over http","from":null}`; got != want {
		t.Errorf("chat said over HTTP %s, want %s", got, want)
	}
}

func scenarioBlast(t *testing.T, b *backend) {
	a := connect(t, b)
	bb := connect(t, b)
	event := "news-" + b.slug()
	got := make(chan string, 4)
	for name, s := range map[string]*sailsio.SailsSocket{"a": a, "b": bb} {
		s.On(event, func(d json.RawMessage) { got <- name + string(d) })
	}
	jwr, err := a.PostContext(testCtx(t), "/blast", map[string]any{"event": event, "data": map[string]int{"x": 1}})
	if err != nil || string(jwr.Body) != `{"blasted":true}` {
		t.Fatalf("blast: %v %v", jwr, err)
	}
	seen := map[string]bool{await(t, got, "blast"): true, await(t, got, "blast"): true}
	if d := cmp.Diff(map[string]bool{`a{"x":1}`: true, `b{"x":1}`: true}, seen); d != "" {
		t.Errorf("blast (-want +got):\n%s", d)
	}
}

// scenarioEvents: POST /events {n, size, event, chunk} sends n events {i, text} to the requesting
// socket, chunk per turn of the server's event loop, all before its answer {sent: n}; without
// parameters, one "tick" with 16 x; over HTTP, 400 (the bench's events section uses the route).
func scenarioEvents(t *testing.T, b *backend) {
	s := connect(t, b)
	event := "ev-" + b.slug()
	const n = 25
	var got []string // on the callback goroutine only, until done receives it
	s.On(event, func(d json.RawMessage) { got = append(got, string(d)) })
	ticks := make(chan string, 4)
	s.On("tick", func(d json.RawMessage) { ticks <- string(d) })
	done := make(chan []string, 1)
	answer := make(chan string, 1)
	// The callback runs on the callback goroutine after the handlers of the events that arrived
	// before the answer.
	s.Post("/events", map[string]any{"n": n, "size": 3, "event": event, "chunk": 4}, func(body json.RawMessage, jwr *sailsio.JWRes) {
		answer <- fmt.Sprintf("%d %s", jwr.StatusCode, body)
		done <- got
	})
	if a := await(t, answer, "answer"); a != `200 {"sent":25}` {
		t.Fatalf("POST /events: %s", a)
	}
	events := await(t, done, "events")
	if len(events) != n {
		t.Fatalf("%d events before the answer, want %d: %q", len(events), n, events)
	}
	for i, e := range events {
		if want := fmt.Sprintf(`{"i":%d,"text":"xxx"}`, i); e != want {
			t.Errorf("event %d: %s, want %s", i, e, want)
		}
	}
	jwr, err := s.PostContext(testCtx(t), "/events", nil)
	if err != nil || string(jwr.Body) != `{"sent":1}` {
		t.Fatalf("POST /events without parameters: %v %v", jwr, err)
	}
	if got, want := await(t, ticks, "tick"), `{"i":0,"text":"xxxxxxxxxxxxxxxx"}`; got != want {
		t.Errorf("default event %s, want %s", got, want)
	}
	resp, err := http.Post(b.url+"/events", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("HTTP POST /events: %s, want 400", resp.Status)
	}
}

type petEvent struct {
	raw  string
	Verb string          `json:"verb"`
	ID   json.Number     `json:"id"`
	Data json.RawMessage `json:"data"`
	Prev json.RawMessage `json:"previous"`
}

// scenarioPubSub: blueprint REST on the Pet model with autoWatch. A socket GET /pet watches the
// model; POST /pet answers 200 (not 201) and tells the watchers but the creator, which is
// subscribed to the new record; PATCH and DELETE tell the record's subscribers but the requester.
func scenarioPubSub(t *testing.T, b *backend) {
	watcher := connect(t, b)
	creator := connect(t, b)
	// The watcher hears of every record, those of the backends that share the server too: the
	// collector never blocks the socket's callbacks.
	wEvents, cEvents := testkit.Collect(watcher.On, "pet"), testkit.Collect(creator.On, "pet")
	decode := func(e testkit.Event) petEvent {
		t.Helper()
		ev := petEvent{raw: string(e.Data)}
		if err := json.Unmarshal(e.Data, &ev); err != nil {
			t.Errorf("pet event %s: %v", e.Data, err)
		}
		return ev
	}
	if jwr, err := watcher.GetContext(testCtx(t), "/pet", nil); err != nil || jwr.StatusCode != 200 || !strings.HasPrefix(string(jwr.Body), "[") {
		t.Fatalf("GET /pet: %v %v", jwr, err)
	}
	name := "rex-" + b.slug()
	jwr, err := creator.PostContext(testCtx(t), "/pet", map[string]string{"name": name})
	if err != nil || jwr.StatusCode != 200 {
		t.Fatalf("POST /pet: %v %v, want 200", jwr, err)
	}
	if d := cmp.Diff([]string{"createdAt", "updatedAt", "id", "name"}, keysOf(t, jwr.Body)); d != "" {
		t.Errorf("created record %s keys (-want +got):\n%s", jwr.Body, d)
	}
	var rec struct {
		CreatedAt, UpdatedAt int64
		ID                   json.Number
		Name                 string
	}
	if err := jwr.Decode(&rec); err != nil || rec.Name != name || rec.CreatedAt != rec.UpdatedAt || rec.CreatedAt == 0 {
		t.Fatalf("created record %s: %v", jwr.Body, err)
	}
	id := rec.ID.String()
	// next returns the next event about this record (other records' events are skipped).
	next := func(e *testkit.Events, who string) petEvent {
		t.Helper()
		for {
			if ev := decode(e.Next(t)); ev.ID.String() == id {
				return ev
			}
		}
	}
	ev := next(wEvents, "watcher")
	if want := `{"verb":"created","data":` + string(jwr.Body) + `,"id":` + id + `}`; ev.raw != want {
		t.Errorf("created event\n got %s\nwant %s", ev.raw, want)
	}

	jwr, err = watcher.PatchContext(testCtx(t), "/pet/"+id, map[string]string{"name": name + "-2"})
	if err != nil || jwr.StatusCode != 200 || !strings.Contains(string(jwr.Body), `"name":"`+name+`-2"`) {
		t.Fatalf("PATCH: %v %v", jwr, err)
	}
	updated := jwr.Body
	ev = next(cEvents, "creator (subscribed to its record)")
	if ev.Verb != "updated" || string(ev.Prev) != `{"createdAt":`+strconv.FormatInt(rec.CreatedAt, 10)+`,"updatedAt":`+strconv.FormatInt(rec.UpdatedAt, 10)+`,"id":`+id+`,"name":"`+name+`"}` {
		t.Errorf("updated event %s", ev.raw)
	}
	if d := cmp.Diff([]string{"verb", "data", "id", "previous"}, keysOf(t, []byte(ev.raw))); d != "" {
		t.Errorf("updated event keys (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"name", "id", "updatedAt"}, keysOf(t, ev.Data)); d != "" {
		t.Errorf("updated event data %s (-want +got):\n%s", ev.Data, d)
	}

	jwr, err = creator.DeleteContext(testCtx(t), "/pet/"+id, nil)
	if err != nil || jwr.StatusCode != 200 || string(jwr.Body) != string(updated) {
		t.Fatalf("DELETE: %v %v, want the record %s", jwr, err, updated)
	}
	ev = next(wEvents, "watcher")
	if want := `{"verb":"destroyed","id":` + id + `,"previous":` + string(updated) + `}`; ev.raw != want {
		t.Errorf("destroyed event\n got %s\nwant %s", ev.raw, want)
	}
	// The requester of each change is left out.
	for deadline := time.Now().Add(300 * time.Millisecond); ; { // a negative window
		e, ok := cEvents.TryNext(time.Until(deadline))
		if !ok {
			break
		}
		if ev := decode(e); ev.ID.String() == id {
			t.Errorf("event on the creator about its own change: %s", ev.raw)
		}
	}
	for _, e := range append(wEvents.Unread(), cEvents.Unread()...) {
		if ev := decode(e); ev.ID.String() == id {
			t.Errorf("unexpected event %s", ev.raw)
		}
	}
	for _, m := range []string{"get", "patch", "delete"} {
		jwr, err := watcher.Do(testCtx(t), sailsio.RequestOptions{Method: m, URL: "/pet/" + id})
		if err != nil || jwr.StatusCode != 404 || string(jwr.Body) != `"Not Found"` {
			t.Errorf("%s of a destroyed record: %v %v, want 404 \"Not Found\"", m, jwr, err)
		}
	}
}

func scenarioKick(t *testing.T, b *backend) {
	s := connect(t, b)
	disc := make(chan string, 2)
	s.On(sailsio.EventDisconnect, func(d json.RawMessage) { disc <- string(d) })
	jwr, err := s.PostContext(testCtx(t), "/kick", nil)
	if err != nil || jwr.StatusCode != 200 || string(jwr.Body) != `{"kicked":true}` {
		t.Fatalf("kick: %v %v", jwr, err)
	}
	if got := await(t, disc, "disconnect"); got != `{"reason":"io server disconnect"}` {
		t.Errorf("disconnect %s", got)
	}
	if _, err := s.GetContext(testCtx(t), "/echo", nil); !errors.Is(err, sailsio.ErrDisconnected) {
		t.Errorf("after a kick: %v, want ErrDisconnected (no reconnection after a kick)", err)
	}
}

// watchHeartbeat connects a socket that stays idle for longer than the server's
// pingInterval+pingTimeout (1000+2000 ms, times testkit.Scale) while the backend's other scenarios
// run: a client that pinged the wrong way, or not at all, or did not answer pings, would be closed.
func watchHeartbeat(t *testing.T, b *backend) func(t *testing.T) {
	s := connect(t, b)
	began := time.Now()
	disc := make(chan string, 1)
	s.On(sailsio.EventDisconnect, func(d json.RawMessage) { disc <- string(d) })
	return func(t *testing.T) {
		select {
		case d := <-disc:
			t.Fatalf("disconnected while idle: %s", d)
		case <-time.After(time.Until(began.Add(testkit.D(3500 * time.Millisecond)))): // idle on purpose: the scenario is the silence
		}
		if jwr, err := s.GetContext(testCtx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 {
			t.Errorf("after idling: %v %v", jwr, err)
		}
	}
}

// scenarioOrigins (restricted servers): onlyAllowOrigins refuses a handshake without Origin or
// with another one (HTTP 400: "Bad request" on hook 3, "Origin not allowed" on hook 2), and a
// virtual request's origin is always the handshake's.
func scenarioOrigins(t *testing.T, b *backend) {
	wantBody, wantStatus := "Bad request", 400
	if b.hook == 2 {
		wantBody = "Origin not allowed"
		if b.tmode != "websocket" {
			wantStatus = 403 // socket.io 2 refuses a polling request of another origin with 403
		}
	}
	for _, origin := range []string{"", "http://evil.example"} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		_, err := sailsio.Connect(testCtx(t), b.url, sailsio.WithProtocol(b.proto), b.transports(), sailsio.WithInitialConnectionHeaders(h), sailsio.WithReconnection(false))
		var he *sailsio.HandshakeError
		if !errors.As(err, &he) || he.StatusCode != wantStatus || he.Body != wantBody {
			t.Errorf("origin %q: %v, want a HandshakeError %d %q", origin, err, wantStatus, wantBody)
		}
	}
	s := connect(t, b) // with the good origin
	jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{URL: "/echo", Headers: map[string]string{"origin": "http://other.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if o := decodeEcho(t, jwr).Headers["origin"]; o != b.origin {
		t.Errorf("virtual origin %q, want the handshake's %q", o, b.origin)
	}
}

// scenarioMaxBuffer (restricted servers, maxHttpBufferSize 2000): a bigger message closes the
// connection with WebSocket status 1009; the in-flight request fails with ErrMessageTooLarge.
// Hook 3 advertises the limit as maxPayload, so there the client refuses such a request itself
// and stays connected; hook 2 advertises nothing.
func scenarioMaxBuffer(t *testing.T, b *backend) {
	s := connect(t, b)
	disc := make(chan string, 4)
	s.On(sailsio.EventDisconnect, func(d json.RawMessage) { disc <- string(d) })
	if jwr, err := s.PostContext(testCtx(t), "/size", map[string]string{"s": strings.Repeat("a", 1500)}); err != nil || string(jwr.Body) != `{"bytes":1508}` {
		t.Fatalf("request under the limit: %v %v", jwr, err)
	}
	_, err := s.PostContext(testCtx(t), "/size", map[string]string{"s": strings.Repeat("a", 3000)})
	if b.hook == 2 && b.tmode == "polling" || b.legacy() {
		// engine.io 3 destroys the connection of a POST over the limit, and the ws 3.3 of hook 1
		// that of a WebSocket message over it (no close frame): the client cannot tell why.
		if !errors.Is(err, sailsio.ErrDisconnected) {
			t.Fatalf("request over the limit: %v, want ErrDisconnected", err)
		}
		// the POST fails (transport error), or the GET brings the close packet first; the
		// WebSocket ends without a close frame (transport close)
		got := await(t, disc, "disconnect")
		if got != `{"reason":"transport error"}` && got != `{"reason":"transport close"}` {
			t.Errorf("disconnect %s", got)
		}
		t.Logf("request over the limit: %v; disconnect %s", err, got)
		if jwr, err := s.GetContext(testCtx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 {
			t.Errorf("after the refused request: %v %v", jwr, err)
		}
		return
	}
	if !errors.Is(err, sailsio.ErrMessageTooLarge) {
		t.Fatalf("request over the limit: %v, want ErrMessageTooLarge", err)
	}
	if b.hook == 3 {
		// Refused by the client: nothing was sent, the connection stays.
		if errors.Is(err, sailsio.ErrDisconnected) || !s.IsConnected() {
			t.Errorf("over maxPayload: %v (connected %v), want a refusal before sending", err, s.IsConnected())
		}
		none(t, disc, 200*time.Millisecond, "disconnect")
	} else {
		// Sent: the server closed the connection with 1009.
		if !errors.Is(err, sailsio.ErrDisconnected) {
			t.Errorf("over maxHttpBufferSize: %v, want ErrDisconnected too", err)
		}
		if got := await(t, disc, "disconnect"); got != `{"reason":"transport close"}` {
			t.Errorf("disconnect %s", got)
		}
	}
	// The socket works (again: the client reconnects by itself after the close).
	if jwr, err := s.GetContext(testCtx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 {
		t.Errorf("after the refused request: %v %v", jwr, err)
	}
}

// scenarioPlainHTTP: the same routes over plain HTTP (the mock serves both transports through one
// router). JSON bodies are compared as JSON: Sails in development pretty-prints them.
func scenarioPlainHTTP(t *testing.T, b *backend) {
	hc := &http.Client{
		Timeout:       testkit.Wait,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	do := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(testCtx(t), method, b.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body strings.Builder
		if _, err := io.Copy(&body, resp.Body); err != nil {
			t.Fatal(err)
		}
		return resp, body.String()
	}
	for _, c := range []struct {
		method, path string
		status       int
		contentType  string
		body         string // text, or JSON when contentType is JSON
		header       http.Header
	}{
		{"GET", "/secret", 403, "text/plain; charset=utf-8", "Forbidden", nil},
		{"GET", "/no/such/route", 404, "text/plain; charset=utf-8", "Not Found", nil},
		{"HEAD", "/no/such/route", 404, "text/plain; charset=utf-8", "", nil},
		{"GET", "/big?n=3", 200, "text/html; charset=utf-8", "xxx", nil},
		{"GET", "/status/201", 201, "application/json; charset=utf-8", `{"status":201}`, nil},
		{"POST", "/rooms/r/join", 400, "application/json; charset=utf-8", `{"error":"not a socket"}`, nil},
		{"POST", "/kick", 400, "application/json; charset=utf-8", `{"error":"not a socket"}`, nil},
		{"OPTIONS", "/echo", 200, "text/html; charset=utf-8", "GET,HEAD,PUT,POST,DELETE,PATCH", http.Header{"Allow": {"GET,HEAD,PUT,POST,DELETE,PATCH"}}},
		{"OPTIONS", "/no/such/route", 200, "text/html; charset=utf-8", "GET,HEAD,PUT,POST,DELETE,PATCH", http.Header{"Allow": {"GET,HEAD,PUT,POST,DELETE,PATCH"}}},
		{"GET", "/redirect", 302, "text/plain; charset=utf-8", "Found. Redirecting to /echo", http.Header{"Location": {"/echo"}}},
		{"GET", "/redirect?to=" + url.QueryEscape("/far away"), 302, "text/plain; charset=utf-8", "Found. Redirecting to /far%20away", http.Header{"Location": {"/far%20away"}}},
	} {
		resp, body := do(c.method, c.path)
		what := c.method + " " + c.path
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != c.contentType {
			t.Errorf("%s: %s %q, want %d %q", what, resp.Status, resp.Header.Get("Content-Type"), c.status, c.contentType)
		}
		if strings.HasPrefix(c.contentType, "application/json") {
			var got, want any
			if json.Unmarshal([]byte(body), &got) != nil || json.Unmarshal([]byte(c.body), &want) != nil || !cmp.Equal(got, want) {
				t.Errorf("%s: body %q, want JSON %s", what, body, c.body)
			}
		} else if body != c.body {
			t.Errorf("%s: body %q, want %q", what, body, c.body)
		}
		for k := range c.header {
			if resp.Header.Get(k) != c.header.Get(k) {
				t.Errorf("%s: %s %q, want %q", what, k, resp.Header.Get(k), c.header.Get(k))
			}
		}
		// Every response to a request without a session cookie sets one.
		if sc := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "sails.sid=") || !strings.Contains(sc, "HttpOnly") {
			t.Errorf("%s: Set-Cookie %q, want a sails.sid session cookie", what, sc)
		}
	}
	resp, body := do("GET", "/version")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("GET /version: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	if d := cmp.Diff([]string{"sails", "hook", "socketio", "engineio", "orm", "node"}, keysOf(t, []byte(body))); d != "" {
		t.Errorf("version keys (-want +got):\n%s", d)
	}
}
