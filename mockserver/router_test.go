package mockserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRouteMatching(t *testing.T) {
	for _, tc := range []struct {
		address, method, path string
		want                  map[string]string // nil: no match
	}{
		{"GET /user/:id", "GET", "/user/3", map[string]string{"id": "3"}},
		{"GET /user/:id", "GET", "/user/3/", map[string]string{"id": "3"}},
		{"GET /user/:id", "GET", "/USER/3", map[string]string{"id": "3"}},
		{"GET /user/:id", "HEAD", "/user/3", map[string]string{"id": "3"}},
		{"GET /user/:id", "POST", "/user/3", nil},
		{"GET /user/:id", "GET", "/user/3/friends", nil},
		{"GET /user/:id", "GET", "/user", nil},
		{"get /user/:id", "GET", "/user/a%20b", map[string]string{"id": "a b"}},
		{"/logout", "DELETE", "/logout", map[string]string{}},
		{"/logout", "PATCH", "/logout", map[string]string{}},
		{"ALL /x", "OPTIONS", "/x", map[string]string{}},
		{"POST /file/*", "POST", "/file/a/b.txt", map[string]string{"0": "a/b.txt"}},
		{"POST /file/*", "POST", "/file", nil},
		{"GET /a/*/b/*", "GET", "/a/1/b/2/3", map[string]string{"0": "1", "1": "2/3"}},
		{"GET /user/:id/pets/:pet", "GET", "/user/1/pets/rex", map[string]string{"id": "1", "pet": "rex"}},
		{"GET /post/:id?", "GET", "/post", map[string]string{}},
		{"GET /post/:id?", "GET", "/post/9", map[string]string{"id": "9"}},
		{"GET /file.:ext", "GET", "/file.json", map[string]string{"ext": "json"}},
		{"GET /", "GET", "/", map[string]string{}},
		{"GET /dot.path", "GET", "/dotxpath", nil},
	} {
		p, err := parseAddress(tc.address)
		if err != nil {
			t.Fatalf("%q: %v", tc.address, err)
		}
		got, ok := p.match(tc.method, tc.path)
		if !ok {
			got = nil
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q vs %s %s (-want +got):\n%s", tc.address, tc.method, tc.path, diff)
		}
	}
	for _, bad := range []string{"", "GET", "FETCH /x", "GET x", "GET /x extra"} {
		if _, err := parseAddress(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestFirstMatchWins(t *testing.T) {
	s := NewT(t)
	s.Handle("GET /user/me", func(req *Request, res *Response) { res.Send("me") })
	s.Handle("GET /user/:id", func(req *Request, res *Response) { res.Send("id " + req.Params["id"]) })
	s.Handle("GET /user/me", func(req *Request, res *Response) { res.Send("never") })
	c, _ := connect(t, s, 3, nil)
	for i, tc := range []struct{ url, body string }{{"/user/me", `"me"`}, {"/user/7?x=1", `"id 7"`}} {
		if r := c.request(i, "get", tc.url, nil); string(r.Body) != tc.body {
			t.Errorf("%s: %s", tc.url, r.Body)
		}
	}
	if _, body := httpGet(t, s.Client(), s.URL()+"/user/me", nil); body != "me" {
		t.Errorf("HTTP: %q", body)
	}
}

func TestHTTPAndSocketShareHandlers(t *testing.T) {
	s := NewT(t)
	s.Handle("POST /sum/:base", func(req *Request, res *Response) {
		var body struct{ A, B int }
		_ = json.Unmarshal(req.Body, &body)
		res.Set("x-transport", req.Protocol)
		res.JSON(map[string]any{"sum": body.A + body.B, "base": req.Param("base"), "socket": req.IsSocket, "q": req.Query.Get("q")})
	})
	c, _ := connect(t, s, 3, nil)
	c.send(`420["post",{"method":"post","headers":{},"data":{"A":1,"B":2},"url":"/sum/10?q=z"}]`)
	c.expect(`430[{"body":{"base":"10","q":"z","socket":true,"sum":3},"headers":{"x-transport":"ws"},"statusCode":200}]`)

	req, _ := http.NewRequest("POST", s.URL()+"/sum/10?q=z", strings.NewReader(`{"A":1,"B":2}`))
	req.Header.Set("Content-Type", "application/json")
	resp, body := doHTTP(t, s.Client(), req)
	if body != `{"base":"10","q":"z","socket":false,"sum":3}` || resp.StatusCode != 200 ||
		resp.Header.Get("X-Transport") != "http" || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("HTTP: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

func TestHTTPResponses(t *testing.T) {
	s := NewT(t)
	s.Handle("/text", func(req *Request, res *Response) { res.Send("<b>hi</b>") })
	s.Handle("/created", func(req *Request, res *Response) { res.Created(nil) })
	s.Handle("/form", func(req *Request, res *Response) { res.JSON(req.AllParams()) })
	s.Handle("/bin", func(req *Request, res *Response) { res.Send([]byte{1, 2}) })
	for _, tc := range []struct {
		method, path, ct, body string
		status                 int
		wantCT, want           string
	}{
		{"GET", "/text", "", "", 200, "text/html; charset=utf-8", "<b>hi</b>"},
		{"GET", "/created", "", "", 201, "text/plain; charset=utf-8", "Created"},
		{"GET", "/nowhere", "", "", 404, "text/plain; charset=utf-8", "Not Found"},
		{"POST", "/form?a=q", "application/x-www-form-urlencoded", "b=1&c=2&c=3", 200, "application/json; charset=utf-8", `{"a":"q","b":"1","c":["2","3"]}`},
		{"POST", "/form", "application/json", `{"x":`, 400, "text/plain; charset=utf-8", "Bad Request\n"},
		{"GET", "/bin", "", "", 200, "application/octet-stream", "\x01\x02"},
		{"GET", "/__getcookie", "", "", 200, "application/javascript", "_sailsIoJSConnect();"},
	} {
		req, _ := http.NewRequest(tc.method, s.URL()+tc.path, strings.NewReader(tc.body))
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		resp, body := doHTTP(t, s.Client(), req)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.wantCT || body != tc.want {
			t.Errorf("%s %s: got %d %q %q, want %d %q %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.wantCT, tc.want)
		}
	}
}

func TestPolicies(t *testing.T) {
	s := NewT(t)
	var mu sync.Mutex
	var order []string
	add := func(name string) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, name)
	}
	record := func(name string) Policy {
		return func(req *Request, res *Response, next func()) {
			add(name)
			next()
		}
	}
	s.Use(record("global"))
	s.Policy("/admin/*", record("admin"), func(req *Request, res *Response, next func()) {
		if req.Get("authorization") != "yes" {
			res.Forbidden(nil)
			return
		}
		next()
	})
	s.Policy("GET /admin/stats", record("stats"))
	s.Handle("/admin/stats", func(req *Request, res *Response) {
		add("handler")
		res.OK(nil)
	})
	s.Handle("/open", func(req *Request, res *Response) {
		add("open")
		res.OK(nil)
	})
	c, _ := connect(t, s, 3, nil)
	check := func(id int, headers, url string, status int, want []string) {
		t.Helper()
		mu.Lock()
		order = nil
		mu.Unlock()
		c.send(`42` + itoa(id) + `["get",{"method":"get","headers":` + headers + `,"data":{},"url":"` + url + `"}]`)
		r := c.readAck(id)
		if r.StatusCode != status {
			t.Errorf("%s: status %d, want %d", url, r.StatusCode, status)
		}
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff(want, order); diff != "" {
			t.Errorf("%s: order (-want +got):\n%s", url, diff)
		}
	}
	check(0, `{}`, "/admin/stats", 403, []string{"global", "admin"})
	check(1, `{"Authorization":"yes"}`, "/admin/stats", 200, []string{"global", "admin", "stats", "handler"})
	check(2, `{}`, "/open", 200, []string{"global", "open"})
	check(3, `{}`, "/missing", 404, nil)
}

func TestPanicAndTimeout(t *testing.T) {
	s := NewT(t, WithResponseTimeout(500*time.Millisecond))
	s.Handle("/panic", func(req *Request, res *Response) { panic("boom") })
	s.Handle("/silent", func(req *Request, res *Response) {})
	late := make(chan struct{})
	s.Handle("/late", func(req *Request, res *Response) {
		go func() {
			<-req.Context().Done() // cancelled once the timeout answered
			res.OK("too late")
			close(late)
		}()
	})
	s.Handle("/ok", func(req *Request, res *Response) { res.OK(nil) })
	c, _ := connect(t, s, 3, nil)
	for i, tc := range []struct{ url, body string }{
		{"/panic", `"panic: boom"`},
		{"/silent", `"mockserver: GET /silent was not answered within 500ms"`},
		{"/late", `"mockserver: GET /late was not answered within 500ms"`},
		{"/ok", `"OK"`},
	} {
		if r := c.request(i, "get", tc.url, nil); r.StatusCode != 500 && tc.url != "/ok" || string(r.Body) != tc.body {
			t.Errorf("%s: %d %s", tc.url, r.StatusCode, r.Body)
		}
	}
	<-late
	resp, body := httpGet(t, s.Client(), s.URL()+"/panic", nil)
	if resp.StatusCode != 500 || body != "panic: boom" {
		t.Errorf("HTTP panic: %d %q", resp.StatusCode, body)
	}
}

func TestAsyncAnswer(t *testing.T) {
	s := NewT(t)
	release := make(chan struct{})
	s.Handle("/slow", func(req *Request, res *Response) {
		go func() {
			<-release
			res.OK("slow")
		}()
	})
	s.Handle("/fast", func(req *Request, res *Response) { res.OK("fast") })
	c, _ := connect(t, s, 3, nil)
	c.send(`420["get",{"url":"/slow"}]`)
	c.send(`421["get",{"url":"/fast"}]`)
	c.expect(`431[{"body":"fast","headers":{},"statusCode":200}]`) // a slow handler blocks nobody
	close(release)
	c.expect(`430[{"body":"slow","headers":{},"statusCode":200}]`)
}

func TestRequestHelpers(t *testing.T) {
	r := &Request{
		Params:  map[string]string{"id": "7"},
		Query:   map[string][]string{"id": {"q"}, "q": {"1"}, "multi": {"a", "b"}, "n": {"query"}},
		Body:    json.RawMessage(`{"id":"body","n":5,"flag":true,"nil":null,"obj":{"a":1}}`),
		Headers: http.Header{"Referer": {"http://ref"}, "Content-Type": {"application/json; charset=utf-8"}, "Accept": {"text/html, application/*;q=0.5, image/png;q=0"}},
	}
	for _, tc := range []struct{ got, want string }{
		{r.Param("id"), "7"},
		{r.Param("n"), "5"},
		{r.Param("flag"), "true"},
		{r.Param("obj"), `{"a":1}`},
		{r.Param("q"), "1"},
		{r.Param("nil", "def"), "def"},
		{r.Param("missing", "def"), "def"},
		{r.Param("missing"), ""},
		{r.Get("referrer"), "http://ref"},
		{r.Header("REFERER"), "http://ref"},
		{r.Get("content-type"), "application/json; charset=utf-8"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	want := map[string]any{"id": "7", "q": "1", "multi": []string{"a", "b"}, "n": float64(5), "flag": true, "nil": nil, "obj": map[string]any{"a": float64(1)}}
	if diff := cmp.Diff(want, r.AllParams()); diff != "" {
		t.Errorf("AllParams (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		typ     string
		is, acc bool
	}{
		{"json", true, true},
		{"application/json", true, true},
		{"application/*", true, true},
		{"*/*", true, true},
		{"html", false, true},
		{"text/html", false, true},
		{"png", false, false},
		{"text/plain", false, false},
	} {
		if got := r.Is(tc.typ); got != tc.is {
			t.Errorf("Is(%q) = %v", tc.typ, got)
		}
		if got := r.Accepts(tc.typ); got != tc.acc {
			t.Errorf("Accepts(%q) = %v", tc.typ, got)
		}
	}
	plain := &Request{Headers: http.Header{}}
	if plain.Is("json") || !plain.Accepts("anything/at-all") {
		t.Error("a plain request without Content-Type is nothing and accepts everything")
	}
	if sock := (&Request{Headers: http.Header{}, IsSocket: true}); !sock.Is("json") {
		t.Error("a virtual request without content-type counts as JSON")
	}
}
