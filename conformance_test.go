package sailsio_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
)

// The integration tests lift the Sails app of testdata/sails with each hook and run the same
// scenarios with EIO3 against both hooks and EIO4 against hook 3. Without Node they skip (locally)
// or fail (CI=true); see internal/realsails.

// Short heartbeats, so that every scenario also proves the heartbeat direction: a client pinging
// the wrong way is closed by the server within pingInterval+pingTimeout.
var heartbeatEnv = []realsails.Option{
	realsails.WithEnv("SAILSIO_PING_INTERVAL", "1000"),
	realsails.WithEnv("SAILSIO_PING_TIMEOUT", "2000"),
}

type realTarget struct {
	hook  string
	proto sailsio.Protocol
	srv   *realsails.Server
}

func (rt realTarget) name() string { return rt.hook + "/EIO" + string(rune('0'+rt.proto)) }

// realTargets lifts both hooks (once per calling test) and returns the hook/protocol combinations.
func realTargets(t *testing.T, opts ...realsails.Option) []realTarget {
	var out []realTarget
	for _, hook := range realsails.Hooks() {
		srv := realsails.Start(t, hook, opts...)
		out = append(out, realTarget{hook, sailsio.EIO3, srv})
		if hook == "hook3" {
			out = append(out, realTarget{hook, sailsio.EIO4, srv})
		}
	}
	return out
}

func connectReal(t *testing.T, rt realTarget, opts ...sailsio.Option) *sailsio.SailsSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, rt.srv.URL, append([]sailsio.Option{sailsio.WithProtocol(rt.proto)}, opts...)...)
	if err != nil {
		t.Fatalf("Connect(%s): %v", rt.name(), err)
	}
	t.Cleanup(func() { s.Disconnect() })
	return s
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type echo struct {
	Method   string            `json:"method"`
	URL      string            `json:"url"`
	Path     string            `json:"path"`
	Params   map[string]any    `json:"params"`
	Body     map[string]any    `json:"body"`
	Query    map[string]any    `json:"query"`
	Headers  map[string]string `json:"headers"`
	IsSocket bool              `json:"isSocket"`
}

func decodeEcho(t *testing.T, jwr *sailsio.JWRes) echo {
	t.Helper()
	var e echo
	if err := jwr.Decode(&e); err != nil {
		t.Fatalf("echo body %s: %v", jwr.Body, err)
	}
	return e
}

// recv waits for one value (bounded).
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		var zero T
		return zero
	}
}

func TestRealSails(t *testing.T) {
	for _, rt := range realTargets(t, heartbeatEnv...) {
		t.Run(rt.name(), func(t *testing.T) {
			t.Run("version", func(t *testing.T) {
				s := connectReal(t, rt)
				jwr, err := s.GetContext(tctx(t), "/version", nil)
				if err != nil {
					t.Fatal(err)
				}
				var v struct{ Hook, Socketio string }
				if err := jwr.Decode(&v); err != nil {
					t.Fatal(err)
				}
				wantHook, wantIO := "2.", "2."
				if rt.hook == "hook3" {
					wantHook, wantIO = "3.", "4."
				}
				if !strings.HasPrefix(v.Hook, wantHook) || !strings.HasPrefix(v.Socketio, wantIO) {
					t.Errorf("versions %s, want hook %s* socket.io %s*", jwr.Body, wantHook, wantIO)
				}
				t.Logf("%s: %s", rt.name(), jwr.Body)
			})
			t.Run("echo both styles", func(t *testing.T) { scenarioEcho(t, rt) })
			t.Run("headers", func(t *testing.T) { scenarioHeaders(t, rt) })
			t.Run("status codes", func(t *testing.T) { scenarioStatus(t, rt) })
			t.Run("policy", func(t *testing.T) { scenarioPolicy(t, rt) })
			t.Run("cancel keeps the connection", func(t *testing.T) { scenarioCancel(t, rt) })
			t.Run("big payloads", func(t *testing.T) { scenarioBig(t, rt) })
			t.Run("session from HTTP login", func(t *testing.T) { scenarioSession(t, rt) })
			t.Run("room broadcast to a second socket", func(t *testing.T) { scenarioRooms(t, rt) })
			t.Run("blast", func(t *testing.T) { scenarioBlast(t, rt) })
			t.Run("blueprint pubsub", func(t *testing.T) { scenarioPubSub(t, rt) })
			t.Run("server kick", func(t *testing.T) { scenarioKick(t, rt) })
			t.Run("heartbeat holds", func(t *testing.T) { scenarioHeartbeat(t, rt) })
		})
	}
}

func scenarioEcho(t *testing.T, rt realTarget) {
	s := connectReal(t, rt)
	type res struct {
		body json.RawMessage
		jwr  *sailsio.JWRes
	}
	got := make(chan res, 1)
	s.Get("/echo?x=1", map[string]any{"a": 1}, func(body json.RawMessage, jwr *sailsio.JWRes) { got <- res{body, jwr} })
	r := recv(t, got, "callback")
	if r.jwr.StatusCode != 200 || r.jwr.Error != nil || string(r.body) != string(r.jwr.Body) {
		t.Fatalf("callback: %v", r.jwr)
	}
	e := decodeEcho(t, r.jwr)
	want := echo{Method: "GET", URL: "/echo?x=1", Path: "/echo", Params: map[string]any{"x": "1", "a": 1.0},
		Body: map[string]any{"a": 1.0}, Query: map[string]any{"x": "1"}, IsSocket: true}
	if d := cmp.Diff(want, e, ignoreHeaders); d != "" {
		t.Errorf("GET echo (-want +got):\n%s", d)
	}
	if r.jwr.Headers.Get("X-Echo") != "1" {
		t.Errorf("response headers %v, want X-Echo: 1", r.jwr.Headers)
	}
	jwr, err := s.PostContext(tctx(t), "/echo", map[string]any{"name": "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	e = decodeEcho(t, jwr)
	if e.Method != "POST" || e.Body["name"] != "Ada" || !e.IsSocket {
		t.Errorf("POST echo %s", jwr.Body)
	}
	for _, m := range []string{"put", "patch", "delete"} {
		jwr, err := s.Do(tctx(t), sailsio.RequestOptions{Method: strings.ToUpper(m), URL: "/echo"})
		if err != nil || decodeEcho(t, jwr).Method != strings.ToUpper(m) {
			t.Errorf("%s: %v %v", m, jwr, err)
		}
	}
}

var ignoreHeaders = cmpIgnoreField("Headers")

func cmpIgnoreField(name string) cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == "."+name }, cmp.Ignore())
}

func scenarioHeaders(t *testing.T, rt realTarget) {
	s := connectReal(t, rt, sailsio.WithHeaders(map[string]string{"X-Global": "g", "x-both": "global"}))
	jwr, err := s.Do(tctx(t), sailsio.RequestOptions{URL: "/echo", Headers: map[string]string{"X-Both": "request", "cookie": "sails.sid=ignored", "origin": "http://evil.example"}})
	if err != nil {
		t.Fatal(err)
	}
	h := decodeEcho(t, jwr).Headers
	if h["x-global"] != "g" || h["x-both"] != "request" {
		t.Errorf("server saw headers %v", h)
	}
	// Sails takes cookie and origin from the handshake, whatever the request says.
	if h["cookie"] == "sails.sid=ignored" || h["origin"] == "http://evil.example" {
		t.Errorf("per-request cookie/origin reached the server: %v", h)
	}
	s.SetHeaders(map[string]string{"x-later": "1"})
	jwr, err = s.GetContext(tctx(t), "/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := decodeEcho(t, jwr).Headers; h["x-later"] != "1" || h["x-global"] != "" {
		t.Errorf("after SetHeaders the server saw %v", h)
	}
	_, err = s.Do(tctx(t), sailsio.RequestOptions{URL: "/echo", Headers: map[string]string{"x-a": "1\r\nx-b: 2"}})
	if !errors.Is(err, sailsio.ErrInvalidHeader) {
		t.Errorf("CRLF header: %v, want ErrInvalidHeader", err)
	}
}

func scenarioStatus(t *testing.T, rt realTarget) {
	s := connectReal(t, rt)
	for _, code := range []int{200, 201, 302, 400, 403, 404, 500} {
		jwr, err := s.GetContext(tctx(t), "/status/"+strconv.Itoa(code), nil)
		if err != nil {
			t.Fatalf("status %d: %v", code, err)
		}
		var se *sailsio.StatusError
		isErr := code >= 400
		if jwr.StatusCode != code || (jwr.Error != nil) != isErr || (isErr && (!errors.As(jwr.Error, &se) || se.StatusCode != code)) {
			t.Errorf("status %d: got %v", code, jwr)
		}
	}
	jwr, err := s.GetContext(tctx(t), "/no/such/route", nil)
	if err != nil || jwr.StatusCode != 404 {
		t.Errorf("unknown route: %v %v", jwr, err)
	}
}

func scenarioPolicy(t *testing.T, rt realTarget) {
	s := connectReal(t, rt)
	jwr, err := s.GetContext(tctx(t), "/secret", nil)
	if err != nil || jwr.StatusCode != 403 {
		t.Errorf("without key: %v %v", jwr, err)
	}
	s.SetHeaders(map[string]string{"x-api-key": "letmein"})
	jwr, err = s.GetContext(tctx(t), "/secret", nil)
	if err != nil || jwr.StatusCode != 200 || string(jwr.Body) != `{"secret":42}` {
		t.Errorf("with key: %v %v", jwr, err)
	}
}

func scenarioCancel(t *testing.T, rt realTarget) {
	s := connectReal(t, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := s.GetContext(ctx, "/slow?ms=1500", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow request: %v, want DeadlineExceeded", err)
	}
	jwr, err := s.GetContext(tctx(t), "/echo", nil)
	if err != nil || jwr.StatusCode != 200 || !s.IsConnected() {
		t.Errorf("after cancelling: %v %v", jwr, err)
	}
}

func scenarioBig(t *testing.T, rt realTarget) {
	s := connectReal(t, rt)
	jwr, err := s.GetContext(tctx(t), "/big?n=2000000", nil)
	if err != nil {
		t.Fatal(err)
	}
	var str string
	if err := jwr.Decode(&str); err != nil || len(str) != 2000000 {
		t.Errorf("big body: %d bytes, %v", len(str), err)
	}
	big := strings.Repeat("y", 1<<20)
	jwr, err = s.PostContext(tctx(t), "/size", map[string]string{"s": big})
	var size struct{ Bytes int }
	if err != nil || jwr.Decode(&size) != nil || size.Bytes != len(big)+8 {
		t.Errorf("size: %v %v %+v", jwr, err, size)
	}
}

func scenarioSession(t *testing.T, rt realTarget) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := hc.PostForm(rt.srv.URL+"/login", url.Values{"name": {"ada"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP login: %s", resp.Status)
	}
	s := connectReal(t, rt, sailsio.WithCookieJar(jar))
	jwr, err := s.GetContext(tctx(t), "/me", nil)
	if err != nil || string(jwr.Body) != `{"user":"ada"}` {
		t.Errorf("socket /me after HTTP login: %v %v", jwr, err)
	}
	// Without the cookie the socket has a session of its own, per connection.
	s2 := connectReal(t, rt)
	for want := 1; want <= 2; want++ {
		jwr, err := s2.GetContext(tctx(t), "/count", nil)
		if err != nil || string(jwr.Body) != `{"count":`+strconv.Itoa(want)+`}` {
			t.Errorf("count %d: %v %v", want, jwr, err)
		}
	}
	jwr, err = s2.GetContext(tctx(t), "/me", nil)
	if err != nil || string(jwr.Body) != `{"user":null}` {
		t.Errorf("/me without cookie: %v %v", jwr, err)
	}
}

func scenarioRooms(t *testing.T, rt realTarget) {
	a := connectReal(t, rt)
	b := connectReal(t, rt)
	chats := make(chan json.RawMessage, 4)
	b.On("chat", func(d json.RawMessage) { chats <- d })
	for _, s := range []*sailsio.SailsSocket{a, b} {
		jwr, err := s.PostContext(tctx(t), "/rooms/demo/join", nil)
		if err != nil {
			t.Fatal(err)
		}
		var j struct{ Joined, ID string }
		if err := jwr.Decode(&j); err != nil || j.Joined != "demo" || j.ID != s.ID() {
			t.Errorf("join: %s, socket ID %q", jwr.Body, s.ID())
		}
	}
	if _, err := a.PostContext(tctx(t), "/rooms/demo/say", map[string]string{"text": "hi from A"}); err != nil {
		t.Fatal(err)
	}
	got := recv(t, chats, "chat on the second socket")
	var c struct{ Room, Text, From string }
	if err := json.Unmarshal(got, &c); err != nil || c.Room != "demo" || c.Text != "hi from A" || c.From != a.ID() {
		t.Errorf("chat %s, want from %s", got, a.ID())
	}
}

func scenarioBlast(t *testing.T, rt realTarget) {
	a := connectReal(t, rt)
	b := connectReal(t, rt)
	got := make(chan string, 4)
	for name, s := range map[string]*sailsio.SailsSocket{"a": a, "b": b} {
		s.On("news-"+rt.name(), func(d json.RawMessage) { got <- name + string(d) })
	}
	if _, err := a.PostContext(tctx(t), "/blast", map[string]any{"event": "news-" + rt.name(), "data": map[string]int{"x": 1}}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{recv(t, got, "blast"): true, recv(t, got, "blast"): true}
	if d := cmp.Diff(map[string]bool{`a{"x":1}`: true, `b{"x":1}`: true}, seen); d != "" {
		t.Errorf("blast (-want +got):\n%s", d)
	}
}

func scenarioPubSub(t *testing.T, rt realTarget) {
	watcher := connectReal(t, rt)
	creator := connectReal(t, rt)
	pets := make(chan json.RawMessage, 4)
	watcher.On("pet", func(d json.RawMessage) { pets <- d })
	if jwr, err := watcher.GetContext(tctx(t), "/pet", nil); err != nil || jwr.StatusCode != 200 {
		t.Fatalf("GET /pet: %v %v", jwr, err)
	}
	name := "rex-" + rt.name()
	jwr, err := creator.PostContext(tctx(t), "/pet", map[string]string{"name": name})
	if err != nil || jwr.StatusCode != 200 {
		t.Fatalf("POST /pet: %v %v", jwr, err)
	}
	var ev struct {
		Verb string
		ID   json.Number
		Data struct{ Name string }
	}
	for {
		d := recv(t, pets, "pet event")
		if err := json.Unmarshal(d, &ev); err != nil {
			t.Fatalf("pet event %s: %v", d, err)
		}
		if ev.Data.Name == name {
			break
		}
	}
	if ev.Verb != "created" || ev.ID == "" {
		t.Errorf("pet event %+v", ev)
	}
}

func scenarioKick(t *testing.T, rt realTarget) {
	s := connectReal(t, rt)
	disc := make(chan string, 2)
	s.On(sailsio.EventDisconnect, func(d json.RawMessage) { disc <- string(d) })
	jwr, err := s.PostContext(tctx(t), "/kick", nil)
	if err != nil || jwr.StatusCode != 200 {
		t.Fatalf("kick: %v %v", jwr, err)
	}
	if got := recv(t, disc, "disconnect"); got != `{"reason":"io server disconnect"}` {
		t.Errorf("disconnect %s", got)
	}
	if _, err := s.GetContext(tctx(t), "/echo", nil); !errors.Is(err, sailsio.ErrDisconnected) {
		t.Errorf("after a kick: %v, want ErrDisconnected (no reconnection after a kick)", err)
	}
}

// scenarioHeartbeat stays idle for longer than the server's pingInterval+pingTimeout (1000+2000 ms):
// a client that pinged the wrong way, or not at all, or did not answer pings, would be closed.
func scenarioHeartbeat(t *testing.T, rt realTarget) {
	s := connectReal(t, rt)
	disc := make(chan string, 1)
	s.On(sailsio.EventDisconnect, func(d json.RawMessage) { disc <- string(d) })
	select {
	case d := <-disc:
		t.Fatalf("disconnected while idle: %s", d)
	case <-time.After(3500 * time.Millisecond):
	}
	if jwr, err := s.GetContext(tctx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 {
		t.Errorf("after idling: %v %v", jwr, err)
	}
}

func TestRealSailsOrigins(t *testing.T) {
	for _, rt := range realTargets(t, realsails.WithEnv("SAILSIO_ONLY_ALLOW_ORIGINS", "http://good.example")) {
		t.Run(rt.name(), func(t *testing.T) {
			for _, origin := range []string{"", "http://evil.example"} {
				h := http.Header{}
				if origin != "" {
					h.Set("Origin", origin)
				}
				_, err := sailsio.Connect(tctx(t), rt.srv.URL, sailsio.WithProtocol(rt.proto), sailsio.WithInitialConnectionHeaders(h))
				var he *sailsio.HandshakeError
				if !errors.As(err, &he) || he.StatusCode != 400 {
					t.Errorf("origin %q: %v, want a HandshakeError with status 400", origin, err)
				} else {
					t.Logf("origin %q refused: %v", origin, he)
				}
			}
			s := connectReal(t, rt, sailsio.WithInitialConnectionHeaders(http.Header{"Origin": {"http://good.example"}}))
			jwr, err := s.Do(tctx(t), sailsio.RequestOptions{URL: "/echo", Headers: map[string]string{"origin": "http://other.example"}})
			if err != nil {
				t.Fatal(err)
			}
			if o := decodeEcho(t, jwr).Headers["origin"]; o != "http://good.example" {
				t.Errorf("virtual origin %q, want the handshake's", o)
			}
		})
	}
}
