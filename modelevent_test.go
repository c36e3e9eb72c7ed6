package sailsio_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

type modelPet struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Rank int    `json:"rank"`
}

// fmtModelEvent prints a ModelEvent on one line, its raw ids as sent.
func fmtModelEvent[T any](ev sailsio.ModelEvent[T]) string {
	s := fmt.Sprintf("%s id=%s data=%+v", ev.Verb, ev.ID, ev.Data)
	if ev.Previous != nil {
		s += fmt.Sprintf(" previous=%+v", *ev.Previous)
	}
	if ev.Attribute != "" {
		s += " attribute=" + ev.Attribute
	}
	if ev.AddedIDs != nil {
		s += fmt.Sprintf(" added=%s", ev.AddedIDs)
	}
	if ev.RemovedIDs != nil {
		s += fmt.Sprintf(" removed=%s", ev.RemovedIDs)
	}
	return s
}

// TestOnModelDecodes: the messages Sails 1.5 sends for each verb (frames as observed from real
// Sails, see TestOnModelRealSails) decode into ModelEvent; what is not a pub/sub message or does
// not decode into T is dropped and logged.
func TestOnModelDecodes(t *testing.T) {
	srv := mockserver.NewT(t)
	emitRoute(srv)
	srv.Handle("GET /flushed", func(req *mockserver.Request, res *mockserver.Response) { res.OK(nil) })
	l := make(eventLog, 64)
	s := newSocket(t, srv.URL(), sailsio.WithLogger(l.logger()))
	sailsio.OnModel(s, "pet", func(ev sailsio.ModelEvent[modelPet]) { l <- fmtModelEvent(ev) })
	offRaw := sailsio.OnModel(s, "owner", func(ev sailsio.ModelEvent[map[string]any]) { l <- "owner " + fmtModelEvent(ev) })
	dial(t, s)

	emitAll(t, s, l,
		[2]string{"pet", `{"verb":"created","data":{"createdAt":1,"updatedAt":1,"id":1,"name":"rex"},"id":1}`},
		[2]string{"pet", `{"verb":"updated","data":{"name":"max","id":1,"updatedAt":2},"id":1,"previous":{"createdAt":1,"updatedAt":1,"id":1,"name":"rex","rank":3}}`},
		[2]string{"pet", `{"verb":"destroyed","id":1,"previous":{"createdAt":1,"updatedAt":2,"id":1,"name":"max"}}`},
		[2]string{"pet", `{"id":1,"verb":"addedTo","attribute":"friends","addedId":2}`},
		[2]string{"pet", `{"id":"a1","verb":"removedFrom","attribute":"friends","removedId":"b2"}`},
		[2]string{"pet", `{"id":1,"verb":"addedTo","attribute":"friends","addedIds":[2,3]}`},
		[2]string{"pet", `{"id":1,"verb":"removedFrom","attribute":"friends","removedIds":[2]}`},
		[2]string{"pet", `{"verb":"updated","data":null,"id":1,"previous":null}`},
		[2]string{"pet", `{"verb":"archived","id":9}`},
		// Not handed over: a Model.publish message, a message that is not an object, data of
		// the wrong type.
		[2]string{"pet", `{"hello":"world"}`},
		[2]string{"pet", `"created"`},
		[2]string{"pet", `{"verb":"created","data":{"id":"x"},"id":"x"}`},
		[2]string{"pet", `{"verb":"updated","data":{},"id":1,"previous":[]}`},
		[2]string{"owner", `{"verb":"created","data":{"pets":[],"id":1},"id":1}`},
	)
	want := []string{
		`created id=1 data={ID:1 Name:rex Rank:0}`,
		`updated id=1 data={ID:1 Name:max Rank:0} previous={ID:1 Name:rex Rank:3}`,
		`destroyed id=1 data={ID:0 Name: Rank:0} previous={ID:1 Name:max Rank:0}`,
		`addedTo id=1 data={ID:0 Name: Rank:0} attribute=friends added=[2]`,
		`removedFrom id="a1" data={ID:0 Name: Rank:0} attribute=friends removed=["b2"]`,
		`addedTo id=1 data={ID:0 Name: Rank:0} attribute=friends added=[2 3]`,
		`removedFrom id=1 data={ID:0 Name: Rank:0} attribute=friends removed=[2]`,
		`updated id=1 data={ID:0 Name: Rank:0}`,
		`archived id=9 data={ID:0 Name: Rank:0}`,
		`log WARN sailsio: event dropped: its data does not decode event=pet error=sailsio: cannot decode JSON: not a pub/sub message: no verb`,
		`log WARN sailsio: event dropped: its data does not decode event=pet error=sailsio: cannot decode JSON: not a pub/sub message: json: cannot unmarshal string into Go value of type sailsio.modelMessage`,
		`log WARN sailsio: event dropped: its data does not decode event=pet error=sailsio: cannot decode JSON: created message: data into sailsio_test.modelPet: json: cannot unmarshal string into Go struct field modelPet.id of type int64`,
		`log WARN sailsio: event dropped: its data does not decode event=pet error=sailsio: cannot decode JSON: updated message: previous into sailsio_test.modelPet: json: cannot unmarshal array into Go value of type sailsio_test.modelPet`,
		`owner created id=1 data=map[id:1 pets:[]]`,
	}
	if d := cmp.Diff(want, l.drain(t)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	offRaw()
	emitAll(t, s, l, [2]string{"owner", `{"verb":"created","data":{"id":2},"id":2}`})
	if got := l.drain(t); len(got) != 0 {
		t.Errorf("after off: %q", got)
	}
}

// TestOnModelWithMockBlueprints: the mockserver's blueprint model publishes created, updated and
// destroyed, which OnModel hands over with their records.
func TestOnModelWithMockBlueprints(t *testing.T) {
	forCombos(t, func(t *testing.T, cb combo) {
		srv := cb.newServer(t)
		srv.Model("pet", mockserver.Required("name"))
		watcher, changer := cb.dial(t, srv), cb.dial(t, srv)
		evs := make(chan sailsio.ModelEvent[modelPet], 8)
		sailsio.OnModel(watcher, "pet", func(ev sailsio.ModelEvent[modelPet]) { evs <- ev })
		ctx := testCtx(t)
		if _, _, err := sailsio.DoJSON[[]modelPet](ctx, watcher, sailsio.RequestOptions{URL: "/pet"}); err != nil {
			t.Fatal(err)
		}
		rex, _, err := sailsio.DoJSON[modelPet](ctx, changer, sailsio.RequestOptions{Method: "post", URL: "/pet", Data: map[string]any{"name": "rex"}})
		if err != nil {
			t.Fatal(err)
		}
		id := strconv.FormatInt(rex.ID, 10)
		if ev := await(t, evs, "created"); ev.Verb != "created" || string(ev.ID) != id || ev.Data != rex || ev.Previous != nil {
			t.Errorf("created: %s", fmtModelEvent(ev))
		}
		if _, _, err := sailsio.DoJSON[modelPet](ctx, changer, sailsio.RequestOptions{Method: "patch", URL: "/pet/" + id, Data: map[string]any{"rank": 2}}); err != nil {
			t.Fatal(err)
		}
		if ev := await(t, evs, "updated"); ev.Verb != "updated" || string(ev.ID) != id || ev.Data != (modelPet{ID: rex.ID, Rank: 2}) || ev.Previous == nil || *ev.Previous != rex {
			t.Errorf("updated: %s", fmtModelEvent(ev))
		}
		if _, _, err := sailsio.DoJSON[modelPet](ctx, changer, sailsio.RequestOptions{Method: "delete", URL: "/pet/" + id}); err != nil {
			t.Fatal(err)
		}
		rex.Rank = 2
		if ev := await(t, evs, "destroyed"); ev.Verb != "destroyed" || string(ev.ID) != id || ev.Data != (modelPet{}) || ev.Previous == nil || *ev.Previous != rex {
			t.Errorf("destroyed: %s", fmtModelEvent(ev))
		}
	})
}
