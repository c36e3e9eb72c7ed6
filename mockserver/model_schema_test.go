package mockserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// invalidCriteriaBody is the 400 body of an E_INVALID_CRITERIA on GET path, as in
// TestModelCRUDOverHTTP's model (timestamps masked by the caller).
func invalidCriteriaBody(path, details string) string {
	return `{"code":"E_INVALID_CRITERIA","details":` + string(mustJSON(details)) + `,"message":"The server could not fulfill this request (` +
		"`GET " + path + "`" + `) due to a problem with the parameters that were sent.  See the ` + "`details`" + ` for more info.  ` +
		`**The following additional tip will not be shown in production**:  Tip: Check your client-side code to make sure that the request data it sends ` +
		`matches the expectations of the corresponding attributes in your model.  Also check that your client-side code sends data for every required attribute."}`
}

// TestModelSchema: a schema: true model drops undeclared attributes on create and update and
// answers select, omit, and a sort or where on an undeclared attribute as Sails 1.5 does (the
// answers of sails 1.5.18 to the same requests on the testdata app's Tag model).
func TestModelSchema(t *testing.T) {
	s := NewT(t)
	m := s.Model("tag", Schema(true), Required("name"), Attribute("rank", "number"))
	if got := maskTS([]byte(mustJSON(m.Create(map[string]any{"name": "a", "rank": 2, "color": "red"})))); got != `{"createdAt":0,"id":1,"name":"a","rank":2,"updatedAt":0}` {
		t.Errorf("Create: %s", got)
	}
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, b := doHTTP(t, s.Client(), req)
		return resp.StatusCode, maskTS([]byte(b))
	}
	notRecognized := func(clause, attr string) string {
		return "The `" + clause + "` clause in the provided criteria contains an item (`" + attr + "`) which is not a recognized attribute in this model (`tag`)."
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/tag", `{"name":"b","color":"blue","rank":1}`, 200, `{"createdAt":0,"updatedAt":0,"id":2,"name":"b","rank":1}`},
		{"GET", "/tag", "", 200, `[{"createdAt":0,"updatedAt":0,"id":1,"name":"a","rank":2},{"createdAt":0,"updatedAt":0,"id":2,"name":"b","rank":1}]`},
		{"GET", "/tag?select=name", "", 200, `[{"id":1,"name":"a"},{"id":2,"name":"b"}]`},
		{"GET", "/tag?select=%20rank%20,name,name&sort=rank", "", 200, `[{"id":2,"name":"b","rank":1},{"id":1,"name":"a","rank":2}]`},
		{"GET", "/tag?select=createdAt", "", 200, `[{"createdAt":0,"id":1},{"createdAt":0,"id":2}]`},
		{"GET", "/tag?select=*&limit=1", "", 200, `[{"createdAt":0,"updatedAt":0,"id":1,"name":"a","rank":2}]`},
		{"GET", "/tag?omit=name", "", 200, `[{"createdAt":0,"updatedAt":0,"id":1,"rank":2},{"createdAt":0,"updatedAt":0,"id":2,"rank":1}]`},
		{"GET", "/tag?omit=createdAt,rank&rank=1", "", 200, `[{"updatedAt":0,"id":2,"name":"b"}]`},
		{"GET", "/tag?select=name&omit=name", "", 200, `[{"id":1,"name":"a"},{"id":2,"name":"b"}]`},
		{"GET", "/tag/1?select=rank", "", 200, `{"id":1,"rank":2}`},
		{"GET", "/tag/1?omit=name", "", 200, `{"createdAt":0,"updatedAt":0,"id":1,"rank":2}`},
		{"GET", "/tag?select=name,color", "", 400, invalidCriteriaBody("/tag", notRecognized("select", "color"))},
		{"GET", "/tag?select=", "", 400, invalidCriteriaBody("/tag", notRecognized("select", ""))},
		{"GET", "/tag?omit=nosuch", "", 400, invalidCriteriaBody("/tag", notRecognized("omit", "nosuch"))},
		{"GET", "/tag?omit=id", "", 400, invalidCriteriaBody("/tag", "The `omit` clause in the provided criteria explicitly attempts to omit the primary key (`id`).  But in the current version of Waterline, this is not possible.")},
		{"GET", "/tag?sort=nosuch%20DESC", "", 400, invalidCriteriaBody("/tag", "Could not use the provided `sort` clause: The `sort` clause in the provided criteria is invalid, "+
			"because, although it is an array, one of its items (aka comparator directives) is problematic.  It indicates that we should sort by `nosuch`-- "+
			"but that is not a recognized attribute for this model (`tag`).  Since the model declares `schema: true`, this is not allowed.")},
		{"GET", "/tag?color=red", "", 400, invalidCriteriaBody("/tag", "Could not use the provided `where` clause.  Could not filter by `color`: "+
			"`color` is not a recognized attribute for this model (`tag`).  And since the model declares `schema: true`, this is not allowed.")},
		{"GET", "/tag?where=%7Bbad", "", 500, "UsageError: Could not JSON.parse() the provided `where` clause. Here is the raw error: SyntaxError: Expected property name or '}' in JSON at position 1"},
		{"PATCH", "/tag/1", `{"rank":5,"color":"green"}`, 200, `{"createdAt":0,"updatedAt":0,"id":1,"name":"a","rank":5}`},
	} {
		status, got := do(tc.method, tc.path, tc.body)
		if status != tc.status || got != tc.want {
			t.Errorf("%s %s %s: %d %s\nwant %d %s", tc.method, tc.path, tc.body, status, got, tc.status, tc.want)
		}
	}
}

// TestModelSchemaEvents: over sockets, the created and updated events of a schema: true model
// carry no undeclared attribute.
func TestModelSchemaEvents(t *testing.T) {
	s := NewT(t)
	s.Model("tag", Schema(true), Required("name"))
	w, _ := connect(t, s, 4, nil)
	r, _ := connect(t, s, 4, nil)
	w.request(0, "get", "/tag", nil)
	created := r.request(0, "post", "/tag", map[string]any{"name": "a", "color": "red"})
	if got := maskTS(created.Body); got != `{"createdAt":0,"updatedAt":0,"id":1,"name":"a"}` {
		t.Errorf("created %s", got)
	}
	if got, want := maskTS([]byte(w.nextText())), `42["tag",{"verb":"created","data":`+maskTS(created.Body)+`,"id":1}]`; got != want {
		t.Errorf("watcher: %s\nwant %s", got, want)
	}
	r.request(1, "patch", "/tag/1", map[string]any{"color": "green", "name": "b"})
	if got, want := maskTS([]byte(w.nextText())), `42["tag",{"verb":"updated","data":{"name":"b","id":1,"updatedAt":0},"id":1,"previous":`+maskTS(created.Body)+`}]`; got != want {
		t.Errorf("watcher: %s\nwant %s", got, want)
	}
}

// TestModelSchemaFalseProjection: a schema: false model (the default) refuses select and omit on
// findOne as on find, as Waterline does; select=* is no custom select.
func TestModelSchemaFalseProjection(t *testing.T) {
	s := NewT(t)
	s.Model("pet", Required("name"))
	c, _ := connect(t, s, 4, nil)
	c.request(0, "post", "/pet", map[string]any{"name": "a"})
	for i, tc := range []struct {
		path   string
		status int
		detail string
	}{
		{"/pet/1?select=name", 400, "is `schema: false`"},
		{"/pet/1?omit=name", 400, "does not declare itself `schema: true`"},
		{"/pet?omit=name", 400, "does not declare itself `schema: true`"},
		{"/pet?omit=id", 400, "explicitly attempts to omit the primary key"},
		{"/pet?select=*", 200, `"name":"a"`},
		{"/pet/1?select=*", 200, `"name":"a"`},
	} {
		got := c.request(i+1, "get", tc.path, nil)
		if got.StatusCode != tc.status || !strings.Contains(string(got.Body), tc.detail) {
			t.Errorf("GET %s: %d %s\nwant %d with %s", tc.path, got.StatusCode, got.Body, tc.status, tc.detail)
		}
	}
}

// TestModelMalformedWhere: a `where` given as text that is not JSON gets 500 with the first line
// of the UsageError's stack that parseBlueprintOptions throws (V8's SyntaxError message), schema
// or not; JSON that is not an object is Waterline's shorthand or a 400, as Sails 1.5.18 answers.
func TestModelMalformedWhere(t *testing.T) {
	s := NewT(t)
	s.Model("pet", Required("name"))
	s.Model("tag", Schema(true), Required("name"))
	c, _ := connect(t, s, 4, nil)
	c.request(0, "post", "/pet", map[string]any{"name": "a"})
	const prefix = "UsageError: Could not JSON.parse() the provided `where` clause. Here is the raw error: SyntaxError: "
	q := url.QueryEscape
	for i, tc := range []struct {
		path   string
		data   any
		status int
		body   string
	}{
		{"/pet?where=" + q("{bad"), nil, 500, prefix + "Expected property name or '}' in JSON at position 1"},
		{"/tag?where=" + q("{bad"), nil, 500, prefix + "Expected property name or '}' in JSON at position 1"},
		{"/pet?where=", nil, 500, prefix + "Unexpected end of JSON input"},
		{"/pet?where=abc", nil, 500, prefix + `Unexpected token 'a', "abc" is not valid JSON`},
		{"/pet?where=" + q(`{"a":1}x`), nil, 500, prefix + "Unexpected non-whitespace character after JSON at position 7"},
		{"/pet", map[string]any{"where": "abc"}, 500, prefix + `Unexpected token 'a', "abc" is not valid JSON`},
		{"/pet?where=1", nil, 200, `[{"createdAt":0,"updatedAt":0,"id":1,"name":"a"}]`},
		{"/pet?where=" + q("[2,3]"), nil, 200, `[]`},
		{"/pet?where=null", nil, 200, `[]`},
		{"/pet", map[string]any{"where": 5}, 200, `[]`},
		{"/pet", map[string]any{"where": true}, 400, ""},
	} {
		got := c.request(i+1, "get", tc.path, tc.data)
		body := maskTS(got.Body)
		want := tc.body
		if tc.status == 500 {
			want = string(mustJSON(tc.body))
		}
		if got.StatusCode != tc.status || tc.body != "" && body != want {
			t.Errorf("GET %s %v: %d %s\nwant %d %s", tc.path, tc.data, got.StatusCode, body, tc.status, want)
		}
	}
}

// TestJSSyntaxError: JSON.parse's messages in Node 20, as checked against node for these inputs.
func TestJSSyntaxError(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":[1,{"b":null}],"c":"\u00e9"}`: "",
		" 1 ":                               "",
		"":                                  "Unexpected end of JSON input",
		`{"a"`:                              "Expected ':' after property name in JSON at position 4",
		`{"a" 1}`:                           "Expected ':' after property name in JSON at position 5",
		`{"a":1,"b"}`:                       `Unexpected token '}', "{"a":1,"b"}" is not valid JSON`,
		`{"a":1,}`:                          "Expected double-quoted property name in JSON at position 7",
		`{"a":1 x`:                          "Expected ',' or '}' after property value in JSON at position 7",
		`[1 2]`:                             "Expected ',' or ']' after array element in JSON at position 3",
		`[1,]`:                              `Unexpected token ']', "[1,]" is not valid JSON`,
		`["b",`:                             "Unexpected end of JSON input",
		`"abc`:                              "Unterminated string in JSON at position 4",
		`"a\x"`:                             "Bad escaped character in JSON at position 3",
		`"\u12g4"`:                          "Bad Unicode escape in JSON at position 5",
		"\"a\nb\"":                          "Bad control character in string literal in JSON at position 2",
		`-a`:                                "No number after minus sign in JSON at position 1",
		`01`:                                "Unexpected number in JSON at position 1",
		`1.a`:                               "Unterminated fractional number in JSON at position 2",
		`1e+`:                               "Exponent part is missing a number in JSON at position 3",
		`{"k":"v","k2":tru}`:                `Unexpected token '}', "{"k":"v","k2":tru}" is not valid JSON`,
		`{"k":"v","k2":"v2",x:1}`:           "Expected double-quoted property name in JSON at position 19",
		`{"name":"a","rank":[a`:             `Unexpected token 'a', ..."","rank":[a" is not valid JSON`,
		`x{"name":"a","rank":[1]}`:          `Unexpected token 'x', "x{"name":""... is not valid JSON`,
		`{"long key here":  bad value here and more}`: `Unexpected token 'b', ..."y here":  bad value "... is not valid JSON`,
		`undefined`: `"undefined" is not valid JSON`,
		`{"é":x}`:   `Unexpected token 'x', "{"é":x}" is not valid JSON`,
	} {
		if got := jsSyntaxError(in); got != want {
			t.Errorf("%q: %q\nwant %q", in, got, want)
		}
	}
}
