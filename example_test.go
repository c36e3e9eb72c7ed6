package sailsio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

// The examples talk to an embedded mockserver, an in-process Sails-like server; with a real Sails
// app, pass its URL (for example "http://localhost:1337") instead of srv.URL().

func ExampleConnect() {
	srv := mockserver.New()
	defer srv.Close()
	srv.Handle("GET /hello", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]string{"hello": "world"})
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL())
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer s.Disconnect()

	jwr, err := s.GetContext(ctx, "/hello", nil)
	if err != nil {
		fmt.Println("request:", err)
		return
	}
	fmt.Println(s.IsConnected(), jwr.StatusCode, string(jwr.Body))
	// Output: true 200 {"hello":"world"}
}

func ExampleSailsSocket_Get() {
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

	// Get returns at once; the callback is called exactly once, on the socket's callback goroutine.
	done := make(chan struct{})
	s.Get("/user/3", nil, func(body json.RawMessage, jwr *sailsio.JWRes) {
		fmt.Println(jwr.StatusCode, string(body))
		close(done)
	})
	select {
	case <-done:
	case <-ctx.Done():
		fmt.Println("no response")
		return
	}

	// A status outside 200..399 is a response too: jwr.Error is a *StatusError.
	done = make(chan struct{})
	s.Get("/user/4", nil, func(body json.RawMessage, jwr *sailsio.JWRes) {
		var se *sailsio.StatusError
		fmt.Println(jwr.StatusCode, string(body), errors.As(jwr.Error, &se))
		close(done)
	})
	select {
	case <-done:
	case <-ctx.Done():
		fmt.Println("no response")
	}
	// Output:
	// 200 {"id":3,"name":"Ada"}
	// 404 "Not Found" true
}

func ExampleSailsSocket_Do() {
	srv := mockserver.New()
	defer srv.Close()
	srv.Handle("POST /user", func(req *mockserver.Request, res *mockserver.Response) {
		res.Set("X-Request-Id", req.Get("X-Request-Id"))
		res.Created(map[string]any{"id": 1, "name": req.Param("name")})
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL())
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer s.Disconnect()

	// Do blocks until the response arrives or ctx ends.
	jwr, err := s.Do(ctx, sailsio.RequestOptions{
		Method:  "post",
		URL:     "/user",
		Data:    map[string]string{"name": "Ada"},
		Headers: map[string]string{"X-Request-Id": "42"},
	})
	if err != nil {
		fmt.Println("request:", err)
		return
	}
	var user struct {
		ID   int
		Name string
	}
	if err := jwr.Decode(&user); err != nil {
		fmt.Println("decode:", err)
		return
	}
	fmt.Println(jwr.StatusCode, user.ID, user.Name, jwr.Headers.Get("X-Request-Id"))

	// As in net/http, a 404 is not an error: err is nil and the status tells the outcome.
	jwr, err = s.Do(ctx, sailsio.RequestOptions{Method: "delete", URL: "/user/1"})
	fmt.Println(err, jwr.StatusCode)
	// Output:
	// 201 1 Ada 42
	// <nil> 404
}

func ExampleSailsSocket_On() {
	srv := mockserver.New()
	defer srv.Close()
	srv.Handle("POST /chat/join", func(req *mockserver.Request, res *mockserver.Response) {
		srv.Join(req.SocketID, "lobby") // sails.sockets.join(req, "lobby")
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

	messages := make(chan string, 2)
	off := s.On("chat", func(data json.RawMessage) { messages <- string(data) })
	defer off()

	if _, err := s.PostContext(ctx, "/chat/join", nil); err != nil {
		fmt.Println("join:", err)
		return
	}
	srv.Broadcast("lobby", "chat", map[string]string{"from": "server", "text": "hello, lobby"})
	srv.Emit(s.ID(), "chat", map[string]string{"from": "server", "text": "hello, you"})
	for range 2 {
		select {
		case m := <-messages:
			fmt.Println(m)
		case <-ctx.Done():
			fmt.Println("no message")
			return
		}
	}
	// Output:
	// {"from":"server","text":"hello, lobby"}
	// {"from":"server","text":"hello, you"}
}

func ExampleWithCookieJar() {
	srv := mockserver.New()
	defer srv.Close()
	srv.Handle("POST /login", func(req *mockserver.Request, res *mockserver.Response) {
		req.Session.Set("user", req.Param("name"))
		res.OK(nil)
	})
	srv.Handle("GET /me", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]any{"user": req.Session.Get("user")})
	})

	// Log in over HTTP with a client whose cookie jar the socket shares: the session carries over.
	jar, err := cookiejar.New(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post(srv.URL()+"/login", "application/json", strings.NewReader(`{"name":"ada"}`))
	if err != nil {
		fmt.Println("login:", err)
		return
	}
	resp.Body.Close()
	fmt.Println("login:", resp.StatusCode)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL(), sailsio.WithCookieJar(jar))
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer s.Disconnect()

	jwr, err := s.GetContext(ctx, "/me", nil)
	if err != nil {
		fmt.Println("request:", err)
		return
	}
	fmt.Println("socket:", string(jwr.Body))
	// Output:
	// login: 200
	// socket: {"user":"ada"}
}

// Shutdown closes the socket like Disconnect, then waits (within ctx) until every callback and
// handler has run: a program's last requests have been handled when it returns. Disconnect alone
// returns within about a second even if a handler blocks.
func ExampleSailsSocket_Shutdown() {
	srv := mockserver.New()
	defer srv.Close()
	srv.Handle("GET /count", func(req *mockserver.Request, res *mockserver.Response) { res.JSON(3) })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL())
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	done := make(chan struct{})
	s.Get("/count", nil, func(body json.RawMessage, jwr *sailsio.JWRes) {
		fmt.Println("count:", string(body))
		close(done)
	})
	<-done
	s.Get("/count", nil, func(body json.RawMessage, jwr *sailsio.JWRes) {
		// Sent just before Shutdown: answered, or failed with ErrClosed; either way it runs first.
		fmt.Println("last callback ran")
	})
	if err := s.Shutdown(ctx); err != nil {
		fmt.Println("shutdown:", err)
	}
	fmt.Println("shut down")
	// Output:
	// count: 3
	// last callback ran
	// shut down
}
