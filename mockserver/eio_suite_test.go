package mockserver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/internal/wire"
)

// Engine.IO behaviours of the official protocol test suite (socketio/engine.io-protocol,
// test-suite/) that concern a session's end, checked with raw HTTP long-polling and WebSocket
// requests against the mock in both modes and against real Sails with hooks 2.x and 3.x, and 1.5.5
// (answering as 2.x) (polling allowed, as SAILSIO_TRANSPORTS=polling,websocket does), so that the
// mock's answers are the real ones:
//
//   - a client's close packet over polling releases the pending GET with a noop (200 "6") and ends
//     the session (later requests: 400);
//   - a polling session whose client neither polls nor answers the heartbeat is gone once
//     pingInterval+pingTimeout passed (the next GET: 400), not kept until a GET comes;
//   - a second GET while one is pending ends the session: the pending GET gets the close packet,
//     the second one 400 (engine.io 6) or 500 (engine.io 3) with no body;
//   - a WebSocket naming a session that already upgraded (or is upgrading) is accepted and closed
//     at once (a close frame without a status), and the session carries on; a polling request
//     naming it gets 400 {"code":3,"message":"Bad request"}.

// eioPing and eioTimeout are the heartbeat settings of the servers of these tests: short, so that
// a ping timeout comes soon, long enough that no ping comes during the other checks.
const (
	eioPing    = time.Second
	eioTimeout = 500 * time.Millisecond
)

// eioBackend is one server and the Engine.IO protocol spoken to it.
type eioBackend struct {
	name string
	url  string // http://127.0.0.1:PORT
	eio  int
	hook int     // the sails-hook-sockets generation whose answers are expected: 2 (hooks 1.x and 2.x) or 3
	mock *Server // nil: real Sails
}

func TestEngineIOSessionEnd(t *testing.T) {
	for _, sv := range []struct {
		name string
		hook int
		real bool
		eios []int
	}{
		{"mock-hook2", 2, false, []int{3}},
		{"mock-hook3", 3, false, []int{4, 3}},
		{"hook1", 2, true, []int{3}},
		{"hook2", 2, true, []int{3}},
		{"hook3", 3, true, []int{4, 3}},
	} {
		t.Run(sv.name, func(t *testing.T) {
			t.Parallel()
			var b eioBackend
			if sv.real {
				srv := realsails.Start(t, sv.name,
					realsails.WithEnv("SAILSIO_TRANSPORTS", "polling,websocket"),
					realsails.WithEnv("SAILSIO_PING_INTERVAL", strconv.Itoa(int(eioPing.Milliseconds()))),
					realsails.WithEnv("SAILSIO_PING_TIMEOUT", strconv.Itoa(int(eioTimeout.Milliseconds()))))
				b.url = srv.URL
			} else {
				mode := sailsio.EIO4
				if sv.hook == 2 {
					mode = sailsio.EIO3
				}
				b.mock = NewT(t, WithProtocol(mode), WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket),
					WithPingInterval(eioPing), WithPingTimeout(eioTimeout))
				b.url = b.mock.URL()
			}
			b.hook = sv.hook
			for _, eio := range sv.eios {
				b := b
				b.eio, b.name = eio, sv.name+"/EIO"+strconv.Itoa(eio)
				t.Run("EIO"+strconv.Itoa(eio), func(t *testing.T) {
					t.Parallel()
					t.Run("ping timeout without a poll", func(t *testing.T) { t.Parallel(); eioPingTimeout(t, &b) })
					t.Run("client close over polling", func(t *testing.T) { t.Parallel(); eioClientClose(t, &b) })
					t.Run("duplicate poll", func(t *testing.T) { t.Parallel(); eioDuplicatePoll(t, &b) })
					t.Run("same sid after upgrade", func(t *testing.T) { t.Parallel(); eioAfterUpgrade(t, &b) })
					t.Run("polling with a WebSocket session's sid", func(t *testing.T) { t.Parallel(); eioWebSocketSession(t, &b) })
				})
			}
		})
	}
}

// endpoint is the Engine.IO endpoint of b for a session (sid "": a handshake).
func (b *eioBackend) endpoint(transport, sid string) string {
	u := b.url + "/socket.io/?EIO=" + strconv.Itoa(b.eio) + "&transport=" + transport
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

// payload is one Engine.IO packet as a polling payload of b's protocol.
func (b *eioBackend) payload(packets ...string) string {
	pp := make([]wire.PayloadPacket, len(packets))
	for i, p := range packets {
		pp[i] = wire.PayloadPacket{Data: []byte(p)}
	}
	return string(wire.AppendPayload(nil, b.eio, pp))
}

type pollResult struct {
	status int
	body   string
	err    error
}

// poll sends one polling request (a GET when body is "") and returns its answer. wrote, if not
// nil, is closed once the request is written.
func (b *eioBackend) poll(ctx context.Context, sid, body string, wrote chan<- struct{}) pollResult {
	method := http.MethodGet
	var rd io.Reader
	if body != "" {
		method, rd = http.MethodPost, strings.NewReader(body)
	}
	if wrote != nil {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }})
	}
	req, err := http.NewRequestWithContext(ctx, method, b.endpoint("polling", sid), rd)
	if err != nil {
		return pollResult{err: err}
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	// A client of its own: no connection is shared, as between the requests of a browser's tabs.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return pollResult{err: err}
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return pollResult{status: resp.StatusCode, body: string(out), err: err}
}

// open opens a polling session and returns its id once what the server sends first is taken:
// the open packet and, under EIO3, the namespace CONNECT (in the same answer or the next).
func (b *eioBackend) open(t *testing.T) string {
	t.Helper()
	ctx := ctxT(t)
	r := b.poll(ctx, "", "", nil)
	if r.err != nil || r.status != 200 {
		t.Fatalf("handshake: %d %q %v", r.status, r.body, r.err)
	}
	packets, err := wire.DecodePayload(b.eio, []byte(r.body), nil)
	if err != nil || len(packets) == 0 {
		t.Fatalf("handshake payload %q: %v", r.body, err)
	}
	o, err := wire.DecodeOpen(packets[0].Data[1:])
	if err != nil {
		t.Fatalf("open packet %q: %v", packets[0].Data, err)
	}
	if b.eio == 3 && len(packets) == 1 {
		if r := b.poll(ctx, o.SID, "", nil); r.status != 200 || r.body != b.payload("40") {
			t.Fatalf("GET after the handshake: %d %q %v", r.status, r.body, r.err)
		}
	}
	return o.SID
}

// pendingGet starts a GET of session sid and returns once the server waits with it: on the mock,
// once the GET is pending; on real Sails, which cannot be asked, once the request is written and a
// moment passed (Node reads it at once on loopback).
func (b *eioBackend) pendingGet(t *testing.T, sid string) <-chan pollResult {
	t.Helper()
	out := make(chan pollResult, 1)
	wrote := make(chan struct{})
	go func() { out <- b.poll(ctxT(t), sid, "", wrote) }()
	await(t, wrote, "GET written")
	if b.mock == nil {
		time.Sleep(100 * time.Millisecond)
		return out
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		if c := b.mock.pollConn(sid); c != nil && c.poll != nil && c.poll.isGetting() {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatal("the GET never became pending")
		}
		time.Sleep(time.Millisecond)
	}
}

// expectGone checks that session sid is gone: a GET gets 400 "Session ID unknown".
func (b *eioBackend) expectGone(t *testing.T, sid, after string) {
	t.Helper()
	if r := b.poll(ctxT(t), sid, "", nil); r.status != 400 || r.body != `{"code":1,"message":"Session ID unknown"}` {
		t.Errorf("GET after %s: %d %q %v; want 400 Session ID unknown", after, r.status, r.body, r.err)
	}
}

// eioPingTimeout: "closes the session upon ping timeout" (HTTP long-polling). The client opens a
// session and neither polls nor pings: once pingInterval+pingTimeout passed, the session is gone.
func eioPingTimeout(t *testing.T, b *eioBackend) {
	sid := b.open(t)
	// The idle time is the subject: there is nothing to wait for but the clock. Real Sails forgets
	// the session at pingInterval+pingTimeout (1.5 s); the mock did only closeGrace (1 s) later.
	time.Sleep(eioPing + eioTimeout + 500*time.Millisecond)
	b.expectGone(t, sid, "the ping timeout")
}

// eioClientClose: "forcefully closes the session" (HTTP long-polling). A POST of the close packet
// while a GET is pending: the GET gets a noop, the POST "ok", and the session is gone.
func eioClientClose(t *testing.T, b *eioBackend) {
	sid := b.open(t)
	get := b.pendingGet(t, sid)
	if r := b.poll(ctxT(t), sid, b.payload("1"), nil); r.status != 200 || r.body != "ok" {
		t.Errorf("POST of the close packet: %d %q %v", r.status, r.body, r.err)
	}
	if r := await(t, get, "pending GET"); r.status != 200 || r.body != b.payload("6") {
		t.Errorf("pending GET: %d %q %v; want 200 %q", r.status, r.body, r.err, b.payload("6"))
	}
	b.expectGone(t, sid, "the close packet")
}

// eioDuplicatePoll: "closes the session upon duplicate poll requests". The pending GET gets the
// close packet, the second GET 400 (engine.io 6) or 500 (engine.io 3) with no body, and the
// session is gone.
func eioDuplicatePoll(t *testing.T, b *eioBackend) {
	sid := b.open(t)
	get := b.pendingGet(t, sid)
	want := http.StatusBadRequest
	if b.hook == 2 {
		want = http.StatusInternalServerError
	}
	if r := b.poll(ctxT(t), sid, "", nil); r.status != want || r.body != "" {
		t.Errorf("second GET: %d %q %v; want %d and no body", r.status, r.body, r.err, want)
	}
	if r := await(t, get, "pending GET"); r.status != 200 || r.body != b.payload("1") {
		t.Errorf("pending GET: %d %q %v; want 200 %q", r.status, r.body, r.err, b.payload("1"))
	}
	b.expectGone(t, sid, "the duplicate GET")
}

// eioAfterUpgrade: "ignores WebSocket connection with same sid after upgrade" and "ignores HTTP
// requests with same sid after upgrade". The second WebSocket is accepted, then closed by the
// server without a status; a polling GET gets 400; the upgraded WebSocket carries on.
func eioAfterUpgrade(t *testing.T, b *eioBackend) {
	sid := b.open(t)
	wsURL := "ws" + strings.TrimPrefix(b.endpoint("websocket", sid), "http")
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	ws, _, err := d.Dial(wsURL, nil)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != "3probe" {
		t.Fatalf("probe answer %q %v", data, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	// The server has taken the upgrade once it answers what was sent after the 5 (the same
	// WebSocket, read in order): a namespace CONNECT (EIO4) or a ping (EIO3). Without this wait a
	// GET can overtake the upgrade and get the noop that ends the polling side.
	probe, want := "40", "40{"
	if b.eio == 3 {
		probe, want = "2", "3"
	}
	wsAnswer(t, ws, probe, want, "the upgraded WebSocket")

	// A second WebSocket for the session: accepted, then closed at once.
	ws2, resp, err := d.Dial(wsURL, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("second WebSocket refused: %d %v", status, err)
	}
	_ = ws2.SetReadDeadline(time.Now().Add(waitTimeout))
	_, data, err := ws2.ReadMessage()
	if code := closeCode(err); code != websocket.CloseNoStatusReceived {
		t.Errorf("second WebSocket: %q %v (close code %d); want a close frame without a status", data, err, code)
	}
	ws2.Close()

	// A polling request for the session.
	if r := b.poll(ctxT(t), sid, "", nil); r.status != 400 || r.body != `{"code":3,"message":"Bad request"}` {
		t.Errorf("GET after the upgrade: %d %q %v", r.status, r.body, r.err)
	}

	// The upgraded WebSocket still works: a ping (EIO3) or a virtual request (EIO4, whose
	// namespace is connected already) is answered.
	if b.eio != 3 {
		probe, want = `421["get",{"method":"get","url":"/__nothing","headers":{},"data":{}}]`, "431"
	}
	wsAnswer(t, ws, probe, want, "the upgraded WebSocket after the second one")
}

// wsAnswer sends probe on ws and reads until a message starting with want (answering the
// server's EIO4 pings meanwhile).
func wsAnswer(t *testing.T, ws *websocket.Conn, probe, want, what string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(probe)); err != nil {
		t.Fatal(err)
	}
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if strings.HasPrefix(string(data), want) {
			return
		}
		if string(data) == "2" { // a server ping (EIO4)
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
		}
	}
}

func (p *pollState) isGetting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.getting
}

// eioWebSocketSession: a polling request naming a session opened over WebSocket gets 400
// {"code":3,"message":"Bad request"} (the transports differ), as engine.io's verify answers it.
func eioWebSocketSession(t *testing.T, b *eioBackend) {
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(b.endpoint("websocket", ""), "http"), nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	_, data, err := ws.ReadMessage()
	if err != nil || len(data) == 0 || data[0] != '0' {
		t.Fatalf("open packet %q %v", data, err)
	}
	o, err := wire.DecodeOpen(data[1:])
	if err != nil {
		t.Fatal(err)
	}
	if r := b.poll(ctxT(t), o.SID, "", nil); r.status != 400 || r.body != `{"code":3,"message":"Bad request"}` {
		t.Errorf("GET naming a WebSocket session: %d %q %v", r.status, r.body, r.err)
	}
}

// await receives one value from ch within waitTimeout.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("no %s within %v", what, waitTimeout)
		panic("unreachable")
	}
}
