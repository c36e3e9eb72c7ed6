package testapp

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/sailsio-go/sailsio/mockserver"
)

// The app's behaviour is checked against real Sails by the conformance suite of the root package;
// these tests cover what only this package decides: the JavaScript helpers on their own, and how
// Install meets a server that has routes and models already.

// TestJSHelpers: Number(), JSON.stringify().length and the ordered objects, on the values where Go's
// defaults differ from JavaScript's.
func TestJSHelpers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"", 0, true}, {" 42 ", 42, true}, {"1e3", 1000, true}, {"-0.5", -0.5, true},
		{"0x10", 0, false}, {"Infinity", 0, false}, {"inf", 0, false}, {"NaN", 0, false}, {"1_000", 0, false}, {"abc", 0, false},
	} {
		if got, ok := jsNumber(c.in); got != c.want || ok != c.ok {
			t.Errorf("jsNumber(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		body string
		want int
	}{
		{"", 4},                      // undefined body: JSON.stringify(null)
		{`{"a":"x"}`, 9},             // compact, no escapes: its own length
		{`{"a":"\u00e9"}`, 9},        // é is written as itself: one code unit
		{`{"a":"\ud83d\ude00"}`, 10}, // an emoji: two code units
		{`{"a":"<\u2028>"}`, 11},     // U+2028 as itself, < and > unescaped
		{`{"a":"\"\\\n"}`, 14},       // the escapes JSON.stringify keeps
	} {
		if got := jsonLength(json.RawMessage(c.body)); got != c.want {
			t.Errorf("jsonLength(%s) = %d, want %d", c.body, got, c.want)
		}
	}
	b, err := json.Marshal(Object{{"z", 1}, {"a", "<&>"}, {"m", Object{{"y", nil}, {"b", true}}}})
	if err != nil {
		t.Fatal(err)
	}
	// json.Marshal escapes HTML in a Marshaler's output; Marshal (as the mockserver's encoder) does not.
	if want := `{"z":1,"a":"\u003c\u0026\u003e","m":{"y":null,"b":true}}`; string(b) != want {
		t.Errorf("json.Marshal(Object) = %s, want %s", b, want)
	}
	if b, _ := Marshal(Object{{"a", "<&>"}}); string(b) != `{"a":"<&>"}` {
		t.Errorf("Marshal(Object) = %s", b)
	}
}

// get answers a plain HTTP GET of the server.
func get(t *testing.T, srv *mockserver.Server, path string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestInstallAfterCallerRoutes: routes and models the caller registered first win (SkipModels names
// the models), and the app's policy guards its own action only, as config/policies.js binds it.
func TestInstallAfterCallerRoutes(t *testing.T) {
	srv := mockserver.NewT(t)
	srv.Handle("GET /me", func(req *mockserver.Request, res *mockserver.Response) { res.JSON("mine") })
	srv.Model("pet").Create(map[string]any{"color": "red"}) // no required name
	Install(srv, Options{Hook: 2, SkipModels: []string{"pet"}})
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/me", 200, `"mine"`},
		{"/count", 200, `{"count":1}`},
		{"/secret", 403, "Forbidden"},
		{"/owner", 200, "[]"},
	} {
		if status, body := get(t, srv, c.path); status != c.status || body != c.body {
			t.Errorf("GET %s = %d %s, want %d %s", c.path, status, body, c.status, c.body)
		}
	}
	if _, body := get(t, srv, "/pet"); !strings.Contains(body, `"color":"red"`) {
		t.Errorf("GET /pet = %s, want the caller's record", body)
	}
	if _, body := get(t, srv, "/version"); !strings.Contains(body, `"hook":"2.x-mock"`) {
		t.Errorf("GET /version = %s, want hook 2.x", body)
	}

	// A caller's own GET /secret, registered first, is not behind the app's policy.
	srv2 := mockserver.NewT(t)
	srv2.Handle("GET /secret", func(req *mockserver.Request, res *mockserver.Response) { res.JSON("open") })
	Install(srv2, Options{})
	if status, body := get(t, srv2, "/secret"); status != 200 || body != `"open"` {
		t.Errorf("caller's GET /secret = %d %s, want 200 \"open\"", status, body)
	}
}

// TestInstallModelTwice: a model registered already and not skipped is the caller's mistake.
func TestInstallModelTwice(t *testing.T) {
	srv := mockserver.NewT(t)
	srv.Model("tag")
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "tag") {
			t.Errorf("Install recovered %v, want a panic naming tag", r)
		}
	}()
	Install(srv, Options{})
}
