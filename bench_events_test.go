package sailsio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

// The receive path of server events through the whole SDK (the reader, frame and packet decoding,
// the event's handlers on the callback goroutine, the user's decoding), against a bare peer in this
// process that sends b.N events to one socket, each `42["tick",{"i":<n>,"text":"xxxxxxxxxxxxxxxx"}]`,
// in one of two ways:
//
//	paced  one event per write(2), one every 20 µs (the peer spins in between on a thread of its
//	       own), about the pace of one real Sails process: the client mostly waits, and wakes up
//	       for each event or a few
//	burst  64 KiB writes of events, as fast as the peer can: the client's own work per event
//
// Three clients receive them:
//
//	floor   bare gorilla/websocket: every message read into one reusable buffer, events counted by
//	        their "42" prefix, nothing decoded (the floor of the bench's events section)
//	On      the SDK, an On handler decoding the data into a struct with json.Unmarshal
//	OnJSON  the SDK, OnJSON into the same struct
//
// Besides ns/op (one event per op), each reports client-µs/event: the CPU time of the process
// less that of the peer's thread (Linux; elsewhere 0), per event. The peer's goroutine carries the
// profiler label side=peer, so that a profile can be narrowed to the client (and the runtime's
// work for it) with -tagignore; the client's goroutines carry side=client, but a reader that took
// over from another (Session.Handoff) is started by a timer and carries none. Run paced with -cpu 3,
// so that the client has two Ps beside the spinning peer, as it would against a real server:
//
//	go test -run '^$' -bench 'BenchmarkEvents/paced' -benchtime 50000x -cpu 3 .
//	go test -run '^$' -bench 'BenchmarkEvents/burst/On$' -benchtime 500000x -cpuprofile cpu.pprof .
//	go tool pprof -tagignore side=peer -top sailsio.test cpu.pprof

// eventTick is an event's data as a user's struct.
type eventTick struct {
	I    int    `json:"i"`
	Text string `json:"text"`
}

// eventsGap is the pace of the paced peer.
const eventsGap = 20 * time.Microsecond

// eventPeer is the bare peer: it hands each connection, once connected (EIO3, no heartbeat within a
// benchmark's time), to the benchmark, and reads and drops what the client sends.
func eventPeer(b *testing.B) (url string, conns <-chan *websocket.Conn) {
	ch := make(chan *websocket.Conn, 1)
	url = benchPeer(b, `0{"sid":"events","upgrades":[],"pingInterval":600000,"pingTimeout":600000}`, func(c *websocket.Conn) {
		ch <- c
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	})
	return url, ch
}

// appendEventFrame appends the text of event number i.
func appendEventFrame(dst []byte, i int) []byte {
	dst = append(dst, `42["tick",{"i":`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, `,"text":"xxxxxxxxxxxxxxxx"}]`...)
}

// sendEvents sends n events on c, on the calling goroutine locked to its thread, and returns the
// CPU time of that thread: one message write every eventsGap (paced), or unmasked WebSocket frames
// in writes of about 64 KiB (burst).
func sendEvents(c *websocket.Conn, n int, burst bool) (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	var msg, out []byte
	next := time.Now()
	for i := range n {
		msg = appendEventFrame(msg[:0], i)
		if !burst {
			for time.Now().Before(next) {
			}
			next = next.Add(eventsGap)
			if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
				return 0, err
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
				return 0, err
			}
			out = out[:0]
		}
	}
	return threadCPU() - cpu0, nil
}

// BenchmarkEvents: one event per op.
func BenchmarkEvents(b *testing.B) {
	for _, mode := range []string{"paced", "burst"} {
		for _, client := range []string{"floor", "On", "OnJSON"} {
			b.Run(mode+"/"+client, func(b *testing.B) {
				benchEvents(b, mode == "burst", client)
			})
		}
	}
}

func benchEvents(b *testing.B, burst bool, client string) {
	url, conns := eventPeer(b)
	ctx, cancel := context.WithTimeout(context.Background(), testkit.D(5*time.Minute))
	defer cancel()

	var got, want, bad int // touched by the receiving goroutine only, until done is closed
	done := make(chan struct{})
	seen := func(i int, err error) {
		if err != nil || i != got {
			bad++
		}
		if got++; got == want {
			close(done)
		}
	}
	// The client's goroutines inherit the label from the goroutine that connects.
	pprof.Do(ctx, pprof.Labels("side", "client"), func(ctx context.Context) {
		if client == "floor" {
			floorEventClient(ctx, b, url, seen)
			return
		}
		s, err := sailsio.Connect(ctx, url, sailsio.WithReconnection(false))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Disconnect() })
		if client == "OnJSON" {
			sailsio.OnJSON(s, "tick", func(v eventTick) { seen(v.I, nil) })
		} else {
			s.On("tick", func(data json.RawMessage) {
				var v eventTick
				err := json.Unmarshal(data, &v)
				seen(v.I, err)
			})
		}
	})
	var c *websocket.Conn
	select {
	case c = <-conns:
	case <-ctx.Done():
		b.Fatal("the peer got no connection")
	}
	want = b.N // before the first event is sent: the receiver reads it after
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	var peerCPU time.Duration
	var err error
	pprof.Do(ctx, pprof.Labels("side", "peer"), func(context.Context) {
		peerCPU, err = sendEvents(c, b.N, burst)
	})
	if err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatalf("%d of %d events arrived", got, b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0-peerCPU)/float64(time.Microsecond)/float64(b.N), "client-µs/event")
	if bad > 0 {
		b.Fatalf("%d events out of order or undecodable", bad)
	}
}

// floorEventClient connects a bare gorilla/websocket client to the peer and starts its reader: every
// message read into one reusable buffer, the events counted by their "42" prefix (seen with -1 for
// the index it expects: nothing is decoded).
func floorEventClient(ctx context.Context, b *testing.B, url string, seen func(int, error)) {
	wsURL := "ws" + strings.TrimPrefix(url, "http") + "/socket.io/?EIO=3&transport=websocket"
	c, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if string(msg) == "40" {
			break
		}
	}
	n := 0
	go func() {
		buf := make([]byte, 0, 4096)
		for {
			_, r, err := c.NextReader()
			if err != nil {
				return
			}
			buf = buf[:0]
			for {
				if len(buf) == cap(buf) {
					buf = append(buf, 0)[:len(buf)]
				}
				k, err := r.Read(buf[len(buf):cap(buf)])
				buf = buf[:len(buf)+k]
				if err == io.EOF {
					break
				}
				if err != nil {
					return
				}
			}
			if bytes.HasPrefix(buf, []byte("42")) {
				seen(n, nil) // counted, not decoded: the index is the one expected
				n++
			}
		}
	}()
}
