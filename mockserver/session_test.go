package mockserver

import (
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"testing"
)

// countApp registers GET /count, which increments req.session.count and answers it.
func countApp(s *Server) {
	s.Handle("GET /count", func(req *Request, res *Response) {
		n, _ := req.Session.Get("count").(int)
		n++
		req.Session.Set("count", n)
		res.JSON(n)
	})
}

func TestSessionSharedBetweenHTTPAndSocket(t *testing.T) {
	s := NewT(t)
	countApp(s)
	// HTTP without a cookie: a new session and its Set-Cookie.
	resp, body := httpGet(t, s.Client(), s.URL()+"/count", nil)
	cookies := resp.Cookies()
	if body != "1" || len(cookies) != 1 || cookies[0].Name != "sails.sid" || !cookies[0].HttpOnly || cookies[0].Path != "/" {
		t.Fatalf("first HTTP request: %q %v", body, resp.Header["Set-Cookie"])
	}
	cookie := "sails.sid=" + cookies[0].Value
	// HTTP with the cookie: same session, no new Set-Cookie.
	resp, body = httpGet(t, s.Client(), s.URL()+"/count", http.Header{"Cookie": {cookie}})
	if body != "2" || len(resp.Cookies()) != 0 {
		t.Fatalf("second HTTP request: %q %v", body, resp.Header["Set-Cookie"])
	}
	// A socket whose handshake carries the cookie shares the session.
	c, _ := connect(t, s, 4, http.Header{"Cookie": {cookie}})
	if r := c.request(0, "get", "/count", nil); string(r.Body) != "3" {
		t.Fatalf("socket: %+v", r)
	}
	c.close()
	// So does a reconnection with the same Cookie header, and HTTP again.
	c, _ = connect(t, s, 3, http.Header{"Cookie": {cookie}})
	if r := c.request(0, "get", "/count", nil); string(r.Body) != "4" {
		t.Fatalf("socket after reconnect: %+v", r)
	}
	if _, body = httpGet(t, s.Client(), s.URL()+"/count", http.Header{"Cookie": {cookie}}); body != "5" {
		t.Fatalf("HTTP again: %q", body)
	}
}

func TestThrowAwaySocketSession(t *testing.T) {
	s := NewT(t)
	countApp(s)
	c, _ := connect(t, s, 3, nil)
	for i := 1; i <= 2; i++ {
		if r := c.request(i, "get", "/count", nil); string(r.Body) != strconv.Itoa(i) {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	// A per-request cookie is ignored: the generated handshake cookie wins.
	resp, _ := httpGet(t, s.Client(), s.URL()+"/count", nil)
	other := "sails.sid=" + resp.Cookies()[0].Value
	c.send(`423["get",{"method":"get","headers":{"cookie":"` + other + `"},"data":{},"url":"/count"}]`)
	c.expect(`433[{"body":3,"headers":{},"statusCode":200}]`)
	// A new connection without a cookie starts a new session.
	c2, _ := connect(t, s, 3, nil)
	if r := c2.request(0, "get", "/count", nil); string(r.Body) != "1" {
		t.Fatalf("new socket: %+v", r)
	}
}

func TestGetCookieWithJar(t *testing.T) {
	s := NewT(t)
	countApp(s)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: s.Client().Transport}
	if resp, body := httpGet(t, client, s.URL()+"/__getcookie", nil); body != "_sailsIoJSConnect();" || len(resp.Cookies()) != 1 {
		t.Fatalf("__getcookie: %q", body)
	}
	if _, body := httpGet(t, client, s.URL()+"/count", nil); body != "1" {
		t.Fatalf("count: %q", body)
	}
	u := mustParseURL(t, s.URL())
	hdr := http.Header{}
	for _, ck := range jar.Cookies(u) {
		hdr.Add("Cookie", ck.String())
	}
	c, _ := connect(t, s, 3, hdr)
	if r := c.request(0, "get", "/count", nil); string(r.Body) != "2" {
		t.Fatalf("socket: %+v", r)
	}
}

func TestGetCookieRouteOff(t *testing.T) {
	s := NewT(t, WithGetCookieRoute(false))
	if resp, _ := httpGet(t, s.Client(), s.URL()+"/__getcookie", nil); resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestSessionMethods(t *testing.T) {
	var st sessionStore
	st.m = map[string]*Session{}
	sess := st.create()
	sess.Set("a", 1)
	sess.Set("b", "x")
	sess.Delete("b")
	if sess.Get("a") != 1 || sess.Get("b") != nil || sess.Len() != 1 || st.lookup(sess.ID()) != sess {
		t.Fatal("session store")
	}
	got, cookie := st.forHandshake("foo=bar")
	if got == nil || cookie != "foo=bar; sails.sid="+got.ID() {
		t.Fatalf("forHandshake: %q", cookie)
	}
}
