package mockserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRequestMethods: the rest of the request objects of Sails, EdgerOS' WebRequest and restify:
// the matched route, href, user agent, content type (restify's default), content length,
// accepted encodings, TLS, arrival time and the server, over HTTP and over sockets.
func TestRequestMethods(t *testing.T) {
	s := NewT(t)
	type seen struct {
		Route, Href, UA, CT   string
		Len                   int64
		Gzip, Br, Identity    bool
		Secure, SameApp, Time bool
	}
	got := make(chan seen, 4)
	before := time.Now()
	s.Handle("POST /user/:id", func(req *Request, res *Response) {
		got <- seen{
			Route: req.Route(), Href: req.Href(), UA: req.UserAgent(), CT: req.ContentType(), Len: req.ContentLength(),
			Gzip: req.AcceptsEncoding("gzip"), Br: req.AcceptsEncoding("br"), Identity: req.AcceptsEncoding("identity"),
			Secure: req.IsSecure(), SameApp: req.App() == s, Time: !req.Time().Before(before) && !req.Time().After(time.Now()),
		}
		res.OK(nil)
	})
	req, _ := http.NewRequest("POST", s.URL()+"/user/3?x=1", strings.NewReader(`{"a":1}`))
	req.Header.Set("Content-Type", "Application/JSON; charset=utf-8")
	req.Header.Set("User-Agent", "test-agent/1")
	req.Header.Set("Accept-Encoding", "gzip;q=0.5, br;q=0")
	doHTTP(t, s.Client(), req)
	want := seen{Route: "POST /user/:id", Href: "/user/3?x=1", UA: "test-agent/1", CT: "application/json", Len: 7,
		Gzip: true, Br: false, Identity: true, SameApp: true, Time: true}
	if d := cmp.Diff(want, <-got); d != "" {
		t.Errorf("over HTTP (-want +got):\n%s", d)
	}

	c, _ := connect(t, s, 3, nil)
	c.send(`420["post",{"url":"/user/4","headers":{"user-agent":"sock","accept-encoding":"*"},"data":{}}]`)
	c.readAck(0)
	want = seen{Route: "POST /user/:id", Href: "/user/4", UA: "sock", CT: "application/octet-stream", Len: -1,
		Gzip: true, Br: true, Identity: true, SameApp: true, Time: true}
	if d := cmp.Diff(want, <-got); d != "" {
		t.Errorf("over a socket (-want +got):\n%s", d)
	}
	c.send(`421["post",{"url":"/user/5","headers":{"content-length":"12"},"data":{}}]`)
	c.readAck(1)
	if g := <-got; g.Len != 12 || g.Gzip || !g.Identity {
		t.Errorf("virtual content-length and no Accept-Encoding: %+v", g)
	}
}

func TestRequestRouteOfModelAndUnmatched(t *testing.T) {
	s := NewT(t)
	s.Model("pet")
	routes := make(chan string, 2)
	s.Use(func(req *Request, res *Response, next func()) { routes <- req.Route(); next() })
	c, _ := connect(t, s, 3, nil)
	c.request(0, "get", "/pet/1", nil)
	if r := <-routes; r != "GET /pet/:id" {
		t.Errorf("route of a blueprint: %q", r)
	}
}

// TestRegexpRoutes: Sails' regular-expression addresses.
func TestRegexpRoutes(t *testing.T) {
	s := NewT(t)
	s.Handle(`r|^/user/(\d+)$|id`, func(req *Request, res *Response) { res.JSON(req.Params) })
	s.Handle(`GET r|^/a b/(x)(y)?$|first,second`, func(req *Request, res *Response) { res.JSON(req.Params) })
	c, _ := connect(t, s, 3, nil)
	for i, tc := range []struct {
		verb, path string
		status     int
		params     map[string]string
	}{
		{"get", "/user/12", 200, map[string]string{"0": "12", "id": "12"}},
		{"delete", "/user/12", 200, map[string]string{"0": "12", "id": "12"}},
		{"get", "/user/12/", 404, nil},
		{"get", "/USER/12", 404, nil},
		{"get", "/a%20b/x", 404, nil}, // matched against the path as sent
		{"post", "/user/x", 404, nil},
	} {
		r := c.request(i, tc.verb, tc.path, nil)
		if r.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.verb, tc.path, r.StatusCode, tc.status)
			continue
		}
		if tc.params != nil {
			var p map[string]string
			if err := json.Unmarshal(r.Body, &p); err != nil || !cmp.Equal(p, tc.params) {
				t.Errorf("%s %s: params %s, want %v", tc.verb, tc.path, r.Body, tc.params)
			}
		}
	}
	for _, bad := range []string{`r|^/(x|id`, `r|(?<=a)b|x`, `PUT r|nopipes`, `BREW r|^/x$|a`} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q) did not panic", bad)
				}
			}()
			s.Handle(bad, func(*Request, *Response) {})
		}()
	}
}
