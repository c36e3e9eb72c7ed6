package sailsio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

// collect records the named events of s.
func (s *SailsSocket) collect(t testing.TB, names ...string) *testkit.Events {
	return testkit.Collect(s.On, names...)
}

func ctx5(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Short)
	t.Cleanup(cancel)
	return ctx
}

func TestEIO3HandshakeAndFrames(t *testing.T) {
	var query url.Values
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) (http.Header, bool) {
		query = r.URL.Query()
		return nil, true
	})
	s, c, connected := startFake(t, f)
	c.open(EIO3, "engineSid", 40, 5000, 0) // short ping interval: the client must ping
	if err := connected(); err != nil {
		t.Fatal(err)
	}
	want := url.Values{"__sails_io_sdk_version": {"1.2.1"}, "__sails_io_sdk_platform": {"go"}, "__sails_io_sdk_language": {"go"}, "EIO": {"3"}, "transport": {"websocket"}}
	if d := cmp.Diff(want, query); d != "" {
		t.Errorf("handshake query (-want +got):\n%s", d)
	}
	if s.ID() != "engineSid" {
		t.Errorf("ID() = %q, want the engine sid under EIO3", s.ID())
	}
	// The client pings by itself (and never sends 40).
	c.ws.SetReadDeadline(time.Now().Add(testkit.Short))
	_, b, err := c.ws.ReadMessage()
	if err != nil || string(b) != "2" {
		t.Fatalf("first client frame = %q, %v; want the ping 2", b, err)
	}
	c.send("3")
	s.Post("/rooms/demo/join", nil, nil)
	if got, want := c.recv(), `420["post",{"method":"post","headers":{},"data":{},"url":"/rooms/demo/join"}]`; got != want {
		t.Errorf("request frame\n got %s\nwant %s", got, want)
	}
	done := make(chan struct{})
	go func() { s.Disconnect(); close(done) }()
	if got := c.recv(); got != "41" {
		t.Errorf("after Disconnect the client sent %q, want 41", got)
	}
	<-done
}

func TestEIO4HandshakeAndHeartbeat(t *testing.T) {
	s, c, connected := startFake(t, newFake(t, nil), WithProtocol(EIO4))
	c.open(EIO4, "engineSid", 25000, 60000, 100000000)
	if err := connected(); err != nil {
		t.Fatal(err)
	}
	if s.ID() != "engineSid-io" {
		t.Errorf("ID() = %q, want the id of the CONNECT reply", s.ID())
	}
	c.send("2")
	if got := c.recv(); got != "3" {
		t.Errorf("answer to server ping = %q, want 3", got)
	}
}

func TestConnectErrorPacket(t *testing.T) {
	f := newFake(t, nil)
	s, c, connected := startFake(t, f, WithProtocol(EIO4))
	ev := s.collect(t, EventConnectError)
	c.send(`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":1000000}`)
	if got := c.recv(); got != "40" {
		t.Fatalf("got %q", got)
	}
	c.send(`44{"message":"Not authorized"}`)
	err := connected()
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Message != "Not authorized" {
		t.Fatalf("Connect = %v, want *ConnectError", err)
	}
	if got := ev.Next(t).String(); got != `connect_error {"error":"sailsio: server refused the connection: Not authorized"}` {
		t.Errorf("event %s", got)
	}
	if s.IsConnected() || s.IsConnecting() {
		t.Error("socket claims to be connected or connecting after a failed Connect")
	}
}

func TestHandshakeRefused(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) (http.Header, bool) {
		http.Error(w, "Origin not allowed", http.StatusBadRequest)
		return nil, false
	})
	_, err := Connect(ctx5(t), f.URL)
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 400 || he.Body != "Origin not allowed" {
		t.Fatalf("Connect = %v, want *HandshakeError 400 Origin not allowed", err)
	}
	s, err := New(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	ev := s.collect(t, EventConnectError)
	if err := s.Connect(ctx5(t)); err == nil {
		t.Fatal("Connect succeeded")
	}
	if got := ev.Next(t).String(); got != `connect_error {"error":"sailsio: server refused the handshake with HTTP 400: Origin not allowed (refused by onlyAllowOrigins or beforeConnect: set an allowed Origin with WithInitialConnectionHeaders)","status":400}` {
		t.Errorf("event %s", got)
	}
}

func TestCookiesOnHandshake(t *testing.T) {
	var cookie, origin string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) (http.Header, bool) {
		cookie, origin = r.Header.Get("Cookie"), r.Header.Get("Origin")
		return http.Header{"Set-Cookie": {"sails.sid=fromsocket; Path=/"}}, true
	})
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(f.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "login", Value: "yes", Path: "/"}})
	_, c := connectFake(t, f, EIO3, WithCookieJar(jar),
		WithInitialConnectionHeaders(http.Header{"Cookie": {"a=1"}, "Origin": {"http://good.com"}}))
	_ = c
	if cookie != "a=1; login=yes" || origin != "http://good.com" {
		t.Errorf("handshake Cookie %q Origin %q", cookie, origin)
	}
	got := map[string]string{}
	for _, ck := range jar.Cookies(u) {
		got[ck.Name] = ck.Value
	}
	if d := cmp.Diff(map[string]string{"login": "yes", "sails.sid": "fromsocket"}, got); d != "" {
		t.Errorf("jar after handshake (-want +got):\n%s", d)
	}
}

func TestParseErrorAckAndEvent(t *testing.T) {
	s, c := connectFake(t, newFake(t, nil), EIO3)
	pev := s.collect(t, EventParseError)
	perr := `{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","name":"Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):","status":400,"message":"Failed to parse incoming socket.io request.","details":"old SDK"}`
	type out struct {
		jwr *JWRes
		err error
	}
	res := make(chan out, 1)
	go func() {
		jwr, err := s.GetContext(ctx5(t), "/x", nil)
		res <- out{jwr, err}
	}()
	if got := c.recv(); !strings.HasPrefix(got, "420[") {
		t.Fatalf("request frame %q", got)
	}
	c.send("430[" + perr + "]")
	o := <-res
	var pe *ParseError
	if !errors.As(o.err, &pe) || pe.Status != 400 || pe.Details != "old SDK" {
		t.Fatalf("err = %v, want *ParseError", o.err)
	}
	if o.jwr == nil || o.jwr.StatusCode != 400 || !errors.As(o.jwr.Error, &pe) {
		t.Errorf("jwr = %v", o.jwr)
	}
	cbErr := make(chan error, 1)
	s.Get("/y", nil, func(_ json.RawMessage, jwr *JWRes) { cbErr <- jwr.Error })
	c.recv()
	c.send("431[" + perr + "]")
	if err := <-cbErr; !errors.As(err, &pe) {
		t.Errorf("callback jwr.Error = %v, want *ParseError", err)
	}
	c.send(`42["sails:parseError",` + perr + `]`)
	if got := pev.Next(t).String(); got != "sails:parseError "+perr {
		t.Errorf("parse error event %s", got)
	}
}

func TestHeartbeatTimeout(t *testing.T) {
	for _, p := range []Protocol{EIO3, EIO4} {
		t.Run("EIO"+string(rune('0'+p)), func(t *testing.T) {
			f := newFake(t, nil)
			s, c, connected := startFake(t, f, WithProtocol(p), WithReconnection(false))
			ev := s.collect(t, EventDisconnect)
			c.open(p, "sid", 30, 30, 0) // the fake never answers pings (EIO3) nor pings (EIO4)
			if err := connected(); err != nil {
				t.Fatal(err)
			}
			if got := ev.Next(t).String(); got != `disconnect {"reason":"ping timeout"}` {
				t.Errorf("event %s", got)
			}
			_, err := s.GetContext(ctx5(t), "/x", nil)
			if !errors.Is(err, ErrDisconnected) {
				t.Errorf("request after the loss = %v, want ErrDisconnected (reconnection is off)", err)
			}
		})
	}
}

func TestMaxMessageSizeOnRead(t *testing.T) {
	s, c := connectFake(t, newFake(t, nil), EIO3, WithMaxMessageSize(1000), WithReconnection(false))
	res := make(chan error, 1)
	go func() { _, err := s.GetContext(ctx5(t), "/x", nil); res <- err }()
	c.recv()
	c.send(`42["big","` + strings.Repeat("x", 5000) + `"]`)
	if err := <-res; !errors.Is(err, ErrDisconnected) || !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("in-flight request = %v, want ErrDisconnected wrapping ErrMessageTooLarge", err)
	}
}

func TestMaxPayloadOnSend(t *testing.T) {
	s, c, connected := startFake(t, newFake(t, nil))
	c.open(EIO3, "sid", 25000, 60000, 200)
	if err := connected(); err != nil {
		t.Fatal(err)
	}
	_, err := s.PostContext(ctx5(t), "/x", map[string]string{"a": strings.Repeat("y", 300)})
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized request = %v, want ErrMessageTooLarge", err)
	}
	res := make(chan *JWRes, 1)
	go func() { jwr, _ := s.GetContext(ctx5(t), "/small", nil); res <- jwr }()
	if got := c.recv(); !strings.HasPrefix(got, "420[") { // the refused request used no ack id
		t.Fatalf("next frame %q", got)
	}
	c.send(`430[{"body":"ok","statusCode":200}]`)
	if jwr := <-res; jwr == nil || jwr.StatusCode != 200 {
		t.Errorf("small request after the refused one: %v", jwr)
	}
}

// TestFramesThatBreakTheProtocol: a frame the SDK cannot decode ends the connection with reason
// "parse error" (as socket.io-client does): the request in flight fails at once with ErrDisconnected
// instead of waiting for the heartbeat, and reconnection follows. Frames that are well formed but
// mean nothing to the client are ignored.
func TestFramesThatBreakTheProtocol(t *testing.T) {
	type frame struct {
		text   string
		binary []byte
	}
	txt := func(s ...string) []frame {
		var fs []frame
		for _, x := range s {
			fs = append(fs, frame{text: x})
		}
		return fs
	}
	for _, tc := range []struct {
		name   string
		frames []frame
		breaks bool
	}{
		{"empty frame", txt(""), true},
		{"unknown engine type", txt("x"), true},
		{"engine type 9", txt("9"), true},
		{"empty message", txt("4"), true},
		{"unknown socket.io type", txt("49"), true},
		{"garbage packet", txt("4x"), true},
		{"event with invalid JSON", txt("42["), true},
		{"event without a name", txt("42[]"), true},
		{"event named by a number", txt("42[1]"), true},
		{"event that is an object", txt("42{}"), true},
		{"ack with invalid JSON", txt(`430[{"body":`), true},
		{"ack that is not an array", txt(`430{"body":1}`), true},
		{"too many attachments", txt(`4511-0[{"_placeholder":true,"num":0}]`), true},
		{"placeholder out of range", []frame{{text: `461-0[{"body":{"_placeholder":true,"num":3}}]`}, {binary: []byte{4, 1, 2}}}, true},
		{"attachments that never come", txt(`462-0[{"body":{"_placeholder":true,"num":0}}]`, `42["ok",1]`), true},
		{"binary frame nobody announced", []frame{{binary: []byte{4, 1, 2}}}, true},
		{"binary frame without the EIO3 prefix", []frame{{text: `461-0[{"body":{"_placeholder":true,"num":0}}]`}, {binary: []byte{1, 2}}}, true},
		{"noop", txt("6"), false},
		{"upgrade packet", txt("5"), false},
		{"ack for no request", txt(`4399[{"body":1}]`), false},
		{"other namespace", txt(`42/admin,["x"]`), false},
		{"reserved event name", txt(`42["connect"]`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, nil)
			s, c := connectFake(t, f, EIO3, WithReconnectionDelay(time.Millisecond, time.Millisecond))
			ev := s.collect(t, "ok", EventDisconnect)
			res := make(chan error, 1)
			go func() { _, err := s.GetContext(ctx5(t), "/inflight", nil); res <- err }()
			c.recv()
			for _, f := range tc.frames {
				if f.binary != nil {
					c.sendBinary(f.binary)
				} else {
					c.send(f.text)
				}
			}
			if !tc.breaks {
				c.send(`42["ok",1]`)
				if got := ev.Next(t).String(); got != "ok 1" {
					t.Fatalf("after the frames got %q, want the valid event", got)
				}
				if !s.IsConnected() {
					t.Error("the frames broke the connection")
				}
				return
			}
			if got := ev.Next(t).String(); got != `disconnect {"reason":"parse error"}` {
				t.Fatalf("got %q, want disconnect with reason parse error", got)
			}
			select {
			case err := <-res:
				if !errors.Is(err, ErrDisconnected) || !errors.Is(err, ErrProtocol) {
					t.Errorf("in-flight request = %v, want ErrDisconnected wrapping ErrProtocol", err)
				}
			case <-time.After(testkit.Short):
				t.Fatal("the in-flight request did not fail at once")
			}
			f.accept(t) // reconnection follows
		})
	}
}

func TestBinaryAck(t *testing.T) {
	for _, p := range []Protocol{EIO3, EIO4} {
		s, c := connectFake(t, newFake(t, nil), p)
		res := make(chan *JWRes, 1)
		go func() { jwr, _ := s.GetContext(ctx5(t), "/file", nil); res <- jwr }()
		c.recv()
		c.send(`461-0[{"body":{"_placeholder":true,"num":0},"headers":{},"statusCode":200}]`)
		if p == EIO3 {
			c.sendBinary([]byte{4, 1, 2, 3})
		} else {
			c.sendBinary([]byte{1, 2, 3})
		}
		jwr := <-res
		var b []byte
		if jwr == nil || jwr.Decode(&b) != nil || !cmp.Equal(b, []byte{1, 2, 3}) {
			t.Errorf("EIO%d binary ack: %v -> %v", p, jwr, b)
		}
	}
}

func TestReconnectAfterLoss(t *testing.T) {
	f := newFake(t, nil)
	s, c := connectFake(t, f, EIO3, WithReconnectionDelay(5*time.Millisecond, 10*time.Millisecond))
	ev := s.collect(t, EventConnect, EventDisconnect, EventReconnecting, EventReconnect)
	inflight := make(chan error, 1)
	go func() { _, err := s.GetContext(ctx5(t), "/inflight", nil); inflight <- err }()
	c.recv()
	c.ws.Close()
	if err := <-inflight; !errors.Is(err, ErrDisconnected) {
		t.Errorf("in-flight = %v, want ErrDisconnected", err)
	}
	queued := make(chan *JWRes, 1)
	go func() { jwr, _ := s.GetContext(ctx5(t), "/queued", nil); queued <- jwr }()
	c2 := f.accept(t)
	c2.open(EIO3, "sid2", 25000, 60000, 0)
	got := c2.recv()
	if !strings.Contains(got, `"url":"/queued"`) || !strings.HasPrefix(got, "420[") {
		t.Errorf("after reconnecting the client sent %q, want the queued request with ack id 0", got)
	}
	c2.send(`430[{"body":"again","statusCode":200}]`)
	if jwr := <-queued; jwr == nil || string(jwr.Body) != `"again"` {
		t.Errorf("queued request got %v", jwr)
	}
	var seq []string
	for len(seq) < 4 {
		seq = append(seq, strings.SplitN(ev.Next(t).String(), " ", 2)[0])
	}
	if d := cmp.Diff([]string{"disconnect", "reconnecting", "connect", "reconnect"}, seq); d != "" {
		t.Errorf("lifecycle (-want +got):\n%s", d)
	}
	if s.ID() != "sid2" {
		t.Errorf("ID after reconnect = %q", s.ID())
	}
}

func TestNoGoroutineSurvivesDisconnect(t *testing.T) {
	f := newFake(t, nil)
	for i := 0; i < 3; i++ {
		s, c := connectFake(t, f, Protocol(3+i%2))
		s.Get("/x", nil, func(json.RawMessage, *JWRes) {})
		c.recv()
		if err := s.Shutdown(ctx5(t)); err != nil {
			t.Fatal(err)
		}
		c.ws.Close()
	}
	f.CloseClientConnections()
	testkit.Gone(t, "after Shutdown")
}

// TestNoEventAfterDisconnect: once a frame ended the connection (a Socket.IO DISCONNECT,
// an Engine.IO close, a CONNECT_ERROR), frames that arrived in the same read are not dispatched:
// no server event after the disconnect event, as in socket.io-client, whose socket stops handling
// packets once it is closed.
func TestNoEventAfterDisconnect(t *testing.T) {
	for _, end := range []struct{ name, frame string }{
		{"socket.io DISCONNECT", "41"},
		{"engine.io close", "1"},
		{"CONNECT_ERROR", `44{"message":"go away"}`},
	} {
		for _, p := range []Protocol{EIO3, EIO4} {
			t.Run(end.name+"/EIO"+strconv.Itoa(int(p)), func(t *testing.T) {
				s, c, connected := startFake(t, newFake(t, nil), WithProtocol(p), WithReconnection(false))
				c.t = t
				c.open(p, "sid1", 25000, 60000, 0)
				if err := connected(); err != nil {
					t.Fatal(err)
				}
				order := make(chan string, 8)
				s.On(EventDisconnect, func(d json.RawMessage) { order <- "disconnect " + string(d) })
				s.On("late", func(d json.RawMessage) { order <- "late " + string(d) })
				// Both frames in one TCP write, so that the client reads them together.
				var raw []byte
				for _, f := range []string{end.frame, `42["late",1]`} {
					raw = append(raw, 0x81, byte(len(f)))
					raw = append(raw, f...)
				}
				if _, err := c.ws.NetConn().Write(raw); err != nil {
					t.Fatal(err)
				}
				var first string
				select {
				case first = <-order:
				case <-time.After(fuzzWait):
					t.Fatalf("no disconnect event within %v of %q", fuzzWait, end.frame)
				}
				if !strings.HasPrefix(first, "disconnect ") {
					t.Fatalf("first event %s, want disconnect", first)
				}
				// No signal exists for an event that must not come: give it 200 ms.
				select {
				case e := <-order:
					t.Errorf("after %q ended the connection (%s), the client still dispatched %s", end.frame, first, e)
				case <-time.After(200 * time.Millisecond):
				}
			})
		}
	}
}
