package petclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	petclient "github.com/sailsio-go/sailsio/examples/testing"
	"github.com/sailsio-go/sailsio/mockserver"
)

const token = "s3cret"

// petAPI is the test double of the Sails app: a mockserver with the app's Pet model, served by
// the same blueprint routes and pub/sub as in Sails (srv.Model), and its token policy. It plays the
// part of an httptest.Server with a handler.
type petAPI struct {
	srv *mockserver.Server
	pet *mockserver.Model
}

// newPetAPI starts the fake app; it is closed when the test ends.
func newPetAPI(t *testing.T) *petAPI {
	srv := mockserver.NewT(t)
	// api/models/Pet.js: {name: {type: 'string', required: true}}, with the default blueprints:
	// GET /pet (find, watches the model), GET /pet/:id, POST /pet, PATCH /pet/:id, DELETE /pet/:id.
	api := &petAPI{srv: srv, pet: srv.Model("pet", mockserver.Required("name"))}

	// A policy on "/pet" and "/pet/:id", like config/policies.js: no header at all is refused with
	// 403 (Sails' res.forbidden), a token that is not the right one with 401.
	srv.Policy("/pet/:id?", func(req *mockserver.Request, res *mockserver.Response, next func()) {
		switch req.Get("authorization") {
		case "Bearer " + token:
			next()
		case "":
			res.Forbidden(map[string]string{"error": "no token"})
		default:
			res.Status(401).JSON(map[string]string{"error": "bad token"})
		}
	})
	return api
}

// stored returns the pets the fake app holds.
func (api *petAPI) stored() map[int]petclient.Pet {
	m := map[int]petclient.Pet{}
	for _, r := range api.pet.Records() {
		id := int(r["id"].(float64))
		m[id] = petclient.Pet{ID: id, Name: r["name"].(string)}
	}
	return m
}

// change makes a change over plain HTTP, as another part of the system would (an admin page, a
// script): the blueprints publish it to the sockets subscribed to the record.
func (api *petAPI) change(t *testing.T, method, path string, data any) {
	t.Helper()
	body, _ := json.Marshal(data)
	req, err := http.NewRequest(method, api.srv.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := api.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}

// connect connects a socket to the fake app; it is disconnected when the test ends.
func connect(t *testing.T, api *petAPI, opts ...sailsio.Option) *sailsio.SailsSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, api.srv.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Disconnect() })
	return s
}

// testContext is a context bounded well below the test timeout.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// collect returns a WatchPets callback that forwards events to a channel.
func collect() (chan petclient.PetEvent, func(petclient.PetEvent)) {
	ch := make(chan petclient.PetEvent, 16)
	return ch, func(ev petclient.PetEvent) { ch <- ev }
}

// nextEvent waits for the next event, failing the test after 5s.
func nextEvent(t *testing.T, ch <-chan petclient.PetEvent) petclient.PetEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no pet event within 5s")
		return petclient.PetEvent{}
	}
}

func TestAdoptPet(t *testing.T) {
	api := newPetAPI(t)
	c := petclient.New(connect(t, api), petclient.Config{Token: token})

	pet, err := c.AdoptPet(testContext(t), "Rex")
	if err != nil {
		t.Fatal(err)
	}
	if want := (petclient.Pet{ID: 1, Name: "Rex"}); pet != want {
		t.Errorf("AdoptPet = %+v, want %+v", pet, want)
	}
	if got := api.stored(); !reflect.DeepEqual(got, map[int]petclient.Pet{1: pet}) {
		t.Errorf("the server stored %+v", got)
	}
}

func TestAuthErrors(t *testing.T) {
	api := newPetAPI(t)
	s := connect(t, api)
	for _, tc := range []struct {
		token string
		want  error
	}{
		{"", petclient.ErrForbidden},             // no authorization header: the policy answers 403
		{"guess", petclient.ErrUnauthorized},     // a wrong token: 401
		{token, nil},                             // the right one goes through to the handler
		{token + "x", petclient.ErrUnauthorized}, // (one socket, a header per request)
	} {
		_, err := petclient.New(s, petclient.Config{Token: tc.token}).AdoptPet(testContext(t), "Rex")
		if !errors.Is(err, tc.want) {
			t.Errorf("token %q: err = %v, want %v", tc.token, err, tc.want)
		}
	}
	if n := len(api.stored()); n != 1 {
		t.Errorf("the server stored %d pets, want 1", n)
	}
}

func TestPet(t *testing.T) {
	api := newPetAPI(t)
	c := petclient.New(connect(t, api), petclient.Config{Token: token})
	ctx := testContext(t)
	rex, err := c.AdoptPet(ctx, "Rex")
	if err != nil {
		t.Fatal(err)
	}

	got, err := c.Pet(ctx, rex.ID) // GET /pet/1, routed to "GET /pet/:id"
	if err != nil || got != rex {
		t.Errorf("Pet(%d) = %+v, %v; want %+v", rex.ID, got, err, rex)
	}
	if _, err := c.Pet(ctx, 42); !errors.Is(err, petclient.ErrNotFound) {
		t.Errorf("Pet(42): err = %v, want ErrNotFound", err)
	}
}

func TestWatchPets(t *testing.T) {
	api := newPetAPI(t)
	ctx := testContext(t)
	watcher := petclient.New(connect(t, api), petclient.Config{Token: token})
	adopter := petclient.New(connect(t, api), petclient.Config{Token: token})
	if _, err := adopter.AdoptPet(ctx, "Rex"); err != nil {
		t.Fatal(err)
	}

	events, fn := collect()
	pets, stop, err := watcher.WatchPets(ctx, fn)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if want := []petclient.Pet{{ID: 1, Name: "Rex"}}; !reflect.DeepEqual(pets, want) {
		t.Errorf("WatchPets listed %+v, want %+v", pets, want)
	}

	// Another socket adopts a pet: the app's handler publishes the creation to the watcher.
	if _, err := adopter.AdoptPet(ctx, "Tom"); err != nil {
		t.Fatal(err)
	}
	// Changes made elsewhere (over HTTP): the blueprints tell the sockets subscribed to the record,
	// and the watcher was subscribed to Tom when he was created.
	api.change(t, "PATCH", "/pet/2", map[string]string{"name": "Thomas"})
	api.change(t, "DELETE", "/pet/2", nil)

	want := []petclient.PetEvent{
		{Verb: petclient.VerbCreated, ID: 2, Pet: petclient.Pet{ID: 2, Name: "Tom"}},
		{Verb: petclient.VerbUpdated, ID: 2, Pet: petclient.Pet{ID: 2, Name: "Thomas"}},
		{Verb: petclient.VerbDestroyed, ID: 2},
	}
	for i, w := range want {
		if got := nextEvent(t, events); !reflect.DeepEqual(got, w) {
			t.Errorf("event %d = %+v, want %+v", i, got, w)
		}
	}

	// After stop, events are no longer reported.
	stop()
	api.change(t, "PATCH", "/pet/1", map[string]string{"name": "Rex II"})
	// The push reaches the socket before the answer to a request sent after it.
	if _, err := watcher.Pet(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		t.Errorf("event after stop: %+v", ev)
	default:
	}
}

// A dropped connection: the socket reconnects by itself, and WatchPets watches again and
// reports the pets as they are now.
func TestWatchPetsAfterDroppedConnection(t *testing.T) {
	api := newPetAPI(t)
	ctx := testContext(t)
	s := connect(t, api, sailsio.WithReconnectionDelay(10*time.Millisecond, 50*time.Millisecond))
	c := petclient.New(s, petclient.Config{Token: token})
	events, fn := collect()
	if _, _, err := c.WatchPets(ctx, fn); err != nil {
		t.Fatal(err)
	}

	api.srv.DropConnections() // as a crashed server or a broken network would

	ev := nextEvent(t, events)
	if ev.Verb != petclient.VerbResync || ev.Err != nil || len(ev.Pets) != 0 {
		t.Fatalf("after the drop: %+v, want a resync with no pets", ev)
	}
	// The new connection watches the model again.
	if _, err := petclient.New(connect(t, api), petclient.Config{Token: token}).AdoptPet(ctx, "Rex"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, events); ev.Verb != petclient.VerbCreated || ev.Pet.Name != "Rex" {
		t.Errorf("after the resync: %+v, want Rex created", ev)
	}
}

// A slow server and a short deadline: the caller gets the context's error; the connection stays
// usable. The pet was adopted anyway: a timeout says nothing about what the server did.
func TestAdoptPetTimeout(t *testing.T) {
	api := newPetAPI(t)
	c := petclient.New(connect(t, api), petclient.Config{Token: token})

	api.srv.SetDelay(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.AdoptPet(ctx, "Rex"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}

	api.srv.SetDelay(0)
	pet, err := c.AdoptPet(testContext(t), "Tom")
	if err != nil {
		t.Fatal(err)
	}
	if pet.ID != 2 {
		t.Errorf("second pet has id %d, want 2 (the first was stored despite the timeout)", pet.ID)
	}
}

// Without reconnection, a lost connection makes every later request fail at once with an error
// wrapping sailsio.ErrDisconnected, which the caller can tell apart from the API's errors.
func TestAdoptPetDisconnected(t *testing.T) {
	api := newPetAPI(t)
	s := connect(t, api, sailsio.WithReconnection(false))
	lost := make(chan struct{})
	s.On(sailsio.EventDisconnect, func(json.RawMessage) { close(lost) })

	api.srv.DropConnections()
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the socket did not notice the drop within 5s")
	}

	_, err := petclient.New(s, petclient.Config{Token: token}).AdoptPet(testContext(t), "Rex")
	if !errors.Is(err, sailsio.ErrDisconnected) {
		t.Errorf("err = %v, want sailsio.ErrDisconnected", err)
	}
}
