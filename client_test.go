package sailsio_test

// Black-box tests of the client against the in-process mockserver, for the server generations and
// client protocols that matter: the mock as sails-hook-sockets 2.x (EIO3 semantics) with an EIO3
// client, and the mock as hook 3.x with EIO3 and EIO4 clients. The scripted-peer tests of
// protocol_test.go cover the byte-level protocol; these cover the public contract (the package's godoc).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// ---------------------------------------------------------------------------------------------
// 1. Requests: both styles, every verb

// echoed is what the echo route saw of a request.
type echoed struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Path   string              `json:"path"`
	ID     string              `json:"id"`
	Body   map[string]any      `json:"body"`
	Query  map[string][]string `json:"query"`
}

func TestClientVerbs(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		srv := cb.newServer(t)
		srv.Handle("ALL /echo/:id", func(req *mockserver.Request, res *mockserver.Response) {
			var body map[string]any
			if err := json.Unmarshal(req.Body, &body); err != nil {
				res.BadRequest(err.Error())
				return
			}
			res.Set("X-Echo-Method", req.Method)
			res.JSON(echoed{Method: req.Method, URL: req.URL, Path: req.Path, ID: req.Params["id"], Body: body, Query: req.Query})
		})
		s := cb.dial(t, srv)
		ctx := testCtx(t)

		request := func(method string) func(string, any, sailsio.Callback) {
			return func(u string, data any, c sailsio.Callback) {
				s.Request(sailsio.RequestOptions{Method: method, URL: u, Data: data}, c)
			}
		}
		do := func(method string) func(context.Context, string, any) (*sailsio.JWRes, error) {
			return func(ctx context.Context, u string, data any) (*sailsio.JWRes, error) {
				return s.Do(ctx, sailsio.RequestOptions{Method: method, URL: u, Data: data})
			}
		}
		verbs := []struct {
			method   string // as the server sees it
			callback func(url string, data any, cb sailsio.Callback)
			blocking func(ctx context.Context, url string, data any) (*sailsio.JWRes, error)
		}{
			{"GET", s.Get, s.GetContext},
			{"POST", s.Post, s.PostContext},
			{"PUT", s.Put, s.PutContext},
			{"PATCH", s.Patch, s.PatchContext},
			{"DELETE", s.Delete, s.DeleteContext},
			{"HEAD", request("HEAD"), do("head")},
			{"OPTIONS", request("options"), do("Options")},
		}
		check := func(t *testing.T, method, style string, data json.RawMessage, jwr *sailsio.JWRes) {
			t.Helper()
			if jwr.StatusCode != 200 || jwr.Error != nil {
				t.Fatalf("status %d, error %v, body %s", jwr.StatusCode, jwr.Error, jwr.Body)
			}
			if !bytes.Equal(data, jwr.Body) {
				t.Errorf("resData %s != jwr.Body %s", data, jwr.Body)
			}
			var got echoed
			if err := jwr.Decode(&got); err != nil {
				t.Fatalf("Decode(%s): %v", jwr.Body, err)
			}
			u := "/echo/7?q=1&style=" + style
			want := echoed{
				Method: method, URL: u, Path: "/echo/7", ID: "7",
				Body:  map[string]any{"verb": method, "n": 1.0},
				Query: map[string][]string{"q": {"1"}, "style": {style}},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("the handler saw (-want +got):\n%s", d)
			}
			if d := cmp.Diff([]string{method}, jwr.Headers["X-Echo-Method"]); d != "" {
				t.Errorf("response header X-Echo-Method under its canonical key (-want +got):\n%s\nheaders: %v", d, jwr.Headers)
			}
		}
		for _, v := range verbs {
			t.Run(v.method, func(t *testing.T) {
				data := map[string]any{"verb": v.method, "n": 1}
				c, ch, calls := callback()
				v.callback("/echo/7?q=1&style=callback", data, c)
				r := await(t, ch, "callback")
				check(t, v.method, "callback", r.data, r.jwr)

				jwr, err := v.blocking(ctx, "/echo/7?q=1&style=blocking", data)
				if err != nil {
					t.Fatalf("blocking %s: %v", v.method, err)
				}
				check(t, v.method, "blocking", jwr.Body, jwr)
				if n := calls.Load(); n != 1 {
					t.Errorf("callback called %d times", n)
				}
			})
		}

		t.Run("404 is data", func(t *testing.T) {
			c, ch, _ := callback()
			s.Get("/nowhere", nil, c)
			r := await(t, ch, "callback")
			jwr, err := s.DeleteContext(ctx, "/nowhere", map[string]any{"x": 1})
			if err != nil {
				t.Fatalf("DeleteContext(/nowhere) error %v; a 404 is a response, not an error", err)
			}
			for i, got := range []*sailsio.JWRes{r.jwr, jwr} {
				var se *sailsio.StatusError
				if !errors.As(got.Error, &se) {
					t.Fatalf("#%d: jwr.Error = %v (%T), want a *StatusError", i, got.Error, got.Error)
				}
				if got.StatusCode != 404 || se.StatusCode != 404 || string(se.Body) != `"Not Found"` || string(got.Body) != `"Not Found"` {
					t.Errorf("#%d: status %d, StatusError %d %s, body %s; want 404 \"Not Found\"", i, got.StatusCode, se.StatusCode, se.Body, got.Body)
				}
			}
			if !bytes.Equal(r.data, r.jwr.Body) {
				t.Errorf("resData %s != jwr.Body %s", r.data, r.jwr.Body)
			}
		})

		t.Run("status codes and bodies", func(t *testing.T) {
			srv.Handle("GET /created", func(req *mockserver.Request, res *mockserver.Response) { res.Created(map[string]int{"id": 1}) })
			srv.Handle("GET /forbidden", func(req *mockserver.Request, res *mockserver.Response) { res.Forbidden(nil) })
			srv.Handle("GET /empty", func(req *mockserver.Request, res *mockserver.Response) { res.End() })
			for _, tc := range []struct {
				url, body string
				status    int
				isErr     bool
			}{
				{"/created", `{"id":1}`, 201, false},
				{"/forbidden", `"Forbidden"`, 403, true},
				{"/empty", `null`, 200, false},
			} {
				jwr, err := s.GetContext(ctx, tc.url, nil)
				if err != nil {
					t.Fatalf("%s: %v", tc.url, err)
				}
				if jwr.StatusCode != tc.status || string(jwr.Body) != tc.body || (jwr.Error != nil) != tc.isErr {
					t.Errorf("%s: status %d body %s error %v; want %d %s (error: %v)", tc.url, jwr.StatusCode, jwr.Body, jwr.Error, tc.status, tc.body, tc.isErr)
				}
			}
		})
	})
}

// ---------------------------------------------------------------------------------------------
// 2. Virtual headers

func TestClientHeaders(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		var rec mockserver.FrameRecorder
		srv := cb.newServer(t, mockserver.WithFrameLog(rec.Log))
		seen := make(chan http.Header, 16)
		srv.Handle("/h", func(req *mockserver.Request, res *mockserver.Response) {
			seen <- req.Headers.Clone()
			res.OK(nil)
		})
		s := cb.dial(t, srv, sailsio.WithHeaders(map[string]string{
			"X-Global": "g", "X-Both": "global", "Authorization": "Bearer g",
		}))
		ctx := testCtx(t)
		id := s.ID()

		// Per-request headers win over global ones, whatever their case; names go out lower-cased.
		if _, err := s.Do(ctx, sailsio.RequestOptions{URL: "/h?n=1", Headers: map[string]string{"x-BOTH": "req", "X-Only-Req": "r"}}); err != nil {
			t.Fatal(err)
		}
		h := await(t, seen, "request at the handler")
		for name, want := range map[string]string{"X-Global": "g", "X-Both": "req", "X-Only-Req": "r", "Authorization": "Bearer g"} {
			if got := h.Values(name); len(got) != 1 || got[0] != want {
				t.Errorf("handler saw %s = %q, want [%q]", name, got, want)
			}
		}
		w := sentRequest(t, &rec, id, "/h?n=1")
		want := map[string]string{"x-global": "g", "x-both": "req", "x-only-req": "r", "authorization": "Bearer g"}
		if d := cmp.Diff(want, w.Headers); d != "" {
			t.Errorf("headers on the wire (-want +got):\n%s", d)
		}
		if w.Event != "get" || w.Method != "get" {
			t.Errorf("frame event %q method %q, want get/get", w.Event, w.Method)
		}

		// SetHeaders replaces the global headers for the next request; it keeps a copy.
		set := map[string]string{"X-New": "n"}
		s.SetHeaders(set)
		set["X-New"] = "mutated after SetHeaders"
		if _, err := s.Do(ctx, sailsio.RequestOptions{URL: "/h?n=2"}); err != nil {
			t.Fatal(err)
		}
		h = await(t, seen, "request at the handler")
		if h.Get("X-Global") != "" || h.Get("X-New") != "n" {
			t.Errorf("after SetHeaders the handler saw X-Global %q X-New %q; want \"\" and \"n\"", h.Get("X-Global"), h.Get("X-New"))
		}
		if d := cmp.Diff(map[string]string{"x-new": "n"}, sentRequest(t, &rec, id, "/h?n=2").Headers); d != "" {
			t.Errorf("headers on the wire after SetHeaders (-want +got):\n%s", d)
		}

		// Headers returns a copy.
		got := s.Headers()
		if d := cmp.Diff(map[string]string{"X-New": "n"}, got); d != "" {
			t.Errorf("Headers() (-want +got):\n%s", d)
		}
		got["X-New"] = "changed"
		got["X-Added"] = "1"
		if d := cmp.Diff(map[string]string{"X-New": "n"}, s.Headers()); d != "" {
			t.Errorf("Headers() after mutating the returned map (-want +got):\n%s", d)
		}
		if _, err := s.Do(ctx, sailsio.RequestOptions{URL: "/h?n=3"}); err != nil {
			t.Fatal(err)
		}
		<-seen
		if d := cmp.Diff(map[string]string{"x-new": "n"}, sentRequest(t, &rec, id, "/h?n=3").Headers); d != "" {
			t.Errorf("headers on the wire after mutating Headers()'s copy (-want +got):\n%s", d)
		}

		// CR/LF in a per-request header: refused before sending, in both styles.
		c, ch, calls := callback()
		bad := map[string]string{"X-Bad": "a\r\nInjected: 1"}
		s.Request(sailsio.RequestOptions{URL: "/h?n=bad", Headers: bad}, c)
		checkFailed(t, await(t, ch, "callback of the invalid request"), sailsio.ErrInvalidHeader)
		jwr, err := s.Do(ctx, sailsio.RequestOptions{URL: "/h?n=bad", Headers: map[string]string{"X-Bad": "line\nfeed"}})
		checkDoFailed(t, jwr, err, sailsio.ErrInvalidHeader)

		// Invalid global headers fail each request until replaced.
		s.SetHeaders(map[string]string{"X-Global-Bad": "a\nb"})
		jwr, err = s.GetContext(ctx, "/h?n=bad", nil)
		checkDoFailed(t, jwr, err, sailsio.ErrInvalidHeader)
		s.SetHeaders(nil)

		// A round trip later: the invalid request's callback was called once, nothing was sent.
		c2, ch2, _ := callback()
		s.Get("/h?n=4", nil, c2)
		if r := await(t, ch2, "callback"); r.jwr.StatusCode != 200 {
			t.Errorf("request after the invalid ones: %v", r.jwr)
		}
		<-seen
		if n := calls.Load(); n != 1 {
			t.Errorf("the invalid request's callback ran %d times, want 1", n)
		}
		if d := cmp.Diff(map[string]string{}, sentRequest(t, &rec, id, "/h?n=4").Headers); d != "" {
			t.Errorf("headers on the wire after SetHeaders(nil) (-want +got):\n%s", d)
		}
		if got := sentURLs(&rec, id); slices.Contains(got, "/h?n=bad") {
			t.Errorf("an invalid request reached the server: %v", got)
		}
		nothingIn(t, seen, "request at the handler")
	})
}

// ---------------------------------------------------------------------------------------------
// 3. Handshake headers and the cookie jar

func TestClientHandshake(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		t.Run("initial connection headers", func(t *testing.T) {
			srv := cb.newServer(t)
			srv.Handle("GET /who", func(req *mockserver.Request, res *mockserver.Response) {
				res.JSON(map[string]string{
					"origin": req.Get("Origin"), "a": req.Cookies["a"], "session": req.Session.ID(), "socket": req.SocketID,
				})
			})
			s := cb.dial(t, srv, sailsio.WithInitialConnectionHeaders(http.Header{
				"Cookie": {"a=1; sails.sid=fixed-session"},
				"Origin": {"http://app.example"},
			}))
			hs, ok := srv.Handshake(s.ID())
			if !ok {
				t.Fatalf("the server knows no socket %q (it knows %v)", s.ID(), srv.SocketIDs())
			}
			got := map[string]any{
				"origin": hs.Header.Get("Origin"), "cookie": hs.Header.Get("Cookie"), "session": hs.SessionID,
				"eio": hs.EIO, "version": hs.SDKVersion, "platform": hs.SDKPlatform, "language": hs.SDKLanguage,
			}
			want := map[string]any{
				"origin": "http://app.example", "cookie": "a=1; sails.sid=fixed-session", "session": "fixed-session",
				"eio": cb.eio(), "version": sailsio.DefaultSDKVersion, "platform": "go", "language": "go",
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("handshake (-want +got):\n%s", d)
			}
			// Virtual origin/cookie headers cannot override the handshake's.
			jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{URL: "/who", Headers: map[string]string{
				"Origin": "http://evil.example", "Cookie": "a=2; sails.sid=other",
			}})
			if err != nil {
				t.Fatal(err)
			}
			wantBody := fmt.Sprintf(`{"origin":"http://app.example","a":"1","session":"fixed-session","socket":%q}`, s.ID())
			if d := jsonDiff(t, wantBody, jwr.Body); d != "" {
				t.Errorf("the handler saw (-want +got):\n%s", d)
			}
		})

		t.Run("cookie jar session", func(t *testing.T) {
			srv := cb.newServer(t)
			srv.Handle("POST /login", func(req *mockserver.Request, res *mockserver.Response) {
				req.Session.Set("user", req.Param("name"))
				res.JSON(map[string]string{"session": req.Session.ID()})
			})
			srv.Handle("GET /me", func(req *mockserver.Request, res *mockserver.Response) {
				res.JSON(map[string]any{"user": req.Session.Get("user"), "session": req.Session.ID()})
			})
			jar, err := cookiejar.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			hc := &http.Client{Jar: jar, Timeout: waitLimit}
			t.Cleanup(hc.CloseIdleConnections)
			resp, err := hc.Post(srv.URL()+"/login", "application/json", strings.NewReader(`{"name":"ada"}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var login struct{ Session string }
			if err := json.Unmarshal(body, &login); err != nil || login.Session == "" || resp.StatusCode != 200 {
				t.Fatalf("HTTP login: %d %s (%v)", resp.StatusCode, body, err)
			}

			s := cb.dial(t, srv, sailsio.WithCookieJar(jar))
			ctx := testCtx(t)
			want := fmt.Sprintf(`{"user":"ada","session":%q}`, login.Session)
			me := func(when string) {
				t.Helper()
				jwr, err := s.GetContext(ctx, "/me", nil)
				if err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				if d := jsonDiff(t, want, jwr.Body); d != "" {
					t.Errorf("%s: session over the socket (-want +got):\n%s", when, d)
				}
				if hs, ok := srv.Handshake(s.ID()); !ok || hs.SessionID != login.Session {
					t.Errorf("%s: handshake session %q (known: %v), want %q", when, hs.SessionID, ok, login.Session)
				}
			}
			me("after Connect")
			id := s.ID()
			if err := s.Reconnect(ctx); err != nil {
				t.Fatalf("Reconnect: %v", err)
			}
			if s.ID() == id || s.ID() == "" {
				t.Errorf("ID after Reconnect = %q, before %q: want a new socket", s.ID(), id)
			}
			me("after Reconnect")
		})
	})
}

// ---------------------------------------------------------------------------------------------
// 4. The ordering contract

func TestClientOrdering(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		t.Run("events before the response, one at a time", func(t *testing.T) {
			const bursts, ticks, noise = 12, 15, 150
			srv := cb.newServer(t)
			srv.Handle("GET /burst/:b", func(req *mockserver.Request, res *mockserver.Response) {
				b, _ := strconv.Atoi(req.Params["b"])
				for i := 1; i <= ticks; i++ {
					srv.Emit(req.SocketID, "tick", [2]int{b, i})
				}
				res.JSON(b) // the ack goes out after the events
			})
			s := cb.dial(t, srv)
			var g serial
			seen := make(map[int][]int) // only touched by handlers and callbacks
			noiseSeen := 0
			s.On("tick", func(data json.RawMessage) {
				g.run(func() {
					var bi [2]int
					if err := json.Unmarshal(data, &bi); err != nil {
						t.Errorf("tick %s: %v", data, err)
					}
					seen[bi[0]] = append(seen[bi[0]], bi[1])
				})
			})
			s.On("noise", func(json.RawMessage) { g.run(func() { noiseSeen++ }) })
			lastNoise := make(chan int, 1)
			s.On("noise-end", func(json.RawMessage) { g.run(func() { lastNoise <- noiseSeen }) })

			want := make([]int, ticks)
			for i := range want {
				want[i] = i + 1
			}
			results := make(chan string, bursts)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // pushes from another goroutine while the bursts run
				defer wg.Done()
				for i := range noise {
					srv.Blast("noise", i)
					if i%8 == 0 {
						runtime.Gosched()
					}
				}
				srv.Blast("noise-end", nil)
			}()
			for b := range bursts {
				s.Get("/burst/"+strconv.Itoa(b), nil, func(_ json.RawMessage, jwr *sailsio.JWRes) {
					g.run(func() {
						if jwr.StatusCode != 200 || string(jwr.Body) != strconv.Itoa(b) {
							results <- fmt.Sprintf("burst %d: response %v", b, jwr)
							return
						}
						if d := cmp.Diff(want, seen[b]); d != "" {
							results <- fmt.Sprintf("burst %d: events handled before its callback (-want +got):\n%s", b, d)
							return
						}
						results <- ""
					})
				})
			}
			for range bursts {
				if msg := await(t, results, "burst callback"); msg != "" {
					t.Error(msg)
				}
			}
			wg.Wait()
			if n := await(t, lastNoise, "noise-end event"); n != noise {
				t.Errorf("%d noise events before noise-end, want %d (arrival order)", n, noise)
			}
			if m := g.max.Load(); m != 1 {
				t.Errorf("up to %d callbacks/handlers ran at the same time, want 1", m)
			}
		})

		t.Run("event emitted by the handler runs before the callback", func(t *testing.T) {
			srv := cb.newServer(t)
			srv.Handle("POST /pet", func(req *mockserver.Request, res *mockserver.Response) {
				srv.Emit(req.SocketID, "pet", map[string]string{"verb": "created"})
				res.Created(map[string]int{"id": 1})
			})
			s := cb.dial(t, srv)
			var events atomic.Int32
			s.On("pet", func(json.RawMessage) { events.Add(1) })
			out := make(chan int32, 8)
			for range 5 {
				s.Post("/pet", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { out <- events.Load() })
			}
			prev := int32(0)
			for i := range 5 {
				n := await(t, out, "callback")
				if n < int32(i+1) || n < prev {
					t.Errorf("callback #%d ran after %d event handlers, want at least %d", i+1, n, i+1)
				}
				prev = n
			}
		})

		t.Run("connect handler before the callback of a queued request", func(t *testing.T) {
			srv := cb.newServer(t)
			srv.Handle("GET /ping", func(req *mockserver.Request, res *mockserver.Response) { res.Send("pong") })
			s := cb.newSocket(t, srv)
			var connected atomic.Bool
			s.On(sailsio.EventConnect, func(json.RawMessage) {
				runtime.Gosched()
				connected.Store(true)
			})
			out := make(chan string, 1)
			s.Get("/ping", nil, func(data json.RawMessage, jwr *sailsio.JWRes) {
				out <- fmt.Sprintf("%v %d %s", connected.Load(), jwr.StatusCode, data)
			})
			if err := s.Connect(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			if got := await(t, out, "callback"); got != `true 200 "pong"` {
				t.Errorf("callback saw connected, status, body = %s; want true 200 \"pong\"", got)
			}
		})
	})
}

// ---------------------------------------------------------------------------------------------
// 5. Do from inside callbacks and handlers

func TestClientDoInsideCallbacks(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		srv := cb.newServer(t)
		srv.Handle("/ping", func(req *mockserver.Request, res *mockserver.Response) { res.Send("pong") })
		s := cb.newSocket(t, srv)
		ctx := testCtx(t)
		out := make(chan string, 8)
		result := func(where string, jwr *sailsio.JWRes, err error) {
			if err != nil {
				out <- where + ": " + err.Error()
				return
			}
			out <- where + ": " + strconv.Itoa(jwr.StatusCode) + " " + string(jwr.Body)
		}
		s.On(sailsio.EventConnect, func(json.RawMessage) {
			jwr, err := s.Do(ctx, sailsio.RequestOptions{Method: "put", URL: "/ping"})
			result("connect handler", jwr, err)
		})
		s.On("poke", func(json.RawMessage) {
			jwr, err := s.Do(ctx, sailsio.RequestOptions{Method: "post", URL: "/ping"})
			result("event handler", jwr, err)
		})
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if got := await(t, out, "Do inside the connect handler"); got != `connect handler: 200 "pong"` {
			t.Errorf("got %s", got)
		}
		s.Get("/ping", nil, func(json.RawMessage, *sailsio.JWRes) {
			jwr, err := s.GetContext(ctx, "/ping", nil)
			result("callback", jwr, err)
		})
		if got := await(t, out, "GetContext inside a callback"); got != `callback: 200 "pong"` {
			t.Errorf("got %s", got)
		}
		srv.Emit(s.ID(), "poke", nil)
		if got := await(t, out, "Do inside an event handler"); got != `event handler: 200 "pong"` {
			t.Errorf("got %s", got)
		}
	})
}

// ---------------------------------------------------------------------------------------------
// 6. The request timeout

func TestClientRequestTimeout(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		var rec mockserver.FrameRecorder
		srv := cb.newServer(t, mockserver.WithFrameLog(rec.Log))
		srv.Handle("/q/:n", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Params["n"]) })
		slow := newBlocker(t, srv, "GET /slow", "late")
		const timeout = 50 * time.Millisecond
		s := cb.dial(t, srv, sailsio.WithRequestTimeout(timeout))
		ctx := testCtx(t)
		id := s.ID()

		start := time.Now()
		jwr, err := s.GetContext(ctx, "/slow", nil)
		elapsed := time.Since(start)
		checkDoFailed(t, jwr, err, sailsio.ErrTimeout)
		if elapsed < timeout || elapsed > waitLimit/2 {
			t.Errorf("Do timed out after %v, want about %v", elapsed, timeout)
		}
		c, ch, calls := callback()
		s.Get("/slow", nil, c)
		checkFailed(t, await(t, ch, "timed-out callback"), sailsio.ErrTimeout)
		await(t, slow.entered, "first slow request at the server")
		await(t, slow.entered, "second slow request at the server")

		// The late responses arrive and are ignored; the connection keeps working.
		slow.open()
		waitFrames(t, &rec, 2, lateAnswer(id))
		// The round trip must fit in the 50ms timeout; on a loaded machine allow a few tries.
		var last error
		ok := false
		for range 5 {
			jwr, err := s.GetContext(ctx, "/q/fast", nil)
			if err == nil && jwr.StatusCode == 200 {
				ok = true
				break
			}
			if !errors.Is(err, sailsio.ErrTimeout) {
				t.Fatalf("request after the timeouts: %v %v", jwr, err)
			}
			last = err
		}
		if !ok {
			t.Fatalf("no request completed after the timeouts: %v", last)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("timed-out callback ran %d times, want 1", n)
		}
		if !s.IsConnected() || s.ID() != id {
			t.Errorf("connected %v, id %q (was %q): the timeouts must not break the connection", s.IsConnected(), s.ID(), id)
		}
	})
}

// ---------------------------------------------------------------------------------------------
// 7. Cancelling Do in flight

func TestClientCancelInFlight(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		var rec mockserver.FrameRecorder
		srv := cb.newServer(t, mockserver.WithFrameLog(rec.Log))
		srv.Handle("GET /fast", func(req *mockserver.Request, res *mockserver.Response) { res.Send("fast") })
		slow := newBlocker(t, srv, "GET /slow", "late")
		s := cb.dial(t, srv)
		ctx := testCtx(t)
		id := s.ID()

		doCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		errc := doAsync(s, doCtx, sailsio.RequestOptions{URL: "/slow"})
		await(t, slow.entered, "slow request at the server")
		start := time.Now()
		cancel()
		err := await(t, errc, "Do's return after cancel")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Do = %v, want an error wrapping context.Canceled", err)
		}
		if d := time.Since(start); d > testkit.D(2*time.Second) {
			t.Errorf("Do returned %v after cancel", d)
		}

		// A deadline works the same way.
		dctx, dcancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer dcancel()
		jwr, err := s.GetContext(dctx, "/slow", nil)
		checkDoFailed(t, jwr, err, context.DeadlineExceeded)
		await(t, slow.entered, "second slow request at the server")

		if jwr, err := s.GetContext(ctx, "/fast", nil); err != nil || string(jwr.Body) != `"fast"` {
			t.Fatalf("request after the cancel: %v %v", jwr, err)
		}
		// The late responses are ignored.
		slow.open()
		waitFrames(t, &rec, 2, lateAnswer(id))
		if jwr, err := s.GetContext(ctx, "/fast", nil); err != nil || string(jwr.Body) != `"fast"` {
			t.Fatalf("request after the late responses: %v %v", jwr, err)
		}
		if !s.IsConnected() || s.ID() != id {
			t.Errorf("connected %v, id %q (was %q): cancelling must not break the connection", s.IsConnected(), s.ID(), id)
		}
	})
}

// ---------------------------------------------------------------------------------------------
// 8. Disconnect

func TestClientDisconnect(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		t.Run("connected", func(t *testing.T) {
			srv := cb.newServer(t)
			slow := newBlocker(t, srv, "GET /slow", "late")
			srv.Handle("GET /fast", func(req *mockserver.Request, res *mockserver.Response) { res.Send("fast") })
			ctx := testCtx(t)

			s, err := sailsio.New(srv.URL(), cb.options()...)
			if err != nil {
				t.Fatal(err)
			}
			life := lifecycle(s)
			if err := s.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			life.Expect(t, sailsio.EventConnect)
			id := s.ID()
			if _, err := s.GetContext(ctx, "/fast", nil); err != nil {
				t.Fatal(err)
			}
			c, ch, calls := callback()
			s.Get("/slow", nil, c)
			errc := doAsync(s, ctx, sailsio.RequestOptions{URL: "/slow"})
			await(t, slow.entered, "slow request")
			await(t, slow.entered, "slow request")

			if err := s.Disconnect(); err != nil {
				t.Fatalf("Disconnect: %v", err)
			}
			checkFailed(t, await(t, ch, "callback of the in-flight request"), sailsio.ErrClosed)
			if err := await(t, errc, "Do's return"); !errors.Is(err, sailsio.ErrClosed) {
				t.Errorf("in-flight Do = %v, want ErrClosed", err)
			}
			if d := jsonDiff(t, `{"reason":"io client disconnect"}`, life.Expect(t, sailsio.EventDisconnect).Data); d != "" {
				t.Errorf("disconnect payload (-want +got):\n%s", d)
			}
			if s.IsConnected() || s.IsConnecting() || s.ID() != "" {
				t.Errorf("after Disconnect: connected %v connecting %v id %q", s.IsConnected(), s.IsConnecting(), s.ID())
			}

			// Later requests fail with ErrClosed at once; the socket stays closed.
			c2, ch2, calls2 := callback()
			s.Post("/fast", nil, c2)
			checkFailed(t, await(t, ch2, "callback after Disconnect"), sailsio.ErrClosed)
			jwr, err := s.GetContext(ctx, "/fast", nil)
			checkDoFailed(t, jwr, err, sailsio.ErrClosed)
			if err := s.Connect(ctx); !errors.Is(err, sailsio.ErrClosed) {
				t.Errorf("Connect after Disconnect = %v, want ErrClosed", err)
			}
			if err := s.Reconnect(ctx); !errors.Is(err, sailsio.ErrClosed) {
				t.Errorf("Reconnect after Disconnect = %v, want ErrClosed", err)
			}

			// The server sees the socket leave.
			if _, err := srv.WaitSockets(ctx, func(ids []string) bool { return !slices.Contains(ids, id) }); err != nil {
				t.Errorf("the server still has socket %s: %v", id, err)
			}
			if err := s.Disconnect(); err != nil {
				t.Errorf("second Disconnect: %v", err)
			}
			testkit.Gone(t, "after Disconnect")
			if n, n2 := calls.Load(), calls2.Load(); n != 1 || n2 != 1 {
				t.Errorf("callbacks ran %d and %d times, want 1 each", n, n2)
			}
			if e := life.Unread(); len(e) > 0 {
				t.Errorf("unexpected %s: %v", "lifecycle event after the second Disconnect", e)
			}
		})

		t.Run("from a callback and a handler", func(t *testing.T) {
			srv := cb.newServer(t)
			srv.Handle("GET /fast", func(req *mockserver.Request, res *mockserver.Response) { res.Send("fast") })
			for _, from := range []string{"callback", "handler"} {
				s := cb.dial(t, srv)
				out := make(chan error, 1)
				disconnect := func() { out <- s.Disconnect() }
				if from == "callback" {
					s.Get("/fast", nil, func(json.RawMessage, *sailsio.JWRes) { disconnect() })
				} else {
					s.On("bye", func(json.RawMessage) { disconnect() })
					srv.Emit(s.ID(), "bye", nil)
				}
				if err := await(t, out, "Disconnect called from a "+from); err != nil {
					t.Errorf("Disconnect from a %s: %v", from, err)
				}
				if s.IsConnected() {
					t.Errorf("still connected after Disconnect from a %s", from)
				}
			}
		})

		t.Run("queued", func(t *testing.T) {
			srv := cb.newServer(t)
			s, err := sailsio.New(srv.URL(), cb.options()...)
			if err != nil {
				t.Fatal(err)
			}
			var chans []<-chan reply
			var counts []*atomic.Int32
			for i := range 3 {
				c, ch, n := callback()
				s.Get("/q/"+strconv.Itoa(i), nil, c)
				chans, counts = append(chans, ch), append(counts, n)
			}
			wctx := watchDone(testCtx(t))
			errc := doAsync(s, wctx, sailsio.RequestOptions{URL: "/q/do"})
			await(t, wctx.asked, "Do waiting")
			if err := s.Disconnect(); err != nil {
				t.Fatal(err)
			}
			for _, ch := range chans {
				checkFailed(t, await(t, ch, "callback of a queued request"), sailsio.ErrClosed)
			}
			if err := await(t, errc, "Do's return"); !errors.Is(err, sailsio.ErrClosed) {
				t.Errorf("queued Do = %v, want ErrClosed", err)
			}
			if err := s.Disconnect(); err != nil {
				t.Errorf("second Disconnect: %v", err)
			}
			testkit.Gone(t, "after Disconnect")
			for i, n := range counts {
				if c := n.Load(); c != 1 {
					t.Errorf("callback %d ran %d times", i, c)
				}
			}
			if ids := srv.SocketIDs(); len(ids) != 0 {
				t.Errorf("the server has sockets %v; none ever connected", ids)
			}
		})
	})
}

// ---------------------------------------------------------------------------------------------
// 9. Reconnection

func TestClientReconnection(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		t.Run("drop, outage, back", func(t *testing.T) {
			var rec mockserver.FrameRecorder
			srv := cb.newServer(t, mockserver.WithFrameLog(rec.Log))
			slow := newBlocker(t, srv, "GET /slow", "late")
			srv.Handle("/q/:n", func(req *mockserver.Request, res *mockserver.Response) { res.Send(req.Params["n"]) })
			s := cb.newSocket(t, srv, sailsio.WithReconnectionDelay(10*time.Millisecond, 20*time.Millisecond))
			life := lifecycle(s)
			news := make(chan string, 4)
			s.On("news", func(data json.RawMessage) { news <- string(data) })
			var reconnected atomic.Bool
			s.On(sailsio.EventReconnect, func(json.RawMessage) { reconnected.Store(true) })
			ctx := testCtx(t)
			if err := s.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			life.Expect(t, sailsio.EventConnect)
			id1 := s.ID()

			errc := doAsync(s, ctx, sailsio.RequestOptions{URL: "/slow"})
			await(t, slow.entered, "slow request")
			srv.RefuseHandshakes(1000, http.StatusServiceUnavailable) // keep it down until we say so
			srv.DropConnections()
			if err := await(t, errc, "in-flight Do's return"); !errors.Is(err, sailsio.ErrDisconnected) {
				t.Errorf("in-flight Do = %v, want ErrDisconnected", err)
			}
			var reason struct{ Reason string }
			if err := json.Unmarshal(life.Expect(t, sailsio.EventDisconnect).Data, &reason); err != nil || reason.Reason != sailsio.ReasonTransportClose {
				t.Errorf("disconnect reason %q (%v), want %q", reason.Reason, err, sailsio.ReasonTransportClose)
			}
			// Down for a while: attempts are refused.
			var attempts []int
			checkReconnecting := func(payload json.RawMessage) {
				t.Helper()
				var r struct {
					Attempt int   `json:"attempt"`
					DelayMS int64 `json:"delay_ms"`
				}
				if err := json.Unmarshal(payload, &r); err != nil {
					t.Fatalf("reconnecting payload %s: %v", payload, err)
				}
				if r.Attempt != len(attempts)+1 || r.DelayMS < 10 || r.DelayMS > 20 {
					t.Errorf("reconnecting %s: want attempt %d and a delay within [10, 20] ms", payload, len(attempts)+1)
				}
				attempts = append(attempts, r.Attempt)
			}
			checkReconnecting(life.Expect(t, sailsio.EventReconnecting).Data)
			var ce struct {
				Error  string
				Status int
			}
			if err := json.Unmarshal(life.Expect(t, sailsio.EventConnectError).Data, &ce); err != nil || ce.Status != 503 || ce.Error == "" {
				t.Errorf("connect_error %+v (%v), want status 503 and a message", ce, err)
			}

			// Requests made during the outage queue, and go out in order after the reconnection.
			const n = 5
			done := make(chan string, n)
			var want []string
			for i := range n {
				u := "/q/" + strconv.Itoa(i)
				want = append(want, u)
				s.Get(u, nil, func(data json.RawMessage, jwr *sailsio.JWRes) {
					done <- fmt.Sprintf("%s %d %s reconnect-handled:%v", u, jwr.StatusCode, data, reconnected.Load())
				})
			}
			if s.IsConnected() || !s.IsConnecting() {
				t.Fatalf("during the outage: connected %v, connecting %v", s.IsConnected(), s.IsConnecting())
			}
			srv.RefuseHandshakes(0, 0)

			for {
				ev := life.Next(t)
				name, payload := ev.Name, ev.Data
				if name == sailsio.EventReconnecting {
					checkReconnecting(payload)
					continue
				}
				if name == sailsio.EventConnectError {
					continue
				}
				if name != sailsio.EventConnect {
					t.Fatalf("event %s %s during reconnection, want reconnecting, connect_error or connect", name, payload)
				}
				break
			}
			payload := life.Expect(t, sailsio.EventReconnect).Data
			if d := jsonDiff(t, fmt.Sprintf(`{"attempt":%d}`, len(attempts)), payload); d != "" {
				t.Errorf("reconnect payload (-want +got):\n%s", d)
			}
			var got, wantCallbacks []string
			for i := range n {
				wantCallbacks = append(wantCallbacks, fmt.Sprintf(`/q/%d 200 "%d" reconnect-handled:true`, i, i))
				got = append(got, await(t, done, "callback of a request queued during the outage"))
			}
			slices.Sort(got) // the server answers concurrently: only the sending order is defined
			if d := cmp.Diff(wantCallbacks, got); d != "" {
				t.Errorf("callbacks of the requests queued during the outage (-want +got):\n%s", d)
			}
			id2 := s.ID()
			if id2 == "" || id2 == id1 {
				t.Errorf("ID after reconnection %q, before %q", id2, id1)
			}
			if d := cmp.Diff(want, sentURLs(&rec, id2)); d != "" {
				t.Errorf("requests sent after the reconnection (-want +got):\n%s", d)
			}
			if got := sentURLs(&rec, id1); slices.Contains(got, "/q/0") || len(got) != 1 {
				t.Errorf("requests sent on the first connection: %v, want only /slow (in-flight requests are never re-sent)", got)
			}
			// Listeners registered before still fire.
			srv.Emit(id2, "news", "hello")
			if got := await(t, news, "event after the reconnection"); got != `"hello"` {
				t.Errorf("news = %s", got)
			}
		})

		t.Run("reconnection off", func(t *testing.T) {
			srv := cb.newServer(t)
			slow := newBlocker(t, srv, "GET /slow", "late")
			srv.Handle("GET /fast", func(req *mockserver.Request, res *mockserver.Response) { res.Send("fast") })
			s, life := cb.dialLife(t, srv, sailsio.WithReconnection(false))
			ctx := testCtx(t)
			c, ch, _ := callback()
			s.Get("/slow", nil, c)
			await(t, slow.entered, "slow request")
			srv.DropConnections()
			checkFailed(t, await(t, ch, "in-flight callback"), sailsio.ErrDisconnected)
			life.Expect(t, sailsio.EventDisconnect)
			if s.IsConnected() || s.IsConnecting() {
				t.Errorf("after the drop: connected %v connecting %v; want neither", s.IsConnected(), s.IsConnecting())
			}
			start := time.Now()
			c2, ch2, _ := callback()
			s.Get("/fast", nil, c2)
			checkFailed(t, await(t, ch2, "callback after the drop"), sailsio.ErrDisconnected)
			jwr, err := s.GetContext(ctx, "/fast", nil)
			checkDoFailed(t, jwr, err, sailsio.ErrDisconnected)
			if d := time.Since(start); d > waitLimit/2 {
				t.Errorf("requests took %v to fail; they must fail at once", d)
			}
			// An explicit Reconnect still works.
			if err := s.Reconnect(ctx); err != nil {
				t.Fatalf("Reconnect: %v", err)
			}
			if jwr, err := s.GetContext(ctx, "/fast", nil); err != nil || jwr.StatusCode != 200 {
				t.Errorf("after Reconnect: %v %v", jwr, err)
			}
		})

		t.Run("attempts exhausted", func(t *testing.T) {
			srv := cb.newServer(t)
			srv.Handle("GET /fast", func(req *mockserver.Request, res *mockserver.Response) { res.Send("fast") })
			s, life := cb.dialLife(t, srv, sailsio.WithReconnectionDelay(100*time.Millisecond, 200*time.Millisecond), sailsio.WithReconnectionAttempts(2))
			srv.RefuseHandshakes(100, http.StatusServiceUnavailable)
			srv.DropConnections()
			life.Expect(t, sailsio.EventDisconnect)

			var chans []<-chan reply
			for i := range 3 {
				c, ch, _ := callback()
				s.Get("/fast?n="+strconv.Itoa(i), nil, c)
				chans = append(chans, ch)
			}
			wctx := watchDone(testCtx(t))
			errc := doAsync(s, wctx, sailsio.RequestOptions{URL: "/fast?n=do"})
			await(t, wctx.asked, "Do waiting")
			if !s.IsConnecting() {
				t.Logf("reconnection gave up before the requests were queued; they failed at once instead")
			}
			for _, want := range []string{
				sailsio.EventReconnecting, sailsio.EventConnectError,
				sailsio.EventReconnecting, sailsio.EventConnectError,
			} {
				life.Expect(t, want)
			}
			if d := jsonDiff(t, `{"attempts":2}`, life.Expect(t, sailsio.EventReconnectFailed).Data); d != "" {
				t.Errorf("reconnect_failed payload (-want +got):\n%s", d)
			}
			for _, ch := range chans {
				checkFailed(t, await(t, ch, "callback of a queued request"), sailsio.ErrDisconnected)
			}
			if err := await(t, errc, "queued Do's return"); !errors.Is(err, sailsio.ErrDisconnected) {
				t.Errorf("queued Do = %v, want ErrDisconnected", err)
			}
			if s.IsConnected() || s.IsConnecting() {
				t.Errorf("after reconnect_failed: connected %v connecting %v", s.IsConnected(), s.IsConnecting())
			}
			jwr, err := s.GetContext(testCtx(t), "/fast", nil)
			checkDoFailed(t, jwr, err, sailsio.ErrDisconnected)
		})

	})
}

// ---------------------------------------------------------------------------------------------
// 10. Parse errors

// The client always announces a valid SDK version in the query, so the server's PARSE_VIRTUAL_REQ
// ack is provoked the way sails-hook-sockets allows: SDK metadata in the handshake headers wins
// over the query, and a handshake header can carry an old version.
func TestClientParseError(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		srv := cb.newServer(t)
		srv.Handle("GET /ping", func(req *mockserver.Request, res *mockserver.Response) { res.Send("pong") })
		s := cb.newSocket(t, srv, sailsio.WithInitialConnectionHeaders(http.Header{"__sails_io_sdk_version": {"0.9.0"}}))
		ctx := testCtx(t)
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if hs, ok := srv.Handshake(s.ID()); !ok || hs.SDKVersion != "0.9.0" {
			t.Fatalf("the server read SDK version %q (socket known: %v), want 0.9.0 from the handshake header", hs.SDKVersion, ok)
		}
		jwr, err := s.GetContext(ctx, "/ping", nil)
		var pe *sailsio.ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("GetContext = %v, %v; want a *ParseError", jwr, err)
		}
		if pe.Code != mockserver.ParseErrorCode || pe.Status != 400 || pe.Message == "" {
			t.Errorf("ParseError %+v", pe)
		}
		if jwr == nil || jwr.StatusCode != 400 || !errors.Is(jwr.Error, pe) {
			t.Errorf("JWRes with a parse error: %v; want status 400 and the same error", jwr)
		}
		c, ch, _ := callback()
		s.Get("/ping", nil, c)
		r := await(t, ch, "callback")
		if !errors.As(r.jwr.Error, &pe) || r.jwr.StatusCode != 400 {
			t.Errorf("callback JWRes %v, want status 400 with a *ParseError", r.jwr)
		}
		if !s.IsConnected() {
			t.Errorf("a parse error must not break the connection")
		}
	})
}

// TestClientSDKVersionMustBeSemver checks that WithSDKVersion refuses what node-semver (and so
// Sails) refuses: real Sails crashes ("Invalid Version") on a handshake with such a version.
func TestClientSDKVersionMustBeSemver(t *testing.T) {
	for _, v := range []string{"1.2.1-01", "1.2.1-a..b", "1.2.1-", "1.2.1-.a", "1.2.1+a..b"} {
		if _, err := sailsio.New("http://127.0.0.1:1", sailsio.WithSDKVersion(v)); !errors.Is(err, sailsio.ErrInvalidOption) {
			t.Errorf("WithSDKVersion(%q): New error %v; want ErrInvalidOption (not a semantic version)", v, err)
		}
	}
	for _, v := range []string{"1.2.1", "0.11.0", "1.2.1-rc.1", "1.2.1-0.3.7", "1.2.1+build.5", "2.0.0-alpha-1+exp.sha.5114f85"} {
		if _, err := sailsio.New("http://127.0.0.1:1", sailsio.WithSDKVersion(v)); err != nil {
			t.Errorf("WithSDKVersion(%q): %v; want it accepted", v, err)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// 11. Message size limits

func TestClientMessageLimits(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		t.Run("server maxPayload", func(t *testing.T) {
			var rec mockserver.FrameRecorder
			srv := cb.newServer(t, mockserver.WithMaxHTTPBufferSize(1000), mockserver.WithFrameLog(rec.Log))
			srv.Handle("POST /store", func(req *mockserver.Request, res *mockserver.Response) { res.JSON(len(req.Body)) })
			s, life := cb.dialLife(t, srv, sailsio.WithReconnection(false))
			ctx := testCtx(t)
			id := s.ID()
			big := map[string]string{"blob": strings.Repeat("x", 5000)}
			if !cb.hook3() {
				// Hook 2.x advertises no maxPayload: the request goes out and the server closes the
				// connection (1009), which fails the request.
				jwr, err := s.PostContext(ctx, "/store", big)
				checkDoFailed(t, jwr, err, sailsio.ErrDisconnected)
				if !errors.Is(err, sailsio.ErrMessageTooLarge) {
					t.Logf("hook 2.x: the request failed with %v (the 1009 close frame was not seen)", err)
				}
				return
			}
			start := time.Now()
			jwr, err := s.PostContext(ctx, "/store", big)
			checkDoFailed(t, jwr, err, sailsio.ErrMessageTooLarge)
			if d := time.Since(start); d > waitLimit/2 {
				t.Errorf("the oversized request failed after %v; want at once", d)
			}
			c, ch, _ := callback()
			s.Post("/store", big, c)
			checkFailed(t, await(t, ch, "callback of the oversized request"), sailsio.ErrMessageTooLarge)
			jwr, err = s.PostContext(ctx, "/store", map[string]string{"blob": "small"})
			if err != nil || string(jwr.Body) != strconv.Itoa(len(`{"blob":"small"}`)) {
				t.Fatalf("small request after the oversized ones: %v %v", jwr, err)
			}
			if !s.IsConnected() || s.ID() != id {
				t.Errorf("connected %v id %q (was %q): the connection must stay up", s.IsConnected(), s.ID(), id)
			}
			for _, w := range sentRequests(&rec, id) {
				if len(w.Data) > 1000 {
					t.Errorf("an oversized request reached the server (%d bytes of data)", len(w.Data))
				}
			}
			if e := life.Unread(); len(e) > 0 {
				t.Errorf("unexpected %s: %v", "lifecycle event (the connection must stay up)", e)
			}
		})

		t.Run("client max message size", func(t *testing.T) {
			srv := cb.newServer(t)
			huge := strings.Repeat("y", 10_000)
			srv.Handle("GET /huge", func(req *mockserver.Request, res *mockserver.Response) { res.JSON(huge) })
			slow := newBlocker(t, srv, "GET /slow", "late")
			s, life := cb.dialLife(t, srv, sailsio.WithMaxMessageSize(1000), sailsio.WithReconnection(false))
			ctx := testCtx(t)
			c, ch, _ := callback()
			s.Get("/slow", nil, c) // in flight when the connection drops
			await(t, slow.entered, "slow request")
			jwr, err := s.GetContext(ctx, "/huge", nil)
			checkDoFailed(t, jwr, err, sailsio.ErrMessageTooLarge)
			if !errors.Is(err, sailsio.ErrDisconnected) {
				t.Errorf("error %v, want it to wrap ErrDisconnected too", err)
			}
			r := await(t, ch, "callback of the other in-flight request")
			checkFailed(t, r, sailsio.ErrDisconnected)
			checkFailed(t, r, sailsio.ErrMessageTooLarge)
			var reason struct{ Reason string }
			if err := json.Unmarshal(life.Expect(t, sailsio.EventDisconnect).Data, &reason); err != nil || reason.Reason != sailsio.ReasonTransportError {
				t.Errorf("disconnect reason %q (%v), want %q", reason.Reason, err, sailsio.ReasonTransportError)
			}
		})
	})
}

// ---------------------------------------------------------------------------------------------
// 13. Listeners

func TestClientListeners(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		srv := cb.newServer(t)
		srv.Handle("GET /ping", func(req *mockserver.Request, res *mockserver.Response) { res.Send("pong") })
		s := cb.dial(t, srv)
		var h1, h2, h3 atomic.Int32
		synced := make(chan struct{}, 8)
		s.On("sync", func(json.RawMessage) { synced <- struct{}{} })
		// emit sends "ev" then "sync" and waits for sync: the ev handlers have run by then.
		emit := func() {
			t.Helper()
			srv.Emit(s.ID(), "ev", 1)
			srv.Emit(s.ID(), "sync", nil)
			await(t, synced, "sync event")
		}
		counts := func() [3]int32 { return [3]int32{h1.Load(), h2.Load(), h3.Load()} }
		check := func(when string, want [3]int32) {
			t.Helper()
			if got := counts(); got != want {
				t.Errorf("%s: handler calls %v, want %v", when, got, want)
			}
		}

		off1 := s.On("ev", func(json.RawMessage) { h1.Add(1) })
		s.On("ev", func(json.RawMessage) { h2.Add(1) })
		same := func(json.RawMessage) { h3.Add(1) }
		off3 := s.On("ev", same)
		s.On("ev", same) // the same function twice: two registrations
		emit()
		check("all registered", [3]int32{1, 1, 2})

		off1()
		off1() // a second call removes nothing else
		off3() // removes one of the two registrations of same
		emit()
		check("after off1 and off3", [3]int32{1, 2, 3})

		s.Off("ev")
		emit()
		check("after Off(ev)", [3]int32{1, 2, 3})

		s.On("ev", func(json.RawMessage) { h1.Add(1) })
		s.RemoveAllListeners()
		srv.Emit(s.ID(), "ev", 1)
		srv.Emit(s.ID(), "sync", nil)
		// Requests still complete, in both styles; the callback runs after both events were handled.
		c, ch, _ := callback()
		s.Get("/ping", nil, c)
		if r := await(t, ch, "callback after RemoveAllListeners"); r.jwr.StatusCode != 200 {
			t.Errorf("request after RemoveAllListeners: %v", r.jwr)
		}
		if jwr, err := s.GetContext(testCtx(t), "/ping", nil); err != nil || jwr.StatusCode != 200 {
			t.Errorf("Do after RemoveAllListeners: %v %v", jwr, err)
		}
		check("after RemoveAllListeners", [3]int32{1, 2, 3})
		nothingIn(t, synced, "sync event after RemoveAllListeners")

		// A panicking handler or callback does not stop the others.
		after := make(chan string, 4)
		s.On("boom", func(json.RawMessage) { panic("handler panic") })
		s.On("boom", func(json.RawMessage) { after <- "second handler" })
		srv.Emit(s.ID(), "boom", nil)
		s.Get("/ping", nil, func(json.RawMessage, *sailsio.JWRes) { panic("callback panic") })
		s.Get("/ping", nil, func(data json.RawMessage, _ *sailsio.JWRes) { after <- "next callback " + string(data) })
		if got := await(t, after, "handler after a panicking one"); got != "second handler" {
			t.Errorf("got %q", got)
		}
		if got := await(t, after, "callback after a panicking one"); got != `next callback "pong"` {
			t.Errorf("got %q", got)
		}
		if !s.IsConnected() {
			t.Errorf("a panicking callback broke the connection")
		}
	})
}
