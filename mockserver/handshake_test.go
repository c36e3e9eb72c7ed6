package mockserver

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio"
)

// refused dials and returns the HTTP status and body of a refused handshake.
func refused(t *testing.T, s *Server, q string, hdr http.Header) (int, string) {
	t.Helper()
	c, resp, err := tryDial(t, s, q, hdr)
	if err == nil {
		c.close()
		t.Fatal("handshake accepted, want it refused")
	}
	if resp == nil {
		t.Fatalf("handshake failed without an HTTP response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

func TestOnlyAllowOrigins(t *testing.T) {
	for _, tc := range []struct {
		proto sailsio.Protocol
		body  string
	}{{sailsio.EIO4, "Bad request"}, {sailsio.EIO3, "Origin not allowed"}} {
		s := NewT(t, WithProtocol(tc.proto), WithOnlyAllowOrigins("http://good.com"))
		s.Handle("/origin", func(req *Request, res *Response) { res.Send(req.Get("origin")) })
		for _, origin := range []string{"http://evil.com", ""} {
			hdr := http.Header{}
			if origin != "" {
				hdr.Set("Origin", origin)
			}
			status, body := refused(t, s, query(3), hdr)
			if status != 400 || body != tc.body {
				t.Errorf("hook %d, origin %q: got %d %q, want 400 %q", tc.proto, origin, status, body, tc.body)
			}
		}
		c, _ := connect(t, s, 3, http.Header{"Origin": {"http://good.com"}})
		// The virtual origin header is always the handshake's.
		c.send(`420["get",{"method":"get","headers":{"origin":"http://evil.com"},"data":{},"url":"/origin"}]`)
		c.expect(`430[{"body":"http://good.com","headers":{},"statusCode":200}]`)
	}
}

func TestBeforeConnect(t *testing.T) {
	for _, proto := range []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4} {
		s := NewT(t, WithProtocol(proto), WithBeforeConnect(func(r *http.Request) error {
			if r.Header.Get("Authorization") != "Bearer ok" {
				return errors.New("not allowed")
			}
			return nil
		}))
		if status, body := refused(t, s, query(3), nil); status != 400 || body != "not allowed" {
			t.Errorf("got %d %q", status, body)
		}
		connect(t, s, 3, http.Header{"Authorization": {"Bearer ok"}})
	}
}

func TestEngineHandshakeErrors(t *testing.T) {
	s := NewT(t)
	// A WebSocket upgrade with another transport.
	if status, body := refused(t, s, sdkQuery+"&EIO=4&transport=polling", nil); status != 400 || body != "Transport unknown" {
		t.Errorf("upgrade with transport=polling: %d %q", status, body)
	}
	// Plain HTTP: engine.io's JSON errors.
	for _, tc := range []struct{ q, body string }{
		{sdkQuery + "&EIO=3&transport=polling", `{"code":0,"message":"Transport unknown"}`},
		{sdkQuery + "&EIO=3", `{"code":0,"message":"Transport unknown"}`},
		{sdkQuery + "&EIO=3&transport=websocket", `{"code":3,"message":"Bad request"}`},
		{sdkQuery + "&EIO=3&transport=websocket&sid=abc", `{"code":1,"message":"Session ID unknown"}`},
	} {
		resp, body := httpGet(t, s.Client(), s.URL()+"/socket.io/?"+tc.q, nil)
		if resp.StatusCode != 400 || body != tc.body || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET ?%s: %d %s %q", tc.q, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	// EIO missing or anything but 4: EIO3 semantics.
	for _, q := range []string{query(0), sdkQuery + "&EIO=5&transport=websocket"} {
		c := dialRaw(t, s, q, nil)
		c.readOpen()
		c.expect("40")
	}
}

func TestWithPath(t *testing.T) {
	s := NewT(t, WithPath("/ws/"))
	if !strings.HasSuffix(s.WebSocketURL(), "/ws/") {
		t.Fatalf("WebSocketURL %q", s.WebSocketURL())
	}
	connect(t, s, 3, nil)
	resp, _ := httpGet(t, s.Client(), s.URL()+"/socket.io/?EIO=3&transport=websocket", nil)
	if resp.StatusCode != 404 {
		t.Errorf("the default path answered %d", resp.StatusCode)
	}
}

func TestTLS(t *testing.T) {
	s := NewT(t, WithTLS())
	s.Handle("/p", func(req *Request, res *Response) { res.Send(req.Protocol) })
	if !strings.HasPrefix(s.URL(), "https://") || s.Certificate() == nil {
		t.Fatalf("URL %q", s.URL())
	}
	if _, body := httpGet(t, s.Client(), s.URL()+"/p", nil); body != "https" {
		t.Errorf("protocol %q", body)
	}
}

func TestHandshakeInfo(t *testing.T) {
	s := NewT(t)
	_, id := connect(t, s, 4, http.Header{"Cookie": {"sails.sid=xyz"}, "__sails_io_sdk_platform": {"go"}})
	h, ok := s.Handshake(id)
	if !ok || h.EIO != 4 || h.EngineID == id || len(h.EngineID) != 20 || h.SDKVersion != "1.2.1" ||
		h.SDKPlatform != "go" || h.SDKLanguage != "javascript" || h.Cookie != "sails.sid=xyz" ||
		h.SessionID != "xyz" || h.Query.Get("EIO") != "4" || h.Header.Get("Cookie") != "sails.sid=xyz" {
		t.Fatalf("Handshake: %+v", h)
	}
	if _, ok := s.Handshake("nobody"); ok {
		t.Error("Handshake of an unknown socket")
	}
}

// TestUpgradeOnAnotherPath: an upgrade on a path that is not the Socket.IO endpoint gets no
// response; the connection is closed a second later, as engine.io's destroyUpgrade does (the old
// mock answered 404 at once, so code tested on it met another error in production).
func TestUpgradeOnAnotherPath(t *testing.T) {
	s := NewT(t, WithPath("/ws/"))
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	begin := time.Now()
	_, resp, err := d.Dial("ws"+strings.TrimPrefix(s.URL(), "http")+"/socket.io/?"+query(3), nil)
	took := time.Since(begin)
	if err == nil || resp != nil {
		t.Fatalf("upgrade on the default path: %v, response %v; want none", err, resp)
	}
	if took < destroyUpgradeTimeout-100*time.Millisecond || took > 3*destroyUpgradeTimeout {
		t.Errorf("closed after %v, want about %v", took, destroyUpgradeTimeout)
	}
}
