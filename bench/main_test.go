package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testapp"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// TestMain fails the run if a test leaves a goroutine of the module behind.
func TestMain(m *testing.M) { testkit.Main(m) }

// These tests run the Go columns against the in-process mockserver (no Node.js needed), with tiny
// workloads: they check that each client does its phases, not how fast.

func statusServer(t *testing.T) *mockserver.Server {
	t.Helper()
	srv := mockserver.NewT(t)
	srv.Handle("GET /*", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(struct {
			Status int `json:"status"`
		}{200})
	})
	return srv
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testkit.D(time.Minute))
	t.Cleanup(cancel)
	return ctx
}

var tiny = workload{path: "/status/200", warmup: 3, seq: 20, par: 200, inflight: 8, sockets: 3}

func checkRound(t *testing.T, res *roundResult, w workload) {
	t.Helper()
	if res.Errors != 0 {
		t.Errorf("%d errors, first: %s", res.Errors, res.FirstError)
	}
	if len(res.SeqLatUs) != w.seq || slicesContainNonPositive(res.SeqLatUs) {
		t.Errorf("sequential latencies: %v", res.SeqLatUs)
	}
	if res.ParWallUs <= 0 {
		t.Errorf("in-flight wall time %v", res.ParWallUs)
	}
	if res.Sockets != w.sockets || (w.sockets > 0 && res.ConnectWallUs <= 0) {
		t.Errorf("connect phase: %d sockets in %v µs, want %d", res.Sockets, res.ConnectWallUs, w.sockets)
	}
}

func slicesContainNonPositive(xs []float64) bool {
	for _, x := range xs {
		if !(x > 0) {
			return true
		}
	}
	return false
}

func TestCaptureRequest(t *testing.T) {
	fr, err := captureRequest(testContext(t), "/status/200")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^42\d+\["get",\{.*"url":"/status/200".*\}\]$`).Match(fr.frame) {
		t.Errorf("frame %s", fr.frame)
	}
	if !strings.HasPrefix(fr.uri, "/socket.io/?") || !strings.Contains(fr.uri, "EIO=3") || !strings.Contains(fr.uri, "transport=websocket") ||
		!strings.Contains(fr.uri, "__sails_io_sdk_version=") {
		t.Errorf("handshake URI %s", fr.uri)
	}
}

func TestGoRoundStyles(t *testing.T) {
	srv := statusServer(t)
	for _, style := range []goStyle{styleDo, styleCallback} {
		res, err := goRound(testContext(t), srv.URL(), tiny, style)
		if err != nil {
			t.Fatalf("style %d: %v", style, err)
		}
		checkRound(t, res, tiny)
	}
}

func TestGoRoundCountsStatuses(t *testing.T) {
	srv := mockserver.NewT(t)
	srv.Handle("GET /missing", func(req *mockserver.Request, res *mockserver.Response) { res.NotFound(nil) })
	w := tiny
	w.path, w.sockets = "/missing", 0
	for _, style := range []goStyle{styleDo, styleCallback} {
		res, err := goRound(testContext(t), srv.URL(), w, style)
		if err != nil {
			t.Fatal(err)
		}
		if want := w.warmup + w.seq + w.par; res.Errors != want || !strings.HasPrefix(res.FirstError, "status 404") {
			t.Errorf("style %d: %d errors (%q), want %d", style, res.Errors, res.FirstError, want)
		}
	}
}

// TestFloorRound runs the raw floor against the mockserver, which speaks Engine.IO v3 as real Sails
// does.
func TestFloorRound(t *testing.T) {
	srv := statusServer(t)
	ctx := testContext(t)
	fr, err := captureRequest(ctx, tiny.path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := floorRound(ctx, srv.URL(), fr, tiny)
	if err != nil {
		t.Fatal(err)
	}
	checkRound(t, res, tiny)
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range cfg.clients {
		keys = append(keys, c.key)
	}
	if got := strings.Join(keys, ","); got != "floor,do,cb,js4,js2" || strings.Join(cfg.transports, ",") != "websocket" {
		t.Errorf("default clients %s, transports %v", got, cfg.transports)
	}
	cfg, err = parseFlags([]string{"-clients", "js2, do,js2", "-transports", "polling", "-phases", "side"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.clients) != 2 || cfg.clients[0].key != "js2" || cfg.transports[0] != "polling" || !cfg.phases["side"] || cfg.phases["mem"] {
		t.Errorf("cfg = %+v", cfg)
	}
	for _, bad := range [][]string{{"-clients", "rust"}, {"-transports", "carrier-pigeon"}, {"-phases", "floor"}, {"-clients", ""}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}

func TestSideTable(t *testing.T) {
	cfg, err := parseFlags([]string{"-clients", "floor,do,cb", "-inflight", "64"})
	if err != nil {
		t.Fatal(err)
	}
	round := func(lat, cpu float64, sockets int) *roundResult {
		return &roundResult{SeqLatUs: []float64{lat}, SeqCPUUs: cpu * float64(cfg.work.seq), ParWallUs: 1e6,
			ParCPUUs: cpu * float64(cfg.work.par), Sockets: sockets, ConnectWallUs: 1000, ConnectCPUUs: 100}
	}
	results := map[*client][]*roundResult{
		cfg.clients[0]: {round(100, 10, 200)},
		cfg.clients[1]: {round(104, 12, 200)},
		cfg.clients[2]: {round(120, 10.5, 0)},
	}
	var out bytes.Buffer
	printSideTable(io.Writer(&out), cfg, cfg.clients, results)
	got := out.String()
	for _, want := range []string{
		"sequential p50 ≤ 1.05x the floor's: SDK Do 1.04x (met), SDK callback 1.20x (missed)",
		"client CPU per request with 64 in flight ≤ 1.10x the floor's: SDK Do 1.20x (missed), SDK callback 1.05x (met)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if m := median([]float64{math.NaN(), 3, 1}); m != 2 {
		t.Errorf("median = %v", m)
	}
}

// TestEventsClients runs the Go columns of the events section against the mockserver with the
// test app's POST /events (internal/testapp), over websocket and (the SDK) polling.
func TestEventsClients(t *testing.T) {
	srv := mockserver.NewT(t, mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))
	testapp.Install(srv, testapp.Options{})
	ctx := testContext(t)
	w := eventsWork{n: 300, warmup: 20, size: 8, chunk: 1, event: "tick"}
	check := func(what string, res *eventsResult, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if res.Events != w.n || res.Errors != 0 || res.WallUs <= 0 {
			t.Errorf("%s: %+v, want %d events and no error", what, res, w.n)
		}
	}
	fl, err := captureEventsFrames(ctx, w, w.warmup, w.n)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"data":{"n":300,"size":8,"chunk":1,"event":"tick"}`; !strings.Contains(string(fl.frames[w.n]), want) {
		t.Errorf("frame %s lacks %s", fl.frames[w.n], want)
	}
	res, err := floorEvents(ctx, srv.URL(), fl, w)
	check("floor", res, err)
	for _, tr := range []string{"websocket", "polling"} {
		for _, typed := range []bool{false, true} {
			res, err := sdkEvents(ctx, srv.URL(), w, typed, goTransport(tr))
			check(fmt.Sprintf("SDK over %s, typed %v", tr, typed), res, err)
		}
	}
}

func TestEventsTable(t *testing.T) {
	cfg, err := parseFlags([]string{"-events-clients", "floor,on,onjson,js4"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.eventsTrs, ","); got != "websocket,polling" || !cfg.phases["events"] || cfg.events.n != 20000 {
		t.Errorf("events defaults: transports %s, phases %v, n %d", got, cfg.phases, cfg.events.n)
	}
	res := func(cpuPerEvent float64) []*eventsResult {
		return []*eventsResult{{Events: 1000, WallUs: 1e4, CPUUs: cpuPerEvent * 1000}}
	}
	c := cfg.eventsCols
	results := map[*eventsClient][]*eventsResult{c[0]: res(4), c[1]: res(4.2), c[2]: res(4.8), c[3]: res(8)}
	var out bytes.Buffer
	printEventsTable(&out, cfg, c, results)
	got := out.String()
	for _, want := range []string{
		"client CPU per event ≤ 1.10x the floor's: SDK On 1.05x (met), SDK OnJSON 1.20x (missed)",
		"÷JS sio4",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range [][]string{{"-events-clients", "curl"}, {"-events-transports", "smoke"}, {"-events-n", "0"}, {"-events-chunk", "0"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}
