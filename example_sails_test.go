package sailsio_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

// A Web App made by `sails new` wants a CSRF token on unsafe requests, and has it only in its
// pages. WithCSRF fetches it over HTTP with the socket's session. (The handlers below stand in for
// Sails' CSRF check; with a real app, pass its URL.)
func ExampleWithCSRF() {
	srv := mockserver.New()
	defer srv.Close()
	tokenOf := func(req *mockserver.Request) string { return "tok-" + req.Session.ID()[:8] }
	srv.Handle("GET /", func(req *mockserver.Request, res *mockserver.Response) {
		res.Send(`<script> window.SAILS_LOCALS = { _csrf: unescape('` + tokenOf(req) + `'), }; </script>`)
	})
	srv.Handle("POST /pet", func(req *mockserver.Request, res *mockserver.Response) {
		if req.Header("x-csrf-token") != tokenOf(req) {
			res.Forbidden(nil)
			return
		}
		res.Created(map[string]any{"id": 1, "name": "Rex"})
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL(), sailsio.WithCSRF())
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer s.Disconnect()
	jwr, err := s.PostContext(ctx, "/pet", map[string]string{"name": "Rex"})
	if err != nil {
		fmt.Println("post:", err)
		return
	}
	fmt.Println(jwr.StatusCode, string(jwr.Body))
	// Output: 201 {"id":1,"name":"Rex"}
}

// A token that expires must be fresh on every connection, reconnections included.
func ExampleWithConnectParams() {
	var issued atomic.Int32
	srv := mockserver.New(mockserver.WithBeforeConnect(func(r *http.Request) error {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer token-") {
			return fmt.Errorf("no token")
		}
		return nil
	}))
	defer srv.Close()

	params := func(ctx context.Context) (http.Header, url.Values, error) {
		tok := fmt.Sprintf("token-%d", issued.Add(1)) // e.g. from your identity provider
		return http.Header{"Authorization": {"Bearer " + tok}}, nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL(), sailsio.WithConnectParams(params))
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer s.Disconnect()
	if err := s.Reconnect(ctx); err != nil {
		fmt.Println("reconnect:", err)
		return
	}
	fmt.Println("tokens issued:", issued.Load())
	// Output: tokens issued: 2
}

// An interceptor that gives every request an id and retries once on 503.
func ExampleWithInterceptors() {
	srv := mockserver.New()
	defer srv.Close()
	var calls atomic.Int32
	srv.Handle("GET /flaky", func(req *mockserver.Request, res *mockserver.Response) {
		if calls.Add(1) == 1 {
			res.Status(http.StatusServiceUnavailable).Send("busy")
			return
		}
		res.JSON(map[string]string{"request": req.Header("x-request-id")})
	})

	var ids atomic.Int64
	requestID := func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
		if req.Headers == nil {
			req.Headers = map[string]string{}
		}
		req.Headers["x-request-id"] = fmt.Sprint("r", ids.Add(1))
		return next(ctx, req)
	}
	retry503 := func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
		jwr, err := next(ctx, req)
		if err == nil && jwr.StatusCode == http.StatusServiceUnavailable {
			return next(ctx, req)
		}
		return jwr, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL(), sailsio.WithInterceptors(requestID, retry503))
	if err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer s.Disconnect()
	jwr, err := s.GetContext(ctx, "/flaky", nil)
	if err != nil {
		fmt.Println("get:", err)
		return
	}
	fmt.Println(jwr.StatusCode, string(jwr.Body), calls.Load())
	// Output: 200 {"request":"r1"} 2
}
