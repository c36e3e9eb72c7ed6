package sailsio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

// interceptServer answers ALL /echo with the method, URL, x-* headers and body it got, and counts
// the requests per URL.
func interceptServer(t *testing.T) (*mockserver.Server, func(url string) int) {
	srv := mockserver.NewT(t)
	var mu sync.Mutex
	seen := map[string]int{}
	srv.Handle("ALL /echo", func(req *mockserver.Request, res *mockserver.Response) {
		mu.Lock()
		seen[req.URL]++
		mu.Unlock()
		res.JSON(map[string]any{"method": req.Method, "url": req.URL, "x": req.Header("x-id"), "trace": req.Header("x-trace"), "body": req.Body})
	})
	srv.Handle("ALL /fail", func(req *mockserver.Request, res *mockserver.Response) {
		mu.Lock()
		seen[req.URL]++
		n := seen[req.URL]
		mu.Unlock()
		if n == 1 {
			res.Status(http.StatusServiceUnavailable).Send("try again")
			return
		}
		res.JSON(map[string]int{"attempt": n})
	})
	return srv, func(url string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[url]
	}
}

// TestInterceptorOrderAndChanges: the first interceptor is the outermost, both forms go through
// the chain, and a change made to req reaches the server but not the caller's RequestOptions.
func TestInterceptorOrderAndChanges(t *testing.T) {
	srv, _ := interceptServer(t)
	var mu sync.Mutex
	var order []string
	record := func(name string) sailsio.Interceptor {
		return func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
			mu.Lock()
			order = append(order, name+">")
			mu.Unlock()
			if req.Headers == nil {
				req.Headers = map[string]string{}
			}
			req.Headers["x-trace"] += name
			jwr, err := next(ctx, req)
			mu.Lock()
			order = append(order, "<"+name)
			mu.Unlock()
			return jwr, err
		}
	}
	s := newSocket(t, srv.URL(), sailsio.WithInterceptors(record("a"), record("b")), sailsio.WithInterceptors(record("c")))
	dial(t, s)

	opts := sailsio.RequestOptions{Method: "post", URL: "/echo", Headers: map[string]string{"x-id": "1"}, Data: map[string]int{"n": 1}}
	jwr, err := s.Do(testCtx(t), opts)
	if err != nil || jwr.StatusCode != 200 {
		t.Fatalf("Do: %v %v", jwr, err)
	}
	if d := jsonDiff(t, `{"method":"POST","url":"/echo","x":"1","trace":"abc","body":{"n":1}}`, jwr.Body); d != "" {
		t.Errorf("Do through the chain: %s", d)
	}
	if len(opts.Headers) != 1 {
		t.Errorf("the chain changed the caller's Headers: %v", opts.Headers)
	}
	mu.Lock()
	if got := strings.Join(order, " "); got != "a> b> c> <c <b <a" {
		t.Errorf("Do: order %q", got)
	}
	order = nil
	mu.Unlock()

	cb, replies, calls := callback()
	s.Request(opts, cb)
	r := await(t, replies, "callback")
	if r.jwr.StatusCode != 200 || !strings.Contains(string(r.data), `"trace":"abc"`) {
		t.Errorf("callback form: %v %s", r.jwr, r.data)
	}
	mu.Lock() // the chain has returned before the callback is posted
	if got := strings.Join(order, " "); got != "a> b> c> <c <b <a" {
		t.Errorf("Request: order %q", got)
	}
	mu.Unlock()
	s.Disconnect()
	flush(t, s)
	if calls.Load() != 1 {
		t.Errorf("callback called %d times", calls.Load())
	}
}

// TestInterceptorRetryAndReplace: an interceptor may call next again and replace the result; one
// that answers without next sends nothing.
func TestInterceptorRetryAndReplace(t *testing.T) {
	srv, seen := interceptServer(t)
	retry := func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
		jwr, err := next(ctx, req)
		if err == nil && jwr.StatusCode == http.StatusServiceUnavailable {
			return next(ctx, req)
		}
		return jwr, err
	}
	cached := func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
		if req.URL == "/cached" {
			return &sailsio.JWRes{StatusCode: 200, Body: json.RawMessage(`"from cache"`)}, nil
		}
		return next(ctx, req)
	}
	s := newSocket(t, srv.URL(), sailsio.WithInterceptors(cached, retry))
	dial(t, s)
	jwr, err := s.GetContext(testCtx(t), "/fail", nil)
	if err != nil || jwr.StatusCode != 200 || seen("/fail") != 2 {
		t.Fatalf("retry: %v %v after %d requests", jwr, err, seen("/fail"))
	}
	cb, replies, _ := callback()
	s.Get("/cached", nil, cb)
	if r := await(t, replies, "callback"); string(r.data) != `"from cache"` || r.jwr.StatusCode != 200 {
		t.Errorf("replaced result: %s %v", r.data, r.jwr)
	}
	if n := seen("/cached"); n != 0 {
		t.Errorf("the server got %d requests for a cached answer", n)
	}
}

// TestInterceptorErrors: an error from the chain reaches both forms (the callback as a JWRes with
// status 0), a panic in a callback-form interceptor becomes ErrInterceptor, and a nil interceptor
// is an invalid option.
func TestInterceptorErrors(t *testing.T) {
	srv, _ := interceptServer(t)
	errDenied := errors.New("denied")
	deny := func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
		switch req.URL {
		case "/denied":
			return nil, fmt.Errorf("sailsio test: %w", errDenied)
		case "/panic":
			panic("boom")
		}
		return next(ctx, req)
	}
	s := newSocket(t, srv.URL(), sailsio.WithInterceptors(deny), sailsio.WithLogger(slog.New(slog.DiscardHandler)))
	dial(t, s)
	if _, err := s.GetContext(testCtx(t), "/denied", nil); !errors.Is(err, errDenied) {
		t.Errorf("Do: %v, want errDenied", err)
	}
	cb, replies, _ := callback()
	s.Get("/denied", nil, cb)
	checkFailed(t, await(t, replies, "callback"), errDenied)
	s.Get("/panic", nil, cb)
	checkFailed(t, await(t, replies, "callback"), sailsio.ErrInterceptor)
	// The socket still works after both.
	if jwr, err := s.GetContext(testCtx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 {
		t.Errorf("after the errors: %v %v", jwr, err)
	}
	if _, err := sailsio.New(srv.URL(), sailsio.WithInterceptors(nil)); !errors.Is(err, sailsio.ErrInvalidOption) {
		t.Errorf("nil interceptor: %v", err)
	}
}

// TestInterceptorKeepsCallbackOrder: callback-form requests reach the server in call order even
// when the interceptor of an earlier one takes longer before it calls next.
func TestInterceptorKeepsCallbackOrder(t *testing.T) {
	srv := mockserver.NewT(t)
	var mu sync.Mutex
	var got []string
	srv.Handle("GET /seq/:n", func(req *mockserver.Request, res *mockserver.Response) {
		mu.Lock()
		got = append(got, req.Param("n"))
		mu.Unlock()
		res.Send("ok")
	})
	release := make(chan struct{})
	slowFirst := func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
		if req.URL == "/seq/0" {
			<-release
		}
		return next(ctx, req)
	}
	s := newSocket(t, srv.URL(), sailsio.WithInterceptors(slowFirst))
	dial(t, s)
	cb, replies, calls := callback()
	const n = 5
	for i := 0; i < n; i++ {
		s.Get(fmt.Sprintf("/seq/%d", i), nil, cb)
	}
	nothingIn(t, replies, "reply while the first request is held")
	close(release)
	for i := 0; i < n; i++ {
		await(t, replies, "callback")
	}
	s.Disconnect()
	flush(t, s)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "0,1,2,3,4" || calls.Load() != n {
		t.Errorf("server saw %v (%d callbacks)", got, calls.Load())
	}
}

// TestInterceptorCallbackEndsOnClose: the chain of a callback-form request held by its interceptor
// sees its context end when the socket is closed, and the callback gets ErrClosed exactly once.
func TestInterceptorCallbackEndsOnClose(t *testing.T) {
	srv, _ := interceptServer(t)
	entered := make(chan struct{})
	hold := func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
		close(entered)
		<-ctx.Done()
		return next(ctx, req)
	}
	s := newSocket(t, srv.URL(), sailsio.WithInterceptors(hold))
	dial(t, s)
	cb, replies, calls := callback()
	s.Get("/echo", nil, cb)
	await(t, entered, "interceptor")
	s.Disconnect()
	checkFailed(t, await(t, replies, "callback"), sailsio.ErrClosed)
	if err := s.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Errorf("callback called %d times", calls.Load())
	}
}
