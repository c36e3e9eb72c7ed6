package sailsio_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// Scenarios that look at the handshake and the WebSocket itself with a raw client: a path that
// is not the Socket.IO endpoint, an EIO=4 client against each hook generation, a message of too
// many frames.

const rawSDKQuery = "__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=node&__sails_io_sdk_language=javascript"

// rawConn is a bare WebSocket connection to a backend.
type rawConn struct {
	t  *testing.T
	ws *websocket.Conn
}

func rawDial(t *testing.T, b *backend, path, eio string) (*rawConn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(b.url, "http") + path + "?" + rawSDKQuery + "&EIO=" + eio + "&transport=websocket"
	hdr := http.Header{}
	if b.origin != "" {
		hdr.Set("Origin", b.origin)
	}
	d := websocket.Dialer{HandshakeTimeout: testkit.Wait}
	ws, resp, err := d.Dial(u, hdr)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	return &rawConn{t: t, ws: ws}, resp, nil
}

// next returns the next text frame that is not an event, or the read error. Events are skipped:
// the raw scenarios expect none, and the backends sharing the server blast to every socket.
func (c *rawConn) next() (string, error) {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(waitLimit))
		_, data, err := c.ws.ReadMessage()
		if err == nil && strings.HasPrefix(string(data), "42[") {
			continue
		}
		return string(data), err
	}
}

func (c *rawConn) expect(want string) {
	c.t.Helper()
	got, err := c.next()
	if err != nil || got != want {
		c.t.Fatalf("frame %q (%v), want %q", got, err, want)
	}
}

// scenarioWrongPath: a WebSocket upgrade on a path that is not the Socket.IO endpoint is left
// unanswered and the TCP connection is closed about a second later (engine.io's destroyUpgrade),
// with no HTTP response at all; a plain GET of that path is an ordinary 404.
func scenarioWrongPath(t *testing.T, b *backend) {
	if b.tmode != "websocket" {
		t.Skip("a raw WebSocket scenario: run once per backend, in the websocket mode")
	}
	begin := time.Now()
	_, resp, err := rawDial(t, b, "/nope/", "3")
	took := time.Since(begin)
	if err == nil || resp != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("upgrade on /nope/: err %v, HTTP %d; want the connection closed without a response", err, status)
	}
	if took < 800*time.Millisecond || took > testkit.D(5*time.Second) {
		t.Errorf("upgrade on /nope/ closed after %v, want about 1s", took)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		var ne net.Error
		if !errors.As(err, &ne) {
			t.Errorf("upgrade on /nope/: %v, want the connection closed (EOF)", err)
		}
	}
	if status, body := httpDo(t, b, "GET", "/nope/", nil); status != 404 {
		t.Errorf("plain GET /nope/: %d %s", status, body)
	}
}

// scenarioRawEIO4: an EIO=4 client. Hook 3 speaks Engine.IO v4 (maxPayload, the client connects
// the namespace, 40{"sid"}); hook 2 ignores EIO=4 and speaks v3 (no maxPayload, it connects the
// namespace itself and answers a client's 40 with another 40).
func scenarioRawEIO4(t *testing.T, b *backend) {
	if b.tmode != "websocket" {
		t.Skip("a raw WebSocket scenario: run once per backend, in the websocket mode")
	}
	c, _, err := rawDial(t, b, "/socket.io/", "4")
	if err != nil {
		t.Fatal(err)
	}
	open, err := c.next()
	if err != nil || !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q (%v)", open, err)
	}
	var o map[string]any
	if err := json.Unmarshal([]byte(open[1:]), &o); err != nil {
		t.Fatal(err)
	}
	_, hasMax := o["maxPayload"]
	if hasMax != (b.hook == 3) {
		t.Errorf("hook %d open packet %s: maxPayload present %v", b.hook, open, hasMax)
	}
	if b.hook == 2 {
		c.expect("40")
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
			t.Fatal(err)
		}
		c.expect("40")
		return
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		t.Fatal(err)
	}
	got, err := c.next()
	if err != nil || !strings.HasPrefix(got, `40{"sid":"`) {
		t.Errorf("hook 3 answer to 40: %q (%v)", got, err)
	}
}

// scenarioEIO4OnV3Server: the SDK asked for EIO4 by a server that speaks only Engine.IO v3 (hooks
// 1.x and 2.x, which answer EIO=4 as v3: no maxPayload, a bare 40 sent by the server) fails to
// connect, over each transport, with a protocol error that names the cause and the fix.
func scenarioEIO4OnV3Server(t *testing.T, b *backend) {
	if b.hook == 3 {
		t.Skip("hook 3 speaks EIO4")
	}
	opts := []sailsio.Option{sailsio.WithProtocol(sailsio.EIO4), b.transports(), sailsio.WithReconnection(false)}
	if b.origin != "" {
		opts = append(opts, sailsio.WithInitialConnectionHeaders(http.Header{"Origin": {b.origin}}))
	}
	s, err := sailsio.Connect(testCtx(t), b.url, opts...)
	if err == nil {
		s.Close()
		t.Fatal("EIO4 client connected to an Engine.IO v3 server")
	}
	if !errors.Is(err, sailsio.ErrProtocol) || !strings.Contains(err.Error(), "sails-hook-sockets 1.x and 2.x") || !strings.Contains(err.Error(), "use EIO3") {
		t.Errorf("EIO4 client: %v, want ErrProtocol naming sails-hook-sockets 1.x and 2.x and EIO3", err)
	}
}

// fragmentedText returns the frames of one masked client text message split into n frames (the
// first carries text, the others are empty).
func fragmentedText(text string, n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		h := byte(0)
		if i == 0 {
			h = websocket.TextMessage
		}
		if i == n-1 {
			h |= 0x80
		}
		payload := ""
		if i == 0 {
			payload = text
		}
		b.WriteByte(h)
		b.WriteByte(0x80 | byte(len(payload)))
		b.Write([]byte{0, 0, 0, 0}) // a zero mask key: the payload as is
		b.WriteString(payload)
	}
	return b.Bytes()
}

// scenarioFragments: ws (under hooks 2 and 3) takes a message of 16,384 frames and closes the
// WebSocket with status 1008 at a message of 16,385. The ws 3.3 of hook 1 has no such limit: it
// takes both.
func scenarioFragments(t *testing.T, b *backend) {
	if b.tmode != "websocket" {
		t.Skip("a raw WebSocket scenario: run once per backend, in the websocket mode")
	}
	c, _, err := rawDial(t, b, "/socket.io/", "3")
	if err != nil {
		t.Fatal(err)
	}
	if open, err := c.next(); err != nil || !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q (%v)", open, err)
	}
	c.expect("40")
	raw := c.ws.UnderlyingConn()
	if _, err := raw.Write(fragmentedText("2", mockserver.MaxMessageFragments)); err != nil {
		t.Fatal(err)
	}
	c.expect("3")
	if _, err := raw.Write(fragmentedText("2", mockserver.MaxMessageFragments+1)); err != nil {
		t.Fatal(err)
	}
	if b.legacy() {
		c.expect("3")
		return
	}
	got, err := c.next()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Errorf("after a message of %d frames: frame %q, error %v; want close 1008", mockserver.MaxMessageFragments+1, got, err)
	}
}

// TestConformanceCrash runs the scenario that kills the server (each backend's server is lifted
// again afterwards).
func TestConformanceCrash(t *testing.T) {
	runConformance(t, serverSetup{exclusive: true, legacyModes: []string{"websocket"}}, []scenario{{name: "invalid SDK version", run: scenarioInvalidVersion}})
}

// scenarioInvalidVersion: a handshake whose __sails_io_sdk_version is not valid semver is
// accepted, and so is a request without a url (a parse error), but the first real request makes
// sails-hook-sockets throw "Invalid Version" and the whole server dies: every connection is cut
// and new ones are refused.
func scenarioInvalidVersion(t *testing.T, b *backend) {
	if b.tmode != "websocket" {
		t.Skip("a raw WebSocket scenario: run once per backend, in the websocket mode")
	}
	other := connect(t, b)
	disc := make(chan string, 1)
	other.On("disconnect", func(d json.RawMessage) { disc <- string(d) })
	u := "ws" + strings.TrimPrefix(b.url, "http") + "/socket.io/?__sails_io_sdk_version=banana&EIO=3&transport=websocket"
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("handshake with version banana: %v, want accepted", err)
	}
	defer ws.Close()
	c := &rawConn{t: t, ws: ws}
	if open, err := c.next(); err != nil || !strings.HasPrefix(open, "0{") {
		t.Fatalf("open %q (%v)", open, err)
	}
	c.expect("40")
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`420["get",{"headers":{}}]`)); err != nil {
		t.Fatal(err)
	}
	if got, err := c.next(); err != nil || !strings.Contains(got, "No url provided") {
		t.Fatalf("request without a url: %q (%v), want a parse error", got, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`421["get",{"url":"/version"}]`)); err != nil {
		t.Fatal(err)
	}
	if got, err := c.next(); err == nil {
		t.Fatalf("request with version banana answered %q, want the server dead", got)
	}
	await(t, disc, "disconnect of another socket")
	// The process is gone: its port refuses connections (give it a moment to exit).
	hc := &http.Client{Timeout: time.Second}
	refused := false
	for deadline := time.Now().Add(testkit.Wait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := hc.Get(b.url + "/version")
		if err != nil {
			refused = true
			break
		}
		resp.Body.Close()
	}
	if !refused {
		t.Error("the server still answers HTTP after the crash")
	}
	if b.isMock() && b.mock.Crashed() == nil {
		t.Error("Crashed() = nil")
	}
	b.revive(t)
}

// scenarioResponseShapes: response header names as res.set wrote them, in the raw JWR (the client
// canonicalizes header names, so a raw socket looks), and res.json of a string.
func scenarioResponseShapes(t *testing.T, b *backend) {
	if b.tmode != "websocket" {
		t.Skip("a raw WebSocket scenario: run once per backend, in the websocket mode")
	}
	c, _, err := rawDial(t, b, "/socket.io/", "3")
	if err != nil {
		t.Fatal(err)
	}
	if open, err := c.next(); err != nil || !strings.HasPrefix(open, "0{") {
		t.Fatalf("open %q (%v)", open, err)
	}
	c.expect("40")
	ask := func(id, path string) string {
		t.Helper()
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`42`+id+`["get",{"method":"get","headers":{},"data":{},"url":"`+path+`"}]`)); err != nil {
			t.Fatal(err)
		}
		for {
			got, err := c.next()
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			if got != "3" { // a heartbeat answer is not ours
				return got
			}
		}
	}
	// res.set('X-Mixed-Case','M'), ('x-lower','l'), ('X-Lower','L'), ('Set-Cookie','a=b'): the names
	// as set, then Node's lower-cased store merged in; only the "set-cookie" key is deleted.
	if got, want := ask("0", "/headercase"), `430[{"body":{"ok":true},"headers":{"X-Mixed-Case":"M","x-lower":"L","X-Lower":"L","Set-Cookie":"a=b","x-mixed-case":"M"},"statusCode":200}]`; got != want {
		t.Errorf("headers set with res.set:\n got %s\nwant %s", got, want)
	}
	if got, want := ask("1", "/jsonstring"), `431[{"body":"\"a string\"","headers":{"content-type":"application/json"},"statusCode":200}]`; got != want {
		t.Errorf("res.json(string) over a socket:\n got %s\nwant %s", got, want)
	}
	if status, body := httpDo(t, b, "GET", "/jsonstring", nil); status != 200 || string(body) != `"a string"` {
		t.Errorf("res.json(string) over HTTP: %d %s", status, body)
	}
}
