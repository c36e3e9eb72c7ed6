package otelsailsio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
	"github.com/sailsio-go/sailsio/otelsailsio"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestMain fails the run if a test leaves a goroutine of the SDK behind.
func TestMain(m *testing.M) { testkit.Main(m) }

// harness is an instrumented setup: an in-memory span recorder and a manual metric reader.
type harness struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	opt    sailsio.Option
}

var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

func newHarness(t *testing.T, opts ...otelsailsio.Option) *harness {
	h := &harness{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	h.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	t.Cleanup(func() {
		h.tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})
	h.opt = otelsailsio.Instrument(append([]otelsailsio.Option{
		otelsailsio.WithTracerProvider(h.tp), otelsailsio.WithMeterProvider(mp), otelsailsio.WithPropagators(propagator),
	}, opts...)...)
	return h
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Wait)
	t.Cleanup(cancel)
	return ctx
}

// ended returns the spans ended so far, waiting until there are at least n.
func (h *harness) ended(t *testing.T, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(testkit.Wait)
	for {
		if s := h.spans.Ended(); len(s) >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d spans ended, want %d", len(h.spans.Ended()), n)
		}
		time.Sleep(time.Millisecond) // spans end on the chain's goroutine: the recorder has no signal
	}
}

func (h *harness) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// metric returns the named metric of rm.
func metricNamed(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// sums returns the int64 data points of a counter, up-down counter or gauge, keyed by their
// attributes (less server.address and server.port), as "k=v,k=v".
func sums(t *testing.T, rm metricdata.ResourceMetrics, name string) map[string]int64 {
	t.Helper()
	m, ok := metricNamed(rm, name)
	if !ok {
		return nil
	}
	out := map[string]int64{}
	var points []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		points = d.DataPoints
	case metricdata.Gauge[int64]:
		points = d.DataPoints
	default:
		t.Fatalf("%s is a %T", name, m.Data)
	}
	for _, p := range points {
		out[attrKey(p.Attributes)] += p.Value
	}
	return out
}

func attrKey(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		if kv.Key == "server.address" || kv.Key == "server.port" {
			continue
		}
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// attrs returns a span's attributes as a map of their emitted values.
func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// traceServer is a mockserver whose routes answer the trace context headers they received.
func traceServer(t *testing.T, opts ...mockserver.Option) *mockserver.Server {
	srv := mockserver.NewT(t, opts...)
	answer := func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]string{"traceparent": req.Get("traceparent"), "tracestate": req.Get("tracestate"), "baggage": req.Get("baggage"), "path": req.Path})
	}
	srv.Handle("GET /pet/:id", answer)
	srv.Handle("POST /pet", answer)
	srv.Handle("GET /trace", answer)
	srv.Handle("GET /status/:code", func(req *mockserver.Request, res *mockserver.Response) {
		var code int
		fmt.Sscan(req.Params["code"], &code)
		res.Status(code).JSON(map[string]int{"status": code})
	})
	srv.Handle("GET /slow", func(req *mockserver.Request, res *mockserver.Response) {
		select {
		case <-time.After(testkit.Wait):
		case <-req.Context().Done():
		}
		res.JSON(true)
	})
	return srv
}

type seen struct {
	Traceparent, Tracestate, Baggage, Path string
}

func decodeSeen(t *testing.T, jwr *sailsio.JWRes) seen {
	t.Helper()
	var s seen
	if err := jwr.Decode(&s); err != nil {
		t.Fatalf("%s: %v", jwr.Body, err)
	}
	return s
}

func connect(t *testing.T, srv *mockserver.Server, opts ...sailsio.Option) *sailsio.SailsSocket {
	t.Helper()
	s, err := sailsio.Connect(ctxT(t), srv.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Disconnect() })
	return s
}

// traceparentOf is the traceparent a span's context injects.
func traceparentOf(sc trace.SpanContext) string {
	return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
}

// TestSpanContextForm: Do makes a client span, child of the caller's, named after the method and
// the route template, with the HTTP client attributes; the server receives its traceparent and
// the caller's baggage.
func TestSpanContextForm(t *testing.T) {
	h := newHarness(t)
	srv := traceServer(t)
	s := connect(t, srv, h.opt)

	ctx, parent := h.tp.Tracer("test").Start(ctxT(t), "parent")
	m, _ := baggage.NewMember("tenant", "acme")
	b, _ := baggage.New(m)
	ctx = baggage.ContextWithBaggage(ctx, b)
	jwr, err := s.Do(otelsailsio.WithRoute(ctx, "/pet/:id"), sailsio.RequestOptions{Method: "get", URL: "/pet/3?full=1"})
	if err != nil {
		t.Fatal(err)
	}
	parent.End()
	got := decodeSeen(t, jwr)

	spans := h.ended(t, 2)
	span := spans[0]
	if span.Name() != "GET /pet/:id" || span.SpanKind() != trace.SpanKindClient {
		t.Fatalf("span %q kind %v", span.Name(), span.SpanKind())
	}
	if span.Parent().SpanID() != parent.SpanContext().SpanID() || span.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("span's parent %v, want the caller's span %v", span.Parent(), parent.SpanContext())
	}
	if want := traceparentOf(span.SpanContext()); got.Traceparent != want {
		t.Errorf("server received traceparent %q, want the client span's %q", got.Traceparent, want)
	}
	if got.Baggage != "tenant=acme" {
		t.Errorf("server received baggage %q", got.Baggage)
	}
	a := attrs(span)
	want := map[string]string{
		"http.request.method": "GET", "url.path": "/pet/3", "url.template": "/pet/:id",
		"server.address": "127.0.0.1", "server.port": srv.URL()[strings.LastIndex(srv.URL(), ":")+1:],
		"http.response.status_code": "200", "sailsio.engineio.version": "3", "sailsio.transport": "websocket",
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("attribute %s = %q, want %q (all: %v)", k, a[k], v, a)
		}
	}
	if _, ok := a["error.type"]; ok || span.Status().Code != codes.Unset {
		t.Errorf("a 200: status %v, error.type %q", span.Status(), a["error.type"])
	}
	if len(span.Events()) != 0 {
		t.Errorf("a request sent at once has events %v", span.Events())
	}
}

// TestSpanCallbackForm: the callback forms get a span too (a root: they have no caller's context),
// named after the method, or the route WithRouteFunc gives.
func TestSpanCallbackForm(t *testing.T) {
	h := newHarness(t, otelsailsio.WithRouteFunc(func(method, path string) string {
		if method == "POST" && path == "/pet" {
			return "/pet"
		}
		return ""
	}))
	srv := traceServer(t)
	s := connect(t, srv, h.opt)
	done := make(chan *sailsio.JWRes, 2)
	s.Get("/pet/1", nil, func(_ json.RawMessage, jwr *sailsio.JWRes) { done <- jwr })
	s.Post("/pet", map[string]string{"name": "rex"}, func(_ json.RawMessage, jwr *sailsio.JWRes) { done <- jwr })
	var received []string
	for range 2 {
		jwr := <-done
		received = append(received, decodeSeen(t, jwr).Traceparent)
	}
	spans := h.ended(t, 2)
	names := map[string]trace.SpanContext{}
	for _, sp := range spans {
		names[sp.Name()] = sp.SpanContext()
		if sp.Parent().IsValid() {
			t.Errorf("callback-form span %s has a parent", sp.Name())
		}
	}
	if _, ok := names["GET"]; !ok {
		t.Errorf("spans %v, want GET", names)
	}
	if _, ok := names["POST /pet"]; !ok {
		t.Errorf("spans %v, want POST /pet", names)
	}
	for _, tp := range received {
		found := false
		for _, sc := range names {
			found = found || tp == traceparentOf(sc)
		}
		if !found {
			t.Errorf("server received traceparent %q of no client span", tp)
		}
	}
}

// TestSpanStatus: 2xx and 3xx leave the status unset; 4xx and 5xx set Error with error.type the
// status code (the HTTP client conventions); the histogram carries the status class.
func TestSpanStatus(t *testing.T) {
	h := newHarness(t)
	s := connect(t, traceServer(t), h.opt)
	for _, code := range []int{200, 302, 404, 500} {
		if _, err := s.GetContext(ctxT(t), fmt.Sprintf("/status/%d", code), nil); err != nil {
			t.Fatal(err)
		}
	}
	spans := h.ended(t, 4)
	for i, code := range []int{200, 302, 404, 500} {
		sp, a := spans[i], attrs(spans[i])
		if a["http.response.status_code"] != fmt.Sprint(code) {
			t.Fatalf("span %d: status_code %s, want %d", i, a["http.response.status_code"], code)
		}
		wantErr := code >= 400
		if (sp.Status().Code == codes.Error) != wantErr || (a["error.type"] == fmt.Sprint(code)) != wantErr {
			t.Errorf("%d: span status %v, error.type %q", code, sp.Status(), a["error.type"])
		}
		if sp.Status().Description != "" {
			t.Errorf("%d: status description %q (the code says it)", code, sp.Status().Description)
		}
	}
	rm := h.collect(t)
	m, _ := metricNamed(rm, "sailsio.request.duration")
	hist, ok := m.Data.(metricdata.Histogram[float64])
	if !ok || m.Unit != "s" {
		t.Fatalf("sailsio.request.duration: %T unit %q", m.Data, m.Unit)
	}
	counts := map[string]uint64{}
	for _, p := range hist.DataPoints {
		counts[attrKey(p.Attributes)] += p.Count
	}
	want := map[string]uint64{
		"http.request.method=GET,sailsio.status_class=2xx":                1,
		"http.request.method=GET,sailsio.status_class=3xx":                1,
		"error.type=404,http.request.method=GET,sailsio.status_class=4xx": 1,
		"error.type=500,http.request.method=GET,sailsio.status_class=5xx": 1,
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("duration histogram counts %v, want %v", counts, want)
	}
	if a := sums(t, rm, "sailsio.request.active"); a["http.request.method=GET"] != 0 {
		t.Errorf("requests still active: %v", a)
	}
}

// TestSpanNoResponse: a request with no response has status Error and error.type naming why.
func TestSpanNoResponse(t *testing.T) {
	h := newHarness(t)
	srv := traceServer(t)

	s := connect(t, srv, h.opt, sailsio.WithReconnection(false))
	ctx, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
	defer cancel()
	if _, err := s.GetContext(ctx, "/slow", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do with a short deadline: %v", err)
	}

	st := connect(t, srv, h.opt, sailsio.WithRequestTimeout(50*time.Millisecond))
	if _, err := st.GetContext(ctxT(t), "/slow", nil); !errors.Is(err, sailsio.ErrTimeout) {
		t.Fatalf("Do past WithRequestTimeout: %v", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.GetContext(ctxT(t), "/slow", nil)
		done <- err
	}()
	waitActive(t, h, 1)
	srv.DropConnections()
	if err := <-done; !errors.Is(err, sailsio.ErrDisconnected) {
		t.Fatalf("request in flight when the connection dropped: %v", err)
	}

	sc, err := sailsio.New(srv.URL(), h.opt)
	if err != nil {
		t.Fatal(err)
	}
	sc.Disconnect()
	if _, err := sc.GetContext(ctxT(t), "/trace", nil); !errors.Is(err, sailsio.ErrClosed) {
		t.Fatalf("Do on a closed socket: %v", err)
	}

	spans := h.ended(t, 4)
	for i, want := range []string{"context.DeadlineExceeded", "sailsio.ErrTimeout", "sailsio.ErrDisconnected", "sailsio.ErrClosed"} {
		a := attrs(spans[i])
		if a["error.type"] != want || spans[i].Status().Code != codes.Error || spans[i].Status().Description == "" {
			t.Errorf("span %d: error.type %q status %v; want %s, Error with a description", i, a["error.type"], spans[i].Status(), want)
		}
		if _, ok := a["http.response.status_code"]; ok {
			t.Errorf("span %d without a response has a status code", i)
		}
	}
}

// waitActive waits until sailsio.request.active (all methods) is n.
func waitActive(t *testing.T, h *harness, n int64) {
	t.Helper()
	deadline := time.Now().Add(testkit.Wait)
	for {
		var total int64
		for _, v := range sums(t, h.collect(t), "sailsio.request.active") {
			total += v
		}
		if total == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sailsio.request.active = %d, want %d", total, n)
		}
		time.Sleep(time.Millisecond) // a metric has no signal to wait on
	}
}

// TestQueuedWhileDisconnected: a request made before the socket connects waits in the queue (the
// queue gauges count it); its span covers the wait and has the event sailsio.request.sent at the
// time it went out.
func TestQueuedWhileDisconnected(t *testing.T) {
	h := newHarness(t)
	srv := traceServer(t)
	s, err := sailsio.New(srv.URL(), h.opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Disconnect() })

	done := make(chan error, 1)
	go func() {
		_, err := s.Do(ctxT(t), sailsio.RequestOptions{URL: "/trace"})
		done <- err
	}()
	deadline := time.Now().Add(testkit.Wait)
	for {
		rm := h.collect(t)
		if q := sums(t, rm, "sailsio.queue.requests"); q[""] == 1 {
			if b := sums(t, rm, "sailsio.queue.size"); b[""] <= 0 {
				t.Fatalf("sailsio.queue.size = %v with one request queued", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the request never showed in sailsio.queue.requests")
		}
		time.Sleep(time.Millisecond) // a gauge has no signal to wait on
	}
	connectAt := time.Now()
	if err := s.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	span := h.ended(t, 1)[0]
	ev := span.Events()
	if len(ev) != 1 || ev[0].Name != "sailsio.request.sent" {
		t.Fatalf("events %v, want one sailsio.request.sent", ev)
	}
	if !span.StartTime().Before(connectAt) || ev[0].Time.Before(connectAt) || ev[0].Time.After(span.EndTime()) {
		t.Errorf("span %v..%v, sent at %v, connect at %v: the span must cover the wait", span.StartTime(), span.EndTime(), ev[0].Time, connectAt)
	}
	if q := sums(t, h.collect(t), "sailsio.queue.requests"); q[""] != 0 {
		t.Errorf("queue gauge after the queue went out: %v", q)
	}
}

// TestPropagationKeepsCallersHeaders: a trace header the caller set (per request in any case, or
// globally) is sent as the caller set it, and one left out with OmitHeaders stays out.
func TestPropagationKeepsCallersHeaders(t *testing.T) {
	h := newHarness(t)
	srv := traceServer(t)
	s := connect(t, srv, h.opt, sailsio.WithHeaders(map[string]string{"Baggage": "global=1", "tracestate": "x=1"}))
	ctx, parent := h.tp.Tracer("test").Start(ctxT(t), "parent")
	defer parent.End()
	m, _ := baggage.NewMember("tenant", "acme")
	b, _ := baggage.New(m)
	ctx = baggage.ContextWithBaggage(ctx, b)

	const mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	jwr, err := s.Do(ctx, sailsio.RequestOptions{URL: "/trace", Headers: map[string]string{"TraceParent": mine}})
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeSeen(t, jwr); got.Traceparent != mine || got.Baggage != "global=1" || got.Tracestate != "x=1" {
		t.Errorf("server received %+v, want the caller's headers", got)
	}
	jwr, err = s.Do(ctx, sailsio.RequestOptions{URL: "/trace", OmitHeaders: []string{"baggage"}})
	if err != nil {
		t.Fatal(err)
	}
	got := decodeSeen(t, jwr)
	if got.Baggage != "" || got.Traceparent == "" || got.Traceparent == mine {
		t.Errorf("with OmitHeaders baggage the server received %+v: want no baggage, the span's traceparent", got)
	}
}

// TestConnectionMetrics: connections opened and closed (by reason), reconnection attempts, upgrades
// and server events (counted whether or not a handler listens).
func TestConnectionMetrics(t *testing.T) {
	h := newHarness(t)
	srv := traceServer(t, mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))
	reconnected := make(chan struct{}, 1)
	news := make(chan struct{}, 3)
	s := connect(t, srv, h.opt, sailsio.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket),
		sailsio.WithReconnectionDelay(10*time.Millisecond, 20*time.Millisecond),
		sailsio.WithLifecycleHooks(sailsio.LifecycleHooks{
			OnReconnect:   func(*sailsio.SailsSocket, int) { reconnected <- struct{}{} },
			OnServerEvent: func(_ *sailsio.SailsSocket, name string, _ json.RawMessage) { news <- struct{}{} },
		}))
	upgraded := make(chan struct{}, 2)
	s.On(sailsio.EventUpgrade, func(json.RawMessage) { upgraded <- struct{}{} })
	<-upgraded
	srv.DropConnections()
	<-reconnected
	for range 3 {
		srv.Blast("news", 1)
		<-news // Instrument's hook ran before this one (options order)
	}
	rm := h.collect(t)
	opened := sums(t, rm, "sailsio.connection.opened")
	if opened["sailsio.engineio.version=3,sailsio.transport=polling"] != 2 {
		t.Errorf("sailsio.connection.opened %v, want 2 over polling", opened)
	}
	if c := sums(t, rm, "sailsio.connection.closed"); c["sailsio.disconnect.reason=transport close"] != 1 {
		t.Errorf("sailsio.connection.closed %v", c)
	}
	if r := sums(t, rm, "sailsio.reconnect.attempts"); r[""] < 1 {
		t.Errorf("sailsio.reconnect.attempts %v", r)
	}
	if u := sums(t, rm, "sailsio.connection.upgrades"); u["sailsio.transport=websocket"] < 1 {
		t.Errorf("sailsio.connection.upgrades %v", u)
	}
	if e := sums(t, rm, "sailsio.event.received"); e["sailsio.event.name=news"] != 3 {
		t.Errorf("sailsio.event.received %v", e)
	}
}

// TestEventNameBound: past 100 distinct event names, events count under "_OTHER": a server cannot
// make the event counter's series grow without bound.
func TestEventNameBound(t *testing.T) {
	h := newHarness(t)
	srv := traceServer(t)
	var mu sync.Mutex
	n := 0
	all := make(chan struct{})
	const total = 130
	s := connect(t, srv, h.opt, sailsio.WithLifecycleHooks(sailsio.LifecycleHooks{
		OnServerEvent: func(*sailsio.SailsSocket, string, json.RawMessage) {
			mu.Lock()
			defer mu.Unlock()
			if n++; n == total {
				close(all)
			}
		},
	}))
	_ = s
	for i := range total - 10 {
		srv.Blast(fmt.Sprintf("ev%03d", i), nil)
	}
	for range 10 {
		srv.Blast("ev000", nil) // a known name keeps its own series
	}
	<-all
	e := sums(t, h.collect(t), "sailsio.event.received")
	if len(e) != 101 || e["sailsio.event.name=_OTHER"] != 20 || e["sailsio.event.name=ev000"] != 11 || e["sailsio.event.name=ev099"] != 1 {
		t.Errorf("%d series; _OTHER %d, ev000 %d, ev099 %d", len(e), e["sailsio.event.name=_OTHER"], e["sailsio.event.name=ev000"], e["sailsio.event.name=ev099"])
	}
}

// TestInstrumentManySockets: one Instrument serves several sockets; each gets its spans and the
// queue gauges sum per server.
func TestInstrumentManySockets(t *testing.T) {
	h := newHarness(t)
	srv := traceServer(t)
	a := connect(t, srv, h.opt)
	b := connect(t, srv, h.opt)
	for _, s := range []*sailsio.SailsSocket{a, b} {
		if jwr, err := s.GetContext(ctxT(t), "/trace", nil); err != nil || jwr.StatusCode != http.StatusOK {
			t.Fatal(jwr, err)
		}
	}
	h.ended(t, 2)
	if o := sums(t, h.collect(t), "sailsio.connection.opened"); o["sailsio.engineio.version=3,sailsio.transport=websocket"] != 2 {
		t.Errorf("opened %v", o)
	}
}
