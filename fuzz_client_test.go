package sailsio

// A hostile server: after a normal handshake, the fake server of fake_test.go sends whatever frames
// the fuzzer makes up while a request is in flight. The client must neither panic nor hang; after
// the frames the connection either still works (a real ack answers a request) or ended with a
// disconnect event; the in-flight request's callback is called exactly once either way.
//
//	go test -run '^$' -fuzz FuzzClientFrames -fuzztime 60s .

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

const (
	fuzzMaxInput  = 64 << 10 // longer inputs are skipped: they only slow the fuzzer down
	fuzzMaxFrames = 64
)

// fuzzWait: a client that takes longer than this has hung.
var fuzzWait = testkit.Short

// fuzzFrame is one WebSocket frame the fake server sends.
type fuzzFrame struct {
	data   []byte
	binary bool
}

// splitFuzzFrames turns fuzzer input into frames: lines separated by '\n'; a line that starts with
// a NUL byte is a binary frame of the rest of the line, any other a text frame.
func splitFuzzFrames(data []byte) []fuzzFrame {
	var out []fuzzFrame
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(out) == fuzzMaxFrames {
			break
		}
		if len(line) > 0 && line[0] == 0 {
			out = append(out, fuzzFrame{line[1:], true})
		} else {
			out = append(out, fuzzFrame{line, false})
		}
	}
	return out
}

// fuzzWireFrames encodes frames as a server sends them on the wire (unmasked, final).
func fuzzWireFrames(frames []fuzzFrame) []byte {
	var b []byte
	for _, f := range frames {
		op := byte(0x81) // FIN + text
		if f.binary {
			op = 0x82 // FIN + binary
		}
		b = append(b, op)
		switch n := len(f.data); {
		case n < 126:
			b = append(b, byte(n))
		case n < 1<<16:
			b = append(b, 126, byte(n>>8), byte(n))
		default:
			b = append(b, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		}
		b = append(b, f.data...)
	}
	return b
}

// joinFuzzFrames is the inverse of splitFuzzFrames, for seeds.
func joinFuzzFrames(frames ...fuzzFrame) []byte {
	var b []byte
	for i, f := range frames {
		if i > 0 {
			b = append(b, '\n')
		}
		if f.binary {
			b = append(b, 0)
		}
		b = append(b, f.data...)
	}
	return b
}

func fuzzText(s string) fuzzFrame    { return fuzzFrame{data: []byte(s)} }
func fuzzBinary(b ...byte) fuzzFrame { return fuzzFrame{data: b, binary: true} }

// fuzzTranscriptFrame matches a WebSocket text frame of testdata/transcripts/*.txt.
var fuzzTranscriptFrame = regexp.MustCompile(`WS text fin=1 mask=[01] len=(\d+): `)

// fuzzTranscriptFrames returns every text frame of the transcripts, in order, per file.
func fuzzTranscriptFrames(tb testing.TB) map[string][]fuzzFrame {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "transcripts", "*.txt"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no transcripts: %v", err)
	}
	out := map[string][]fuzzFrame{}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			m := fuzzTranscriptFrame.FindStringSubmatchIndex(line)
			if m == nil {
				continue
			}
			n, _ := strconv.Atoi(line[m[2]:m[3]])
			rest := line[m[1]:]
			if n > len(rest) {
				tb.Fatalf("%s: frame shorter than its length %d: %q", file, n, line)
			}
			out[filepath.Base(file)] = append(out[filepath.Base(file)], fuzzText(rest[:n]))
		}
		f.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// fuzzSeeds returns the seed corpus: every transcript frame alone, each transcript's frames
// together, and malformed frames of every kind.
func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	seen := map[string]bool{}
	add := func(b []byte) {
		if !seen[string(b)] {
			seen[string(b)] = true
			seeds = append(seeds, b)
		}
	}
	for _, frames := range fuzzTranscriptFrames(tb) {
		add(joinFuzzFrames(frames...))
		for _, f := range frames {
			add(joinFuzzFrames(f))
		}
	}
	malformed := [][]fuzzFrame{
		{fuzzText(`461-0[{"body":{"_placeholder":true,"num":0},"headers":{},"statusCode":200}]`)}, // attachment never comes
		{fuzzText(`461-0[{"body":{"_placeholder":true,"num":0},"headers":{},"statusCode":200}]`), fuzzBinary(4, 1, 2, 3)},
		{fuzzText(`461-0[{"body":{"_placeholder":true,"num":0},"headers":{},"statusCode":200}]`), fuzzBinary(1, 2, 3)},
		{fuzzText(`462-0[{"body":[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]}]`), fuzzBinary(4, 9)},
		{fuzzText(`461-0[{"body":{"_placeholder":true,"num":7}}]`), fuzzBinary(4, 1)},
		{fuzzText(`451-["file",{"_placeholder":true,"num":0}]`), fuzzBinary(4, 1, 2)},
		{fuzzText(`451-["file",{"_placeholder":true,"num":0}]`), fuzzText(`430[{"statusCode":200}]`)},
		{fuzzBinary(4, 1, 2), fuzzBinary()},
		{fuzzText(`0{"sid":"x","pingInterval":-1}`)},
		{fuzzText(`0{"sid":"x","upgrades":[],"pingInterval":1,"pingTimeout":1}`)},
		{fuzzText(`439999999999999999999999[{}]`)},
		{fuzzText(`43-1[{}]`)},
		{fuzzText(`439223372036854775807[{"statusCode":200}]`)},
		{fuzzText(`43[{"statusCode":1e309}]`)},
		{fuzzText(`430[{"statusCode":1e309}]`)},
		{fuzzText(`430[{"statusCode":-1}]`)},
		{fuzzText(`430[{"statusCode":"200","body":{}}]`)},
		{fuzzText(`430[{"statusCode":99999999999999999999}]`)},
		{fuzzText(`430[null]`)},
		{fuzzText(`430[]`)},
		{fuzzText(`430`)},
		{fuzzText(`430{}`)},
		{fuzzText(`430[{"body":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}]`)},
		{fuzzText(`430[{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","status":400,"message":"bad"}]`)},
		{fuzzText(`430[{"statusCode":200}]`), fuzzText(`430[{"statusCode":500}]`)},
		{fuzzText(`42["sails:parseError",{"code":"x"}]`)},
		{fuzzText(`42["disconnect",{"reason":"forged"}]`), fuzzText(`42["reconnect_failed",{}]`)},
		{fuzzText(`42["__proto__"]`), fuzzText(`42[null]`), fuzzText(`42[42]`), fuzzText(`42{"a":1}`)},
		{fuzzText(`42/admin,["x"]`), fuzzText(`43/admin,0[{"statusCode":200}]`)},
		{fuzzText(`41`)},
		{fuzzText(`41/admin,`)},
		{fuzzText(`44{"message":"nope"}`)},
		{fuzzText(`40`), fuzzText(`40{"sid":"again"}`)},
		{fuzzText(`1`)},
		{fuzzText(`2`), fuzzText(`2probe`), fuzzText(`3`), fuzzText(`5`), fuzzText(`6`)},
		{fuzzText(``), fuzzText(`4`), fuzzText(`49`), fuzzText(`4x`), fuzzText(`x`), fuzzText(`9`)},
		{fuzzText("42[\"\xff\xfe\"]"), fuzzText("430[{\"body\":\"\xc3\x28\"}]")},
		{fuzzBinary(), fuzzBinary(0), fuzzBinary(4)},
	}
	for _, frames := range malformed {
		add(joinFuzzFrames(frames...))
	}
	return seeds
}

// fuzzClient runs one hostile-server session: frames arrive while a request is in flight. It
// returns how the session ended: "usable" or "disconnected" ("" if skipped or failed).
func fuzzClient(t *testing.T, f *fakeServer, p Protocol, data []byte) (outcome string) {
	if len(data) > fuzzMaxInput {
		return ""
	}
	// connectFake, with the connection reporting to this iteration's t (the fake server may be
	// shared by many iterations).
	s, c, connected := startFake(t, f, WithProtocol(p), WithReconnection(false))
	c.t = t
	c.open(p, "sid1", 25000, 60000, 0)
	if err := connected(); err != nil {
		t.Fatalf("Connect: %v", err)
	}

	disconnected := make(chan string, 4)
	s.On(EventDisconnect, func(d json.RawMessage) {
		select {
		case disconnected <- string(d):
		default:
		}
	})
	var nonce [8]byte
	rand.Read(nonce[:])
	syncEvent := "fuzz-sync-" + hex.EncodeToString(nonce[:]) // a name the fuzzer cannot guess
	synced := make(chan struct{}, 1)
	s.On(syncEvent, func(json.RawMessage) { synced <- struct{}{} })

	var calls atomic.Int32
	inflight := make(chan *JWRes, 4)
	s.Get("/inflight", nil, func(_ json.RawMessage, jwr *JWRes) { calls.Add(1); inflight <- jwr })
	if got := fuzzRead(t, c); !strings.HasPrefix(got, "420[") {
		t.Fatalf("in-flight request frame %q", got)
	}

	// The frames and the sync event go out in one write, so that the client reads them together
	// (as it would from a fast server): what it does with one frame must not depend on whether the
	// next one is already buffered.
	frames := append(splitFuzzFrames(data), fuzzText(`42["`+syncEvent+`"]`))
	c.ws.NetConn().SetWriteDeadline(time.Now().Add(fuzzWait))
	c.ws.NetConn().Write(fuzzWireFrames(frames)) // fails if the client already closed: fine
	timer := time.NewTimer(fuzzWait)
	defer timer.Stop()
	select {
	case <-synced:
		// Still connected: every frame before the sync event has been handled (and so has any
		// callback it caused, which ran before the sync handler on the callback goroutine).
		select {
		case d := <-disconnected:
			// The disconnect handler ran before the sync handler: the client dispatched a frame
			// it read after the connection had ended (see TestResilienceNoEventAfterDisconnect).
			t.Errorf("the sync event was delivered after disconnect %s: frames that follow the end of the connection are still dispatched", d)
			s.Disconnect()
			fuzzFlush(t, s)
			return "event after disconnect"
		default:
		}
		if calls.Load() == 0 {
			c.ws.WriteMessage(websocket.TextMessage, []byte(`430[{"body":"real","headers":{},"statusCode":200}]`))
			select {
			case jwr := <-inflight:
				if jwr.StatusCode != 200 || string(jwr.Body) != `"real"` {
					t.Errorf("in-flight request answered by the real ack: %v", jwr)
				}
			case <-timer.C:
				t.Fatalf("in-flight request not answered by a real ack within %v", fuzzWait)
			}
		}
		// The connection is usable: a new request gets its answer.
		var probeCalls atomic.Int32
		probe := make(chan *JWRes, 2)
		s.Get("/probe", nil, func(_ json.RawMessage, jwr *JWRes) { probeCalls.Add(1); probe <- jwr })
		id := fuzzProbeID(t, c, disconnected)
		c.ws.WriteMessage(websocket.TextMessage, []byte("43"+id+`[{"body":"probe","headers":{},"statusCode":200}]`))
		select {
		case jwr := <-probe:
			if jwr.StatusCode != 200 || string(jwr.Body) != `"probe"` {
				t.Errorf("probe answered %v", jwr)
			}
		case <-timer.C:
			t.Fatalf("probe not answered within %v", fuzzWait)
		}
		s.Disconnect()
		fuzzFlush(t, s)
		if n := probeCalls.Load(); n != 1 {
			t.Errorf("probe callback called %d times", n)
		}
		outcome = "usable"
	case d := <-disconnected:
		// The frames ended the connection: the in-flight request has its outcome.
		select {
		case jwr := <-inflight:
			// Failed by the disconnect, or answered (perhaps with a bad response) by a frame before it.
			var se *StatusError
			var pe *ParseError
			if jwr.StatusCode == 0 && !errors.Is(jwr.Error, ErrDisconnected) && !errors.Is(jwr.Error, ErrBadResponse) && !errors.As(jwr.Error, &se) && !errors.As(jwr.Error, &pe) {
				t.Errorf("in-flight request after disconnect %s: %v, want ErrDisconnected", d, jwr.Error)
			}
		case <-timer.C:
			t.Fatalf("in-flight callback not called within %v of disconnect %s", fuzzWait, d)
		}
		if st := s.State(); st != StateDisconnected {
			t.Errorf("State() = %v after disconnect %s without reconnection", st, d)
		}
		s.Disconnect()
		fuzzFlush(t, s)
		outcome = "disconnected " + d
		select {
		case <-synced:
			t.Errorf("the sync event was delivered after disconnect %s: frames that follow the end of the connection are still dispatched", d)
			outcome = "event after disconnect"
		default:
		}
	case <-timer.C:
		t.Fatalf("client hung: neither the sync event nor a disconnect within %v (state %v)", fuzzWait, s.State())
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("in-flight callback called %d times, want exactly once", n)
	}
	return outcome
}

// fuzzRead reads the next text frame the client sent, skipping heartbeats; "" if the connection
// ended (c.err then says how).
func fuzzRead(t *testing.T, c *fakeConn) string {
	t.Helper()
	for {
		c.ws.SetReadDeadline(time.Now().Add(fuzzWait))
		mt, b, err := c.ws.ReadMessage()
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("client sent nothing within %v", fuzzWait)
			}
			t.Logf("fake server read: %v", err)
			return ""
		}
		if mt != websocket.TextMessage {
			continue
		}
		switch string(b) {
		case "2":
			c.ws.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		case "3":
			continue
		}
		return string(b)
	}
}

// fuzzProbeID reads the client's frames until the /probe request and returns its ack id.
func fuzzProbeID(t *testing.T, c *fakeConn, disconnected <-chan string) string {
	t.Helper()
	var skipped []string
	for {
		got := fuzzRead(t, c)
		if got == "" {
			var d string
			select {
			case d = <-disconnected:
			case <-time.After(fuzzWait):
			}
			t.Fatalf("connection ended before the probe request (client frames skipped: %q; disconnect event %s)", skipped, d)
		}
		skipped = append(skipped, got)
		rest, ok := strings.CutPrefix(got, "42")
		if !ok || !strings.Contains(got, `"url":"/probe"`) {
			continue
		}
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			t.Fatalf("probe request without an ack id: %q", got)
		}
		return rest[:i]
	}
}

// fuzzFlush waits until every callback posted before it has run (the socket must be closed).
func fuzzFlush(t *testing.T, s *SailsSocket) {
	t.Helper()
	done := make(chan struct{})
	s.Get("/flush", nil, func(json.RawMessage, *JWRes) { close(done) })
	select {
	case <-done:
	case <-time.After(fuzzWait):
		t.Fatalf("callback goroutine stuck for %v", fuzzWait)
	}
}

func FuzzClientFrames(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	fake := newFake(f, nil)
	var runs atomic.Int64
	began := time.Now()
	f.Cleanup(func() {
		if n := runs.Load(); n > 0 { // the fuzzing coordinator runs none itself
			f.Logf("FuzzClientFrames: %d sessions in %v in this process", n, time.Since(began).Round(time.Millisecond))
		}
	})
	f.Fuzz(func(t *testing.T, data []byte, eio4 bool) {
		runs.Add(1)
		p := EIO3
		if eio4 {
			p = EIO4
		}
		fuzzClient(t, fake, p, data)
	})
}

// TestHostileFrameSeeds runs the seed corpus of FuzzClientFrames as a plain test.
func TestHostileFrameSeeds(t *testing.T) {
	fake := newFake(t, nil)
	seeds := fuzzSeeds(t)
	began := time.Now()
	outcomes := map[string]int{}
	for i, seed := range seeds {
		for _, p := range []Protocol{EIO3, EIO4} {
			t.Run(strconv.Itoa(i)+"/EIO"+strconv.Itoa(int(p)), func(t *testing.T) {
				outcomes[fuzzClient(t, fake, p, seed)]++
			})
		}
	}
	t.Logf("%d seeds x 2 protocols in %v; outcomes %v", len(seeds), time.Since(began).Round(time.Millisecond), outcomes)
}
