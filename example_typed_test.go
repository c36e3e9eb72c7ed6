package sailsio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

// User is the record type of the typed examples.
type User struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func ExampleDoJSON() {
	srv := mockserver.New()
	defer srv.Close()
	srv.Handle("GET /user/:id", func(req *mockserver.Request, res *mockserver.Response) {
		if req.Param("id") != "3" {
			res.NotFound(nil)
			return
		}
		res.JSON(map[string]any{"id": 3, "name": "Ada"})
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL())
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer s.Disconnect()

	// A 2xx body decodes into the type asked for.
	u, jwr, err := sailsio.DoJSON[User](ctx, s, sailsio.RequestOptions{URL: "/user/3"})
	fmt.Println(u.Name, jwr.StatusCode, err)

	// Any other status is an error: a *StatusError, with the JWRes.
	_, jwr, err = sailsio.DoJSON[User](ctx, s, sailsio.RequestOptions{URL: "/user/4"})
	var se *sailsio.StatusError
	fmt.Println(errors.As(err, &se), se.StatusCode, jwr.StatusCode)

	// A body that does not decode into the type: ErrDecode, with the JWRes.
	_, _, err = sailsio.DoJSON[[]User](ctx, s, sailsio.RequestOptions{URL: "/user/3"})
	fmt.Println(errors.Is(err, sailsio.ErrDecode))
	// Output:
	// Ada 200 <nil>
	// true 404 404
	// true
}

func ExampleOnJSON() {
	srv := mockserver.New()
	defer srv.Close()
	srv.Handle("POST /hello", func(req *mockserver.Request, res *mockserver.Response) {
		srv.Emit(req.SocketID, "user", map[string]any{"id": 1, "name": "Ada"})
		srv.Emit(req.SocketID, "user", "not a user") // dropped, and logged with WithLogger
		srv.Emit(req.SocketID, "user", map[string]any{"id": 2, "name": "Bob"})
		res.OK(nil)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL())
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer s.Disconnect()

	users := make(chan User, 2)
	off := sailsio.OnJSON(s, "user", func(u User) { users <- u })
	defer off()
	if _, err := s.PostContext(ctx, "/hello", nil); err != nil {
		fmt.Println("hello:", err)
		return
	}
	for range 2 {
		select {
		case u := <-users:
			fmt.Println(u.ID, u.Name)
		case <-ctx.Done():
			fmt.Println("no user")
			return
		}
	}
	// Output:
	// 1 Ada
	// 2 Bob
}

func ExampleSailsSocket_OnAny() {
	srv := mockserver.New()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL())
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer s.Disconnect()

	// Every server event, whatever its name (lifecycle events such as "disconnect" do not come here).
	events := make(chan string, 2)
	off := s.OnAny(func(event string, data json.RawMessage) { events <- event + " " + string(data) })
	defer off()
	srv.Emit(s.ID(), "news", map[string]string{"title": "hello"})
	srv.Emit(s.ID(), "count", 3)
	for range 2 {
		select {
		case e := <-events:
			fmt.Println(e)
		case <-ctx.Done():
			fmt.Println("no event")
			return
		}
	}
	// Output:
	// news {"title":"hello"}
	// count 3
}

// Pet is the record type of the OnModel example: a Sails model's attributes.
type Pet struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func ExampleOnModel() {
	// The mockserver's blueprint model publishes as a Sails model with the blueprints does.
	srv := mockserver.New()
	defer srv.Close()
	srv.Model("pet", mockserver.Required("name"))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	watcher, err := sailsio.Connect(ctx, srv.URL())
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer watcher.Disconnect()
	other, err := sailsio.Connect(ctx, srv.URL())
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer other.Disconnect()

	events := make(chan sailsio.ModelEvent[Pet], 3)
	off := sailsio.OnModel(watcher, "pet", func(ev sailsio.ModelEvent[Pet]) { events <- ev })
	defer off()
	// A blueprint find over the socket watches the model: the socket hears of new records and of
	// the changes to them (made by other sockets).
	if _, _, err := sailsio.DoJSON[[]Pet](ctx, watcher, sailsio.RequestOptions{URL: "/pet"}); err != nil {
		fmt.Println("find:", err)
		return
	}
	rex, _, err := sailsio.DoJSON[Pet](ctx, other, sailsio.RequestOptions{Method: "post", URL: "/pet", Data: map[string]any{"name": "Rex"}})
	if err != nil {
		fmt.Println("create:", err)
		return
	}
	id := fmt.Sprint(rex.ID)
	if _, err := other.PatchContext(ctx, "/pet/"+id, map[string]any{"name": "Max"}); err != nil {
		fmt.Println("update:", err)
		return
	}
	if _, err := other.DeleteContext(ctx, "/pet/"+id, nil); err != nil {
		fmt.Println("destroy:", err)
		return
	}
	for range 3 {
		select {
		case ev := <-events:
			switch ev.Verb {
			case "created":
				fmt.Println(ev.Verb, string(ev.ID), ev.Data.Name)
			case "updated":
				fmt.Println(ev.Verb, string(ev.ID), ev.Previous.Name, "->", ev.Data.Name)
			case "destroyed":
				fmt.Println(ev.Verb, string(ev.ID), ev.Previous.Name)
			}
		case <-ctx.Done():
			fmt.Println("no event")
			return
		}
	}
	// Output:
	// created 1 Rex
	// updated 1 Rex -> Max
	// destroyed 1 Max
}
