package mockserver

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// pageToken finds the token in an exposeLocalsToBrowser script.
var pageToken = regexp.MustCompile(`window\.SAILS_LOCALS = \{ _csrf: unescape\('([^']+)'\),`)

// csrfClient is an HTTP client with a cookie jar, for the CSRF tests.
func csrfClient(t *testing.T, s *Server) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Transport: s.Client().Transport}
}

// pageCSRF GETs / with client and returns the token the page exposes.
func pageCSRF(t *testing.T, s *Server, client *http.Client) string {
	t.Helper()
	resp, body := httpGet(t, client, s.URL()+"/", nil)
	m := pageToken.FindStringSubmatch(body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || m == nil {
		t.Fatalf("GET /: %d %q, no token in\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return m[1]
}

// jarCookie returns the Cookie header the jar of client holds for s.
func jarCookie(t *testing.T, s *Server, client *http.Client) http.Header {
	t.Helper()
	hdr := http.Header{}
	for _, ck := range client.Jar.Cookies(mustParseURL(t, s.URL())) {
		hdr.Add("Cookie", ck.String())
	}
	if len(hdr) == 0 {
		t.Fatal("the jar holds no cookie")
	}
	return hdr
}

// post sends an HTTP request with a JSON body and extra headers and returns its status and body.
func post(t *testing.T, s *Server, client *http.Client, method, path, body string, hdr http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, got := doHTTP(t, client, req)
	return resp.StatusCode, got
}

// csrfApp registers POST /thing, which answers {"ok":true}, and a route for every verb.
func csrfApp(s *Server) {
	s.Handle("POST /thing", func(req *Request, res *Response) { res.JSON(map[string]bool{"ok": true}) })
	s.Handle("ALL /any", func(req *Request, res *Response) { res.JSON(req.Method) })
}

func TestCSRFOverHTTP(t *testing.T) {
	s := NewT(t, WithCSRF())
	csrfApp(s)
	client := csrfClient(t, s)
	tok := pageCSRF(t, s, client)
	hdr := func(k, v string) http.Header { return http.Header{k: {v}} }

	for _, tc := range []struct {
		name, method, path, body string
		hdr                      http.Header
		status                   int
		answer                   string
	}{
		{"no token", "POST", "/thing", `{}`, nil, 403, "Forbidden"},
		{"no token, no route", "POST", "/nothing", `{}`, nil, 403, "Forbidden"},
		{"wrong token", "POST", "/thing", `{}`, hdr("X-Csrf-Token", tok+"x"), 403, "Forbidden"},
		{"no salt", "POST", "/thing", `{}`, hdr("X-Csrf-Token", "nodash"), 403, "Forbidden"},
		{"x-csrf-token", "POST", "/thing", `{}`, hdr("X-Csrf-Token", tok), 200, `{"ok":true}`},
		{"csrf-token", "POST", "/thing", `{}`, hdr("Csrf-Token", tok), 200, `{"ok":true}`},
		{"xsrf-token", "POST", "/thing", `{}`, hdr("Xsrf-Token", tok), 200, `{"ok":true}`},
		{"x-xsrf-token", "POST", "/thing", `{}`, hdr("X-Xsrf-Token", tok), 200, `{"ok":true}`},
		{"body _csrf", "POST", "/thing", `{"_csrf":"` + tok + `"}`, nil, 200, `{"ok":true}`},
		{"query _csrf", "POST", "/thing?_csrf=" + url.QueryEscape(tok), `{}`, nil, 200, `{"ok":true}`},
		// csurf takes the first truthy place: a wrong body _csrf hides a right header.
		{"body _csrf first", "POST", "/thing", `{"_csrf":"x-y"}`, hdr("X-Csrf-Token", tok), 403, "Forbidden"},
		{"body _csrf a number", "POST", "/thing", `{"_csrf":1}`, hdr("X-Csrf-Token", tok), 403, "Forbidden"},
		{"falsy body _csrf skipped", "POST", "/thing", `{"_csrf":0}`, hdr("X-Csrf-Token", tok), 200, `{"ok":true}`},
		{"empty query _csrf skipped", "POST", "/thing?_csrf=", `{}`, hdr("X-Csrf-Token", tok), 200, `{"ok":true}`},
		{"two query _csrf", "POST", "/thing?_csrf=" + url.QueryEscape(tok) + "&_csrf=" + url.QueryEscape(tok), `{}`, nil, 403, "Forbidden"},
		{"PUT", "PUT", "/any", `{}`, nil, 403, "Forbidden"},
		{"PATCH", "PATCH", "/any", `{}`, nil, 403, "Forbidden"},
		{"DELETE", "DELETE", "/any", `{}`, nil, 403, "Forbidden"},
		{"DELETE with token", "DELETE", "/any", `{}`, hdr("X-Csrf-Token", tok), 200, `"DELETE"`},
		{"GET", "GET", "/any", ``, nil, 200, `"GET"`},
		{"OPTIONS", "OPTIONS", "/any", ``, nil, 200, `"OPTIONS"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, s, client, tc.method, tc.path, tc.body, tc.hdr)
			if status != tc.status || body != tc.answer {
				t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, status, body, tc.status, tc.answer)
			}
		})
	}

	// A token belongs to its session: another client's is refused, and so is this one's there.
	other := csrfClient(t, s)
	otherTok := pageCSRF(t, s, other)
	if status, _ := post(t, s, other, "POST", "/thing", `{}`, hdr("X-Csrf-Token", tok)); status != 403 {
		t.Errorf("a token of another session: %d, want 403", status)
	}
	if status, _ := post(t, s, client, "POST", "/thing", `{}`, hdr("X-Csrf-Token", otherTok)); status != 403 {
		t.Errorf("the other session's token: %d, want 403", status)
	}
	// Every page gives a new token; the old ones stay valid.
	tok2 := pageCSRF(t, s, client)
	if tok2 == tok {
		t.Errorf("the same token twice: %q", tok)
	}
	for _, k := range []string{tok, tok2} {
		if status, _ := post(t, s, client, "POST", "/thing", `{}`, hdr("X-Csrf-Token", k)); status != 200 {
			t.Errorf("token %q: %d, want 200", k, status)
		}
	}
}

func TestCSRFOverSockets(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := NewT(t, WithProtocol(m.server), WithCSRF())
			csrfApp(s)
			s.Handle("GET /token", func(req *Request, res *Response) { res.JSON(map[string]string{"t": req.CSRFToken()}) })
			client := csrfClient(t, s)
			tok := pageCSRF(t, s, client)

			c, _ := connect(t, s, m.eio, jarCookie(t, s, client))
			c.send(`421["post",{"method":"post","headers":{},"data":{},"url":"/thing"}]`)
			c.expect(`431[{"body":"Forbidden","headers":{},"statusCode":403}]`)
			c.send(`422["post",{"method":"post","headers":{"x-csrf-token":"` + tok + `"},"data":{},"url":"/thing"}]`)
			c.expect(`432[{"body":{"ok":true},"headers":{},"statusCode":200}]`)
			if r := c.request(3, "post", "/thing", map[string]string{"_csrf": tok}); r.StatusCode != 200 {
				t.Errorf("_csrf in the data: %+v", r)
			}
			if r := c.request(4, "delete", "/any", nil); r.StatusCode != 403 || string(r.Body) != `"Forbidden"` {
				t.Errorf("DELETE without a token: %+v", r)
			}
			// Sockets get no token (res.locals._csrf is "" for virtual requests), and the page
			// they get does not expose one.
			if r := c.request(5, "get", "/token", nil); string(r.Body) != `{"t":""}` {
				t.Errorf("CSRFToken over a socket: %s", r.Body)
			}
			r := c.request(6, "get", "/", nil)
			var page string
			if err := json.Unmarshal(r.Body, &page); err != nil || r.StatusCode != 200 ||
				!strings.Contains(page, "window.SAILS_LOCALS = {  };") {
				t.Errorf("GET / over a socket: %d %s", r.StatusCode, r.Body)
			}

			// A socket without the cookie has a session of its own: the token is not its.
			c2, _ := connect(t, s, m.eio, nil)
			c2.send(`421["post",{"method":"post","headers":{"x-csrf-token":"` + tok + `"},"data":{},"url":"/thing"}]`)
			c2.expect(`431[{"body":"Forbidden","headers":{},"statusCode":403}]`)
		})
	}
}

// TestCSRFSecretInSession: every request, GET included, gives the session its secret once, under
// Sails' key.
func TestCSRFSecretInSession(t *testing.T) {
	s := NewT(t, WithCSRF())
	secrets := make(chan any, 2)
	s.Handle("GET /secret", func(req *Request, res *Response) {
		secrets <- req.Session.Get("csrfSecret")
		res.End()
	})
	client := csrfClient(t, s)
	httpGet(t, client, s.URL()+"/secret", nil)
	httpGet(t, client, s.URL()+"/secret", nil)
	a, b := <-secrets, <-secrets
	if sa, ok := a.(string); !ok || len(sa) != 24 || a != b {
		t.Fatalf("secrets %v, %v: want one 24-character string", a, b)
	}
}

func TestCSRFAfterRestart(t *testing.T) {
	s := NewT(t, WithCSRF())
	csrfApp(s)
	client := csrfClient(t, s)
	tok := pageCSRF(t, s, client)
	cookie := jarCookie(t, s, client)
	c, _ := connect(t, s, 4, cookie)
	if r := c.request(1, "post", "/thing", map[string]string{"_csrf": tok}); r.StatusCode != 200 {
		t.Fatalf("before the restart: %+v", r)
	}
	c.close()
	s.Stop()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	// The session is gone: the same cookie and token are refused.
	c, _ = connect(t, s, 4, cookie)
	if r := c.request(1, "post", "/thing", map[string]string{"_csrf": tok}); r.StatusCode != 403 {
		t.Fatalf("after the restart, old cookie and token: %+v", r)
	}
	// The page sets a new cookie with a new token, and a socket carrying it is let through.
	tok2 := pageCSRF(t, s, client)
	cookie2 := jarCookie(t, s, client)
	if cookie2.Get("Cookie") == cookie.Get("Cookie") {
		t.Fatalf("no new session cookie after the restart: %v", cookie2)
	}
	if r := c.request(2, "post", "/thing", map[string]string{"_csrf": tok2}); r.StatusCode != 403 {
		t.Errorf("the new token on the socket of the old cookie: %+v", r)
	}
	c2, _ := connect(t, s, 4, cookie2)
	if r := c2.request(1, "post", "/thing", map[string]string{"_csrf": tok2}); r.StatusCode != 200 {
		t.Errorf("new cookie and token: %+v", r)
	}
}

func TestCSRFTokenRoute(t *testing.T) {
	s := NewT(t, WithCSRF(), WithCSRFTokenRoute())
	csrfApp(s)
	client := csrfClient(t, s)
	resp, body := httpGet(t, client, s.URL()+"/csrfToken", nil)
	var got struct {
		CSRF string `json:"_csrf"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 || got.CSRF == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /csrfToken: %d %q %v", resp.StatusCode, body, err)
	}
	if status, _ := post(t, s, client, "POST", "/thing", `{}`, http.Header{"X-Csrf-Token": {got.CSRF}}); status != 200 {
		t.Errorf("the token of /csrfToken: %d", status)
	}
	c, _ := connect(t, s, 3, jarCookie(t, s, client))
	c.send(`421["get",{"method":"get","headers":{},"data":{},"url":"/csrfToken"}]`)
	c.expect(`431[{"body":"Error: Cannot access CSRF token via socket request.  Instead, send an HTTP request (i.e. XHR) to this endpoint.","headers":{},"statusCode":400}]`)

	// A route of the app's own comes first.
	s.Handle("GET /csrfToken", func(req *Request, res *Response) { res.JSON("mine") })
	if _, body := httpGet(t, client, s.URL()+"/csrfToken", nil); body != `"mine"` {
		t.Errorf("an app route for /csrfToken: %q", body)
	}

	// Without WithCSRF the route answers an empty token, as Sails does; without the option, 404.
	off := NewT(t, WithCSRFTokenRoute())
	if _, body := httpGet(t, off.Client(), off.URL()+"/csrfToken", nil); body != `{"_csrf":""}` {
		t.Errorf("without WithCSRF: %q", body)
	}
	none := NewT(t, WithCSRF())
	if resp, _ := httpGet(t, none.Client(), none.URL()+"/csrfToken", nil); resp.StatusCode != 404 {
		t.Errorf("without WithCSRFTokenRoute: %d", resp.StatusCode)
	}
}

// TestCSRFPage: the default page at "/" only with WithCSRF and only when no route serves "/".
func TestCSRFPage(t *testing.T) {
	off := NewT(t)
	if resp, _ := httpGet(t, off.Client(), off.URL()+"/", nil); resp.StatusCode != 404 {
		t.Errorf("GET / without WithCSRF: %d, want 404", resp.StatusCode)
	}
	s := NewT(t, WithCSRF())
	client := csrfClient(t, s)
	pageCSRF(t, s, client)
	req, _ := http.NewRequest("HEAD", s.URL()+"/", nil)
	if resp, _ := doHTTP(t, client, req); resp.StatusCode != 200 {
		t.Errorf("HEAD /: %d", resp.StatusCode)
	}
	s.Handle("GET /", func(req *Request, res *Response) {
		res.Send("<p>home</p>" + req.ExposeLocalsToBrowser(map[string]any{"me": nil, "n": 2}))
	})
	_, body := httpGet(t, client, s.URL()+"/", nil)
	if !strings.HasPrefix(body, "<p>home</p>") || !pageToken.MatchString(body) ||
		!strings.HasSuffix(body, "'),me: unescape(null),n: unescape(2), };  })(); </script>") {
		t.Errorf("an app's page: %q", body)
	}
}

func TestExposeLocalsToBrowser(t *testing.T) {
	req := &Request{Session: &Session{data: map[string]any{}}}
	for _, tc := range []struct {
		locals map[string]any
		want   string
	}{
		{nil, `window.SAILS_LOCALS = {  };`},
		{map[string]any{"_csrf": "a-b"}, `window.SAILS_LOCALS = { _csrf: unescape('a-b'), };`},
		{map[string]any{"s": `</script><b a="x">'&` + "`\\\n\u2028"},
			`window.SAILS_LOCALS = { s: unescape('&lt;/script&gt;&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#96;\\\u000a\u2028'), };`},
		{map[string]any{"o": map[string]any{"k": "<i>", "l": []any{1, "&"}}, "b": true},
			`window.SAILS_LOCALS = { b: unescape(true),o: unescape({"k":"\u0026lt;i\u0026gt;","l":[1,"\u0026amp;"]}), };`},
		{map[string]any{"a-b": 1, "</script>": 2},
			`window.SAILS_LOCALS = { "\u003c/script\u003e": unescape(2),"a-b": unescape(1), };`},
	} {
		got := req.ExposeLocalsToBrowser(tc.locals)
		if !strings.HasPrefix(got, `<script type="text/javascript"> (function (){  var unescape = function unescapeEntities(v){`) ||
			!strings.HasSuffix(got, tc.want+"  })(); </script>") {
			t.Errorf("ExposeLocalsToBrowser(%v) =\n%s\nwant it to end with\n%s", tc.locals, got, tc.want)
		}
		if strings.Count(got, "</script>") != 1 {
			t.Errorf("ExposeLocalsToBrowser(%v): a value closes the script: %s", tc.locals, got)
		}
	}
}

func TestCSRFTokens(t *testing.T) {
	secret := "0123456789abcdefghijklmn"
	tok := newCSRFToken(secret)
	salt, hash, ok := strings.Cut(tok, "-")
	if !ok || len(salt) != 8 || len(hash) != 27 {
		t.Fatalf("token %q: want an 8-character salt, '-', 27 characters", tok)
	}
	if !validCSRFToken(secret, tok) {
		t.Fatalf("token %q refused", tok)
	}
	for _, bad := range []string{"", "-", tok[:len(tok)-1], "x" + tok, strings.Replace(tok, "-", "", 1)} {
		if validCSRFToken(secret, bad) {
			t.Errorf("token %q accepted", bad)
		}
	}
	if validCSRFToken(secret+"x", tok) || validCSRFToken("", tok) {
		t.Error("token accepted with another secret")
	}
	// The token the csrf package (under Sails' csurf) makes of this secret with salt "abcdefgh",
	// as it printed it.
	if got, want := csrfTokenFor(secret, "abcdefgh"), "abcdefgh-vUI-zGxYc-RyWx1V1HuHtFWZUbU"; got != want {
		t.Errorf("csrfTokenFor = %q, want %q", got, want)
	}
}
