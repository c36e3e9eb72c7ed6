package sailsio_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio"
)

// The model-event scenario: the resourceful pub/sub messages of every blueprint verb, the
// association ones included (addedTo, removedFrom), as real Sails sends them and as OnModel hands
// them over. The app's Owner model (api/models/Owner.js: name, and pets, a one-way collection of
// Pet) is mirrored on the mock by mockserver.Collection.

type ownerRecord struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Pets      []ownerPet `json:"pets"`
	CreatedAt int64      `json:"createdAt"`
	UpdatedAt int64      `json:"updatedAt"`
}

type ownerPet struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	CreatedAt int64  `json:"createdAt"`
	UpdatedAt int64  `json:"updatedAt"`
}

// typedDo is DoJSON that fails the test unless the status is want.
func typedDo[T any](t *testing.T, s *sailsio.SailsSocket, method, url string, data any, want int) (T, *sailsio.JWRes) {
	t.Helper()
	v, jwr, err := sailsio.DoJSON[T](testCtx(t), s, sailsio.RequestOptions{Method: method, URL: url, Data: data})
	if jwr == nil || jwr.StatusCode != want || (want < 300 && err != nil) {
		t.Fatalf("%s %s: %v, %v; want status %d", method, url, jwr, err, want)
	}
	return v, jwr
}

// scenarioModelEvents: a watcher (GET /owner) hears of an owner's creation, update, the pet added
// to and removed from its pets, and its destruction, made by another socket; the requester hears
// nothing. The raw frames must be Sails' (timestamps masked), and OnModel must hand over each
// message with the right fields.
func scenarioModelEvents(t *testing.T, b *backend) {
	p := uniq(b, "model")
	w, c := connect(t, b), connect(t, b)
	var ownerID atomic.Int64
	ours := func(data json.RawMessage) bool {
		var m struct {
			ID   int64 `json:"id"`
			Data struct {
				Name string `json:"name"`
			} `json:"data"`
		}
		_ = json.Unmarshal(data, &m)
		return strings.HasPrefix(m.Data.Name, p) || (m.ID != 0 && m.ID == ownerID.Load())
	}
	// The backends share the server: only this backend's owner counts (the handlers never block).
	raw, typed, requester := make(chan string, 16), make(chan sailsio.ModelEvent[ownerRecord], 16), make(chan string, 16)
	w.OnAny(func(event string, data json.RawMessage) {
		if event == "owner" && ours(data) {
			raw <- string(data)
		}
	})
	sailsio.OnModel(w, "owner", func(ev sailsio.ModelEvent[ownerRecord]) {
		if ev.Data.Name != "" && strings.HasPrefix(ev.Data.Name, p) || string(ev.ID) == strconv.FormatInt(ownerID.Load(), 10) {
			typed <- ev
		}
	})
	c.OnAny(func(event string, data json.RawMessage) {
		if event == "owner" && ours(data) {
			requester <- string(data)
		}
	})
	expect := func(verb, want string, check func(ev sailsio.ModelEvent[ownerRecord])) {
		t.Helper()
		got := await(t, raw, verb+" frame")
		t.Logf("%s: 42[\"owner\",%s]", b.name, got)
		if masked([]byte(got)) != masked([]byte(want)) {
			t.Errorf("%s frame\n got %s\nwant %s", verb, got, want)
		}
		ev := await(t, typed, verb+" ModelEvent")
		if ev.Verb != verb {
			t.Errorf("ModelEvent verb %q, want %q", ev.Verb, verb)
		}
		check(ev)
	}

	typedDo[[]ownerRecord](t, w, "get", "/owner", map[string]any{"name": p + "-none"}, 200)
	pet, petJWR := typedDo[ownerPet](t, c, "post", "/pet", map[string]any{"name": p + "-rex"}, 200)
	pid := strconv.FormatInt(pet.ID, 10)

	// created: the watcher is told (the record, populated), the creator is not.
	ann, jwr := typedDo[ownerRecord](t, c, "post", "/owner", map[string]any{"name": p + "-ann"}, 200)
	ownerID.Store(ann.ID)
	id := strconv.FormatInt(ann.ID, 10)
	if d := cmp.Diff([]string{"pets", "createdAt", "updatedAt", "id", "name"}, keysOf(t, jwr.Body)); d != "" || ann.Pets == nil || len(ann.Pets) != 0 {
		t.Errorf("created owner %s (keys -want +got):\n%s", jwr.Body, d)
	}
	annBody := string(jwr.Body)
	expect("created", `{"verb":"created","data":`+annBody+`,"id":`+id+`}`, func(ev sailsio.ModelEvent[ownerRecord]) {
		if string(ev.ID) != id || ev.Previous != nil || !cmp.Equal(ev.Data, ann) || ev.Attribute != "" || ev.AddedIDs != nil || ev.RemovedIDs != nil {
			t.Errorf("created %+v", ev)
		}
	})

	// updated: the changes as data, the record before as previous.
	bob, _ := typedDo[ownerRecord](t, c, "patch", "/owner/"+id, map[string]any{"name": p + "-bob"}, 200)
	expect("updated", `{"verb":"updated","data":{"name":"`+p+`-bob","id":`+id+`,"updatedAt":`+strconv.FormatInt(bob.UpdatedAt, 10)+`},"id":`+id+`,"previous":`+annBody+`}`,
		func(ev sailsio.ModelEvent[ownerRecord]) {
			want := ownerRecord{ID: ann.ID, Name: p + "-bob", UpdatedAt: bob.UpdatedAt}
			if string(ev.ID) != id || !cmp.Equal(ev.Data, want) || ev.Previous == nil || !cmp.Equal(*ev.Previous, ann) {
				t.Errorf("updated %+v", ev)
			}
		})

	// addedTo, removedFrom: one id each (addedId, removedId), no record.
	withRex, jwr := typedDo[ownerRecord](t, c, "put", "/owner/"+id+"/pets/"+pid, nil, 200)
	if len(withRex.Pets) != 1 || withRex.Pets[0] != pet || masked(jwr.Body) != masked([]byte(`{"pets":[`+string(petJWR.Body)+`],"createdAt":0,"updatedAt":0,"id":`+id+`,"name":"`+p+`-bob"}`)) {
		t.Errorf("PUT /owner/%s/pets/%s: %s", id, pid, jwr.Body)
	}
	assoc := func(verb, idsField string) {
		t.Helper()
		expect(verb, `{"id":`+id+`,"verb":"`+verb+`","attribute":"pets","`+idsField+`":`+pid+`}`, func(ev sailsio.ModelEvent[ownerRecord]) {
			added, removed := []json.RawMessage(nil), []json.RawMessage(nil)
			if verb == "addedTo" {
				added = []json.RawMessage{json.RawMessage(pid)}
			} else {
				removed = []json.RawMessage{json.RawMessage(pid)}
			}
			if string(ev.ID) != id || ev.Attribute != "pets" || !cmp.Equal(ev.AddedIDs, added) || !cmp.Equal(ev.RemovedIDs, removed) ||
				!cmp.Equal(ev.Data, ownerRecord{}) || ev.Previous != nil {
				t.Errorf("%s %+v", verb, ev)
			}
		})
	}
	assoc("addedTo", "addedId")
	populated, _ := typedDo[[]ownerPet](t, c, "get", "/owner/"+id+"/pets", nil, 200)
	if !cmp.Equal(populated, []ownerPet{pet}) {
		t.Errorf("GET /owner/%s/pets: %+v", id, populated)
	}
	if without, _ := typedDo[ownerRecord](t, c, "delete", "/owner/"+id+"/pets/"+pid, nil, 200); without.Pets == nil || len(without.Pets) != 0 {
		t.Errorf("DELETE /owner/%s/pets/%s: %+v", id, pid, without)
	}
	assoc("removedFrom", "removedId")
	typedDo[json.RawMessage](t, c, "put", "/owner/"+id+"/pets/999999999", nil, 404)
	typedDo[json.RawMessage](t, c, "put", "/owner/999999999/pets/"+pid, nil, 404)
	typedDo[ownerRecord](t, c, "put", "/owner/"+id+"/pets/"+pid, nil, 200)
	assoc("addedTo", "addedId")

	// destroyed: the record before (populated) as previous, no data.
	gone, jwr := typedDo[ownerRecord](t, c, "delete", "/owner/"+id, nil, 200)
	expect("destroyed", `{"verb":"destroyed","id":`+id+`,"previous":`+string(jwr.Body)+`}`, func(ev sailsio.ModelEvent[ownerRecord]) {
		if string(ev.ID) != id || !cmp.Equal(ev.Data, ownerRecord{}) || ev.Previous == nil || !cmp.Equal(*ev.Previous, gone) || len(gone.Pets) != 1 {
			t.Errorf("destroyed %+v (record %+v)", ev, gone)
		}
	})
	typedDo[ownerPet](t, c, "delete", "/pet/"+pid, nil, 200)

	// One more round trip on each socket (its answer comes after every event sent before it):
	// nothing else arrived, and the requester heard nothing.
	for _, s := range []*sailsio.SailsSocket{w, c} {
		done := make(chan struct{})
		s.Get("/owner/"+id, nil, func(json.RawMessage, *sailsio.JWRes) { close(done) })
		await(t, done, "answer")
	}
	nothingIn(t, raw, "owner frame on the watcher")
	nothingIn(t, typed, "ModelEvent on the watcher")
	nothingIn(t, requester, "owner frame on the requester")
}
