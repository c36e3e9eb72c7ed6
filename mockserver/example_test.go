package mockserver_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio/mockserver"
)

func ExampleNew() {
	srv := mockserver.New()
	defer srv.Close()

	// Unmatched routes answer 404 "Not Found", over HTTP as over sockets.
	resp, err := http.Get(srv.URL() + "/nowhere")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 404 Not Found
}

func ExampleServer_Handle() {
	srv := mockserver.New()
	defer srv.Close()

	// One handler serves virtual requests (over a socket) and plain HTTP requests.
	srv.Handle("GET /user/:id", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]any{"id": req.Param("id"), "socket": req.IsSocket})
	})
	srv.Handle("POST /file/*", func(req *mockserver.Request, res *mockserver.Response) {
		res.Status(201).Send("stored " + req.Params["0"])
	})

	resp, err := http.Get(srv.URL() + "/user/3")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	resp, err = http.Post(srv.URL()+"/file/a/b.txt", "application/json", strings.NewReader(`{}`))
	if err != nil {
		panic(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// 200 {"id":"3","socket":false}
	// 201 stored a/b.txt
}

func ExampleServer_Broadcast() {
	srv := mockserver.New()
	defer srv.Close()
	srv.Handle("POST /say", func(req *mockserver.Request, res *mockserver.Response) {
		srv.Broadcast("lobby", "chat", map[string]string{"text": req.Param("text")})
		res.OK(nil)
	})

	// A raw EIO=3 WebSocket client, as sails.io.js connects.
	ws, _, err := websocket.DefaultDialer.Dial(srv.WebSocketURL()+
		"?__sails_io_sdk_version=1.2.1&EIO=3&transport=websocket", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_, open, _ := ws.ReadMessage()    // 0{"sid":...}
	_, connect, _ := ws.ReadMessage() // 40
	fmt.Println(string(open[:8]), string(connect))

	// Under EIO=3 the socket id is the engine sid of the open packet.
	id := srv.SocketIDs()[0]
	srv.Join(id, "lobby")

	// A plain HTTP request makes the server push to the room.
	resp, err := http.Post(srv.URL()+"/say", "application/json", strings.NewReader(`{"text":"hi"}`))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	_, push, _ := ws.ReadMessage()
	fmt.Println(string(push))
	// Output:
	// 0{"sid": 40
	// 42["chat",{"text":"hi"}]
}

func ExampleFrameRecorder() {
	var rec mockserver.FrameRecorder
	srv := mockserver.New(mockserver.WithFrameLog(rec.Log))
	defer srv.Close()
	srv.Handle("GET /hello", func(req *mockserver.Request, res *mockserver.Response) {
		res.Send("world")
	})

	ws, _, err := websocket.DefaultDialer.Dial(srv.WebSocketURL()+
		"?__sails_io_sdk_version=1.2.1&EIO=3&transport=websocket", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	ws.ReadMessage() // open
	ws.ReadMessage() // 40
	ws.WriteMessage(websocket.TextMessage, []byte(`420["get",{"method":"get","headers":{},"data":{},"url":"/hello"}]`))
	ws.ReadMessage() // the ack

	for _, f := range rec.Frames(srv.SocketIDs()[0])[1:] { // skip the open packet (random sid)
		fmt.Printf("%c %s\n", f.Dir, f.Data)
	}
	// Output:
	// < 40
	// > 420["get",{"method":"get","headers":{},"data":{},"url":"/hello"}]
	// < 430[{"body":"world","headers":{},"statusCode":200}]
}
