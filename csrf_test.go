package sailsio_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

// csrfApp is a mockserver app that checks CSRF tokens as Sails does: a token is valid for the
// session it was issued to (and its secret generation); unsafe requests without a valid one get 403
// "Forbidden". It exposes the token the way the template's pages do, or through /csrfToken.
type csrfApp struct {
	srv        *mockserver.Server
	pages      atomic.Int32 // page GETs
	routeGets  atomic.Int32 // /csrfToken GETs
	mu         sync.Mutex
	tokensSeen []string
}

func token(req *mockserver.Request) string {
	gen, _ := req.Session.Get("gen").(int)
	return fmt.Sprintf("tok.%s.%d", req.Session.ID(), gen)
}

func newCSRFApp(t *testing.T, route bool, page string) *csrfApp {
	app := &csrfApp{srv: mockserver.NewT(t, mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))}
	app.srv.Handle("GET /", func(req *mockserver.Request, res *mockserver.Response) {
		app.pages.Add(1)
		res.Send(strings.ReplaceAll(page, "TOKEN", token(req)))
	})
	if route {
		app.srv.Handle("GET /csrfToken", func(req *mockserver.Request, res *mockserver.Response) {
			app.routeGets.Add(1)
			if req.IsSocket {
				res.BadRequest("Cannot access CSRF token via socket request.")
				return
			}
			res.JSON(map[string]string{"_csrf": token(req)})
		})
	}
	app.srv.Handle("POST /rotate", func(req *mockserver.Request, res *mockserver.Response) {
		gen, _ := req.Session.Get("gen").(int)
		req.Session.Set("gen", gen+1)
		res.Send("rotated")
	})
	app.srv.Handle("ALL /thing", func(req *mockserver.Request, res *mockserver.Response) {
		got := req.Header("x-csrf-token")
		app.mu.Lock()
		app.tokensSeen = append(app.tokensSeen, got)
		app.mu.Unlock()
		if req.Method != "GET" && req.URL != "/thing?skip" && got != token(req) {
			res.Forbidden(nil) // Sails' CSRF hook: res.forbidden(), body "Forbidden"
			return
		}
		res.JSON(map[string]string{"method": req.Method, "token": got})
	})
	return app
}

const templatePage = `<!DOCTYPE html><html><head><title>x</title></head><body>
<script type="text/javascript"> (function (){ var unescape = function(s){return s;}; window.SAILS_LOCALS = { _environment: unescape('development'), _csrf: unescape('TOKEN'), me: unescape(null), }; })(); </script>
</body></html>`

// rotate makes the session's tokens stale, over the socket (the rotate route has no CSRF check).
func (app *csrfApp) rotate(t *testing.T, s *sailsio.SailsSocket) {
	t.Helper()
	if jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{Method: "post", URL: "/rotate", Headers: map[string]string{"x-csrf-token": "-"}}); err != nil || jwr.StatusCode != 200 {
		t.Fatalf("rotate: %v %v", jwr, err)
	}
}

// TestCSRFFromPage: the token of the template's page goes on unsafe requests of both forms, on
// every transport, fetched once; safe requests carry none; a token set by the caller is kept; a
// stale token is refetched once and the refused request sent again.
func TestCSRFFromPage(t *testing.T) {
	for _, tr := range [][]sailsio.Transport{{sailsio.TransportWebSocket}, {sailsio.TransportPolling}, {sailsio.TransportPolling, sailsio.TransportWebSocket}} {
		t.Run(fmt.Sprint(tr), func(t *testing.T) {
			app := newCSRFApp(t, false, templatePage)
			s := newSocket(t, app.srv.URL(), sailsio.WithCSRF(), sailsio.WithTransports(tr...))
			dial(t, s)
			for _, m := range []string{"post", "put", "patch", "delete"} {
				jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{Method: m, URL: "/thing"})
				if err != nil || jwr.StatusCode != 200 {
					t.Fatalf("%s: %v %v", m, jwr, err)
				}
			}
			cb, replies, _ := callback()
			s.Post("/thing", map[string]int{"n": 1}, cb)
			if r := await(t, replies, "callback"); r.jwr.StatusCode != 200 {
				t.Errorf("Post: %v", r.jwr)
			}
			if jwr, err := s.GetContext(testCtx(t), "/thing", nil); err != nil || strings.Contains(string(jwr.Body), "tok.") {
				t.Errorf("GET carried a token: %v %v", jwr, err)
			}
			jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{Method: "post", URL: "/thing?skip", Headers: map[string]string{"X-CSRF-Token": "mine"}})
			if err != nil || !strings.Contains(string(jwr.Body), `"token":"mine"`) {
				t.Errorf("a token set by the caller: %v %v", jwr, err)
			}
			if n := app.pages.Load(); n != 1 {
				t.Errorf("the page was fetched %d times, want 1", n)
			}

			app.rotate(t, s)
			if jwr, err := s.PostContext(testCtx(t), "/thing", nil); err != nil || jwr.StatusCode != 200 {
				t.Fatalf("after the token went stale: %v %v", jwr, err)
			}
			if n := app.pages.Load(); n != 2 {
				t.Errorf("the page was fetched %d times after a mismatch, want 2", n)
			}
		})
	}
}

// TestCSRFRoute: where the app serves /csrfToken, the token comes from there and no page is read.
func TestCSRFRoute(t *testing.T) {
	app := newCSRFApp(t, true, "<html>no token here</html>")
	s := newSocket(t, app.srv.URL(), sailsio.WithCSRF())
	dial(t, s)
	for i := 0; i < 3; i++ {
		if jwr, err := s.PostContext(testCtx(t), "/thing", nil); err != nil || jwr.StatusCode != 200 {
			t.Fatalf("post %d: %v %v", i, jwr, err)
		}
	}
	if r, p := app.routeGets.Load(), app.pages.Load(); r != 1 || p != 0 {
		t.Errorf("/csrfToken fetched %d times, the page %d times; want 1 and 0", r, p)
	}
}

// TestCSRFPageOption: WithCSRFPage names the page; a hidden _csrf input is read too.
func TestCSRFPageOption(t *testing.T) {
	app := newCSRFApp(t, false, "<html>home</html>")
	app.srv.Handle("GET /login", func(req *mockserver.Request, res *mockserver.Response) {
		res.Send(`<form method="post"><input type="hidden" name="_csrf" value="` + token(req) + `"></form>`)
	})
	s := newSocket(t, app.srv.URL(), sailsio.WithCSRFPage("/login"))
	dial(t, s)
	if jwr, err := s.PostContext(testCtx(t), "/thing", nil); err != nil || jwr.StatusCode != 200 {
		t.Fatalf("post: %v %v", jwr, err)
	}
	if _, err := sailsio.New(app.srv.URL(), sailsio.WithCSRFPage("login")); !errors.Is(err, sailsio.ErrInvalidOption) {
		t.Errorf("WithCSRFPage(\"login\"): %v", err)
	}
}

// TestCSRFNoToken: without a token anywhere, unsafe requests fail with ErrCSRF naming where the
// SDK looked; safe ones still go.
func TestCSRFNoToken(t *testing.T) {
	app := newCSRFApp(t, false, "<html>no token here</html>")
	s := newSocket(t, app.srv.URL(), sailsio.WithCSRF())
	dial(t, s)
	_, err := s.PostContext(testCtx(t), "/thing", nil)
	if !errors.Is(err, sailsio.ErrCSRF) {
		t.Fatalf("post: %v, want ErrCSRF", err)
	}
	for _, want := range []string{"GET /csrfToken answered 404", "GET / answered 200", "exposeLocalsToBrowser", "WithCSRFPage"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	cb, replies, _ := callback()
	s.Post("/thing", nil, cb)
	checkFailed(t, await(t, replies, "callback"), sailsio.ErrCSRF)
	if jwr, err := s.GetContext(testCtx(t), "/thing", nil); err != nil || jwr.StatusCode != 200 {
		t.Errorf("get: %v %v", jwr, err)
	}
}

// TestCSRFNewSession: a connection that carries another session gets a token of its own; after a
// restart that lost the sessions, the page gives the jar a new session and the socket reconnects
// with it, so the refused request goes through on retry.
func TestCSRFNewSession(t *testing.T) {
	app := newCSRFApp(t, false, templatePage)
	s := newSocket(t, app.srv.URL(), sailsio.WithCSRF(), sailsio.WithReconnectionDelay(1, 2))
	life := lifecycle(s)
	dial(t, s)
	life.Expect(t, sailsio.EventConnect)
	post := func(what string) {
		t.Helper()
		if jwr, err := s.PostContext(testCtx(t), "/thing", nil); err != nil || jwr.StatusCode != 200 {
			t.Fatalf("%s: %v %v", what, jwr, err)
		}
	}
	post("first")
	app.srv.Stop() // a restart with the memory store: every session is gone
	if err := app.srv.Start(); err != nil {
		t.Fatal(err)
	}
	life.WaitFor(t, sailsio.EventReconnect)
	post("after the restart")
	if n := app.pages.Load(); n != 2 {
		t.Errorf("the page was fetched %d times, want 2", n)
	}
	// The token's new session reached the socket through a reconnection.
	life.Expect(t, sailsio.EventDisconnect)
	life.Expect(t, sailsio.EventConnect)
}

// TestCSRFPolicy403: a 403 to a request whose token was fetched for it is a policy's refusal: it is
// not sent again; with an older token it is, once, after one more fetch.
func TestCSRFPolicy403(t *testing.T) {
	app := newCSRFApp(t, false, templatePage)
	var refused atomic.Int32
	app.srv.Handle("POST /admin", func(req *mockserver.Request, res *mockserver.Response) {
		refused.Add(1)
		res.Forbidden(nil)
	})
	s := newSocket(t, app.srv.URL(), sailsio.WithCSRF())
	dial(t, s)
	for i, want := range []int32{1, 3} {
		jwr, err := s.PostContext(testCtx(t), "/admin", nil)
		if err != nil || jwr.StatusCode != 403 {
			t.Fatalf("post %d: %v %v", i, jwr, err)
		}
		if n := refused.Load(); n != want {
			t.Errorf("after post %d the server refused %d requests, want %d", i, n, want)
		}
	}
	if n := app.pages.Load(); n != 2 {
		t.Errorf("the page was fetched %d times, want 2", n)
	}
}

// TestCSRFResubscribe: an unsafe resubscription carries the token held for the session, on the
// first connection and after a reconnection.
func TestCSRFResubscribe(t *testing.T) {
	app := newCSRFApp(t, false, templatePage)
	s := newSocket(t, app.srv.URL(), sailsio.WithCSRF(), sailsio.WithReconnectionDelay(1, 2))
	life := lifecycle(s)
	dial(t, s)
	if jwr, err := s.PostContext(testCtx(t), "/thing", nil); err != nil || jwr.StatusCode != 200 { // fetches the token
		t.Fatalf("post: %v %v", jwr, err)
	}
	cb, replies, _ := callback()
	s.Resubscribe(sailsio.RequestOptions{Method: "post", URL: "/thing"}, cb)
	if r := await(t, replies, "first join"); r.jwr.StatusCode != 200 {
		t.Fatalf("first join: %v", r.jwr)
	}
	app.srv.DropConnections()
	life.WaitFor(t, sailsio.EventReconnect)
	if r := await(t, replies, "join after reconnecting"); r.jwr.StatusCode != 200 {
		t.Errorf("join after reconnecting: %v %s", r.jwr, r.data)
	}
}

// TestCSRFResubscribeFirst: an unsafe resubscription made before any token is held carries one,
// whether it is made on a connected socket or before Connect.
func TestCSRFResubscribeFirst(t *testing.T) {
	for _, before := range []bool{false, true} {
		t.Run(fmt.Sprint("before Connect ", before), func(t *testing.T) {
			app := newCSRFApp(t, false, templatePage)
			s := newSocket(t, app.srv.URL(), sailsio.WithCSRF())
			cb, replies, _ := callback()
			if before {
				s.Resubscribe(sailsio.RequestOptions{Method: "post", URL: "/thing"}, cb)
			}
			dial(t, s)
			if !before {
				s.Resubscribe(sailsio.RequestOptions{Method: "post", URL: "/thing"}, cb)
			}
			if r := await(t, replies, "join"); r.jwr.StatusCode != 200 {
				t.Errorf("join: %v %s", r.jwr, r.data)
			}
			if n := app.pages.Load(); n != 1 {
				t.Errorf("the page was fetched %d times, want 1", n)
			}
		})
	}
}
