package mockserver

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var tsRE = regexp.MustCompile(`"(createdAt|updatedAt)":\d+`)

func maskTS(b []byte) string { return tsRE.ReplaceAllString(string(b), `"$1":0`) }

func TestModelCRUDOverHTTP(t *testing.T) {
	s := NewT(t)
	m := s.Model("Pet", Required("name"), Attribute("age", "number"))
	if m.Identity() != "pet" {
		t.Fatalf("identity %q", m.Identity())
	}
	m.Create(map[string]any{"name": "a", "age": 3, "color": "red"})
	m.Create(map[string]any{"name": "b", "age": 1})
	m.Create(map[string]any{"name": "c", "age": 2})
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, b := doHTTP(t, s.Client(), req)
		return resp.StatusCode, maskTS([]byte(b))
	}
	q := url.QueryEscape
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/pet", "", 200, `[{"color":"red","createdAt":0,"updatedAt":0,"id":1,"name":"a","age":3},{"createdAt":0,"updatedAt":0,"id":2,"name":"b","age":1},{"createdAt":0,"updatedAt":0,"id":3,"name":"c","age":2}]`},
		{"GET", "/pet?sort=age%20DESC&limit=1&skip=1", "", 200, `[{"createdAt":0,"updatedAt":0,"id":3,"name":"c","age":2}]`},
		{"GET", "/pet?age=1", "", 200, `[{"createdAt":0,"updatedAt":0,"id":2,"name":"b","age":1}]`},
		{"GET", "/pet?where=" + q(`{"or":[{"name":{"endsWith":"c"}},{"age":{"in":[1]}}]}`), "", 200, `[{"createdAt":0,"updatedAt":0,"id":2,"name":"b","age":1},{"createdAt":0,"updatedAt":0,"id":3,"name":"c","age":2}]`},
		{"GET", "/pet?where=" + q(`{"name":{"like":"%b"},"age":{"!=":5}}`), "", 200, `[{"createdAt":0,"updatedAt":0,"id":2,"name":"b","age":1}]`},
		{"GET", "/pet?sort=color", "", 500, `TypeError: Cannot read properties of undefined (reading 'columnName')`},
		{"GET", "/pet/2", "", 200, `{"createdAt":0,"updatedAt":0,"id":2,"name":"b","age":1}`},
		{"GET", "/pet/7", "", 404, `Not Found`},
		{"POST", "/pet", `{"age":"x","name":"d"}`, 400, ""},
		{"POST", "/pet", `{"age":4}`, 400, ""},
		{"POST", "/pet", `{"name":true,"z":1,"2":"two"}`, 200, `{"2":"two","z":1,"createdAt":0,"updatedAt":0,"id":4,"name":"true","age":0}`},
		{"PATCH", "/pet/4", `{"age":"5"}`, 200, `{"2":"two","z":1,"createdAt":0,"updatedAt":0,"id":4,"name":"true","age":5}`},
		{"PUT", "/pet/9", `{"age":1}`, 404, `Not Found`},
		{"DELETE", "/pet/4", "", 200, `{"2":"two","z":1,"createdAt":0,"updatedAt":0,"id":4,"name":"true","age":5}`},
		{"DELETE", "/pet/4", "", 404, `Not Found`},
	} {
		status, got := do(tc.method, tc.path, tc.body)
		if status != tc.status || (tc.want != "" && got != tc.want) {
			t.Errorf("%s %s %s: %d %s\nwant %d %s", tc.method, tc.path, tc.body, status, got, tc.status, tc.want)
		}
	}
	if n := len(m.Records()); n != 3 {
		t.Errorf("%d records left, want 3", n)
	}
}

func TestModelExplicitRouteWins(t *testing.T) {
	s := NewT(t)
	s.Model("pet")
	s.Handle("GET /pet/special", func(req *Request, res *Response) { res.Send("special") })
	c, _ := connect(t, s, 3, nil)
	if r := c.request(0, "get", "/pet/special", nil); string(r.Body) != `"special"` {
		t.Errorf("got %s", r.Body)
	}
	if r := c.request(1, "get", "/pet/5", nil); r.StatusCode != 404 {
		t.Errorf("got %+v", r)
	}
}

// TestModelPubSub: the events of each verb on the watcher, the subscriber and the requester,
// over raw sockets.
func TestModelPubSub(t *testing.T) {
	for _, mirror := range []bool{false, true} {
		s := NewT(t)
		s.Model("pet", Mirror(mirror))
		w, _ := connect(t, s, 3, nil)
		r, _ := connect(t, s, 3, nil)
		if got := w.request(0, "get", "/pet", nil); string(got.Body) != "[]" {
			t.Fatalf("find: %+v", got)
		}
		created := r.request(0, "post", "/pet", map[string]any{"name": "a"})
		ev := func(c *rawClient) string {
			t.Helper()
			return maskTS([]byte(c.nextText()))
		}
		want := `42["pet",{"verb":"created","data":` + maskTS(created.Body) + `,"id":1}]`
		if got := ev(w); got != want {
			t.Errorf("watcher: %s\nwant %s", got, want)
		}
		// The creator does not watch the model: even with mirror on, it hears nothing of it.
		r.send(`421["patch",{"url":"/pet/1","data":{"name":"b"}}]`)
		want = `42["pet",{"verb":"updated","data":{"name":"b","id":1,"updatedAt":0},"id":1,"previous":` + maskTS(created.Body) + `}]`
		if mirror {
			if got := ev(r); got != want {
				t.Errorf("mirror, requester: %s\nwant %s", got, want)
			}
		}
		updated := r.readAck(1)
		if got := ev(w); got != want {
			t.Errorf("watcher: %s\nwant %s", got, want)
		}
		w.send(`421["delete",{"url":"/pet/1"}]`)
		want = `42["pet",{"verb":"destroyed","id":1,"previous":` + maskTS(updated.Body) + `}]`
		if got := ev(r); got != want {
			t.Errorf("requester of the create: %s\nwant %s", got, want)
		}
		if mirror {
			// The event is published before the answer is sent.
			if got := ev(w); got != want {
				t.Errorf("mirror, destroyer: %s\nwant %s", got, want)
			}
		}
		if got := ev(w); !strings.HasPrefix(got, `431[{"body":`) {
			t.Errorf("destroy answer %s", got)
		}
		// The watcher was retired from the record's room.
		if d := cmp.Diff([]string{r.socketIDForTest(s)}, s.RoomMembers(RecordRoom("pet", 1))); mirror && d != "" {
			t.Errorf("record room (-want +got):\n%s", d)
		}
		r.request(2, "get", "/pet/1", nil) // nothing else came before this answer
		w.request(2, "get", "/pet/1", nil)
	}
}

func (c *rawClient) socketIDForTest(s *Server) string {
	for _, id := range s.SocketIDs() {
		if c.ws.LocalAddr().String() == s.conn(id).ws.RemoteAddr().String() {
			return id
		}
	}
	return ""
}

func TestModelOptionsPanic(t *testing.T) {
	s := NewT(t)
	s.Model("pet")
	for name, f := range map[string]func(){
		"duplicate": func() { s.Model("pet") },
		"bad type":  func() { s.Model("dog", Attribute("x", "int")) },
		"built in":  func() { s.Model("cat", Attribute("id", "number")) },
		"empty":     func() { s.Model("") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
