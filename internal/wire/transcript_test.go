package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// transcriptDir holds the frame-level transcripts captured from real Sails (docs/protocol.md#conventions).
const transcriptDir = "../../testdata/transcripts"

// transcriptFiles are the transcripts every test reads; a missing file is a test failure.
var transcriptFiles = []string{"v2.txt", "v3-client-v2.txt", "v3.txt"}

// transcriptFrame is one `WS text` frame of a transcript with its annotation.
type transcriptFrame struct {
	File    string
	Line    int
	Dir     string // "C>S" or "S>C"
	Masked  bool
	DeclLen int    // the len= field
	Frame   []byte // the frame payload as shown (text frames are shown verbatim, unmasked)
	EIO     string // annotated Engine.IO type name, e.g. "message"
	SIO     string // annotated Socket.IO type name, e.g. "EVENT"; "" when absent
	ID      int64  // annotated ack id, or NoID
}

func (f transcriptFrame) String() string {
	return f.File + ":" + strconv.Itoa(f.Line)
}

// frameLine matches e.g.
//
//   - 118.3ms C>S WS text fin=1 mask=1 len=77: 420["post",...]  [eio:message sio:EVENT id=0]
//
// The payload is greedy so that an annotation-like string inside it cannot end it early: only the
// last `  [eio:...]` at the end of the line is the annotation.
var frameLine = regexp.MustCompile(`^\+\s*[0-9.]+ms (C>S|S>C) WS text fin=1 mask=([01]) len=([0-9]+): (.*)  \[eio:([a-z]+)(?: sio:([A-Z_]+))?(?: id=([0-9]+))?\]$`)

// parseTranscript returns every `WS text` frame of a transcript. A line that mentions `WS text` but
// does not match the expected shape is an error, so a format change cannot silently drop frames.
func parseTranscript(path string) ([]transcriptFrame, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var frames []transcriptFrame
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !strings.Contains(line, " WS text ") {
			continue
		}
		m := frameLine.FindStringSubmatch(line)
		if m == nil {
			return nil, errors.New(filepath.Base(path) + ":" + strconv.Itoa(n) + ": unparsable WS text line: " + line)
		}
		declLen, err := strconv.Atoi(m[3])
		if err != nil {
			return nil, err
		}
		fr := transcriptFrame{
			File:    filepath.Base(path),
			Line:    n,
			Dir:     m[1],
			Masked:  m[2] == "1",
			DeclLen: declLen,
			Frame:   []byte(m[4]),
			EIO:     m[5],
			SIO:     m[6],
			ID:      NoID,
		}
		if m[7] != "" {
			if fr.ID, err = strconv.ParseInt(m[7], 10, 64); err != nil {
				return nil, err
			}
		}
		frames = append(frames, fr)
	}
	return frames, sc.Err()
}

// loadTranscripts parses all transcript files, failing tb on any error.
func loadTranscripts(tb testing.TB) []transcriptFrame {
	tb.Helper()
	var all []transcriptFrame
	for _, name := range transcriptFiles {
		frames, err := parseTranscript(filepath.Join(transcriptDir, name))
		if err != nil {
			tb.Fatalf("parse transcript: %v", err)
		}
		if len(frames) == 0 {
			tb.Fatalf("%s: no WS text frames found", name)
		}
		all = append(all, frames...)
	}
	return all
}

func TestParseTranscriptRejectsOddLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(p, []byte("+ 1.0ms C>S WS text fin=1 mask=1 len=2: 40 [eio:message]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parseTranscript(p); err == nil {
		t.Fatal("parseTranscript accepted a line with a single space before the annotation")
	}
	if err := os.WriteFile(p, []byte("# header\n+ 1.0ms S>C WS text fin=1 mask=0 len=18: 42[\"x\",\"  [eio:ping]\"]  [eio:message sio:EVENT]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	frames, err := parseTranscript(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []transcriptFrame{{File: "bad.txt", Line: 2, Dir: "S>C", DeclLen: 18, Frame: []byte(`42["x","  [eio:ping]"]`), EIO: "message", SIO: "EVENT", ID: NoID}}
	if diff := cmp.Diff(want, frames); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
}

var engineNames = map[string]EngineType{
	"open": EngineOpen, "close": EngineClose, "ping": EnginePing, "pong": EnginePong,
	"message": EngineMessage, "upgrade": EngineUpgrade, "noop": EngineNoop,
}

var packetNames = map[string]PacketType{
	"CONNECT": Connect, "DISCONNECT": Disconnect, "EVENT": Event, "ACK": Ack,
	"CONNECT_ERROR": ConnectError, "BINARY_EVENT": BinaryEvent, "BINARY_ACK": BinaryAck,
}

// wantOpen is the decoded open packet of each transcript.
var wantOpen = map[string]Open{
	"v2.txt":           {SID: "igbVCdyNdRSmw8TEAAAA", Upgrades: []string{}, PingInterval: 1000, PingTimeout: 5000},
	"v3-client-v2.txt": {SID: "pLwlBNZg170yyBaDAAAA", Upgrades: []string{}, PingInterval: 1000, PingTimeout: 5000, MaxPayload: 100000000},
	"v3.txt":           {SID: "VtG1gcPTJWubqPJpAAAA", Upgrades: []string{}, PingInterval: 1000, PingTimeout: 5000, MaxPayload: 100000000},
}

func TestTranscriptFrames(t *testing.T) {
	frames := loadTranscripts(t)
	perFile := map[string]int{}
	opens := map[string]int{}
	for _, fr := range frames {
		perFile[fr.File]++
		t.Run(fr.String(), func(t *testing.T) {
			if fr.DeclLen != len(fr.Frame) {
				t.Errorf("declared len=%d, frame has %d bytes: %q", fr.DeclLen, len(fr.Frame), fr.Frame)
			}
			if want := fr.Dir == "C>S"; fr.Masked != want {
				t.Errorf("mask=%v for direction %s", fr.Masked, fr.Dir)
			}
			wantEIO, ok := engineNames[fr.EIO]
			if !ok {
				t.Fatalf("unknown engine.io annotation %q", fr.EIO)
			}
			et, payload, err := DecodeEngine(fr.Frame)
			if err != nil {
				t.Fatalf("DecodeEngine(%q): %v", fr.Frame, err)
			}
			if et != wantEIO {
				t.Errorf("DecodeEngine(%q) type = %v, annotated %v", fr.Frame, et, wantEIO)
			}
			if !bytes.Equal(payload, fr.Frame[1:]) {
				t.Errorf("DecodeEngine payload = %q, want %q", payload, fr.Frame[1:])
			}

			switch et {
			case EngineMessage:
				wantSIO, ok := packetNames[fr.SIO]
				if !ok {
					t.Fatalf("message frame with socket.io annotation %q", fr.SIO)
				}
				p, err := DecodePacket(payload)
				if err != nil {
					t.Fatalf("DecodePacket(%q): %v", payload, err)
				}
				if p.Type != wantSIO {
					t.Errorf("packet type = %v, annotated %v", p.Type, wantSIO)
				}
				if p.ID != fr.ID {
					t.Errorf("packet id = %d, annotated %d", p.ID, fr.ID)
				}
				if p.Namespace != "/" {
					t.Errorf("namespace = %q, want /", p.Namespace)
				}
				if got := AppendMessage(nil, p); !bytes.Equal(got, fr.Frame) {
					t.Errorf("AppendMessage round trip:\n got %q\nwant %q", got, fr.Frame)
				}
				// Re-encoding into a non-empty buffer must only append.
				prefix := []byte("xyz")
				if got := AppendMessage(prefix, p); !bytes.Equal(got, append([]byte("xyz"), fr.Frame...)) {
					t.Errorf("AppendMessage with prefix = %q", got)
				}
				checkTranscriptPayload(t, p)
			case EngineOpen:
				opens[fr.File]++
				if fr.SIO != "" || fr.ID != NoID {
					t.Errorf("open frame annotated with sio:%s id=%d", fr.SIO, fr.ID)
				}
				o, err := DecodeOpen(payload)
				if err != nil {
					t.Fatalf("DecodeOpen(%q): %v", payload, err)
				}
				want, ok := wantOpen[fr.File]
				if !ok {
					t.Fatalf("no expected open packet for %s", fr.File)
				}
				if diff := cmp.Diff(want, o); diff != "" {
					t.Errorf("DecodeOpen (-want +got):\n%s", diff)
				}
				if got := AppendOpen(nil, o); !bytes.Equal(got, fr.Frame) {
					t.Errorf("AppendOpen round trip:\n got %q\nwant %q", got, fr.Frame)
				}
				if o.PingIntervalDuration().Milliseconds() != o.PingInterval || o.PingTimeoutDuration().Milliseconds() != o.PingTimeout {
					t.Errorf("durations %v / %v do not match %d / %d ms", o.PingIntervalDuration(), o.PingTimeoutDuration(), o.PingInterval, o.PingTimeout)
				}
			default:
				if fr.SIO != "" || fr.ID != NoID {
					t.Errorf("%v frame annotated with sio:%s id=%d", et, fr.SIO, fr.ID)
				}
				if len(payload) != 0 {
					t.Errorf("%v frame with payload %q", et, payload)
				}
				if got := []byte{byte(et)}; !bytes.Equal(got, fr.Frame) {
					t.Errorf("re-encoded %q, want %q", got, fr.Frame)
				}
			}
		})
	}
	// The transcripts each show: open, CONNECT (1 or 2), 2 requests + 2 acks, 1 push, ping, pong, DISCONNECT.
	wantCount := map[string]int{"v2.txt": 10, "v3-client-v2.txt": 10, "v3.txt": 11}
	if diff := cmp.Diff(wantCount, perFile); diff != "" {
		t.Errorf("frames per transcript (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"v2.txt": 1, "v3-client-v2.txt": 1, "v3.txt": 1}, opens); diff != "" {
		t.Errorf("open packets per transcript (-want +got):\n%s", diff)
	}
}

// checkTranscriptPayload checks the payload helpers on a decoded transcript packet.
func checkTranscriptPayload(t *testing.T, p Packet) {
	t.Helper()
	switch p.Type {
	case Event:
		name, args, err := SplitEvent(p.Data)
		if err != nil {
			t.Fatalf("SplitEvent(%s): %v", p.Data, err)
		}
		if len(args) != 1 {
			t.Errorf("event %q has %d args, want 1", name, len(args))
		}
		switch name {
		case "get", "post", "chat":
		default:
			t.Errorf("unexpected event name %q", name)
		}
		if name != "chat" && len(args) == 1 {
			// Requests re-encode byte for byte with AppendEventData.
			if got := AppendEventData(nil, name, args[0]); !bytes.Equal(got, p.Data) {
				t.Errorf("AppendEventData = %s, want %s", got, p.Data)
			}
		}
	case Ack:
		args, err := SplitAck(p.Data)
		if err != nil {
			t.Fatalf("SplitAck(%s): %v", p.Data, err)
		}
		if len(args) != 1 {
			t.Fatalf("ack has %d args, want 1", len(args))
		}
		var jwr struct {
			StatusCode int `json:"statusCode"`
		}
		if err := json.Unmarshal(args[0], &jwr); err != nil || jwr.StatusCode != 200 {
			t.Errorf("ack JWR statusCode = %d (err %v), want 200", jwr.StatusCode, err)
		}
	case Connect:
		if p.Data != nil {
			var v struct {
				SID string `json:"sid"`
			}
			if err := json.Unmarshal(p.Data, &v); err != nil || v.SID == "" {
				t.Errorf("CONNECT payload %s: sid %q, err %v", p.Data, v.SID, err)
			}
		}
	case Disconnect:
		if p.Data != nil {
			t.Errorf("DISCONNECT with data %q", p.Data)
		}
	}
}
