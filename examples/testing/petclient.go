// Package petclient is a small piece of "user code" built on sailsio: a client for the pet API of
// a Sails app. It is here to show how such code is tested with mockserver, the way code that uses
// net/http is tested with httptest (see petclient_test.go and README.md).
//
// It talks to the app's REST blueprints for a Pet model over a socket:
//
//	POST /pet {name}   adopt a pet (AdoptPet)
//	GET  /pet/:id      fetch one (Pet)
//	GET  /pet          list them, and have Sails watch the model for this socket (WatchPets)
//
// Every request carries an "authorization: Bearer <token>" header taken from Config. Statuses
// 401, 403 and 404 become this package's own errors, so callers never look at status codes; when
// no answer came (the context ended, the connection was lost: sailsio.ErrDisconnected ...) the
// error wraps the reason.
package petclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/sailsio-go/sailsio"
)

// Errors returned by Client methods for the statuses the pet API answers; test with errors.Is.
var (
	ErrUnauthorized = errors.New("petclient: unauthorized (401): the token was refused")
	ErrForbidden    = errors.New("petclient: forbidden (403)")
	ErrNotFound     = errors.New("petclient: no such pet (404)")
)

// Pet is a pet as the API sends it.
type Pet struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// Verbs of a PetEvent. The first three are the verbs of Sails' resourceful pub/sub.
const (
	VerbCreated   = "created"
	VerbUpdated   = "updated"
	VerbDestroyed = "destroyed"
	// VerbResync is this package's own: the socket reconnected and the pets were listed again,
	// because Sails forgets the subscriptions of a lost connection and events may have been missed.
	VerbResync = "resync"
)

// PetEvent is what WatchPets reports.
type PetEvent struct {
	Verb string // VerbCreated, VerbUpdated, VerbDestroyed or VerbResync
	ID   int    // the pet concerned (not for VerbResync)
	Pet  Pet    // created, updated: the pet as sent (for updated, only the changed fields may be set)
	Pets []Pet  // resync: every pet, as listed again after the reconnection
	Err  error  // resync: why the pets could not be listed again (the watch is then lost)
}

// Config is what a Client needs besides its socket.
type Config struct {
	Token string // the API token, sent as "authorization: Bearer <token>"; "" sends no header
}

// Client is a pet API client. It is safe for concurrent use.
type Client struct {
	s   *sailsio.SailsSocket
	cfg Config
}

// New returns a Client that sends its requests on s. The caller owns s (and disconnects it).
func New(s *sailsio.SailsSocket, cfg Config) *Client {
	return &Client{s: s, cfg: cfg}
}

// AdoptPet creates a pet named name and returns it as the server stored it.
func (c *Client) AdoptPet(ctx context.Context, name string) (Pet, error) {
	var p Pet
	err := c.do(ctx, "post", "/pet", map[string]string{"name": name}, &p)
	return p, err
}

// Pet returns the pet with the given id, or an error wrapping ErrNotFound.
func (c *Client) Pet(ctx context.Context, id int) (Pet, error) {
	var p Pet
	err := c.do(ctx, "get", "/pet/"+strconv.Itoa(id), nil, &p)
	return p, err
}

// WatchPets lists the pets and asks Sails to tell this socket about every pet created, updated
// or destroyed from then on (a socket GET /pet does that with blueprints' autoWatch). It returns
// the current pets once the watch is in place; fn is then called with every event, one at a time
// and in order, until ctx ends or stop is called. Events caused by this socket's own requests are
// not reported (Sails omits the requesting socket).
//
// Sails forgets the watch of a lost connection. So on every new connection of the socket (an
// automatic reconnection, or Reconnect) WatchPets lists the pets again and reports a VerbResync
// event with the fresh list, or with Err set if that failed: events may have been missed meanwhile.
func (c *Client) WatchPets(ctx context.Context, fn func(PetEvent)) (pets []Pet, stop func(), err error) {
	if err := c.do(ctx, "get", "/pet", nil, &pets); err != nil {
		return nil, nil, err
	}
	var stopped atomic.Bool
	report := func(ev PetEvent) {
		if !stopped.Load() {
			fn(ev)
		}
	}
	offEvents := c.s.On("pet", func(data json.RawMessage) {
		var msg struct {
			Verb string `json:"verb"`
			ID   int    `json:"id"`
			Data Pet    `json:"data"`
		}
		if json.Unmarshal(data, &msg) != nil {
			return // not a pet event we understand
		}
		switch msg.Verb {
		case VerbCreated, VerbUpdated:
			msg.Data.ID = msg.ID
			report(PetEvent{Verb: msg.Verb, ID: msg.ID, Pet: msg.Data})
		case VerbDestroyed:
			report(PetEvent{Verb: msg.Verb, ID: msg.ID})
		}
	})
	// Any connect from now on is a new connection: an automatic reconnection or Reconnect.
	offReconnect := c.s.On(sailsio.EventConnect, func(json.RawMessage) {
		// On the callback goroutine: send the request io.socket style rather than block here.
		c.s.Request(c.request("get", "/pet", nil), func(_ json.RawMessage, jwr *sailsio.JWRes) {
			var fresh []Pet
			err := decode(jwr, nil, &fresh)
			report(PetEvent{Verb: VerbResync, Pets: fresh, Err: err})
		})
	})
	stop = func() {
		if !stopped.Swap(true) {
			offEvents()
			offReconnect()
		}
	}
	context.AfterFunc(ctx, stop)
	return pets, stop, nil
}

// request builds a virtual request carrying the auth header.
func (c *Client) request(method, url string, data any) sailsio.RequestOptions {
	opts := sailsio.RequestOptions{Method: method, URL: url, Data: data}
	if c.cfg.Token != "" {
		opts.Headers = map[string]string{"authorization": "Bearer " + c.cfg.Token}
	}
	return opts
}

// do sends a request, waits for the answer and decodes it into out.
func (c *Client) do(ctx context.Context, method, url string, data, out any) error {
	jwr, err := c.s.Do(ctx, c.request(method, url, data))
	return decode(jwr, err, out)
}

// decode turns an answer (or its absence) into the package's errors and decodes the body.
func decode(jwr *sailsio.JWRes, err error, out any) error {
	if err == nil && jwr.StatusCode == 0 { // a callback's "no response": the reason is in jwr.Error
		err = jwr.Error
	}
	if err != nil {
		// No answer: the context ended, the socket is disconnected (sailsio.ErrDisconnected) ...
		return fmt.Errorf("petclient: no answer: %w", err)
	}
	switch jwr.StatusCode {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrNotFound
	}
	if jwr.Error != nil { // any other status outside 200..399: a *sailsio.StatusError
		return fmt.Errorf("petclient: %w", jwr.Error)
	}
	if err := jwr.Decode(out); err != nil {
		return fmt.Errorf("petclient: bad answer: %w", err)
	}
	return nil
}
