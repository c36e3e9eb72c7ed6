package sailsio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/internal/testapp"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// The conformance suite runs one set of scenarios against every backend: the mockserver with the
// Go copy of the test app (internal/testapp) and the real Sails app of testdata/sails
// lifted with each sails-hook-sockets generation (internal/realsails). Real Sails is the
// reference: where the mock behaves differently, the mock is wrong.
//
// Backends (server/client protocol):
//
//	mock-hook2/EIO3   mockserver.WithProtocol(sailsio.EIO3): behaves like hook 2.x
//	mock-hook3/EIO4   mockserver default mode: behaves like hook 3.x
//	mock-hook3/EIO3   the same mode with an EIO3 client (hook 3.x accepts EIO3)
//	hook1/EIO3        sails-hook-sockets 1.5.5 (socket.io 2.0.3, engine.io 3.1): behaves like hook 2.x
//	                  (hook 2 in the scenarios) except where a scenario checks b.legacy()
//	hook2/EIO3        sails-hook-sockets 2.0.4 (socket.io 2.5)
//	hook3/EIO3        sails-hook-sockets 3.0.2 (socket.io 4.8), EIO3 compatibility mode
//	hook3/EIO4        the same server with an EIO4 client
//
// Each backend runs every scenario over three transports (the client's WithTransports; the servers
// accept polling and websocket, SAILSIO_TRANSPORTS=polling,websocket and mockserver.WithTransports):
//
//	websocket   WithTransports(TransportWebSocket), the default
//	polling     WithTransports(TransportPolling): HTTP long-polling only
//	upgrade     WithTransports(TransportPolling, TransportWebSocket): polling, then the upgrade
//
// SAILSIO_CONFORMANCE_TRANSPORTS (a comma list of those names) narrows them for a quick run. The
// hook 1.x server runs the scenarios of TestConformance and TestConformanceRestricted over all
// three, the crash and restart ones over one each (serverSetup.legacyModes).
//
// Subtests are named <server>/<EIOn>/<transport>/<scenario>. Each server is started once per
// top-level test; without Node the real servers skip (or fail when CI=true), the mock backends
// always run.
//
// The servers run in parallel, and so do the backends of one server (each protocol and transport),
// unless the scenarios stop the server (serverSetup.exclusive): the scenarios are written to share
// a server (their rooms, events and records are named after the backend, see uniq and slug). The
// scenarios of one backend run one after the other.

// A backend is one server and the protocol the client speaks to it.
type backend struct {
	name   string              // e.g. "hook3/EIO4"
	kind   string              // "mock", "hook1", "hook2" or "hook3"
	hook   int                 // the generation the scenarios expect: 2 (hooks 1.x and 2.x, the mock in hook 2 mode) or 3
	proto  sailsio.Protocol    // the client's protocol
	tmode  string              // "websocket", "polling" or "upgrade"
	trs    []sailsio.Transport // the client's WithTransports
	url    string              // http://127.0.0.1:PORT
	origin string              // the Origin every handshake must carry ("" when the server checks none)
	mock   *mockserver.Server
	real   *realsails.Server
}

func (b *backend) isMock() bool { return b.kind == "mock" }

// legacy reports whether b is sails-hook-sockets 1.x (socket.io 2.0.3, engine.io 3.1, ws 3.3),
// which the scenarios treat as hook 2 except for what its older ws does (see docs/protocol.md,
// "Server generations").
func (b *backend) legacy() bool { return b.kind == "hook1" }

// A transportMode is a client transport configuration the scenarios run over.
type transportMode struct {
	name string
	trs  []sailsio.Transport
}

// transportModes are the client transports every backend runs the scenarios over.
var transportModes = []transportMode{
	{"websocket", []sailsio.Transport{sailsio.TransportWebSocket}},
	{"polling", []sailsio.Transport{sailsio.TransportPolling}},
	{"upgrade", []sailsio.Transport{sailsio.TransportPolling, sailsio.TransportWebSocket}},
}

// wantMode reports whether SAILSIO_CONFORMANCE_TRANSPORTS (default: all) includes mode.
func wantMode(mode string) bool {
	v := os.Getenv("SAILSIO_CONFORMANCE_TRANSPORTS")
	return v == "" || slices.Contains(strings.Split(v, ","), mode)
}

// transports is the client option of the backend's transport mode.
func (b *backend) transports() sailsio.Option { return sailsio.WithTransports(b.trs...) }

// slug is the backend's name usable in room and event names.
func (b *backend) slug() string { return strings.NewReplacer("/", "-").Replace(b.name) }

// serverSetup configures the servers of one top-level test, the same way on both sides.
type serverSetup struct {
	env      []realsails.Option
	mockOpts []mockserver.Option
	origin   string
	// exclusive: the scenarios stop or kill the server, so the backends of one server run one at
	// a time.
	exclusive bool
	// sessionFile: each real server keeps its sessions in a file of its own (SAILSIO_SESSION_FILE),
	// so that they survive a restart.
	sessionFile bool
	// legacyModes are the transport modes the hook 1.x server runs the scenarios in (a subset, to
	// keep the test run short: each restart of a server costs seconds of CPU); none: it is not
	// started.
	legacyModes []string
}

// allModes is serverSetup.legacyModes for every transport mode.
var allModes = []string{"websocket", "polling", "upgrade"}

// modes returns the transport modes the server of kind runs the scenarios in: those of
// SAILSIO_CONFORMANCE_TRANSPORTS, and for hook 1.x those of legacyModes.
func (s serverSetup) modes(kind string) []transportMode {
	var ms []transportMode
	for _, tm := range transportModes {
		if wantMode(tm.name) && (kind != "hook1" || slices.Contains(s.legacyModes, tm.name)) {
			ms = append(ms, tm)
		}
	}
	return ms
}

// withHeartbeat gives every server short heartbeats (pingInterval 1000 ms, pingTimeout 2000 ms),
// so that each scenario also proves the heartbeat direction: a client pinging the wrong way, or not
// at all, is closed by the server within pingInterval+pingTimeout.
func withHeartbeat(s serverSetup) serverSetup {
	interval, timeout := testkit.D(time.Second), testkit.D(2*time.Second) // scaled: a loaded machine must not look dead
	s.env = append(s.env, realsails.WithEnv("SAILSIO_PING_INTERVAL", strconv.Itoa(int(interval.Milliseconds()))),
		realsails.WithEnv("SAILSIO_PING_TIMEOUT", strconv.Itoa(int(timeout.Milliseconds()))))
	s.mockOpts = append(s.mockOpts, mockserver.WithPingInterval(interval), mockserver.WithPingTimeout(timeout))
	return s
}

// A scenario runs against one backend. A scenario about idle time sets watch instead of run: watch
// starts it (on the server's test, before any scenario) and returns its end, run as the backend's
// last subtest, so that the other scenarios' time counts towards its idle window.
type scenario struct {
	name  string
	run   func(t *testing.T, b *backend)
	watch func(t *testing.T, b *backend) (end func(t *testing.T))
}

// servers lists the servers of a conformance run and the client protocols used against each.
var servers = []struct {
	name   string
	kind   string
	hook   int
	protos []sailsio.Protocol
}{
	{"mock-hook2", "mock", 2, []sailsio.Protocol{sailsio.EIO3}},
	{"mock-hook3", "mock", 3, []sailsio.Protocol{sailsio.EIO4, sailsio.EIO3}},
	{"hook1", "hook1", 2, []sailsio.Protocol{sailsio.EIO3}},
	{"hook2", "hook2", 2, []sailsio.Protocol{sailsio.EIO3}},
	{"hook3", "hook3", 3, []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4}},
}

func protoName(p sailsio.Protocol) string {
	if p == sailsio.EIO4 {
		return "EIO4"
	}
	return "EIO3"
}

// runConformance starts every server (once) and runs the scenarios against each backend.
func runConformance(t *testing.T, setup serverSetup, scenarios []scenario) {
	for _, sv := range servers {
		modes := setup.modes(sv.kind)
		if len(modes) == 0 {
			continue
		}
		t.Run(sv.name, func(t *testing.T) {
			t.Parallel()
			b0 := backend{kind: sv.kind, hook: sv.hook, origin: setup.origin}
			if sv.kind == "mock" {
				mode := sailsio.EIO4
				if sv.hook == 2 {
					mode = sailsio.EIO3
				}
				b0.mock = mockserver.NewT(t, append([]mockserver.Option{mockserver.WithProtocol(mode), mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket)}, setup.mockOpts...)...)
				testapp.Install(b0.mock, testapp.Options{Hook: sv.hook})
				b0.url = b0.mock.URL()
			} else {
				env := append([]realsails.Option{realsails.WithEnv("SAILSIO_TRANSPORTS", "polling,websocket")}, setup.env...)
				if setup.sessionFile {
					env = append(env, realsails.WithEnv("SAILSIO_SESSION_FILE", filepath.Join(t.TempDir(), "sessions.json")))
				}
				b0.real = realsails.Start(t, sv.kind, env...)
				b0.url = b0.real.URL
			}
			// The watching scenarios of every backend of the server start now, so that their idle
			// windows overlap.
			ends := map[string][]scenario{}
			for _, p := range sv.protos {
				for _, tm := range modes {
					b := b0.with(sv.name, p, tm.name, tm.trs)
					for _, sc := range scenarios {
						if sc.watch != nil {
							end := sc.watch(t, b)
							ends[b.name] = append(ends[b.name], scenario{name: sc.name, run: func(t *testing.T, _ *backend) { end(t) }})
						}
					}
				}
			}
			for _, p := range sv.protos {
				t.Run(protoName(p), func(t *testing.T) {
					if !setup.exclusive {
						t.Parallel()
					}
					for _, tm := range modes {
						t.Run(tm.name, func(t *testing.T) {
							if !setup.exclusive {
								t.Parallel()
							}
							b := b0.with(sv.name, p, tm.name, tm.trs)
							for _, sc := range scenarios {
								if sc.run != nil {
									t.Run(sc.name, func(t *testing.T) { sc.run(t, b) })
								}
							}
							for _, sc := range ends[b.name] {
								t.Run(sc.name, func(t *testing.T) { sc.run(t, b) })
							}
						})
					}
				})
			}
		})
	}
}

// with returns a copy of b for the client protocol p over the transport mode tmode.
func (b backend) with(server string, p sailsio.Protocol, tmode string, trs []sailsio.Transport) *backend {
	b.proto, b.name, b.tmode, b.trs = p, server+"/"+protoName(p)+"/"+tmode, tmode, trs
	return &b
}

func TestConformance(t *testing.T) {
	runConformance(t, withHeartbeat(serverSetup{legacyModes: allModes}), []scenario{
		{name: "version", run: scenarioVersion},
		{name: "echo both styles", run: scenarioEcho},
		{name: "headers", run: scenarioHeaders},
		{name: "per-request cookie ignored", run: scenarioCookieIgnored},
		{name: "status codes", run: scenarioStatus},
		{name: "redirect not followed", run: scenarioRedirect},
		{name: "OPTIONS and HEAD", run: scenarioOptionsHead},
		{name: "policy", run: scenarioPolicy},
		{name: "cancel keeps the connection", run: scenarioCancel},
		{name: "big payloads", run: scenarioBig},
		{name: "session from HTTP login", run: scenarioSession},
		{name: "session survives Reconnect", run: scenarioSessionReconnect},
		{name: "rooms", run: scenarioRooms},
		{name: "blast", run: scenarioBlast},
		{name: "events to one socket", run: scenarioEvents},
		{name: "blueprint pubsub", run: scenarioPubSub},
		{name: "blueprint CRUD", run: scenarioBlueprintCRUD},
		{name: "blueprint pubsub per verb", run: scenarioBlueprintPubSub},
		{name: "blueprint schema true", run: scenarioBlueprintSchema},
		{name: "populated records", run: scenarioPopulatedUndeclared},
		{name: "model events", run: scenarioModelEvents},
		{name: "order of one socket", run: scenarioOrder},
		{name: "regular-expression route", run: scenarioRegexpRoute},
		{name: "upgrade on another path", run: scenarioWrongPath},
		{name: "raw EIO4 handshake", run: scenarioRawEIO4},
		{name: "EIO4 client on an EIO3 server", run: scenarioEIO4OnV3Server},
		{name: "16,384 fragments", run: scenarioFragments},
		{name: "response shapes", run: scenarioResponseShapes},
		{name: "server kick", run: scenarioKick},
		{name: "heartbeat holds", watch: watchHeartbeat},
		{name: "plain HTTP", run: scenarioPlainHTTP},
		{name: "frames", run: scenarioFrames},
	})
}

// TestConformanceRestricted runs the scenarios that need a restricted server: onlyAllowOrigins
// and a small maxHttpBufferSize (2000 bytes).
func TestConformanceRestricted(t *testing.T) {
	const good = "http://good.example"
	setup := withHeartbeat(serverSetup{
		env: []realsails.Option{
			realsails.WithEnv("SAILSIO_ONLY_ALLOW_ORIGINS", good),
			realsails.WithEnv("SAILSIO_MAX_BUFFER", "2000"),
		},
		mockOpts:    []mockserver.Option{mockserver.WithOnlyAllowOrigins(good), mockserver.WithMaxHTTPBufferSize(2000)},
		origin:      good,
		legacyModes: allModes,
	})
	runConformance(t, setup, []scenario{
		{name: "origins", run: scenarioOrigins},
		{name: "maxHttpBufferSize", run: scenarioMaxBuffer},
	})
}

// connect connects a client to b (with the Origin b requires) and disconnects it when the test
// ends.
func connect(t *testing.T, b *backend, opts ...sailsio.Option) *sailsio.SailsSocket {
	t.Helper()
	base := []sailsio.Option{sailsio.WithProtocol(b.proto), b.transports()}
	if b.origin != "" {
		base = append(base, sailsio.WithInitialConnectionHeaders(http.Header{"Origin": {b.origin}}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), testkit.D(15*time.Second))
	defer cancel()
	s, err := sailsio.New(b.url, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	upgraded := make(chan string, 1)
	if b.tmode == "upgrade" {
		off := s.On(sailsio.EventUpgrade, func(json.RawMessage) { upgraded <- "" })
		offErr := s.On(sailsio.EventUpgradeError, func(d json.RawMessage) { upgraded <- string(d) })
		defer off()
		defer offErr()
	}
	if err := s.Connect(ctx); err != nil {
		s.Close()
		t.Fatalf("Connect(%s): %v", b.name, err)
	}
	t.Cleanup(func() { s.Disconnect() })
	if b.tmode == "upgrade" {
		// Scenarios run on the upgraded connection, so that they are deterministic; requests in
		// flight during the upgrade are the business of TestUpgradeInFlight.
		select {
		case e := <-upgraded:
			if e != "" {
				t.Fatalf("upgrade of %s: %s", b.name, e)
			}
		case <-ctx.Done():
			t.Fatalf("no upgrade on %s within the connect timeout", b.name)
		}
	}
	return s
}

// none checks that nothing arrives on ch for d.
func none[T any](t *testing.T, ch <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Errorf("unexpected %s: %v", what, v)
	case <-time.After(d):
	}
}

// keysOf returns the keys of a JSON object in the order they appear.
func keysOf(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	return keys
}

// httpLogin logs in over HTTP (POST /login) with a client that uses jar.
func httpLogin(t *testing.T, b *backend, jar http.CookieJar, name string) {
	t.Helper()
	hc := &http.Client{Jar: jar, Timeout: testkit.Wait}
	resp, err := hc.PostForm(b.url+"/login", url.Values{"name": {name}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP login: %s", resp.Status)
	}
}

func newJar(t *testing.T) *cookiejar.Jar {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}
