package sailsio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// The conformance suite runs one set of scenarios against every backend: the mockserver with the
// Go mirror of the test app (conformance_app_test.go) and the real Sails app of testdata/sails
// lifted with each sails-hook-sockets generation (internal/realsails). Real Sails is the
// reference: where the mock behaves differently, the mock is wrong.
//
// Backends (server/client protocol):
//
//	mock-hook2/EIO3   mockserver.WithProtocol(sailsio.EIO3): behaves like hook 2.x
//	mock-hook3/EIO4   mockserver default mode: behaves like hook 3.x
//	mock-hook3/EIO3   the same mode with an EIO3 client (hook 3.x accepts EIO3)
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
// SAILSIO_CONFORMANCE_TRANSPORTS (a comma list of those names) narrows them for a quick run.
//
// Subtests are named <server>/<EIOn>/<transport>/<scenario>. Each server is started once per
// top-level test; without Node the real servers skip (or fail when CI=true), the mock backends
// always run.

// A backend is one server and the protocol the client speaks to it.
type backend struct {
	name   string              // e.g. "hook3/EIO4"
	kind   string              // "mock", "hook2" or "hook3"
	hook   int                 // the sails-hook-sockets generation: 2 or 3 (the one the mock imitates)
	proto  sailsio.Protocol    // the client's protocol
	tmode  string              // "websocket", "polling" or "upgrade"
	trs    []sailsio.Transport // the client's WithTransports
	url    string              // http://127.0.0.1:PORT
	origin string              // the Origin every handshake must carry ("" when the server checks none)
	mock   *mockserver.Server
	real   *realsails.Server
}

func (b *backend) isMock() bool { return b.kind == "mock" }

// transportModes are the client transports every backend runs the scenarios over.
var transportModes = []struct {
	name string
	trs  []sailsio.Transport
}{
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

type scenario struct {
	name string
	run  func(t *testing.T, b *backend)
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
		t.Run(sv.name, func(t *testing.T) {
			b0 := backend{kind: sv.kind, hook: sv.hook, origin: setup.origin}
			if sv.kind == "mock" {
				mode := sailsio.EIO4
				if sv.hook == 2 {
					mode = sailsio.EIO3
				}
				b0.mock = mockserver.NewT(t, append([]mockserver.Option{mockserver.WithProtocol(mode), mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket)}, setup.mockOpts...)...)
				installApp(b0.mock, sv.hook, testdataFlavor)
				b0.url = b0.mock.URL()
			} else {
				b0.real = realsails.Start(t, sv.kind, append([]realsails.Option{realsails.WithEnv("SAILSIO_TRANSPORTS", "polling,websocket")}, setup.env...)...)
				b0.url = b0.real.URL
			}
			for _, p := range sv.protos {
				t.Run(protoName(p), func(t *testing.T) {
					for _, tm := range transportModes {
						if !wantMode(tm.name) {
							continue
						}
						t.Run(tm.name, func(t *testing.T) {
							b := b0
							b.proto, b.name, b.tmode, b.trs = p, sv.name+"/"+protoName(p)+"/"+tm.name, tm.name, tm.trs
							for _, sc := range scenarios {
								t.Run(sc.name, func(t *testing.T) { sc.run(t, &b) })
							}
						})
					}
				})
			}
		})
	}
}

func TestConformance(t *testing.T) {
	runConformance(t, withHeartbeat(serverSetup{}), []scenario{
		{"version", scenarioVersion},
		{"echo both styles", scenarioEcho},
		{"headers", scenarioHeaders},
		{"per-request cookie ignored", scenarioCookieIgnored},
		{"status codes", scenarioStatus},
		{"redirect not followed", scenarioRedirect},
		{"OPTIONS and HEAD", scenarioOptionsHead},
		{"policy", scenarioPolicy},
		{"cancel keeps the connection", scenarioCancel},
		{"big payloads", scenarioBig},
		{"session from HTTP login", scenarioSession},
		{"session survives Reconnect", scenarioSessionReconnect},
		{"rooms", scenarioRooms},
		{"blast", scenarioBlast},
		{"blueprint pubsub", scenarioPubSub},
		{"blueprint CRUD", scenarioBlueprintCRUD},
		{"blueprint pubsub per verb", scenarioBlueprintPubSub},
		{"order of one socket", scenarioOrder},
		{"regular-expression route", scenarioRegexpRoute},
		{"upgrade on another path", scenarioWrongPath},
		{"raw EIO4 handshake", scenarioRawEIO4},
		{"16,384 fragments", scenarioFragments},
		{"response shapes", scenarioResponseShapes},
		{"server kick", scenarioKick},
		{"heartbeat holds", scenarioHeartbeat},
		{"plain HTTP", scenarioPlainHTTP},
		{"frames", scenarioFrames},
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
		mockOpts: []mockserver.Option{mockserver.WithOnlyAllowOrigins(good), mockserver.WithMaxHTTPBufferSize(2000)},
		origin:   good,
	})
	runConformance(t, setup, []scenario{
		{"origins", scenarioOrigins},
		{"maxHttpBufferSize", scenarioMaxBuffer},
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
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
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
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
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
