package sailsio_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testapp"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// scenarioFrames (mock backends only) replays the scenario of the reference transcripts
// (testdata/transcripts: captures of sails.io.js against real Sails) with the Go client against a
// mockserver in the backend's mode, records every frame with a FrameRecorder and compares them with
// the transcript, modulo socket ids, session cookies and heartbeat timing. The transcripts' app
// differs from testdata/sails/app only in its echo header (x-harness-echo) and the missing ip.
//
// mockserver's TestTranscriptScenario checks the same frames with a raw WebSocket client and
// hand-written expectations; this scenario reads the captures themselves and drives the real
// client.
func scenarioFrames(t *testing.T, b *backend) {
	if !b.isMock() {
		t.Skip("frames are recorded on the mockserver only; the transcripts are the real servers' frames")
	}
	file := "v3.txt"
	switch {
	case b.hook == 2:
		file = "v2.txt"
	case b.proto == sailsio.EIO3:
		file = "v3-client-v2.txt"
	}
	want := readTranscript(t, filepath.Join("testdata", "transcripts", file))

	mode := sailsio.EIO4
	if b.hook == 2 {
		mode = sailsio.EIO3
	}
	var rec mockserver.FrameRecorder
	srv := mockserver.NewT(t, mockserver.WithProtocol(mode), mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket), mockserver.WithPingInterval(time.Second),
		mockserver.WithPingTimeout(5*time.Second), mockserver.WithFrameLog(rec.Log))
	testapp.Install(srv, testapp.Options{Hook: b.hook, EchoHeader: "x-harness-echo", NoEchoIP: true})
	fb := *b
	fb.url, fb.mock, fb.origin = srv.URL(), srv, ""

	// Steps of the transcripts: 1 connect; 2 POST /rooms/demo/join; 3 GET /echo?x=1 with header
	// x-custom: hello; 4 a second socket Q says "hi from Q" in room demo; 5 one heartbeat;
	// 6 disconnect.
	p := connect(t, &fb, sailsio.WithReconnection(false))
	pid := p.ID()
	chats := make(chan string, 1)
	p.On("chat", func(d json.RawMessage) { chats <- string(d) })
	if _, err := p.PostContext(testCtx(t), "/rooms/demo/join", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Do(testCtx(t), sailsio.RequestOptions{URL: "/echo?x=1", Headers: map[string]string{"x-custom": "hello"}}); err != nil {
		t.Fatal(err)
	}
	q := connect(t, &fb)
	if _, err := q.PostContext(testCtx(t), "/rooms/demo/say", map[string]string{"text": "hi from Q"}); err != nil {
		t.Fatal(err)
	}
	await(t, chats, "chat")
	// One heartbeat, in the direction of the protocol: EIO3 client pings and the server answers 3;
	// under EIO4 the server pings.
	beat := "3"
	if b.proto == sailsio.EIO4 {
		beat = "2"
	}
	if _, err := rec.Wait(testCtx(t), func(f mockserver.Frame) bool {
		return f.SocketID == pid && f.Dir == mockserver.ServerToClient && string(f.Data) == beat
	}); err != nil {
		t.Fatalf("no heartbeat frame %q from the server: %v", beat, err)
	}
	p.Disconnect()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Short)
	defer cancel()
	if _, err := srv.WaitSockets(ctx, func(ids []string) bool {
		for _, id := range ids {
			if id == pid {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatalf("P still connected: %v", err)
	}

	var got []string
	for _, f := range rec.Frames(pid) {
		dir := "S>C"
		if f.Dir == mockserver.ClientToServer {
			dir = "C>S"
		}
		got = append(got, dir+" "+string(f.Data))
	}
	got = normalizeFrames(got)
	if b.tmode != "websocket" {
		got = withoutTransportFrames(got)
	}
	if d := cmp.Diff(onlyDir(want, "S>C"), onlyDir(got, "S>C")); d != "" {
		t.Errorf("frames the mock sent vs %s (-want +got):\n%s", file, d)
	}
	// The client's frames are the Go client's business, not the mock's: only logged.
	if d := cmp.Diff(onlyDir(want, "C>S"), onlyDir(got, "C>S")); d != "" {
		t.Logf("client frames differ from sails.io.js' in %s (-sails.io.js +sailsio):\n%s", file, d)
	}
}

// readTranscript returns the WebSocket text frames of a transcript as "S>C <data>" or
// "C>S <data>", normalized.
func readTranscript(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	re := regexp.MustCompile(`^\+\s*[\d.]+ms (S>C|C>S) WS text fin=1 mask=[01] len=(\d+): `)
	var frames []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		m := re.FindStringSubmatchIndex(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(line[m[4]:m[5]])
		data := line[m[1]:]
		if len(data) < n {
			t.Fatalf("%s: short frame in %q", path, line)
		}
		frames = append(frames, line[m[2]:m[3]]+" "+data[:n])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(frames) < 6 {
		t.Fatalf("%s: only %d frames", path, len(frames))
	}
	return normalizeFrames(frames)
}

var (
	framesCookie = regexp.MustCompile(`sails\.sid=s%3A[^"]*`)
	framesID     = regexp.MustCompile(`"[A-Za-z0-9_-]{20}"`)
)

// normalizeFrames drops heartbeat frames (their number depends on timing), replaces session
// cookies by <cookie> and socket ids by <id1>, <id2>... in order of first appearance.
func normalizeFrames(frames []string) []string {
	ids := map[string]string{}
	var out []string
	for _, f := range frames {
		if data := f[4:]; data == "2" || data == "3" {
			continue
		}
		f = framesCookie.ReplaceAllString(f, "sails.sid=<cookie>")
		f = framesID.ReplaceAllStringFunc(f, func(id string) string {
			if _, ok := ids[id]; !ok {
				ids[id] = `"<id` + strconv.Itoa(len(ids)+1) + `>"`
			}
			return ids[id]
		})
		out = append(out, f)
	}
	return out
}

// withoutTransportFrames removes from the frames of a polling (or upgraded) session what only
// that transport has: the upgrade offered in the open packet, noops, and the client's close packet
// (a WebSocket's close is a frame of its own, not a packet). The frames that remain are the
// transcripts' WebSocket frames.
func withoutTransportFrames(frames []string) []string {
	var out []string
	for _, f := range frames {
		if f == "S>C 6" || f == "C>S 1" {
			continue
		}
		out = append(out, strings.Replace(f, `"upgrades":["websocket"]`, `"upgrades":[]`, 1))
	}
	return out
}

func onlyDir(frames []string, dir string) []string {
	var out []string
	for _, f := range frames {
		if strings.HasPrefix(f, dir) {
			out = append(out, f)
		}
	}
	return out
}
