// Command chat is a room chat between two sockets, "alice" and "bob": both join a room, each
// says a line, and each prints the chat messages it receives. It shows sails.sockets.join and
// sails.sockets.broadcast from the client's side, and exits once every expected message arrived
// (or fails after a bounded wait).
//
// With no flags it starts an embedded mockserver with the two routes it needs, so it needs
// nothing else:
//
//	go run ./examples/chat
//
// With -url it talks to a real Sails app with these routes instead:
//
//	POST /rooms/:room/join        joins the requesting socket to the room (sails.sockets.join)
//	POST /rooms/:room/say {text}  broadcasts event "chat" {room, text, from} to the room, the
//	                              sender included, where from is the sender's socket id
//
// The app under testdata/sails has them (see its README to start one):
//
//	go run ./examples/chat -url http://127.0.0.1:1337 -eio 4
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

// waitTimeout bounds the wait for each expected chat message.
const waitTimeout = 10 * time.Second

func main() {
	rawURL := flag.String("url", "", "a Sails app to talk to (default: an embedded mockserver)")
	eio := flag.Int("eio", 3, "Engine.IO protocol: 3 (every Sails 1.x) or 4 (sails-hook-sockets 3.x)")
	room := flag.String("room", "lobby", "the room to chat in")
	flag.Parse()
	if *eio != 3 && *eio != 4 {
		fmt.Fprintln(os.Stderr, "chat: -eio must be 3 or 4")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := run(ctx, os.Stdout, *rawURL, sailsio.Protocol(*eio), *room)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// chatMessage is the payload of a "chat" event.
type chatMessage struct {
	Room string `json:"room"`
	Text string `json:"text"`
	From string `json:"from"` // the sender's socket id (null, so "", when sent over HTTP)
}

// user is one chatting socket and the messages it received, in arrival order.
type user struct {
	name  string
	s     *sailsio.SailsSocket
	inbox chan chatMessage
}

// run connects alice and bob to the app at rawURL (an embedded mockserver when it is ""), has
// them join room and say a line each, and writes what happens to out: a transcript that is the
// same on every run, but for the embedded server's address on the first line. ctx bounds it all.
func run(ctx context.Context, out io.Writer, rawURL string, proto sailsio.Protocol, room string) error {
	if rawURL == "" {
		srv := startMock()
		defer srv.Close()
		rawURL = srv.URL()
		fmt.Fprintln(out, "started an embedded mockserver at", rawURL)
	}

	alice, err := connect(ctx, rawURL, proto, "alice")
	if err != nil {
		return err
	}
	defer alice.s.Disconnect()
	bob, err := connect(ctx, rawURL, proto, "bob")
	if err != nil {
		return err
	}
	defer bob.s.Disconnect()
	users := []*user{alice, bob}
	names := map[string]string{} // socket id -> name, to show who sent a message
	for _, u := range users {
		if err := join(ctx, u, room); err != nil {
			return err
		}
		names[u.s.ID()] = u.name
		fmt.Fprintf(out, "%s connected (EIO%d) and joined %q\n", u.name, proto, room)
	}

	lines := []struct {
		from *user
		text string
	}{
		{alice, "Hi Bob!"},
		{bob, "Hello Alice, how are you?"},
	}
	for _, line := range lines {
		fmt.Fprintf(out, "%s says: %s\n", line.from.name, line.text)
		err := post(ctx, line.from, "/rooms/"+url.PathEscape(room)+"/say", map[string]string{"text": line.text})
		if err != nil {
			return err
		}
		// Everyone in the room gets it, the sender included. Wait for it in a fixed order, so that
		// the transcript does not depend on which socket happened to receive it first.
		for _, u := range users {
			if err := expect(ctx, out, u, room, line.from, line.text, names); err != nil {
				return err
			}
		}
	}
	return nil
}

// connect connects a socket for name and starts collecting its chat messages.
func connect(ctx context.Context, rawURL string, proto sailsio.Protocol, name string) (*user, error) {
	u := &user{name: name, inbox: make(chan chatMessage, 64)}
	s, err := sailsio.New(rawURL, sailsio.WithProtocol(proto))
	if err != nil {
		return nil, err
	}
	// Registered before connecting, so no message can be missed.
	s.On("chat", func(data json.RawMessage) {
		var m chatMessage
		if json.Unmarshal(data, &m) != nil {
			return
		}
		select {
		case u.inbox <- m:
		default: // nobody reads any more: drop rather than block the socket's callbacks
		}
	})
	if err := s.Connect(ctx); err != nil {
		s.Disconnect()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	u.s = s
	return u, nil
}

// join puts u in room, now and again after every reconnection: Sails forgets the rooms of a socket
// that reconnects (it is a new socket to the server), so the join is a resubscription. It waits
// for the first join's answer.
func join(ctx context.Context, u *user, room string) error {
	path := "/rooms/" + url.PathEscape(room) + "/join"
	first := make(chan error, 1)
	u.s.Resubscribe(sailsio.RequestOptions{Method: "post", URL: path}, func(_ json.RawMessage, jwr *sailsio.JWRes) {
		select {
		case first <- jwr.Error: // the first answer; later ones come after reconnections
		default:
		}
	})
	select {
	case err := <-first:
		if err != nil {
			return fmt.Errorf("%s: POST %s: %w", u.name, path, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: POST %s: %w", u.name, path, ctx.Err())
	}
}

// post sends a POST as u and wants a 2xx or 3xx answer.
func post(ctx context.Context, u *user, path string, data any) error {
	jwr, err := u.s.PostContext(ctx, path, data)
	if err != nil {
		return fmt.Errorf("%s: POST %s: %w", u.name, path, err)
	}
	if jwr.Error != nil {
		return fmt.Errorf("%s: POST %s: %w", u.name, path, jwr.Error)
	}
	return nil
}

// expect prints the messages u receives until the one from sender with text arrives, or fails
// after waitTimeout. Messages from other clients in the room are printed too.
func expect(ctx context.Context, out io.Writer, u *user, room string, sender *user, text string, names map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	for {
		select {
		case m := <-u.inbox:
			from, ok := names[m.From]
			if !ok {
				from = "someone else (" + m.From + ")"
			}
			fmt.Fprintf(out, "%s received in %s from %s: %s\n", u.name, m.Room, from, m.Text)
			if m.Room == room && m.From == sender.s.ID() && m.Text == text {
				return nil
			}
		case <-ctx.Done():
			err := ctx.Err()
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("no message from %s within %v", sender.name, waitTimeout)
			}
			return fmt.Errorf("%s waiting for %q: %w", u.name, text, err)
		}
	}
}

// startMock starts a mockserver with the two routes of the chat, written as the Sails actions
// would be.
func startMock() *mockserver.Server {
	srv := mockserver.New()
	srv.Handle("POST /rooms/:room/join", func(req *mockserver.Request, res *mockserver.Response) {
		if !req.IsSocket {
			res.BadRequest(map[string]string{"error": "not a socket"})
			return
		}
		room := req.Params["room"]
		srv.Join(req.SocketID, room) // sails.sockets.join(req, room)
		res.JSON(map[string]string{"joined": room, "id": req.SocketID})
	})
	srv.Handle("POST /rooms/:room/say", func(req *mockserver.Request, res *mockserver.Response) {
		room := req.Params["room"]
		var from any // null over HTTP
		if req.IsSocket {
			from = req.SocketID // sails.sockets.getId(req)
		}
		// sails.sockets.broadcast(room, 'chat', ...): every socket in the room, the sender included.
		srv.Broadcast(room, "chat", map[string]any{"room": room, "text": req.Param("text"), "from": from})
		res.JSON(map[string]bool{"sent": true})
	})
	return srv
}
