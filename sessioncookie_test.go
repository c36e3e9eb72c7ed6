package sailsio_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

// sessionRoutes gives srv a login over the socket and a /me that reports the session.
func sessionRoutes(srv *mockserver.Server) {
	srv.Handle("POST /login", func(req *mockserver.Request, res *mockserver.Response) {
		req.Session.Set("user", req.Param("name"))
		res.JSON(map[string]any{"user": req.Param("name")})
	})
	srv.Handle("GET /me", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]any{"user": req.Session.Get("user"), "sid": req.Session.ID()})
	})
}

type sessMe struct{ User, Sid string }

func sessGetMe(t *testing.T, s *sailsio.SailsSocket) sessMe {
	t.Helper()
	jwr, err := s.GetContext(testCtx(t), "/me", nil)
	if err != nil {
		t.Fatalf("GET /me: %v", err)
	}
	var m sessMe
	if err := jwr.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sessLogin(t *testing.T, s *sailsio.SailsSocket, name string) {
	t.Helper()
	if jwr, err := s.PostContext(testCtx(t), "/login", map[string]string{"name": name}); err != nil || jwr.StatusCode != 200 {
		t.Fatalf("POST /login over the socket: %v, %v", jwr, err)
	}
}

// A login done over the socket survives Reconnect, a dropped connection and a server restart with a
// persistent session store; without the option it does not (Sails' throw-away session per connection).
func TestSessionCookieSurvivesReconnection(t *testing.T) {
	for _, p := range []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4} {
		for _, tr := range []string{"websocket", "polling"} {
			t.Run(fmt.Sprintf("EIO%d/%s", p, tr), func(t *testing.T) {
				srvOpts := []mockserver.Option{mockserver.WithProtocol(p), mockserver.WithPersistentSessions()}
				cliOpts := []sailsio.Option{sailsio.WithSessionCookie(), sailsio.WithReconnectionDelay(time.Millisecond, 10*time.Millisecond)}
				if tr == "polling" {
					srvOpts = append(srvOpts, mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))
					cliOpts = append(cliOpts, sailsio.WithTransports(sailsio.TransportPolling))
				}
				srv := mockserver.NewT(t, srvOpts...)
				sessionRoutes(srv)
				s := newSocket(t, srv.URL(), append([]sailsio.Option{sailsio.WithProtocol(p)}, cliOpts...)...)
				ev := lifecycle(s)
				dial(t, s)
				sessLogin(t, s, "ada")
				first := sessGetMe(t, s)
				if first.User != "ada" || first.Sid == "" {
					t.Fatalf("after the login: %+v", first)
				}
				check := func(when string) {
					t.Helper()
					if m := sessGetMe(t, s); m != first {
						t.Errorf("%s: %+v, want %+v (the session of the login over the socket)", when, m, first)
					}
				}

				if err := s.Reconnect(testCtx(t)); err != nil {
					t.Fatal(err)
				}
				check("after Reconnect")

				srv.DropConnections()
				ev.WaitFor(t, sailsio.EventReconnect)
				check("after a dropped connection")

				srv.Stop()
				if err := srv.Start(); err != nil {
					t.Fatal(err)
				}
				ev.WaitFor(t, sailsio.EventReconnect)
				check("after a server restart")
			})
		}
	}

	t.Run("without the option the session is lost", func(t *testing.T) {
		srv := mockserver.NewT(t)
		sessionRoutes(srv)
		s := newSocket(t, srv.URL(), sailsio.WithProtocol(sailsio.EIO3))
		dial(t, s)
		sessLogin(t, s, "ada")
		before := sessGetMe(t, s)
		if err := s.Reconnect(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if after := sessGetMe(t, s); after.User == "ada" || after.Sid == before.Sid {
			t.Errorf("without WithSessionCookie: %+v after Reconnect, %+v before: the mock no longer makes a session per connection?", after, before)
		}
	})
}

// The cookie goes into the caller's jar (so an http.Client sharing it is in the same session), and a
// jar that already holds a session cookie (an HTTP login) makes no request to /__getcookie.
func TestSessionCookieJar(t *testing.T) {
	srv := mockserver.NewT(t)
	sessionRoutes(srv)
	var gets atomic.Int32
	srv.Handle("GET /__getcookie", func(req *mockserver.Request, res *mockserver.Response) {
		gets.Add(1)
		res.Set("content-type", "application/javascript")
		res.Send("_sailsIoJSConnect();")
	})
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newSocket(t, srv.URL(), sailsio.WithProtocol(sailsio.EIO3), sailsio.WithCookieJar(jar), sailsio.WithSessionCookie())
	dial(t, s)
	if n := gets.Load(); n != 1 {
		t.Fatalf("%d GET /__getcookie before the first handshake, want 1", n)
	}
	sessLogin(t, s, "grace")
	hc := &http.Client{Jar: jar, Timeout: waitLimit}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(srv.URL() + "/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	m := sessGetMe(t, s)
	if m.User != "grace" {
		t.Fatalf("over the socket: %+v", m)
	}
	u, _ := url.Parse(srv.URL())
	var sid string
	for _, c := range jar.Cookies(u) {
		if c.Name == mockserver.SessionCookieName {
			sid = c.Value
		}
	}
	if sid == "" || sid != m.Sid {
		t.Errorf("jar cookie %q, socket session %q: want the same", sid, m.Sid)
	}
	for range 2 {
		if err := s.Reconnect(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if n := gets.Load(); n != 1 {
		t.Errorf("%d GET /__getcookie after two reconnections, want still 1 (the jar holds the cookie)", n)
	}
	if m2 := sessGetMe(t, s); m2 != m {
		t.Errorf("after Reconnect: %+v, want %+v", m2, m)
	}

	// A session cookie given in the initial headers counts too.
	s2 := newSocket(t, srv.URL(), sailsio.WithProtocol(sailsio.EIO3), sailsio.WithSessionCookie(),
		sailsio.WithInitialConnectionHeaders(http.Header{"Cookie": {"a=b; " + mockserver.SessionCookieName + "=" + sid}}))
	dial(t, s2)
	if n := gets.Load(); n != 1 {
		t.Errorf("%d GET /__getcookie with a session cookie in the initial headers, want 1", n)
	}
	if m3 := sessGetMe(t, s2); m3 != m {
		t.Errorf("second socket with the cookie: %+v, want %+v", m3, m)
	}
}

func TestSessionCookieErrors(t *testing.T) {
	t.Run("route off", func(t *testing.T) {
		// Like Sails' session middleware, the mock sets the session cookie on every HTTP response
		// without one, the 404 of a missing /__getcookie included: the socket still gets a session.
		srv := mockserver.NewT(t, mockserver.WithGetCookieRoute(false))
		sessionRoutes(srv)
		s := newSocket(t, srv.URL(), sailsio.WithProtocol(sailsio.EIO3), sailsio.WithSessionCookie(), sailsio.WithReconnection(false))
		dial(t, s)
		sessLogin(t, s, "ada")
		before := sessGetMe(t, s)
		if err := s.Reconnect(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if after := sessGetMe(t, s); after != before {
			t.Errorf("after Reconnect %+v, want %+v", after, before)
		}
	})
	t.Run("no cookie", func(t *testing.T) {
		var hits atomic.Int32
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.NotFound(w, r)
		}))
		defer hs.Close()
		s, err := sailsio.New(hs.URL, sailsio.WithSessionCookie(), sailsio.WithReconnection(false))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Disconnect()
		err = s.Connect(testCtx(t))
		if !errors.Is(err, sailsio.ErrSessionCookie) || errors.Is(err, sailsio.ErrUnreachable) {
			t.Fatalf("Connect: %v, want ErrSessionCookie", err)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "sailsio: ") || !strings.Contains(msg, "404") || !strings.Contains(msg, "grant3rdPartyCookie") {
			t.Errorf("error %q should name the status and the setting", msg)
		}
		if n := hits.Load(); n != 1 {
			t.Errorf("%d requests, want 1 (GET /__getcookie, and no handshake after it failed)", n)
		}
	})
	t.Run("another cookie name", func(t *testing.T) {
		srv := mockserver.NewT(t)
		s := newSocket(t, srv.URL(), sailsio.WithProtocol(sailsio.EIO3), sailsio.WithSessionCookieName("app.sid"), sailsio.WithReconnection(false))
		err := s.Connect(testCtx(t))
		if !errors.Is(err, sailsio.ErrSessionCookie) || !strings.Contains(err.Error(), "app.sid") {
			t.Fatalf("Connect: %v, want ErrSessionCookie naming app.sid", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		s, err := sailsio.New("http://"+addr, sailsio.WithSessionCookie(), sailsio.WithReconnection(false))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Disconnect()
		err = s.Connect(testCtx(t))
		if !errors.Is(err, sailsio.ErrSessionCookie) || !errors.Is(err, sailsio.ErrUnreachable) {
			t.Fatalf("Connect: %v, want ErrSessionCookie and ErrUnreachable", err)
		}
	})
	t.Run("invalid name", func(t *testing.T) {
		for _, name := range []string{"", "a=b", "a;b", "a b"} {
			if _, err := sailsio.New("http://127.0.0.1:1", sailsio.WithSessionCookieName(name)); !errors.Is(err, sailsio.ErrInvalidOption) {
				t.Errorf("WithSessionCookieName(%q): %v, want ErrInvalidOption", name, err)
			}
		}
	})
}
