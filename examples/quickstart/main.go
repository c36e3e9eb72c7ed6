// Command quickstart shows sailsio in one minute: it connects a socket, sends a GET and a POST in
// both styles (io.socket callbacks and blocking Go calls), receives a pushed event, and exits.
//
// With no flags it starts an embedded mockserver, so it needs nothing else:
//
//	go run ./examples/quickstart
//
// With -url it talks to a real Sails app instead. It uses the REST blueprints of a model (default
// "user"): GET /user/1, GET /user (which subscribes the socket to the model's events) and POST /user.
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
	created := make(chan json.RawMessage, 1)
	watcher.On(model, func(data json.RawMessage) {
		select {
		case created <- data:
		default:
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

	jwr, err = s.PostContext(ctx, "/"+model, map[string]string{"name": "Alan"})
	if err != nil {
		return err
	}
	fmt.Printf("blocking POST /%s -> %d %s\n", model, jwr.StatusCode, jwr.Body)

	// 3. The pushed event, on the watching socket.
	select {
	case data := <-created:
		fmt.Printf("watcher got event %s: %s\n", model, data)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("the watcher got no %s event within 10s", model)
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

// startMock starts a mockserver with the blueprint REST routes and pub/sub of model, as a Sails app
// with that model and the default blueprints serves them, seeded with one record.
func startMock(model string) *mockserver.Server {
	srv := mockserver.New(mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))
	srv.Model(model, mockserver.Required("name")).Create(map[string]any{"name": "Ada"})
	return srv
}
