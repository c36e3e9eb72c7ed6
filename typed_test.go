package sailsio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

type typedUser struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// TestDoJSON: a 2xx body decodes into T; an empty 2xx body is T's zero value; a body that does
// not decode, any other status (3xx included) and no response give the zero T and an error, with
// the JWRes whenever a response came.
func TestDoJSON(t *testing.T) {
	srv := mockserver.NewT(t)
	srv.Handle("GET /user", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]any{"id": 3, "name": "Ada"})
	})
	srv.Handle("POST /user", func(req *mockserver.Request, res *mockserver.Response) {
		res.Created(map[string]any{"id": 4, "name": req.Param("name")})
	})
	srv.Handle("GET /none", func(req *mockserver.Request, res *mockserver.Response) { res.Status(204).Send(nil) })
	srv.Handle("GET /text", func(req *mockserver.Request, res *mockserver.Response) { res.Send("hello") })
	srv.Handle("GET /partial", func(req *mockserver.Request, res *mockserver.Response) {
		res.Send(json.RawMessage(`{"name":"Ada","id":"x"}`))
	})
	srv.Handle("GET /missing", func(req *mockserver.Request, res *mockserver.Response) { res.NotFound(nil) })
	srv.Handle("GET /moved", func(req *mockserver.Request, res *mockserver.Response) {
		res.Status(302).Set("Location", "/user").Send("Redirecting to /user")
	})
	s := newSocket(t, srv.URL())
	dial(t, s)
	ctx := testCtx(t)

	u, jwr, err := sailsio.DoJSON[typedUser](ctx, s, sailsio.RequestOptions{URL: "/user"})
	if err != nil || jwr == nil || jwr.StatusCode != 200 || u != (typedUser{3, "Ada"}) {
		t.Errorf("GET /user: %+v, %v, %v", u, jwr, err)
	}
	u, jwr, err = sailsio.DoJSON[typedUser](ctx, s, sailsio.RequestOptions{Method: "post", URL: "/user", Data: map[string]string{"name": "Bob"}})
	if err != nil || jwr.StatusCode != 201 || u != (typedUser{4, "Bob"}) {
		t.Errorf("POST /user: %+v, %v, %v", u, jwr, err)
	}
	// No body: the zero value, no error.
	u, jwr, err = sailsio.DoJSON[typedUser](ctx, s, sailsio.RequestOptions{URL: "/none"})
	if err != nil || jwr.StatusCode != 204 || string(jwr.Body) != "null" || u != (typedUser{}) {
		t.Errorf("GET /none: %+v, %v, %v", u, jwr, err)
	}
	p, _, err := sailsio.DoJSON[*typedUser](ctx, s, sailsio.RequestOptions{URL: "/none"})
	if err != nil || p != nil {
		t.Errorf("GET /none into a pointer: %v, %v", p, err)
	}
	// Any type encoding/json decodes into.
	str, _, err := sailsio.DoJSON[string](ctx, s, sailsio.RequestOptions{URL: "/text"})
	if err != nil || str != "hello" {
		t.Errorf("GET /text into a string: %q, %v", str, err)
	}
	raw, _, err := sailsio.DoJSON[json.RawMessage](ctx, s, sailsio.RequestOptions{URL: "/user"})
	if err != nil || string(raw) != `{"id":3,"name":"Ada"}` {
		t.Errorf("GET /user into a json.RawMessage: %s, %v", raw, err)
	}

	// A body that does not decode: ErrDecode and the encoding/json error, the JWRes, the zero T
	// (not a half-filled one).
	for _, c := range []struct {
		url  string
		want string
	}{{"/text", `GET /text: the 200 body into sailsio_test.typedUser`}, {"/partial", `GET /partial: the 200 body into sailsio_test.typedUser`}} {
		u, jwr, err = sailsio.DoJSON[typedUser](ctx, s, sailsio.RequestOptions{URL: c.url})
		var te *json.UnmarshalTypeError
		if !errors.Is(err, sailsio.ErrDecode) || !errors.As(err, &te) || !strings.HasPrefix(err.Error(), "sailsio: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("GET %s: error %v, want ErrDecode and a *json.UnmarshalTypeError", c.url, err)
		}
		if jwr == nil || jwr.StatusCode != 200 || jwr.Error != nil || u != (typedUser{}) {
			t.Errorf("GET %s: %+v, %v; want the zero value and the JWRes", c.url, u, jwr)
		}
	}

	// Other statuses: the zero T, the JWRes and a *StatusError (jwr.Error itself when set).
	for _, c := range []struct {
		url    string
		status int
	}{{"/missing", 404}, {"/moved", 302}} {
		u, jwr, err = sailsio.DoJSON[typedUser](ctx, s, sailsio.RequestOptions{URL: c.url})
		var se *sailsio.StatusError
		if !errors.As(err, &se) || se.StatusCode != c.status || jwr == nil || jwr.StatusCode != c.status || u != (typedUser{}) {
			t.Errorf("GET %s: %+v, %v, %v; want a *StatusError %d", c.url, u, jwr, err, c.status)
			continue
		}
		if string(se.Body) != string(jwr.Body) || (jwr.Error != nil && !errors.Is(err, jwr.Error)) {
			t.Errorf("GET %s: StatusError %v, JWRes %v", c.url, se, jwr)
		}
	}

	// A context that ended: the error of Do, no JWRes.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, jwr, err = sailsio.DoJSON[typedUser](cctx, s, sailsio.RequestOptions{URL: "/user"})
	if !errors.Is(err, context.Canceled) || jwr != nil {
		t.Errorf("cancelled: %v, %v", jwr, err)
	}
	_, jwr, err = sailsio.DoJSON[typedUser](ctx, s, sailsio.RequestOptions{Method: "bogus", URL: "/user"})
	if !errors.Is(err, sailsio.ErrInvalidRequest) || jwr != nil {
		t.Errorf("bad method: %v, %v", jwr, err)
	}

	// A parse error: the *ParseError and the JWRes of status 400, as Do.
	old := newSocket(t, srv.URL(), sailsio.WithInitialConnectionHeaders(http.Header{"__sails_io_sdk_version": {"0.9.0"}}))
	dial(t, old)
	_, jwr, err = sailsio.DoJSON[typedUser](ctx, old, sailsio.RequestOptions{URL: "/user"})
	var pe *sailsio.ParseError
	if !errors.As(err, &pe) || jwr == nil || jwr.StatusCode != 400 {
		t.Errorf("parse error: %v, %v", jwr, err)
	}

	s.Disconnect()
	_, jwr, err = sailsio.DoJSON[typedUser](ctx, s, sailsio.RequestOptions{URL: "/user"})
	if !errors.Is(err, sailsio.ErrClosed) || jwr != nil {
		t.Errorf("closed socket: %v, %v", jwr, err)
	}
}

// eventLog collects, in order, what the handlers of a socket saw and what its logger logged (at
// level Warn and above).
type eventLog chan string

func (l eventLog) logger() *slog.Logger {
	return slog.New(funcHandler(func(r slog.Record) {
		if r.Level < slog.LevelWarn {
			return // connection lifecycle
		}
		line := "log " + r.Level.String() + " " + r.Message
		r.Attrs(func(a slog.Attr) bool {
			line += " " + a.Key + "=" + a.Value.String()
			return true
		})
		l <- line
	}))
}

// emitRoute answers POST /emit {event, data} after emitting event with data to the requesting
// socket, so that the answer's callback runs after the event's handlers.
func emitRoute(srv *mockserver.Server) {
	srv.Handle("POST /emit", func(req *mockserver.Request, res *mockserver.Response) {
		var b struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(req.Body, &b)
		srv.Emit(req.SocketID, b.Event, b.Data)
		res.OK(nil)
	})
}

// emitAll has the server emit each event (name, data JSON) to s, then waits for an answer whose
// callback writes "ack" to l: every handler of those events has run by then.
func emitAll(t *testing.T, s *sailsio.SailsSocket, l eventLog, events ...[2]string) {
	t.Helper()
	for _, e := range events {
		s.Post("/emit", map[string]any{"event": e[0], "data": json.RawMessage(e[1])}, nil)
	}
	s.Get("/flushed", nil, func(json.RawMessage, *sailsio.JWRes) { l <- "ack" })
}

// drain returns what l got up to and including the next "ack".
func (l eventLog) drain(t *testing.T) []string {
	t.Helper()
	var got []string
	for {
		v := await(t, l, "handler, log record or ack")
		if v == "ack" {
			return got
		}
		got = append(got, v)
	}
}

// TestOnJSONAndOnAny: OnJSON decodes each event's data, drops (and logs) what does not decode;
// OnAny sees every server event and no lifecycle event; all run in order with On's handlers.
func TestOnJSONAndOnAny(t *testing.T) {
	srv := mockserver.NewT(t)
	emitRoute(srv)
	srv.Handle("GET /flushed", func(req *mockserver.Request, res *mockserver.Response) { res.OK(nil) })
	l := make(eventLog, 64)
	s := newSocket(t, srv.URL(), sailsio.WithLogger(l.logger()))
	offAny := s.OnAny(func(event string, data json.RawMessage) { l <- "any " + event + " " + string(data) })
	s.On("user", func(data json.RawMessage) { l <- "on " + string(data) })
	offJSON := sailsio.OnJSON(s, "user", func(u typedUser) { l <- fmt.Sprintf("json %+v", u) })
	sailsio.OnJSON(s, "count", func(n int) { l <- fmt.Sprint("count ", n) })
	dial(t, s)

	emitAll(t, s, l, [2]string{"user", `{"id":1,"name":"a"}`}, [2]string{"user", `"oops"`}, [2]string{"count", "null"},
		[2]string{"user", `{"id":2}`}, [2]string{"other", `[1]`})
	want := []string{
		`any user {"id":1,"name":"a"}`, `on {"id":1,"name":"a"}`, `json {ID:1 Name:a}`,
		`any user "oops"`, `on "oops"`,
		`log WARN sailsio: event dropped: its data does not decode event=user error=sailsio: cannot decode JSON: event data into sailsio_test.typedUser: json: cannot unmarshal string into Go value of type sailsio_test.typedUser`,
		`any count null`, `count 0`,
		`any user {"id":2}`, `on {"id":2}`, `json {ID:2 Name:}`,
		`any other [1]`,
	}
	if d := cmp.Diff(want, l.drain(t)); d != "" {
		t.Errorf("handlers and logs (-want +got):\n%s", d)
	}

	// off removes exactly its registration; Off(event) leaves OnAny alone.
	offJSON()
	s.Off("count")
	emitAll(t, s, l, [2]string{"user", `{"id":3}`}, [2]string{"count", "1"})
	if d := cmp.Diff([]string{`any user {"id":3}`, `on {"id":3}`, `any count 1`}, l.drain(t)); d != "" {
		t.Errorf("after off (-want +got):\n%s", d)
	}
	offAny()
	offAny() // idempotent
	emitAll(t, s, l, [2]string{"user", `{"id":4}`})
	if d := cmp.Diff([]string{`on {"id":4}`}, l.drain(t)); d != "" {
		t.Errorf("after OnAny's off (-want +got):\n%s", d)
	}
	s.OnAny(func(event string, data json.RawMessage) { l <- "any2 " + event })
	s.RemoveAllListeners()
	emitAll(t, s, l, [2]string{"user", `{"id":5}`})
	if got := l.drain(t); len(got) != 0 {
		t.Errorf("after RemoveAllListeners: %q", got)
	}

	// Lifecycle events and server events named like them never reach OnAny.
	s.OnAny(func(event string, data json.RawMessage) { l <- "any " + event })
	s.On(sailsio.EventDisconnect, func(json.RawMessage) { l <- "disconnect" })
	emitAll(t, s, l, [2]string{"connect", `{}`}, [2]string{"x", `1`})
	if d := cmp.Diff([]string{"log WARN sailsio: ignoring a server event with a reserved name event=connect", "any x"}, l.drain(t)); d != "" {
		t.Errorf("reserved names (-want +got):\n%s", d)
	}
	s.Disconnect()
	if got := await(t, l, "disconnect"); got != "disconnect" {
		t.Errorf("after Disconnect: %q", got)
	}
	flush(t, s)
	nothingIn(t, l, "handler call after the disconnect event")
}

// TestOnJSONWithoutLogger: without WithLogger, data that does not decode is dropped silently.
func TestOnJSONWithoutLogger(t *testing.T) {
	srv := mockserver.NewT(t)
	emitRoute(srv)
	srv.Handle("GET /flushed", func(req *mockserver.Request, res *mockserver.Response) { res.OK(nil) })
	l := make(eventLog, 16)
	s := newSocket(t, srv.URL())
	sailsio.OnJSON(s, "user", func(u typedUser) { l <- fmt.Sprintf("json %+v", u) })
	sailsio.OnModel(s, "user", func(ev sailsio.ModelEvent[typedUser]) { l <- "model " + ev.Verb })
	if off := sailsio.OnJSON[int](s, "x", nil); off == nil {
		t.Error("OnJSON with a nil handler returned a nil off")
	} else {
		off()
	}
	dial(t, s)
	emitAll(t, s, l, [2]string{"user", `7`}, [2]string{"user", `{"verb":"created","data":{"id":1},"id":1}`})
	if d := cmp.Diff([]string{`json {ID:1 Name:}`, `model created`}, l.drain(t)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
