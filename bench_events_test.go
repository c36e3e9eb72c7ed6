package sailsio_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

// The receive path of server events through the whole SDK (the reader, frame and packet decoding,
// the event's handlers on the callback goroutine, the user's decoding), against a bare peer in this
// process that sends b.N events to one socket, each `42["tick",{"i":<n>,"text":"xxxxxxxxxxxxxxxx"}]`:
//
//	paced  one event per write(2), as a server emitting each event as it happens: the client
//	       mostly wakes up for each event
//	burst  64 KiB writes of events, as a server flushing a backlog: the client's own work per event
//
// The handler decodes the data into a struct: with json.Unmarshal in an On handler (On), or through
// OnJSON. The SDK's goroutines carry the profiler label side=client (the peer's do not), so that a
// profile can be narrowed to the client:
//
//	go test -run '^$' -bench 'BenchmarkEvents/paced/On$' -benchtime 200000x -cpuprofile cpu.pprof .
//	go tool pprof -tagfocus side=client -top sailsio.test cpu.pprof

// eventTick is an event's data as a user's struct.
type eventTick struct {
	I    int    `json:"i"`
	Text string `json:"text"`
}

// eventPeer is the bare peer: it hands each connection, once connected (EIO3, no heartbeat within a
// benchmark's time), to the benchmark, and reads and drops what the client sends.
func eventPeer(b *testing.B) (url string, conns <-chan *websocket.Conn) {
	ch := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		open := `0{"sid":"events","upgrades":[],"pingInterval":600000,"pingTimeout":600000}`
		if c.WriteMessage(websocket.TextMessage, []byte(open)) != nil || c.WriteMessage(websocket.TextMessage, []byte("40")) != nil {
			return
		}
		ch <- c
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}))
	b.Cleanup(srv.Close)
	return srv.URL, ch
}

// appendEventFrame appends the text of event number i.
func appendEventFrame(dst []byte, i int) []byte {
	dst = append(dst, `42["tick",{"i":`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, `,"text":"xxxxxxxxxxxxxxxx"}]`...)
}

// sendEvents sends n events on c: one per message write (paced), or as unmasked WebSocket frames in
// writes of about 64 KiB (burst).
func sendEvents(c *websocket.Conn, n int, burst bool) error {
	var msg, out []byte
	for i := range n {
		msg = appendEventFrame(msg[:0], i)
		if !burst {
			if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
				return err
			}
			continue
		}
		// A final text frame, unmasked (server to client), with a 7-bit or 16-bit length.
		if len(msg) < 126 {
			out = append(out, 0x81, byte(len(msg)))
		} else {
			out = append(out, 0x81, 126, byte(len(msg)>>8), byte(len(msg)))
		}
		out = append(out, msg...)
		if len(out) >= 64<<10 || i == n-1 {
			if _, err := c.NetConn().Write(out); err != nil {
				return err
			}
			out = out[:0]
		}
	}
	return nil
}

// BenchmarkEvents: one event per op, received by an On handler with json.Unmarshal or by OnJSON.
func BenchmarkEvents(b *testing.B) {
	for _, mode := range []string{"paced", "burst"} {
		for _, typed := range []bool{false, true} {
			name := mode + "/On"
			if typed {
				name = mode + "/OnJSON"
			}
			b.Run(name, func(b *testing.B) {
				benchEvents(b, mode == "burst", typed)
			})
		}
	}
}

func benchEvents(b *testing.B, burst, typed bool) {
	url, conns := eventPeer(b)
	ctx, cancel := context.WithTimeout(context.Background(), testkit.D(5*time.Minute))
	defer cancel()
	var (
		s   *sailsio.SailsSocket
		err error
	)
	// The SDK's goroutines inherit the label from the goroutine that connects.
	pprof.Do(ctx, pprof.Labels("side", "client"), func(ctx context.Context) {
		s, err = sailsio.Connect(ctx, url, sailsio.WithReconnection(false))
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Disconnect()
	var c *websocket.Conn
	select {
	case c = <-conns:
	case <-ctx.Done():
		b.Fatal("the peer got no connection")
	}

	var got, want, bad int // touched by the handler only, until done is closed
	done := make(chan struct{})
	seen := func(i int, err error) {
		if err != nil || i != got {
			bad++
		}
		if got++; got == want {
			close(done)
		}
	}
	if typed {
		sailsio.OnJSON(s, "tick", func(v eventTick) { seen(v.I, nil) })
	} else {
		s.On("tick", func(data json.RawMessage) {
			var v eventTick
			err := json.Unmarshal(data, &v)
			seen(v.I, err)
		})
	}
	want = b.N // before the first event is sent: the handler reads it after
	b.ReportAllocs()
	b.ResetTimer()
	if err := sendEvents(c, b.N, burst); err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatalf("%d of %d events arrived", got, b.N)
	}
	b.StopTimer()
	if bad > 0 {
		b.Fatalf("%d events out of order or undecodable", bad)
	}
}
