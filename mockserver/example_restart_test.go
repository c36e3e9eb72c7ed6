package mockserver_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/sailsio-go/sailsio/mockserver"
)

func ExampleServer_Stop() {
	srv := mockserver.New(mockserver.WithPersistentSessions())
	defer srv.Close()
	srv.Handle("GET /hello", func(req *mockserver.Request, res *mockserver.Response) { res.Send("hi") })

	// The server dies: connections are cut and new ones refused, as with a crashed Sails.
	srv.Stop()
	_, err := http.Get(srv.URL() + "/hello")
	fmt.Println("while stopped:", err != nil)

	// It comes back on the same address; with WithPersistentSessions, sessions are still there.
	if err := srv.Start(); err != nil {
		panic(err)
	}
	resp, err := http.Get(srv.URL() + "/hello")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println("after Start:", resp.StatusCode, string(body))
	// Output:
	// while stopped: true
	// after Start: 200 hi
}
