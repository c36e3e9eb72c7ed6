package mockserver

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio"
)

// TestTranscriptScenario replays the reference transcripts (v2.txt, v3.txt, v3-client-v2.txt)
// against every server mode with EIO3 and EIO4 clients and checks the literal frames.
func TestTranscriptScenario(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			var rec FrameRecorder
			s := NewT(t, WithProtocol(m.server), WithPingInterval(time.Second), WithPingTimeout(5*time.Second), WithFrameLog(rec.Log))
			transcriptApp(s)
			hook3 := m.server == sailsio.EIO4
			eio4 := v4(s, m.eio)

			// step 1: connect
			p := dialRaw(t, s, query(m.eio), nil)
			open, openFrame := p.readOpen()
			wantOpen := `0{"sid":"` + open.SID + `","upgrades":[],"pingInterval":1000,"pingTimeout":5000`
			if hook3 {
				wantOpen += `,"maxPayload":100000000`
			}
			wantOpen += `}`
			if openFrame != wantOpen || len(open.SID) != 20 {
				t.Fatalf("open packet:\n got %s\nwant %s", openFrame, wantOpen)
			}
			id := open.SID
			var wantFrames []string
			wantFrames = append(wantFrames, "< "+wantOpen)
			if eio4 {
				p.send("40")
				f := p.nextText()
				var cp struct {
					SID string `json:"sid"`
				}
				if err := json.Unmarshal([]byte(strings.TrimPrefix(f, "40")), &cp); err != nil || len(cp.SID) != 20 || cp.SID == open.SID {
					t.Fatalf("CONNECT reply %q: want 40{\"sid\":<20 chars, not the engine sid>}", f)
				}
				if want := `40{"sid":"` + cp.SID + `"}`; f != want {
					t.Fatalf("CONNECT reply %q, want %q", f, want)
				}
				id = cp.SID
				wantFrames = append(wantFrames, "> 40", "< "+f)
			} else {
				p.expect("40")
				wantFrames = append(wantFrames, "< 40")
			}
			p.autoPong = eio4

			// step 2: POST /rooms/demo/join
			join := `420["post",{"method":"post","headers":{},"data":{},"url":"/rooms/demo/join"}]`
			joined := `430[{"body":{"joined":"demo","id":"` + id + `"},"headers":{},"statusCode":200}]`
			p.send(join)
			p.expect(joined)
			wantFrames = append(wantFrames, "> "+join, "< "+joined)

			// step 3: GET /echo?x=1 with header x-custom: hello
			echo := `421["get",{"method":"get","headers":{"x-custom":"hello"},"data":{},"url":"/echo?x=1"}]`
			p.send(echo)
			f := p.nextText()
			wantFrames = append(wantFrames, "> "+echo, "< "+f)
			if !strings.HasPrefix(f, `431[{"body":{`) || !strings.HasSuffix(f, `},"headers":{"x-harness-echo":"1"},"statusCode":200}]`) {
				t.Fatalf("echo ack %q", f)
			}
			var acks []struct {
				Body echoBody `json:"body"`
			}
			if err := json.Unmarshal([]byte(f[3:]), &acks); err != nil {
				t.Fatal(err)
			}
			got := acks[0].Body
			if !strings.HasPrefix(got.Headers["cookie"], "sails.sid=s%3A") {
				t.Errorf("cookie header %q: want a generated sails.sid", got.Headers["cookie"])
			}
			want := echoBody{
				Method: "GET", URL: "/echo?x=1", Path: "/echo",
				Params: map[string]any{"x": "1"}, Body: json.RawMessage(`{}`), Query: map[string]string{"x": "1"},
				Headers:  map[string]string{"cookie": got.Headers["cookie"], "x-custom": "hello"}, // no host: real Sails adds none
				IsSocket: true,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("echo body (-want +got):\n%s", diff)
			}

			// step 4: another socket Q says "hi from Q" in room demo
			q, qid := connect(t, s, m.eio, nil)
			if qr := q.request(0, "post", "/rooms/demo/join", nil); qr.StatusCode != 200 {
				t.Fatalf("Q join: %+v", qr)
			}
			q.send(`421["post",{"method":"post","headers":{},"data":{"text":"hi from Q"},"url":"/rooms/demo/say"}]`)
			chat := `42["chat",{"room":"demo","text":"hi from Q","from":"` + qid + `"}]`
			q.expect(chat) // Q is in the room too: the push comes before the ack
			q.expect(`431[{"body":"OK","headers":{},"statusCode":200}]`)
			p.expect(chat)
			wantFrames = append(wantFrames, "< "+chat)

			// step 5: heartbeat, in the direction of the protocol
			if eio4 {
				p.autoPong = false
				p.expect("2")
				p.send("3")
			} else {
				p.send("2")
				p.expect("3")
			}

			// step 6: disconnect: 41, then a close frame without status; the server echoes it
			p.send("41")
			wantFrames = append(wantFrames, "> 41")
			if err := p.ws.WriteControl(websocket.CloseMessage, []byte{}, time.Now().Add(waitTimeout)); err != nil {
				t.Fatal(err)
			}
			if err := p.expectClosed("2"); closeCode(err) != websocket.CloseNoStatusReceived {
				t.Fatalf("close: %v, want the server's empty close frame (1005)", err)
			}
			if _, err := s.WaitSockets(ctxT(t), func(ids []string) bool { return len(ids) == 1 && ids[0] == qid }); err != nil {
				t.Fatalf("P still connected: %v", s.SocketIDs())
			}

			var gotFrames []string
			for _, fr := range rec.Frames(id) {
				if d := string(fr.Data); d != "2" && d != "3" {
					gotFrames = append(gotFrames, string(fr.Dir)+" "+d)
				}
			}
			if diff := cmp.Diff(wantFrames, gotFrames); diff != "" {
				t.Errorf("frames of P (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPingPong(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := NewT(t, WithProtocol(m.server), WithPingInterval(50*time.Millisecond), WithPingTimeout(10*time.Second))
			c, _ := connect(t, s, m.eio, nil)
			c.autoPong = false
			if v4(s, m.eio) {
				for i := 0; i < 3; i++ {
					c.expect("2") // the server pings
					c.send("3")
				}
				return
			}
			c.expectNothing(150 * time.Millisecond) // EIO3: the server never pings
			for i := 0; i < 3; i++ {
				c.send("2")
				c.expect("3")
			}
			c.send("2probe")
			c.expect("3probe")
		})
	}
}

func TestHeartbeatTimeouts(t *testing.T) {
	t.Run("EIO3 client never pings", func(t *testing.T) {
		for _, proto := range []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4} {
			s := NewT(t, WithProtocol(proto), WithPingInterval(100*time.Millisecond), WithPingTimeout(100*time.Millisecond))
			c, _ := connect(t, s, 3, nil)
			start := time.Now()
			if err := c.expectClosed(); closeCode(err) != websocket.CloseNoStatusReceived {
				t.Fatalf("want a close frame, got %v", err)
			}
			if d := time.Since(start); d < 150*time.Millisecond {
				t.Errorf("closed after %v, want about pingInterval+pingTimeout", d)
			}
		}
	})
	t.Run("EIO3 client pings keep it alive", func(t *testing.T) {
		const window = time.Second // pingInterval + pingTimeout
		s := NewT(t, WithPingInterval(window/2), WithPingTimeout(window/2))
		c, _ := connect(t, s, 3, nil)
		start, last := time.Now(), time.Now()
		for time.Since(start) < window*3/2 {
			time.Sleep(100 * time.Millisecond) // the client's own ping interval
			c.send("2")
			m := c.next()
			if m.err != nil && time.Since(last) > window {
				t.Skipf("the test was stalled for %v (> %v): cannot judge", time.Since(last), window)
			}
			if m.err != nil || string(m.data) != "3" {
				t.Fatalf("want 3, got %q %v", m.data, m.err)
			}
			last = time.Now()
		}
	})
	t.Run("EIO4 client never answers", func(t *testing.T) {
		s := NewT(t, WithPingInterval(50*time.Millisecond), WithPingTimeout(100*time.Millisecond))
		c, _ := connect(t, s, 4, nil)
		c.autoPong = false
		c.expect("2")
		if err := c.expectClosed(); closeCode(err) != websocket.CloseNoStatusReceived {
			t.Fatalf("want a close frame, got %v", err)
		}
	})
}

func TestHeartbeatDirectionViolations(t *testing.T) {
	t.Run("EIO4 client sends ping", func(t *testing.T) {
		s := NewT(t)
		c, _ := connect(t, s, 4, nil)
		c.send("2")
		if err := c.expectClosed(); closeCode(err) != websocket.CloseNoStatusReceived {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("EIO3 client sends pong to hook 3", func(t *testing.T) {
		s := NewT(t)
		c, _ := connect(t, s, 3, nil)
		c.send("3")
		if err := c.expectClosed(); closeCode(err) != websocket.CloseNoStatusReceived {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("EIO3 client sends pong to hook 2", func(t *testing.T) {
		s := NewT(t, WithProtocol(sailsio.EIO3))
		transcriptApp(s)
		c, id := connect(t, s, 3, nil)
		c.send("3") // ignored by engine.io 3
		if r := c.request(0, "post", "/rooms/demo/join", nil); r.StatusCode != 200 || !strings.Contains(string(r.Body), id) {
			t.Fatalf("got %+v", r)
		}
	})
}

func TestNamespaceConnectRules(t *testing.T) {
	t.Run("EIO3 client 40 closes on hook 3", func(t *testing.T) {
		s := NewT(t)
		c, _ := connect(t, s, 3, nil)
		c.send("40")
		if err := c.expectClosed(); closeCode(err) != websocket.CloseNoStatusReceived {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("EIO3 client 40 gets a duplicate 40 on hook 2", func(t *testing.T) {
		s := NewT(t, WithProtocol(sailsio.EIO3))
		c, _ := connect(t, s, 3, nil)
		c.send("40")
		c.expect("40")
	})
	t.Run("EIO4 client must connect first", func(t *testing.T) {
		s := NewT(t)
		transcriptApp(s)
		c := dialRaw(t, s, query(4), nil)
		c.readOpen()
		c.send(`420["post",{"method":"post","headers":{},"data":{},"url":"/rooms/demo/join"}]`)
		if err := c.expectClosed(); closeCode(err) != websocket.CloseNoStatusReceived {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("EIO4 CONNECT with auth payload", func(t *testing.T) {
		s := NewT(t)
		c := dialRaw(t, s, query(4), nil)
		c.readOpen()
		c.send(`40{"token":"abc"}`)
		if f := c.nextText(); !strings.HasPrefix(f, `40{"sid":"`) {
			t.Fatalf("got %q", f)
		}
	})
	t.Run("EIO4 empty event closes", func(t *testing.T) {
		s := NewT(t)
		c, _ := connect(t, s, 4, nil)
		c.send(`42[]`)
		if err := c.expectClosed(); closeCode(err) != websocket.CloseNoStatusReceived {
			t.Fatalf("got %v", err)
		}
	})
	for _, tc := range []struct {
		name  string
		proto sailsio.Protocol
		eio   int
		want  string
	}{
		{"hook3 EIO3", sailsio.EIO4, 3, `44/nope,{"message":"Invalid namespace"}`},
		{"hook3 EIO4", sailsio.EIO4, 4, `44/nope,{"message":"Invalid namespace"}`},
		{"hook2 EIO3", sailsio.EIO3, 3, `44/nope,"Invalid namespace"`},
	} {
		t.Run("invalid namespace "+tc.name, func(t *testing.T) {
			s := NewT(t, WithProtocol(tc.proto))
			c, _ := connect(t, s, tc.eio, nil)
			c.send("40/nope,")
			c.expect(tc.want)
		})
	}
	t.Run("41 then 40 reconnects the namespace", func(t *testing.T) {
		s := NewT(t)
		c, id := connect(t, s, 3, nil)
		c.send("41")
		if _, err := s.WaitSockets(ctxT(t), func(ids []string) bool { return len(ids) == 0 }); err != nil {
			t.Fatal(err)
		}
		c.send("40")
		c.expect("40")
		if _, err := s.WaitSockets(ctxT(t), func(ids []string) bool { return len(ids) == 1 && ids[0] == id }); err != nil {
			t.Fatal(err)
		}
	})
}

func TestIgnoredEvents(t *testing.T) {
	s := NewT(t)
	called := make(chan string, 10)
	s.Handle("/x", func(req *Request, res *Response) {
		called <- req.Method
		res.OK(nil)
	})
	c, _ := connect(t, s, 3, nil)
	// An upper-case verb and an unknown event match no listener: never answered.
	c.send(`420["GET",{"method":"get","headers":{},"data":{},"url":"/x"}]`)
	c.send(`421["hello",{"url":"/x"}]`)
	// A request without an ack id is served but not answered.
	c.send(`42["post",{"method":"post","headers":{},"data":{},"url":"/x"}]`)
	select {
	case m := <-called:
		if m != "POST" {
			t.Fatalf("handler saw %s", m)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the request without ack id was not served")
	}
	if r := c.request(2, "get", "/x", nil); r.StatusCode != 200 {
		t.Fatalf("got %+v", r)
	}
	if len(called) != 1 {
		t.Fatalf("handler called %d more times", len(called))
	}
}

func TestEveryVerb(t *testing.T) {
	s := NewT(t)
	s.Handle("ALL /v", func(req *Request, res *Response) { res.Send(req.Method) }) // "/v" would not serve OPTIONS
	c, _ := connect(t, s, 3, nil)
	for i, v := range []string{"get", "post", "put", "delete", "patch", "options", "head"} {
		r := c.request(i, v, "/v", nil)
		if want := `"` + strings.ToUpper(v) + `"`; string(r.Body) != want || r.StatusCode != 200 {
			t.Errorf("%s: got %+v, want body %s", v, r, want)
		}
	}
}

func TestOversizedFrame(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := NewT(t, WithProtocol(m.server), WithMaxHTTPBufferSize(2000))
			c := dialRaw(t, s, query(m.eio), nil)
			o, _ := c.readOpen()
			if want := int64(2000); m.server == sailsio.EIO4 && o.MaxPayload != want {
				t.Errorf("maxPayload %d, want %d", o.MaxPayload, want)
			}
			c.send(`42["post",{"url":"/x","data":"` + strings.Repeat("a", 3000) + `"}]`)
			err := c.expectClosed("40", `40{"sid":"x"}`)
			if closeCode(err) != websocket.CloseMessageTooBig {
				t.Fatalf("got %v, want close 1009", err)
			}
		})
	}
}

func TestBinaryEvent(t *testing.T) {
	for _, eio := range []int{3, 4} {
		s := NewT(t)
		s.Handle("POST /upload", func(req *Request, res *Response) {
			var body struct {
				File []byte `json:"file"`
				Name string `json:"name"`
			}
			if err := json.Unmarshal(req.Body, &body); err != nil {
				res.BadRequest(err)
				return
			}
			res.JSON(map[string]any{"len": len(body.File), "first": body.File[0], "name": body.Name})
		})
		c, _ := connect(t, s, eio, nil)
		c.send(`451-0["post",{"method":"post","headers":{},"data":{"file":{"_placeholder":true,"num":0},"name":"f"},"url":"/upload"}]`)
		att := []byte{7, 8, 9}
		if eio == 3 {
			att = append([]byte{4}, att...)
		}
		c.sendBinary(att)
		c.expect(`430[{"body":{"first":7,"len":3,"name":"f"},"headers":{},"statusCode":200}]`)
	}
}

func TestBinaryResponse(t *testing.T) {
	for _, eio := range []int{3, 4} {
		s := NewT(t)
		s.Handle("GET /bin", func(req *Request, res *Response) { res.Send([]byte{1, 2, 3}) })
		c, _ := connect(t, s, eio, nil)
		c.send(`420["get",{"method":"get","headers":{},"data":{},"url":"/bin"}]`)
		c.expect(`461-0[{"body":{"_placeholder":true,"num":0},"headers":{},"statusCode":200}]`)
		m := c.next()
		want := []byte{1, 2, 3}
		if eio == 3 {
			want = []byte{4, 1, 2, 3}
		}
		if m.typ != websocket.BinaryMessage || string(m.data) != string(want) {
			t.Fatalf("EIO%d attachment %x, want %x", eio, m.data, want)
		}
	}
}

func TestMalformedFramesClose(t *testing.T) {
	for _, frame := range []string{"", "9", "4x", `42{"a":1}`} {
		s := NewT(t)
		c, _ := connect(t, s, 3, nil)
		c.send(frame)
		if err := c.expectClosed(); closeCode(err) != websocket.CloseNoStatusReceived {
			t.Errorf("frame %q: got %v", frame, err)
		}
	}
	s := NewT(t)
	c, _ := connect(t, s, 3, nil)
	c.sendBinary([]byte{4, 1}) // an attachment nobody announced
	if err := c.expectClosed(); closeCode(err) != websocket.CloseNoStatusReceived {
		t.Errorf("stray binary frame: got %v", err)
	}
}
