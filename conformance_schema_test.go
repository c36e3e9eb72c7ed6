package sailsio_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio/internal/testapp"
)

// The schema scenario: the blueprints of a `schema: true` model (the Tag model of the app,
// api/models/Tag.js, mirrored by mockserver.Schema(true)), as an app made by `sails new` has
// them, and a malformed `where`, which Sails' blueprints answer alike whatever the schema.

// whereParseError is the first line of the stack Sails sends (in development) with the 500 of a
// `where` that is not JSON: parseBlueprintOptions throws a UsageError outside the action.
const whereParseError = "UsageError: Could not JSON.parse() the provided `where` clause. Here is the raw error: SyntaxError: "

// firstLine decodes a JSON string body and returns its first line (the mock sends only that
// line of a stack, see the mockserver package doc).
func firstLine(t *testing.T, body json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("body %s is not a string: %v", body, err)
	}
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// scenarioBlueprintSchema: undeclared attributes dropped on create and update (and absent from
// the events), select and omit on find and findOne, Waterline's 400s for a select, omit, sort or
// where naming an undeclared attribute, and the 500 of a malformed where on Tag and on Pet
// (schema: false, which also refuses omit on findOne).
func scenarioBlueprintSchema(t *testing.T, b *backend) {
	p := uniq(b, "schema")
	w, r := connect(t, b), connect(t, b)
	events := make(chan string, 16)
	w.On("tag", func(d json.RawMessage) {
		if bytes.Contains(d, []byte(`"`+p+"-")) {
			events <- masked(d)
		}
	})
	expect := func(want string) {
		t.Helper()
		if got := await(t, events, "tag event on the watcher"); got != masked([]byte(want)) {
			t.Errorf("watcher got  %s\n        want %s", got, masked([]byte(want)))
		}
	}
	bpDo(t, w, "get", "/tag", map[string]any{"name": p + "-none"}, 200, "[]")

	// create: the undeclared color is dropped from the record and from the event.
	jwr := bpDo(t, r, "post", "/tag", testapp.Object{{"name", p + "-1"}, {"rank", 2}, {"color", "red"}}, 200, "")
	if d := cmp.Diff([]string{"createdAt", "updatedAt", "id", "name", "rank"}, keysOf(t, jwr.Body)); d != "" {
		t.Errorf("created record %s keys (-want +got):\n%s", jwr.Body, d)
	}
	one := decodePet(t, jwr.Body)
	id1 := strconv.FormatInt(one.ID, 10)
	expect(`{"verb":"created","data":` + string(jwr.Body) + `,"id":` + id1 + `}`)
	jwr = bpDo(t, r, "post", "/tag", map[string]any{"name": p + "-2", "color": "blue"}, 200, "")
	two := decodePet(t, jwr.Body)
	id2 := strconv.FormatInt(two.ID, 10)
	bpDo(t, r, "get", "/tag/"+id2, nil, 200, fmt.Sprintf(`{"createdAt":0,"updatedAt":0,"id":%s,"name":"%s-2","rank":0}`, id2, p))
	expect(`{"verb":"created","data":` + string(jwr.Body) + `,"id":` + id2 + `}`)

	// select and omit.
	where := "&where=" + url.QueryEscape(`{"name":{"startsWith":"`+p+`"}}`)
	bpDo(t, r, "get", "/tag?select=name"+where, nil, 200, fmt.Sprintf(`[{"id":%s,"name":"%s-1"},{"id":%s,"name":"%s-2"}]`, id1, p, id2, p))
	bpDo(t, r, "get", "/tag?select=rank,%20name&sort=rank%20DESC"+where, nil, 200, fmt.Sprintf(`[{"id":%s,"name":"%s-1","rank":2},{"id":%s,"name":"%s-2","rank":0}]`, id1, p, id2, p))
	bpDo(t, r, "get", "/tag?omit=name"+where, nil, 200, fmt.Sprintf(`[{"createdAt":0,"updatedAt":0,"id":%s,"rank":2},{"createdAt":0,"updatedAt":0,"id":%s,"rank":0}]`, id1, id2))
	bpDo(t, r, "get", "/tag", map[string]any{"name": p + "-1", "omit": "createdAt,rank"}, 200, fmt.Sprintf(`[{"updatedAt":0,"id":%s,"name":"%s-1"}]`, id1, p))
	bpDo(t, r, "get", "/tag/"+id1+"?select=rank", nil, 200, fmt.Sprintf(`{"id":%s,"rank":2}`, id1))
	bpDo(t, r, "get", "/tag/"+id1+"?omit=name", nil, 200, fmt.Sprintf(`{"createdAt":0,"updatedAt":0,"id":%s,"rank":2}`, id1))

	// Waterline's refusals.
	for _, c := range []struct{ url, details string }{
		{"/tag?select=name,color", "The `select` clause in the provided criteria contains an item (`color`) which is not a recognized attribute in this model (`tag`)."},
		{"/tag?omit=color", "The `omit` clause in the provided criteria contains an item (`color`) which is not a recognized attribute in this model (`tag`)."},
		{"/tag?omit=id", "The `omit` clause in the provided criteria explicitly attempts to omit the primary key (`id`).  But in the current version of Waterline, this is not possible."},
		{"/tag?sort=nosuch%20DESC", "Could not use the provided `sort` clause: The `sort` clause in the provided criteria is invalid, because, although it is an array, " +
			"one of its items (aka comparator directives) is problematic.  It indicates that we should sort by `nosuch`-- but that is not a recognized attribute " +
			"for this model (`tag`).  Since the model declares `schema: true`, this is not allowed."},
		{"/tag?color=red", "Could not use the provided `where` clause.  Could not filter by `color`: `color` is not a recognized attribute for this model (`tag`).  " +
			"And since the model declares `schema: true`, this is not allowed."},
		{"/pet/" + id1 + "?omit=name", "Cannot use `omit`, because the referenced model (`pet`) does not declare itself `schema: true`."},
	} {
		path, _, _ := strings.Cut(c.url, "?")
		bpDo(t, r, "get", c.url, nil, 400, usageBody("E_INVALID_CRITERIA", c.details, "GET", path))
	}

	// A where that is not JSON: 500 from the blueprint, schema or not, over sockets and HTTP.
	for _, c := range []struct{ url, data any }{
		{"/tag?where=" + url.QueryEscape("{bad"), nil},
		{"/pet?where=" + url.QueryEscape("{bad"), nil},
		{"/pet", map[string]any{"where": "{bad"}},
	} {
		jwr := bpDo(t, r, "get", c.url.(string), c.data, 500, "")
		if got, want := firstLine(t, jwr.Body), whereParseError+"Expected property name or '}' in JSON at position 1"; got != want {
			t.Errorf("GET %s %v: %s\nwant %s", c.url, c.data, got, want)
		}
	}
	if status, body := httpDo(t, b, "GET", "/tag?where="+url.QueryEscape(`{"name":`), nil); status != 500 || !bytes.HasPrefix(body, []byte(whereParseError+"Unexpected end of JSON input")) {
		t.Errorf("HTTP GET /tag?where={\"name\": %d %.200s", status, body)
	}

	// update: color is dropped from the record and from the event.
	prev := bpDo(t, r, "get", "/tag/"+id1, nil, 200, "").Body
	jwr = bpDo(t, r, "patch", "/tag/"+id1, testapp.Object{{"rank", 5}, {"color", "green"}}, 200,
		fmt.Sprintf(`{"createdAt":0,"updatedAt":0,"id":%s,"name":"%s-1","rank":5}`, id1, p))
	up := decodePet(t, jwr.Body)
	expect(fmt.Sprintf(`{"verb":"updated","data":{"rank":5,"id":%s,"updatedAt":%d},"id":%s,"previous":%s}`, id1, up.UpdatedAt, id1, prev))
	if status, body := httpDo(t, b, "GET", "/tag/"+id1, nil); status != 200 || masked(compactJSONBytes(t, body)) != masked(jwr.Body) {
		t.Errorf("HTTP GET /tag/%s: %d %s", id1, status, body)
	}
	bpDo(t, r, "delete", "/tag/"+id1, nil, 200, string(jwr.Body))
	expect(`{"verb":"destroyed","id":` + id1 + `,"previous":` + string(jwr.Body) + `}`)
	jwr = bpDo(t, r, "delete", "/tag/"+id2, nil, 200, "")
	expect(`{"verb":"destroyed","id":` + id2 + `,"previous":` + string(jwr.Body) + `}`)
}

// scenarioPopulatedUndeclared: a record in a populated collection has only its declared
// attributes, though the record itself (Pet is schema: false) keeps the undeclared ones.
func scenarioPopulatedUndeclared(t *testing.T, b *backend) {
	p := uniq(b, "populated")
	s := connect(t, b)
	jwr := bpDo(t, s, "post", "/pet", testapp.Object{{"name", p + "-pet"}, {"color", "red"}}, 200, "")
	pet := decodePet(t, jwr.Body)
	petID := strconv.FormatInt(pet.ID, 10)
	bare := fmt.Sprintf(`{"createdAt":%d,"updatedAt":%d,"id":%s,"name":"%s-pet"}`, pet.CreatedAt, pet.UpdatedAt, petID, p)
	if d := cmp.Diff([]string{"color", "createdAt", "updatedAt", "id", "name"}, keysOf(t, jwr.Body)); d != "" {
		t.Errorf("pet %s keys (-want +got):\n%s", jwr.Body, d)
	}
	jwr = bpDo(t, s, "post", "/owner", map[string]any{"name": p + "-owner", "pets": []int64{pet.ID}}, 200, "")
	owner := decodePet(t, jwr.Body)
	ownerID := strconv.FormatInt(owner.ID, 10)
	bpDo(t, s, "get", "/owner/"+ownerID, nil, 200, fmt.Sprintf(`{"pets":[%s],"createdAt":0,"updatedAt":0,"id":%s,"name":"%s-owner"}`, bare, ownerID, p))
	bpDo(t, s, "get", "/owner/"+ownerID+"/pets", nil, 200, "["+bare+"]")
	bpDo(t, s, "delete", "/owner/"+ownerID, nil, 200, "")
	bpDo(t, s, "delete", "/pet/"+petID, nil, 200, "")
}
