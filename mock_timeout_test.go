package sailsio_test

import (
	"context"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// TestMockResponseTimeout: a handler that never answers — returning silently, or blocking for good
// without looking at its context — is answered 500 after the response timeout, and the socket
// keeps working.
func TestMockResponseTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := mockserver.NewT(t, mockserver.WithResponseTimeout(100*time.Millisecond))
	t.Cleanup(func() { close(release) }) // runs before the server's Close: lets the blocked handler end
	srv.Handle("GET /silent", func(req *mockserver.Request, res *mockserver.Response) {})
	srv.Handle("GET /stuck", func(req *mockserver.Request, res *mockserver.Response) { <-release })
	srv.Handle("GET /later", func(req *mockserver.Request, res *mockserver.Response) {
		go func() { res.Send("late but in time") }()
	})
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Wait)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	for _, path := range []string{"/silent", "/stuck"} {
		jwr, err := s.GetContext(ctx, path, nil)
		if err != nil || jwr.StatusCode != 500 {
			t.Errorf("%s: %v %v, want a 500 after the response timeout", path, jwr, err)
		}
	}
	jwr, err := s.GetContext(ctx, "/later", nil)
	if err != nil || jwr.StatusCode != 200 || string(jwr.Body) != `"late but in time"` {
		t.Errorf("/later: %v %v", jwr, err)
	}
}
