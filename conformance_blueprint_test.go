package sailsio_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testapp"
)

// Scenarios for the request order of one socket and for the blueprint model (mockserver.Model
// against the Pet model of the real app): the same requests must get the same JWRs (timestamps
// masked) and put the same events on each socket.

// uniq returns a name no other run of the same server has used.
func uniq(b *backend, what string) string {
	return fmt.Sprintf("%s-%s-%d", what, b.slug(), time.Now().UnixNano())
}

// scenarioOrder: 200 POSTs sent back to back on one socket reach the action in the order they
// were sent, even though some are answered later (setTimeout in the real app, a timer on the
// mock) and the answers come back out of order.
func scenarioOrder(t *testing.T, b *backend) {
	const n = 200
	s := connect(t, b)
	key := uniq(b, "order")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	wg.Add(n)
	for i := 0; i < n; i++ {
		delay := 0
		if i%3 == 0 {
			delay = 5 + i%20
		}
		s.Post("/seq", map[string]any{"key": key, "n": i, "delay": delay}, func(body json.RawMessage, jwr *sailsio.JWRes) {
			defer wg.Done()
			if jwr.StatusCode != 200 {
				mu.Lock()
				failed = append(failed, jwr.String())
				mu.Unlock()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	await(t, done, "every answer")
	if len(failed) > 0 {
		t.Fatalf("%d requests failed, first: %s", len(failed), failed[0])
	}
	jwr, err := s.GetContext(testCtx(t), "/seq?key="+url.QueryEscape(key), nil)
	if err != nil || jwr.StatusCode != 200 {
		t.Fatalf("GET /seq: %v %v", jwr, err)
	}
	var got []int
	if err := jwr.Decode(&got); err != nil {
		t.Fatalf("GET /seq %s: %v", jwr.Body, err)
	}
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("order in which the requests reached the action (-sent +seen):\n%s", d)
	}
}

var timestamps = regexp.MustCompile(`"(createdAt|updatedAt)":\d+`)

// masked replaces timestamps by 0.
func masked(b []byte) string { return timestamps.ReplaceAllString(string(b), `"$1":0`) }

// usageMessage is the message of a blueprint's 400 in development.
func usageMessage(method, path string) string {
	return "The server could not fulfill this request (`" + method + " " + path + "`) due to a problem with the parameters that were sent.  " +
		"See the `details` for more info.  **The following additional tip will not be shown in production**:  " +
		"Tip: Check your client-side code to make sure that the request data it sends matches the expectations of the corresponding attributes in your model.  " +
		"Also check that your client-side code sends data for every required attribute."
}

func usageBody(code, details, method, path string) string {
	b, _ := testapp.Marshal(testapp.Object{{"code", code}, {"details", details}, {"message", usageMessage(method, path)}})
	return string(b)
}

// bpDo sends one request and checks its status and (masked) body.
func bpDo(t *testing.T, s *sailsio.SailsSocket, method, u string, data any, status int, body string) *sailsio.JWRes {
	t.Helper()
	jwr, err := s.Do(testCtx(t), sailsio.RequestOptions{Method: method, URL: u, Data: data})
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	if jwr.StatusCode != status || (body != "" && masked(jwr.Body) != masked([]byte(body))) {
		t.Errorf("%s %s: %d %s\nwant %d %s", method, u, jwr.StatusCode, jwr.Body, status, body)
	}
	return jwr
}

type petRecord struct {
	raw       json.RawMessage
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	CreatedAt int64  `json:"createdAt"`
	UpdatedAt int64  `json:"updatedAt"`
}

func decodePet(t *testing.T, raw json.RawMessage) petRecord {
	t.Helper()
	p := petRecord{raw: raw}
	if err := json.Unmarshal(raw, &p); err != nil || p.ID == 0 {
		t.Fatalf("pet record %s: %v", raw, err)
	}
	return p
}

// names returns the names of a list of records.
func names(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var list []petRecord
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("record list %s: %v", raw, err)
	}
	out := []string{}
	for _, p := range list {
		out = append(out, p.Name)
	}
	return out
}

// scenarioBlueprintCRUD: find (where, limit, skip, sort, select), findOne, create, update
// (PATCH and PUT), destroy, with Sails' status codes and bodies.
func scenarioBlueprintCRUD(t *testing.T, b *backend) {
	s := connect(t, b)
	p := uniq(b, "crud")
	bpDo(t, s, "post", "/pet", nil, 400, usageBody("E_INVALID_NEW_RECORD",
		"Missing value for required attribute `name`.  Expected a string, but instead, got: undefined", "POST", "/pet"))
	var recs []petRecord
	for _, c := range []struct {
		name string
		rank int
	}{{"b", 2}, {"a", 3}, {"c", 1}} {
		jwr := bpDo(t, s, "post", "/pet", testapp.Object{{"rank", c.rank}, {"name", p + "-" + c.name}}, 200, "")
		if d := cmp.Diff([]string{"rank", "createdAt", "updatedAt", "id", "name"}, keysOf(t, jwr.Body)); d != "" {
			t.Errorf("created record %s keys (-want +got):\n%s", jwr.Body, d)
		}
		rec := decodePet(t, jwr.Body)
		if rec.Name != p+"-"+c.name || rec.CreatedAt == 0 || rec.CreatedAt != rec.UpdatedAt {
			t.Errorf("created record %s", jwr.Body)
		}
		recs = append(recs, rec)
	}
	rb, ra, rc := recs[0], recs[1], recs[2]
	// A number sent for a string attribute is stored as its text.
	jwr := bpDo(t, s, "post", "/pet", map[string]any{"name": 7}, 200, "")
	seven := decodePet(t, jwr.Body)
	if seven.Name != "7" {
		t.Errorf("name 7 stored as %s", jwr.Body)
	}
	bpDo(t, s, "delete", "/pet/"+strconv.FormatInt(seven.ID, 10), nil, 200, string(jwr.Body))

	where := map[string]any{"name": map[string]any{"startsWith": p}}
	for _, q := range []struct {
		url  string
		data any
		want []string
	}{
		{"/pet", map[string]any{"where": where}, []string{p + "-b", p + "-a", p + "-c"}},
		{"/pet", map[string]any{"where": where, "sort": "name DESC", "limit": 2, "skip": 1}, []string{p + "-b", p + "-a"}},
		{"/pet?sort=name%20ASC&where=" + url.QueryEscape(`{"name":{"startsWith":"`+p+`"}}`), nil, []string{p + "-a", p + "-b", p + "-c"}},
		{"/pet?limit=1&sort=" + url.QueryEscape(`[{"name":"DESC"}]`) + "&where=" + url.QueryEscape(`{"name":{"startsWith":"`+p+`"}}`), nil, []string{p + "-c"}},
		{"/pet", map[string]any{"name": p + "-a"}, []string{p + "-a"}},
		{"/pet", map[string]any{"where": map[string]any{"or": []any{map[string]any{"name": p + "-c"}, map[string]any{"id": ra.ID}}}}, []string{p + "-a", p + "-c"}},
		{"/pet", map[string]any{"where": map[string]any{"name": []string{p + "-b", p + "-c"}, "rank": map[string]any{">": 1}}}, []string{p + "-b"}},
	} {
		jwr := bpDo(t, s, "get", q.url, q.data, 200, "")
		if d := cmp.Diff(q.want, names(t, jwr.Body)); d != "" {
			t.Errorf("find %s %v (-want +got):\n%s", q.url, q.data, d)
		}
	}
	// The model is schema: false (the default), so select is refused.
	bpDo(t, s, "get", "/pet", map[string]any{"name": p + "-a", "select": "name"}, 400, usageBody("E_INVALID_CRITERIA",
		"The provided criteria contains a custom `select` clause, but since this model (`pet`) is `schema: false`, this cannot be relied upon... yet.  "+
			"In the mean time, if you'd like to use a custom `select`, configure this model to `schema: true`. Or, better yet, since this is usually an app-wide setting,"+
			"configure all of your models to have `schema: true` -- e.g. in `config/models.js`.  (Note that this WILL be supported in a future, minor version release of Sails/Waterline.  "+
			"Want to lend a hand?  http://sailsjs.com/contribute)", "GET", "/pet"))
	bpDo(t, s, "get", "/pet?limit=abc", nil, 400, usageBody("E_INVALID_CRITERIA",
		"The `limit` clause in the provided criteria is invalid.  If provided, it should be a safe, natural number.  But instead, got: NaN", "GET", "/pet"))

	idb := "/pet/" + strconv.FormatInt(rb.ID, 10)
	bpDo(t, s, "get", idb, nil, 200, string(rb.raw))
	bpDo(t, s, "get", "/pet/999999999", nil, 404, `"Not Found"`)
	bpDo(t, s, "get", "/pet/abc", nil, 400, usageBody("E_INVALID_CRITERIA",
		"Could not use the provided `where` clause.  Could not filter by `id`: Does not match the declared data type of the corresponding attribute.  "+
			"1 error validating value: \n • Specified value (a string: 'abc') doesn't match the expected type: 'number'", "GET", "/pet/abc"))

	jwr = bpDo(t, s, "patch", idb, map[string]any{"rank": 5}, 200,
		fmt.Sprintf(`{"rank":5,"createdAt":0,"updatedAt":0,"id":%d,"name":"%s-b"}`, rb.ID, p))
	if u := decodePet(t, jwr.Body); u.UpdatedAt < rb.UpdatedAt || u.CreatedAt != rb.CreatedAt {
		t.Errorf("updated timestamps %s after %s", jwr.Body, rb.raw)
	}
	jwr = bpDo(t, s, "put", idb, map[string]any{"name": p + "-b2", "color": "red"}, 200,
		fmt.Sprintf(`{"rank":5,"color":"red","createdAt":0,"updatedAt":0,"id":%d,"name":"%s-b2"}`, rb.ID, p))
	updated := jwr.Body
	bpDo(t, s, "patch", "/pet/999999999", map[string]any{"rank": 1}, 404, `"Not Found"`)

	// Over HTTP: the same record, the same 404.
	var fromHTTP any
	if status, body := httpDo(t, b, "GET", idb, nil); status != 200 || json.Unmarshal(body, &fromHTTP) != nil {
		t.Errorf("HTTP GET %s: %d %s", idb, status, body)
	} else if d := cmp.Diff(mustDecode(t, updated), fromHTTP); d != "" {
		t.Errorf("HTTP GET %s (-socket +HTTP):\n%s", idb, d)
	}
	if status, body := httpDo(t, b, "POST", "/pet", map[string]any{}); status != 400 || !bytes.Contains(body, []byte("E_INVALID_NEW_RECORD")) {
		t.Errorf("HTTP POST /pet without a name: %d %s", status, body)
	}

	bpDo(t, s, "delete", idb, nil, 200, string(updated))
	bpDo(t, s, "delete", idb, nil, 404, `"Not Found"`)
	bpDo(t, s, "get", idb, nil, 404, `"Not Found"`)
	for _, r := range []petRecord{ra, rc} {
		bpDo(t, s, "delete", "/pet/"+strconv.FormatInt(r.ID, 10), nil, 200, "")
	}
}

func mustDecode(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

// httpDo sends a plain HTTP request with a JSON body (nil: none).
func httpDo(t *testing.T, b *backend, method, path string, data any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if data != nil {
		d, _ := json.Marshal(data)
		body = bytes.NewReader(d)
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, b.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if data != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// listenPets collects the (masked) pet events of a socket that mention prefix (in the record,
// or its previous version); events about other records are skipped.
func listenPets(s *sailsio.SailsSocket, prefix string) chan string {
	ch := make(chan string, 64)
	s.On("pet", func(d json.RawMessage) {
		if bytes.Contains(d, []byte(`"`+prefix+"-")) {
			ch <- masked(d)
		}
	})
	return ch
}

// scenarioBlueprintPubSub: the events of each blueprint verb, on each socket, as Sails sends
// them: a watcher (find before the records exist, autoWatch), a finder (find of an existing
// record), a subscriber (findOne), the requester of each change, and changes over plain HTTP.
func scenarioBlueprintPubSub(t *testing.T, b *backend) {
	p := uniq(b, "pubsub")
	w, f, sub, req := connect(t, b), connect(t, b), connect(t, b), connect(t, b)
	wEv, fEv, sEv, rEv := listenPets(w, p), listenPets(f, p), listenPets(sub, p), listenPets(req, p)
	all := map[string]chan string{"watcher": wEv, "finder": fEv, "subscriber": sEv, "requester": rEv}
	expect := func(who string, want string) {
		t.Helper()
		if got := await(t, all[who], "pet event on the "+who); got != masked([]byte(want)) {
			t.Errorf("%s got  %s\n%*s want %s", who, got, len(who), "", masked([]byte(want)))
		}
	}
	quiet := func(whos ...string) {
		t.Helper()
		for _, who := range whos {
			select {
			case got := <-all[who]:
				t.Errorf("unexpected pet event on the %s: %s", who, got)
			default:
			}
		}
	}
	bpDo(t, w, "get", "/pet", map[string]any{"name": p + "-none"}, 200, "[]")

	// create (socket): the watchers but the creator.
	jwr := bpDo(t, req, "post", "/pet", map[string]any{"name": p + "-1"}, 200, "")
	rec := decodePet(t, jwr.Body)
	id := strconv.FormatInt(rec.ID, 10)
	expect("watcher", `{"verb":"created","data":`+string(jwr.Body)+`,"id":`+id+`}`)

	// find and findOne subscribe to the records they return (find also watches).
	bpDo(t, f, "get", "/pet", map[string]any{"name": p + "-1"}, 200, "["+string(jwr.Body)+"]")
	bpDo(t, sub, "get", "/pet/"+id, nil, 200, string(jwr.Body))

	// update (socket): the record's subscribers but the requester.
	prev := jwr.Body
	jwr = bpDo(t, req, "patch", "/pet/"+id, map[string]any{"name": p + "-2"}, 200, "")
	up := decodePet(t, jwr.Body)
	data := fmt.Sprintf(`{"name":"%s-2","id":%s,"updatedAt":%d}`, p, id, up.UpdatedAt)
	for _, who := range []string{"watcher", "finder", "subscriber"} {
		expect(who, `{"verb":"updated","data":`+data+`,"id":`+id+`,"previous":`+string(prev)+`}`)
	}

	// update over HTTP: every subscriber, nobody left out.
	prev = jwr.Body
	status, body := httpDo(t, b, "PATCH", "/pet/"+id, map[string]any{"name": p + "-3"})
	if status != 200 {
		t.Fatalf("HTTP PATCH: %d %s", status, body)
	}
	up = decodePet(t, compactJSONBytes(t, body))
	data = fmt.Sprintf(`{"name":"%s-3","id":%s,"updatedAt":%d}`, p, id, up.UpdatedAt)
	for _, who := range []string{"watcher", "finder", "subscriber", "requester"} {
		expect(who, `{"verb":"updated","data":`+data+`,"id":`+id+`,"previous":`+string(prev)+`}`)
	}
	prev = compactJSONBytes(t, body)

	// create over HTTP: every watcher (the finder watches too), nobody left out.
	status, body = httpDo(t, b, "POST", "/pet", map[string]any{"name": p + "-h"})
	if status != 200 {
		t.Fatalf("HTTP POST: %d %s", status, body)
	}
	hrec := decodePet(t, compactJSONBytes(t, body))
	hid := strconv.FormatInt(hrec.ID, 10)
	for _, who := range []string{"watcher", "finder"} {
		expect(who, `{"verb":"created","data":`+string(compactJSONBytes(t, body))+`,"id":`+hid+`}`)
	}

	// destroy (socket): the record's subscribers but the requester.
	bpDo(t, sub, "delete", "/pet/"+id, nil, 200, string(prev))
	for _, who := range []string{"watcher", "finder", "requester"} {
		expect(who, `{"verb":"destroyed","id":`+id+`,"previous":`+string(prev)+`}`)
	}
	// The HTTP-created record: the watchers were introduced to it; a socket destroy tells them.
	bpDo(t, req, "delete", "/pet/"+hid, nil, 200, "")
	for _, who := range []string{"watcher", "finder"} {
		expect(who, `{"verb":"destroyed","id":`+hid+`,"previous":`+string(compactJSONBytes(t, body))+`}`)
	}
	// One more round trip on every socket (its callback runs after every event that arrived
	// before its answer), then nothing else may have arrived.
	for _, s := range []*sailsio.SailsSocket{w, f, sub, req} {
		done := make(chan int, 1)
		s.Get("/pet/"+id, nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { done <- jwr.StatusCode })
		if code := await(t, done, "answer"); code != 404 {
			t.Errorf("GET of a destroyed record: %d", code)
		}
	}
	quiet("watcher", "finder", "subscriber", "requester")
}

// compactJSONBytes compacts an HTTP JSON body (real Sails pretty-prints in development).
func compactJSONBytes(t *testing.T, b []byte) json.RawMessage {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return buf.Bytes()
}

// scenarioRegexpRoute: Sails' regular-expression route address 'r|^/re/(\\d+)/(\\w+)$|num,word':
// its groups are req.params[0], [1] and the named params; the expression is matched as written
// (case-sensitive, anchored only where it says so) for the default verbs.
func scenarioRegexpRoute(t *testing.T, b *backend) {
	s := connect(t, b)
	want := `{"num":"12","word":"abc","zero":"12","one":"abc"}`
	bpDo(t, s, "get", "/re/12/abc", nil, 200, want)
	bpDo(t, s, "post", "/re/12/abc?x=1", nil, 200, want)
	bpDo(t, s, "get", "/re/x/abc", nil, 404, `"Not Found"`)
	bpDo(t, s, "get", "/RE/12/abc", nil, 404, `"Not Found"`)
	bpDo(t, s, "get", "/re/12/abc/", nil, 404, `"Not Found"`)
	if status, body := httpDo(t, b, "GET", "/re/7/z", nil); status != 200 || masked(compactJSONBytes(t, body)) != `{"num":"7","word":"z","zero":"7","one":"z"}` {
		t.Errorf("HTTP GET /re/7/z: %d %s", status, body)
	}
}
