package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/internal/wire"
)

// sdkQuery is the handshake query sails.io.js 1.2.1 sends before EIO and transport.
const sdkQuery = "__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=node&__sails_io_sdk_language=javascript"

// waitTimeout bounds every wait in the tests.
var waitTimeout = testkit.Short

func query(eio int) string {
	if eio == 0 {
		return sdkQuery + "&transport=websocket"
	}
	return sdkQuery + "&EIO=" + string(rune('0'+eio)) + "&transport=websocket"
}

type wsMsg struct {
	typ  int
	data []byte
	err  error
}

// rawClient is a bare gorilla/websocket client; only the test goroutine writes to it.
type rawClient struct {
	t        testing.TB
	ws       *websocket.Conn
	msgs     chan wsMsg
	done     chan struct{}
	wg       sync.WaitGroup
	autoPong bool // answer server pings ("2") with "3" and hide them
	closed   bool
}

func tryDial(t testing.TB, s *Server, rawQuery string, hdr http.Header) (*rawClient, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	u := s.WebSocketURL()
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	ws, resp, err := d.Dial(u, hdr)
	if err != nil {
		return nil, resp, err
	}
	c := &rawClient{t: t, ws: ws, msgs: make(chan wsMsg, 1024), done: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			typ, data, err := ws.ReadMessage()
			select {
			case c.msgs <- wsMsg{typ, data, err}:
			case <-c.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(c.close)
	return c, resp, nil
}

func dialRaw(t testing.TB, s *Server, rawQuery string, hdr http.Header) *rawClient {
	t.Helper()
	c, resp, err := tryDial(t, s, rawQuery, hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	return c
}

func (c *rawClient) close() {
	if c.closed {
		return
	}
	c.closed = true
	_ = c.ws.Close()
	close(c.done)
	c.wg.Wait()
}

func (c *rawClient) send(frame string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatalf("write %q: %v", frame, err)
	}
}

func (c *rawClient) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("write binary: %v", err)
	}
}

// next returns the next message (a read error ends the stream), failing after waitTimeout.
func (c *rawClient) next() wsMsg {
	c.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case m := <-c.msgs:
			if c.autoPong && m.err == nil && m.typ == websocket.TextMessage && string(m.data) == "2" {
				_ = c.ws.WriteMessage(websocket.TextMessage, []byte("3")) // fails once closing: fine
				continue
			}
			return m
		case <-timer.C:
			c.t.Fatalf("no frame within %v", waitTimeout)
			return wsMsg{}
		}
	}
}

func (c *rawClient) nextText() string {
	c.t.Helper()
	m := c.next()
	if m.err != nil {
		c.t.Fatalf("want a text frame, got error %v", m.err)
	}
	if m.typ != websocket.TextMessage {
		c.t.Fatalf("want a text frame, got binary %x", m.data)
	}
	return string(m.data)
}

func (c *rawClient) expect(want string) {
	c.t.Helper()
	if got := c.nextText(); got != want {
		c.t.Fatalf("frame:\n got %s\nwant %s", got, want)
	}
}

// expectClosed reads until the connection ends and returns the close error; data frames before
// it fail the test unless they are in allow.
func (c *rawClient) expectClosed(allow ...string) error {
	c.t.Helper()
	for {
		m := c.next()
		if m.err != nil {
			return m.err
		}
		ok := false
		for _, a := range allow {
			if string(m.data) == a {
				ok = true
			}
		}
		if !ok {
			c.t.Fatalf("want the connection closed, got frame %q", m.data)
		}
	}
}

// expectNothing checks that no frame arrives within d.
func (c *rawClient) expectNothing(d time.Duration) {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		c.t.Fatalf("want no frame, got %q (err %v)", m.data, m.err)
	case <-time.After(d):
	}
}

func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return websocket.CloseAbnormalClosure
	}
	return -1
}

// readOpen reads and decodes the open packet.
func (c *rawClient) readOpen() (wire.Open, string) {
	c.t.Helper()
	f := c.nextText()
	t, payload, err := wire.DecodeEngine([]byte(f))
	if err != nil || t != wire.EngineOpen {
		c.t.Fatalf("want an open packet, got %q", f)
	}
	o, err := wire.DecodeOpen(payload)
	if err != nil {
		c.t.Fatalf("open packet %q: %v", f, err)
	}
	return o, f
}

// v4 reports whether a client asking for EIO=eio gets EIO4 semantics from s.
func v4(s *Server, eio int) bool { return s.cfg.hook3() && eio == 4 }

// connect dials, reads the open packet, completes the namespace CONNECT as the protocol wants
// and returns the client and its socket id.
func connect(t testing.TB, s *Server, eio int, hdr http.Header) (*rawClient, string) {
	t.Helper()
	return connectQuery(t, s, eio, query(eio), hdr)
}

func connectQuery(t testing.TB, s *Server, eio int, q string, hdr http.Header) (*rawClient, string) {
	t.Helper()
	c := dialRaw(t, s, q, hdr)
	o, _ := c.readOpen()
	if !v4(s, eio) {
		c.expect("40")
		return c, o.SID
	}
	c.autoPong = true
	c.send("40")
	f := c.nextText()
	var p struct {
		SID string `json:"sid"`
	}
	if !strings.HasPrefix(f, "40{") || json.Unmarshal([]byte(f[2:]), &p) != nil || len(p.SID) != 20 {
		t.Fatalf("want 40{\"sid\":...}, got %q", f)
	}
	return c, p.SID
}

// ack sends a virtual request with ack id id and returns the decoded JWR.
func (c *rawClient) request(id int, verb, path string, data any) jwr {
	c.t.Helper()
	d, _ := json.Marshal(data)
	if data == nil {
		d = []byte("{}")
	}
	c.send(`42` + itoa(id) + `["` + verb + `",{"method":"` + verb + `","headers":{},"data":` + string(d) + `,"url":"` + path + `"}]`)
	return c.readAck(id)
}

func (c *rawClient) readAck(id int) jwr {
	c.t.Helper()
	f := c.nextText()
	prefix := "43" + itoa(id) + "["
	if !strings.HasPrefix(f, prefix) {
		c.t.Fatalf("want an ack %q..., got %q", prefix, f)
	}
	var arr []jwr
	if err := json.Unmarshal([]byte(f[len(prefix)-1:]), &arr); err != nil || len(arr) != 1 {
		c.t.Fatalf("ack %q: %v", f, err)
	}
	return arr[0]
}

type jwr struct {
	Body       json.RawMessage   `json:"body"`
	Headers    map[string]string `json:"headers"`
	StatusCode int               `json:"statusCode"`
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// modes lists the server modes and client protocols of the protocol tests.
var modes = []struct {
	name   string
	server sailsio.Protocol
	eio    int
}{
	{"hook3/EIO3", sailsio.EIO4, 3},
	{"hook3/EIO4", sailsio.EIO4, 4},
	{"hook2/EIO3", sailsio.EIO3, 3},
	{"hook2/EIO4", sailsio.EIO3, 4},
}

// echoBody is what the transcripts' GET /echo answers.
type echoBody struct {
	Method   string            `json:"method"`
	URL      string            `json:"url"`
	Path     string            `json:"path"`
	Params   map[string]any    `json:"params"`
	Body     json.RawMessage   `json:"body"`
	Query    map[string]string `json:"query"`
	Headers  map[string]string `json:"headers"`
	IsSocket bool              `json:"isSocket"`
}

type chatMsg struct {
	Room string `json:"room"`
	Text string `json:"text"`
	From string `json:"from"`
}

// transcriptApp registers the test app of the reference transcripts.
func transcriptApp(s *Server) {
	s.Handle("POST /rooms/:room/join", func(req *Request, res *Response) {
		s.Join(req.SocketID, req.Param("room"))
		res.JSON(struct {
			Joined string `json:"joined"`
			ID     string `json:"id"`
		}{req.Param("room"), req.SocketID})
	})
	s.Handle("GET /echo", func(req *Request, res *Response) {
		h := map[string]string{}
		for k := range req.Headers {
			h[strings.ToLower(k)] = req.Headers.Get(k)
		}
		q := map[string]string{}
		for k := range req.Query {
			q[k] = req.Query.Get(k)
		}
		res.Set("x-harness-echo", "1")
		res.JSON(echoBody{req.Method, req.URL, req.Path, req.AllParams(), req.Body, q, h, req.IsSocket})
	})
	s.Handle("POST /rooms/:room/say", func(req *Request, res *Response) {
		s.Broadcast(req.Param("room"), "chat", chatMsg{req.Param("room"), req.Param("text"), req.SocketID})
		res.OK(nil)
	})
}

func httpGet(t testing.TB, client *http.Client, u string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	return doHTTP(t, client, req)
}

func doHTTP(t testing.TB, client *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), waitTimeout)
	defer cancel()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func mustParseURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
