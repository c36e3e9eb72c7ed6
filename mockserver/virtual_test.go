package mockserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type parseErr struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Status  int    `json:"status"`
	Message string `json:"message"`
	Details string `json:"details"`
}

const versionDetails = "This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using (%s). Please see https://sailsjs.com/documentation/upgrading/to-v-0-11 for more information-- then please continue upgrading all the way to the installed version of Sails."

func wantParseErr(details string) parseErr {
	return parseErr{
		Code:    "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ",
		Name:    "Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):",
		Status:  400,
		Message: "Failed to parse incoming socket.io request.",
		Details: details,
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, query, version string
		ok                   bool
	}{
		{"missing version", "EIO=3&transport=websocket", "0.9.0", false},
		{"old version", "__sails_io_sdk_version=0.10.5&EIO=3&transport=websocket", "0.10.5", false},
		{"prerelease rounded", "__sails_io_sdk_version=0.11.0-rc1&EIO=3&transport=websocket", "", true},
		{"v prefix", "__sails_io_sdk_version=v1.2.1&EIO=3&transport=websocket", "", true},
		{"EIO4 missing version", "EIO=4&transport=websocket", "0.9.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewT(t)
			s.Handle("/hello", func(req *Request, res *Response) { res.Send("world") })
			eio := 3
			if strings.Contains(tc.query, "EIO=4") {
				eio = 4
			}
			c, _ := connectQuery(t, s, eio, tc.query, nil)
			for i := 0; i < 2; i++ { // the server keeps serving
				c.send(`42` + itoa(i) + `["get",{"method":"get","headers":{},"data":{},"url":"/hello"}]`)
				f := c.nextText()
				if tc.ok {
					if want := `43` + itoa(i) + `[{"body":"world","headers":{},"statusCode":200}]`; f != want {
						t.Fatalf("got %s, want %s", f, want)
					}
					continue
				}
				want := wantParseErr(strings.Replace(versionDetails, "%s", tc.version, 1))
				b, _ := json.Marshal(want)
				if w := `43` + itoa(i) + `[` + string(b) + `]`; f != w {
					t.Fatalf("got  %s\nwant %s", f, w)
				}
			}
		})
	}
}

// TestInvalidVersionCrashes: an SDK version that is not valid semver makes sails-hook-sockets throw
// "TypeError: Invalid Version" at the first virtual request, which kills the Sails process: the
// server stops (every connection cut, new ones refused) and Crashed says why. A request without a
// url fails its parse check first, as in the hook.
func TestInvalidVersionCrashes(t *testing.T) {
	for _, v := range []string{"banana", "1.2", "01.2.3"} {
		t.Run(v, func(t *testing.T) {
			s := NewT(t)
			s.Handle("/hello", func(req *Request, res *Response) { res.Send("world") })
			other, _ := connect(t, s, 3, nil)
			c, _ := connectQuery(t, s, 3, "__sails_io_sdk_version="+v+"&EIO=3&transport=websocket", nil)
			c.send(`420["get",{"headers":{}}]`) // no url: a parse error, no crash
			if f := c.nextText(); !strings.Contains(f, "No url provided") {
				t.Fatalf("request without a url: %s", f)
			}
			if s.Crashed() != nil {
				t.Fatal("crashed on a request without a url")
			}
			c.send(`421["get",{"url":"/hello"}]`)
			for _, rc := range []*rawClient{c, other} {
				if err := rc.expectClosed(); closeCode(err) != 1006 {
					t.Errorf("connection: %v, want cut", err)
				}
			}
			if err := s.Crashed(); err == nil || err.Error() != "TypeError: Invalid Version: "+v {
				t.Errorf("Crashed() = %v", err)
			}
			if !s.Stopped() {
				t.Error("the server still runs")
			}
			if err := s.Start(); err != nil || s.Crashed() != nil {
				t.Errorf("Start after the crash: %v, Crashed %v", err, s.Crashed())
			}
		})
	}
}

func TestParseErrorFromHeaders(t *testing.T) {
	s := NewT(t)
	s.Handle("/hello", func(req *Request, res *Response) { res.OK(nil) })
	// SDK metadata from the handshake headers wins over the query.
	c, _ := connectQuery(t, s, 3, "__sails_io_sdk_version=0.9.0&EIO=3&transport=websocket", http.Header{"__sails_io_sdk_version": {"1.2.1"}})
	if r := c.request(0, "get", "/hello", nil); r.StatusCode != 200 {
		t.Fatalf("got %+v", r)
	}
}

func TestParseErrorWithoutAck(t *testing.T) {
	s := NewT(t)
	c, _ := connectQuery(t, s, 3, "EIO=3&transport=websocket", nil)
	c.send(`42["get",{"method":"get","headers":{},"data":{},"url":"/hello"}]`)
	b, _ := json.Marshal(wantParseErr(strings.Replace(versionDetails, "%s", "0.9.0", 1)))
	c.expect(`42["sails:parseError",` + string(b) + `]`)
}

func TestParseErrorURL(t *testing.T) {
	s := NewT(t)
	c, _ := connect(t, s, 3, nil)
	for i, tc := range []struct{ msg, details string }{
		{`{"method":"get","headers":{},"data":{}}`, "No url provided in request: { method: 'get', headers: {}, data: {} }"},
		{`{"method":"get","headers":{"a":1},"data":{"x":[1]},"url":""}`, "No url provided in request: { method: 'get', headers: [Object], data: [Object], url: '' }"},
		{`{"url":5}`, "Invalid url provided: 5"},
		{`{"url":{"a":"b"}}`, "Invalid url provided: { a: 'b' }"},
		{`"just a string"`, "No url provided in request: just a string"},
	} {
		c.send(`42` + itoa(i) + `["get",` + tc.msg + `]`)
		b, _ := json.Marshal(wantParseErr(tc.details))
		c.expect(`43` + itoa(i) + `[` + string(b) + `]`)
	}
	c.send(`429["get"]`)
	b, _ := json.Marshal(wantParseErr("No url provided in request: undefined"))
	c.expect(`439[` + string(b) + `]`)
}

func TestVirtualRequestBuilding(t *testing.T) {
	s := NewT(t)
	type seen struct {
		Method, URL, Path, Cookie, Origin, Host, Custom, SocketID, Protocol, IP string
		Query                                                                   map[string][]string
		Body                                                                    json.RawMessage
		IsSocket                                                                bool
		Cookies                                                                 map[string]string
	}
	got := make(chan seen, 1)
	s.Handle("/inspect", func(req *Request, res *Response) {
		got <- seen{req.Method, req.URL, req.Path, req.Get("cookie"), req.Get("Origin"), req.Get("host"),
			req.Get("X-Custom"), req.SocketID, req.Protocol, req.IP, req.Query, req.Body, req.IsSocket, req.Cookies}
		res.End()
	})
	hdr := http.Header{"Cookie": {"sails.sid=abc; other=1"}, "Origin": {"http://app.test"}}
	c, id := connect(t, s, 4, hdr)
	for i, tc := range []struct {
		msg  string
		want seen
	}{
		{
			`{"method":"put","headers":{"X-Custom":"v","cookie":"sails.sid=other","origin":"http://evil"},"params":{"a":1,"b":1},"data":{"b":2},"url":"/inspect?q=1&q=2"}`,
			seen{Method: "PUT", URL: "/inspect?q=1&q=2", Path: "/inspect", Cookie: "sails.sid=abc; other=1", Origin: "http://app.test",
				Custom: "v", Query: map[string][]string{"q": {"1", "2"}},
				Body: json.RawMessage(`{"a":1,"b":2}`), Cookies: map[string]string{"sails.sid": "abc", "other": "1"}},
		},
		{
			`{"data":[1,2],"params":{"a":1},"url":"/inspect","headers":{"host":"virtual.host"}}`,
			seen{Method: "PUT", URL: "/inspect", Path: "/inspect", Cookie: "sails.sid=abc; other=1", Origin: "http://app.test",
				Host: "virtual.host", Query: map[string][]string{}, Body: json.RawMessage(`[1,2]`),
				Cookies: map[string]string{"sails.sid": "abc", "other": "1"}},
		},
		{
			`{"url":"/inspect"}`,
			seen{Method: "PUT", URL: "/inspect", Path: "/inspect", Cookie: "sails.sid=abc; other=1", Origin: "http://app.test",
				Query: map[string][]string{}, Body: json.RawMessage(`{}`),
				Cookies: map[string]string{"sails.sid": "abc", "other": "1"}},
		},
	} {
		c.send(`42` + itoa(i) + `["put",` + tc.msg + `]`)
		c.expect(`43` + itoa(i) + `[{"headers":{},"statusCode":200}]`) // End: no body key
		g := <-got
		tc.want.SocketID, tc.want.Protocol, tc.want.IP, tc.want.IsSocket = id, "ws", "127.0.0.1", true
		if diff := cmp.Diff(tc.want, g); diff != "" {
			t.Errorf("request %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestJWRShapes(t *testing.T) {
	s := NewT(t)
	s.Handle("/created", func(req *Request, res *Response) {
		res.Set("X-Foo", "bar").Set("Set-Cookie", "a=b").Status(201).JSON(map[string]bool{"ok": true})
	})
	s.Handle("/cookie", func(req *Request, res *Response) {
		res.Set("set-cookie", "a=b").Set("x-lower", "l").Set("X-Lower", "L").Send("x")
	})
	s.Handle("/forbidden", func(req *Request, res *Response) { res.Forbidden(map[string]string{"error": "nope"}) })
	s.Handle("/text", func(req *Request, res *Response) { res.Send("plain text") })
	s.Handle("/raw", func(req *Request, res *Response) { res.Send(json.RawMessage(`{"z":1,"a":"<&>"}`)) })
	s.Handle("/redirect", func(req *Request, res *Response) { res.Redirect("/hello") })
	s.Handle("/error", func(req *Request, res *Response) { res.ServerError(errTest("boom")) })
	c, _ := connect(t, s, 3, nil)
	for i, tc := range []struct{ url, want string }{
		// res.set keeps the name as given, and Node's lower-cased copy follows; only the lower-case
		// set-cookie key is deleted (as the conformance suite saw real Sails do).
		{"/created", `[{"body":{"ok":true},"headers":{"X-Foo":"bar","Set-Cookie":"a=b","x-foo":"bar"},"statusCode":201}]`},
		{"/cookie", `[{"body":"x","headers":{"x-lower":"L","X-Lower":"L"},"statusCode":200}]`},
		{"/forbidden", `[{"body":"Forbidden","headers":{},"statusCode":403}]`}, // res.forbidden ignores its argument
		{"/text", `[{"body":"plain text","headers":{},"statusCode":200}]`},
		{"/raw", `[{"body":{"z":1,"a":"<&>"},"headers":{},"statusCode":200}]`},
		{"/redirect", `[{"body":"Redirecting to /hello","headers":{"content-type":"text/html","Location":"/hello","location":"/hello"},"statusCode":302}]`},
		{"/error", `[{"body":"boom","headers":{},"statusCode":500}]`},
		{"/nowhere", `[{"body":"Not Found","headers":{},"statusCode":404}]`},
	} {
		c.send(`42` + itoa(i) + `["get",{"method":"get","headers":{},"data":{},"url":"` + tc.url + `"}]`)
		c.expect(`43` + itoa(i) + tc.want)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

// TestJSONString: res.json of a string is JSON-encoded a second time over sockets, with a
// content-type header, as Sails' res.json shim does; over HTTP it is the JSON string.
func TestJSONString(t *testing.T) {
	s := NewT(t)
	s.Handle("/s", func(req *Request, res *Response) { res.Set("X-A", "1").JSON("a string") })
	c, _ := connect(t, s, 3, nil)
	c.send(`420["get",{"url":"/s"}]`)
	c.expect(`430[{"body":"\"a string\"","headers":{"X-A":"1","content-type":"application/json","x-a":"1"},"statusCode":200}]`)
	resp, body := httpGet(t, s.Client(), s.URL()+"/s", nil)
	if body != `"a string"` || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("over HTTP: %s %q", resp.Header.Get("Content-Type"), body)
	}
}
