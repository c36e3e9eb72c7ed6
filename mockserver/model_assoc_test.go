package mockserver

import (
	"net/http"
	"strings"
	"testing"
)

// TestCollectionOverHTTP: a collection attribute populates records (by ascending child id, after
// the undeclared attributes and before createdAt, one level deep, without their own undeclared
// attributes), takes arrays of ids on create
// and update, and has the add, remove and populate blueprints, as Sails 1.5 answers them.
func TestCollectionOverHTTP(t *testing.T) {
	s := NewT(t)
	owners := s.Model("owner", Required("name"), Collection("pets", "pet"))
	s.Model("pet", Required("name"), Collection("friends", "pet"))
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, b := doHTTP(t, s.Client(), req)
		return resp.StatusCode, maskTS([]byte(b))
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/pet", `{"name":"c"}`, 200, `{"friends":[],"createdAt":0,"updatedAt":0,"id":1,"name":"c"}`},
		{"POST", "/pet", `{"name":"d","color":"red"}`, 200, `{"color":"red","friends":[],"createdAt":0,"updatedAt":0,"id":2,"name":"d"}`},
		{"POST", "/owner", `{"rank":1,"name":"x"}`, 200, `{"rank":1,"pets":[],"createdAt":0,"updatedAt":0,"id":1,"name":"x"}`},
		{"PUT", "/owner/1/pets/2", "", 200, `{"rank":1,"pets":[{"createdAt":0,"updatedAt":0,"id":2,"name":"d"}],"createdAt":0,"updatedAt":0,"id":1,"name":"x"}`},
		{"PUT", "/owner/1/pets/1", "", 200, `{"rank":1,"pets":[{"createdAt":0,"updatedAt":0,"id":1,"name":"c"},{"createdAt":0,"updatedAt":0,"id":2,"name":"d"}],"createdAt":0,"updatedAt":0,"id":1,"name":"x"}`},
		{"PUT", "/owner/1/pets/1", "", 200, ""}, // already there: answered all the same
		{"PUT", "/owner/1/pets/9", "", 404, `Not Found`},
		{"PUT", "/owner/9/pets/1", "", 404, `Not Found`},
		{"GET", "/owner/1/pets", "", 200, `[{"createdAt":0,"updatedAt":0,"id":1,"name":"c"},{"createdAt":0,"updatedAt":0,"id":2,"name":"d"}]`},
		{"GET", "/owner/9/pets", "", 404, `Not Found`},
		{"DELETE", "/owner/1/pets/2", "", 200, `{"rank":1,"pets":[{"createdAt":0,"updatedAt":0,"id":1,"name":"c"}],"createdAt":0,"updatedAt":0,"id":1,"name":"x"}`},
		{"DELETE", "/owner/1/pets/2", "", 200, ""}, // not there: answered all the same
		{"PATCH", "/owner/1", `{"pets":[2,99]}`, 200, `{"rank":1,"pets":[{"createdAt":0,"updatedAt":0,"id":2,"name":"d"}],"createdAt":0,"updatedAt":0,"id":1,"name":"x"}`},
		{"PATCH", "/owner/1", `{"pets":"x"}`, 400, ""},
		{"POST", "/owner", `{"name":"y","pets":[2,1]}`, 200, `{"pets":[{"createdAt":0,"updatedAt":0,"id":1,"name":"c"},{"createdAt":0,"updatedAt":0,"id":2,"name":"d"}],"createdAt":0,"updatedAt":0,"id":2,"name":"y"}`},
		// A collection of the model itself; populated records are one level deep.
		{"PUT", "/pet/1/friends/2", "", 200, `{"friends":[{"createdAt":0,"updatedAt":0,"id":2,"name":"d"}],"createdAt":0,"updatedAt":0,"id":1,"name":"c"}`},
		{"PUT", "/pet/2/friends/1", "", 200, `{"color":"red","friends":[{"createdAt":0,"updatedAt":0,"id":1,"name":"c"}],"createdAt":0,"updatedAt":0,"id":2,"name":"d"}`},
		// A destroyed record leaves the sets it was in; a destroyed owner forgets its set.
		{"DELETE", "/pet/2", "", 200, `{"color":"red","friends":[{"createdAt":0,"updatedAt":0,"id":1,"name":"c"}],"createdAt":0,"updatedAt":0,"id":2,"name":"d"}`},
		{"GET", "/owner/2", "", 200, `{"pets":[{"createdAt":0,"updatedAt":0,"id":1,"name":"c"}],"createdAt":0,"updatedAt":0,"id":2,"name":"y"}`},
		{"GET", "/pet/1/friends", "", 200, `[]`},
		{"DELETE", "/owner/2", "", 200, ""},
		{"POST", "/owner", `{"name":"z","id":2}`, 200, `{"pets":[],"createdAt":0,"updatedAt":0,"id":2,"name":"z"}`},
	} {
		status, got := do(tc.method, tc.path, tc.body)
		if status != tc.status || (tc.want != "" && got != tc.want) {
			t.Errorf("%s %s %s: %d %s\nwant %d %s", tc.method, tc.path, tc.body, status, got, tc.status, tc.want)
		}
	}
	if recs := owners.Records(); len(recs) != 2 || recs[0]["pets"] == nil || len(recs[0]["pets"].([]any)) != 0 {
		t.Errorf("Records: %v", recs)
	}
}
