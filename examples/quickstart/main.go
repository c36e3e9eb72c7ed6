// Command quickstart shows sailsio in one minute: it connects a socket, sends a GET and a POST in
// both styles (io.socket callbacks and blocking Go calls), updates and destroys a record, receives
// the model's pushed events as typed ModelEvents (OnModel) on a second socket, and exits.
//
// With no flags it starts an embedded mockserver, so it needs nothing else:
//
//	go run ./examples/quickstart
//
// With -url it talks to a real Sails app instead. It uses the REST blueprints of a model (default
// "user"): GET /user/1, GET /user (which subscribes the socket to the model's events), POST /user,
// PATCH /user/:id and DELETE /user/:id.
// The app under testdata/sails has a "pet" model:
//
//	go run ./examples/quickstart -url http://localhost:1337 -model pet
//
// -transports picks the transports as sails.io.js' transports option does: "websocket" (the
// default), "polling", or "polling,websocket" (HTTP long-polling, then the upgrade to websocket).
// The embedded mockserver accepts both; a real Sails app must list them in
// sails.config.sockets.transports.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

func main() {
	rawURL := flag.String("url", "", "a Sails app to talk to (default: an embedded mockserver)")
	proto := flag.Int("eio", 3, "Engine.IO protocol: 3 (every Sails 1.x) or 4 (sails-hook-sockets 3.x)")
	model := flag.String("model", "user", "the model whose blueprints to use")
	transports := flag.String("transports", "websocket", `"websocket", "polling" or "polling,websocket"`)
	flag.Parse()
	trs, err := parseTransports(*transports)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(2)
	}
	if err := run(*rawURL, sailsio.Protocol(*proto), *model, trs); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// parseTransports reads a comma list of transport names.
func parseTransports(list string) ([]sailsio.Transport, error) {
	var trs []sailsio.Transport
	for _, name := range strings.Split(list, ",") {
		switch strings.TrimSpace(name) {
		case "websocket":
			trs = append(trs, sailsio.TransportWebSocket)
		case "polling":
			trs = append(trs, sailsio.TransportPolling)
		default:
			return nil, fmt.Errorf("-transports: unknown transport %q (want websocket or polling)", name)
		}
	}
	return trs, nil
}

func run(rawURL string, proto sailsio.Protocol, model string, trs []sailsio.Transport) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if rawURL == "" {
		srv := startMock(model)
		defer srv.Close()
		rawURL = srv.URL()
		fmt.Println("started an embedded mockserver at", rawURL)
	}

	s, err := sailsio.New(rawURL, sailsio.WithProtocol(proto), sailsio.WithTransports(trs...))
	if err != nil {
		return err
	}
	upgraded := make(chan string, 1)
	s.On(sailsio.EventUpgrade, func(json.RawMessage) { upgraded <- "upgraded to websocket" })
	s.On(sailsio.EventUpgradeError, func(d json.RawMessage) { upgraded <- "upgrade failed: " + string(d) })
	if err := s.Connect(ctx); err != nil {
		return err
	}
	defer s.Disconnect()
	fmt.Printf("connected with EIO%d over %v, socket id %s\n", proto, s.Transport(), s.ID())

	// Server-pushed events: resourceful pub/sub sends the model identity as the event name. Sails
	// tells every socket watching the model about a creation, except the creating socket: so a
	// second socket watches.
	watcher, err := sailsio.Connect(ctx, rawURL, sailsio.WithProtocol(proto), sailsio.WithTransports(trs...))
	if err != nil {
		return err
	}
	defer watcher.Disconnect()
	events := make(chan sailsio.ModelEvent[record], 16)
	sailsio.OnModel(watcher, model, func(ev sailsio.ModelEvent[record]) {
		select {
		case events <- ev:
		default: // never block the socket's callbacks
		}
	})
	sub, err := watcher.GetContext(ctx, "/"+model, nil) // subscribes the watcher
	if err != nil {
		return err
	}
	if sub.StatusCode >= 400 { // no subscription: no event will come, so say why now
		return fmt.Errorf("GET /%s answered %d: the watcher is not subscribed to the %s model (the app needs its blueprint REST routes, and policies that let this socket in): %v",
			model, sub.StatusCode, model, sub.Error)
	}

	// 1. io.socket style: returns at once; the callback runs exactly once.
	done := make(chan struct{})
	s.Get("/"+model+"/1", nil, func(body json.RawMessage, jwr *sailsio.JWRes) {
		fmt.Printf("callback GET /%s/1 -> %d %s\n", model, jwr.StatusCode, body)
		close(done)
	})
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}

	// 2. Go style: blocks until the response; a status code is data, not an error.
	jwr, err := s.GetContext(ctx, "/"+model, nil)
	if err != nil {
		return err
	}
	fmt.Printf("blocking GET /%s -> %d %s\n", model, jwr.StatusCode, jwr.Body)

	posted := make(chan struct{})
	s.Post("/"+model, map[string]string{"name": "Grace"}, func(body json.RawMessage, jwr *sailsio.JWRes) {
		fmt.Printf("callback POST /%s -> %d %s\n", model, jwr.StatusCode, body)
		close(posted)
	})
	select {
	case <-posted:
	case <-ctx.Done():
		return ctx.Err()
	}

	// 3. Typed: DoJSON decodes a 2xx body (any other status is a *StatusError).
	alan, jwr, err := sailsio.DoJSON[record](ctx, s, sailsio.RequestOptions{Method: "post", URL: "/" + model, Data: map[string]string{"name": "Alan"}})
	if err != nil {
		return err
	}
	fmt.Printf("typed POST /%s -> %d, id %s, name %s\n", model, jwr.StatusCode, alan.ID, alan.Name)
	id := strings.Trim(string(alan.ID), `"`)
	if _, _, err := sailsio.DoJSON[record](ctx, s, sailsio.RequestOptions{Method: "patch", URL: "/" + model + "/" + id, Data: map[string]string{"name": "Alan Turing"}}); err != nil {
		return err
	}
	if _, _, err := sailsio.DoJSON[record](ctx, s, sailsio.RequestOptions{Method: "delete", URL: "/" + model + "/" + id}); err != nil {
		return err
	}

	// 4. The pushed events, on the watching socket: created (Grace, Alan), updated and destroyed.
	timeout := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-events:
			switch ev.Verb {
			case "created":
				fmt.Printf("watcher got %s %s %s: %s\n", model, ev.Verb, ev.ID, ev.Data.Name)
			case "updated":
				fmt.Printf("watcher got %s %s %s: %s -> %s\n", model, ev.Verb, ev.ID, previousName(ev), ev.Data.Name)
			case "destroyed":
				fmt.Printf("watcher got %s %s %s: %s\n", model, ev.Verb, ev.ID, previousName(ev))
				done = string(ev.ID) == string(alan.ID)
			default:
				fmt.Printf("watcher got %s %s %s\n", model, ev.Verb, ev.ID)
			}
		case <-timeout:
			return fmt.Errorf("the watcher got no %s destroyed event within 10s", model)
		}
	}
	if len(trs) > 1 && trs[0] == sailsio.TransportPolling {
		select {
		case msg := <-upgraded:
			fmt.Println(msg)
		case <-time.After(10 * time.Second):
			return fmt.Errorf("no upgrade within 10s")
		}
	}
	fmt.Printf("now on %v\n", s.Transport())
	return nil
}

// record is what the quickstart reads of a model's records.
type record struct {
	ID   json.RawMessage `json:"id"` // a number with the default primary key, a string with others
	Name string          `json:"name"`
}

// previousName is the name of the record before an update or a destroy, when Sails sent it.
func previousName(ev sailsio.ModelEvent[record]) string {
	if ev.Previous == nil {
		return "?"
	}
	return ev.Previous.Name
}

// startMock starts a mockserver with the blueprint REST routes and pub/sub of model, as a Sails app
// with that model and the default blueprints serves them, seeded with one record.
func startMock(model string) *mockserver.Server {
	srv := mockserver.New(mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))
	srv.Model(model, mockserver.Required("name")).Create(map[string]any{"name": "Ada"})
	return srv
}
