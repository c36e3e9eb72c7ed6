package otelsailsio

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sailsio-go/sailsio"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and the meter: the module's import path.
const ScopeName = "github.com/sailsio-go/sailsio/otelsailsio"

// Option configures Instrument.
type Option func(*config)

type config struct {
	tp        trace.TracerProvider
	mp        metric.MeterProvider
	prop      propagation.TextMapPropagator
	routeFunc func(method, path string) string
}

// WithTracerProvider sets the tracer provider the spans come from (default: otel.GetTracerProvider()
// when Instrument is called).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets the meter provider the metrics go to (default: otel.GetMeterProvider()
// when Instrument is called).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithPropagators sets the propagator that writes the trace context (and baggage) into each virtual
// request's headers (default: otel.GetTextMapPropagator() when Instrument is called, which injects
// nothing until the program sets one, e.g. otel.SetTextMapPropagator(propagation.TraceContext{})).
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

// WithRouteFunc gives the route template of requests whose context carries none (WithRoute): the
// callback forms (Get, Post, Request ...), whose interceptor chain runs without the caller's
// context. f gets the upper-case method and the URL path without its query and returns a
// low-cardinality template such as "/pet/:id", or "" when it knows none. It must be safe for
// concurrent use.
func WithRouteFunc(f func(method, path string) string) Option {
	return func(c *config) { c.routeFunc = f }
}

type routeKey struct{}

// WithRoute returns a copy of ctx that names the route template of the requests made with it, e.g.
// WithRoute(ctx, "/pet/:id") for GET /pet/3: the span is then named "GET /pet/:id" and carries
// url.template, which the duration histogram carries too. Without one the span is named after the
// method alone (paths hold ids: they would make span names and metric series without bound).
func WithRoute(ctx context.Context, route string) context.Context {
	return context.WithValue(ctx, routeKey{}, route)
}

// Instrument returns an SDK option that traces every virtual request of the socket (a client
// span; the propagator's fields injected into the request's virtual headers, so that an instrumented
// Sails app continues the trace) and records the socket's metrics. The package documentation lists
// the span's and the metrics' names, units and attributes.
//
// The option may be given to many sockets: they share the instruments, each gets its own state.
// Instrument must come before any interceptor whose work the span should cover: the first
// interceptor given is the outermost.
func Instrument(opts ...Option) sailsio.Option {
	c := &config{}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = otel.GetTextMapPropagator()
	}
	in := newInstruments(c)
	return bind(func() []sailsio.Option {
		st := &socketState{in: in}
		return []sailsio.Option{
			sailsio.WithInterceptors(st.intercept),
			sailsio.WithLifecycleHooks(st.hooks()),
		}
	})
}

// bind returns an SDK option that, for each socket it is applied to, applies the options f makes
// for that socket. sailsio.Option is a function of the SDK's unexported options type; the type
// parameters let this package compose such functions without naming that type.
func bind[O ~func(P) error, P any](f func() []O) O {
	return func(p P) error {
		for _, o := range f() {
			if err := o(p); err != nil {
				return err
			}
		}
		return nil
	}
}

// socketState is what Instrument keeps per socket.
type socketState struct {
	in *instruments
	s  *sailsio.SailsSocket // set by OnNew, before any request

	server  []attribute.KeyValue        // server.address, server.port
	eio     attribute.KeyValue          // sailsio.engineio.version
	perVerb map[string]verbAttrs        // by upper-case method
	events  map[string]metric.AddOption // sailsio.event.received's options by event name; callback goroutine only
	gauge   *gaugeEntry

	mu        sync.Mutex
	durations map[durationKey]metric.RecordOption
	lostOpts  map[string]metric.AddOption // by reason; callback goroutine only
}

// verbAttrs are the precomputed attributes of one method.
type verbAttrs struct {
	method attribute.KeyValue
	active metric.AddOption
}

// Attribute keys: OpenTelemetry's HTTP client conventions where they fit, sailsio.* for the rest.
const (
	keyMethod       = attribute.Key("http.request.method")
	keyStatus       = attribute.Key("http.response.status_code")
	keyURLPath      = attribute.Key("url.path")
	keyURLTemplate  = attribute.Key("url.template")
	keyServerAddr   = attribute.Key("server.address")
	keyServerPort   = attribute.Key("server.port")
	keyErrorType    = attribute.Key("error.type")
	keyTransport    = attribute.Key("sailsio.transport")
	keyEIO          = attribute.Key("sailsio.engineio.version")
	keyStatusClass  = attribute.Key("sailsio.status_class")
	keyReason       = attribute.Key("sailsio.disconnect.reason")
	keyEventName    = attribute.Key("sailsio.event.name")
	eventSent       = "sailsio.request.sent"
	otherEventNames = "_OTHER"
)

// verbs are the methods Sails answers over sockets.
var verbs = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// onNew learns the socket: its server and protocol, for every span and measurement.
func (st *socketState) onNew(s *sailsio.SailsSocket) {
	st.s = s
	u := s.URL()
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		port = p
	}
	st.server = []attribute.KeyValue{keyServerAddr.String(u.Hostname()), keyServerPort.Int(port)}
	st.eio = keyEIO.Int(int(s.Protocol()))
	st.perVerb = make(map[string]verbAttrs, len(verbs))
	for _, v := range verbs {
		m := keyMethod.String(v)
		st.perVerb[v] = verbAttrs{method: m, active: metric.WithAttributeSet(attribute.NewSet(append([]attribute.KeyValue{m}, st.server...)...))}
	}
	st.events = map[string]metric.AddOption{}
	st.durations = map[durationKey]metric.RecordOption{}
	st.lostOpts = map[string]metric.AddOption{}
	st.gauge = st.in.gauges.add(s, attribute.NewSet(st.server...))
}

func (st *socketState) hooks() sailsio.LifecycleHooks {
	in := st.in
	return sailsio.LifecycleHooks{
		OnNew: st.onNew,
		OnConnect: func(s *sailsio.SailsSocket, t sailsio.Transport) {
			in.opened.Add(context.Background(), 1, metric.WithAttributes(append([]attribute.KeyValue{keyTransport.String(t.String()), st.eio}, st.server...)...))
		},
		OnDisconnect: func(s *sailsio.SailsSocket, reason string, cause error) {
			o, ok := st.lostOpts[reason]
			if !ok { // reasons are the SDK's few constants
				o = metric.WithAttributes(append([]attribute.KeyValue{keyReason.String(reason)}, st.server...)...)
				st.lostOpts[reason] = o
			}
			in.closed.Add(context.Background(), 1, o)
		},
		OnReconnecting: func(s *sailsio.SailsSocket, attempt int, delay time.Duration) {
			in.reconnects.Add(context.Background(), 1, metric.WithAttributes(st.server...))
		},
		OnUpgrade: func(s *sailsio.SailsSocket, t sailsio.Transport) {
			in.upgrades.Add(context.Background(), 1, metric.WithAttributes(append([]attribute.KeyValue{keyTransport.String(t.String())}, st.server...)...))
		},
		OnServerEvent: func(s *sailsio.SailsSocket, event string, _ json.RawMessage) {
			o, ok := st.events[event]
			if !ok {
				name := in.eventName(event)
				if o, ok = st.events[name]; !ok {
					o = metric.WithAttributes(append([]attribute.KeyValue{keyEventName.String(name)}, st.server...)...)
					st.events[name] = o
				}
				if name == event {
					st.events[event] = o
				}
			}
			in.events.Add(context.Background(), 1, o)
		},
		OnClose: func(s *sailsio.SailsSocket) { in.gauges.remove(st.gauge) },
	}
}

// eventNames bounds the distinct event names the event counter carries: the first maxEventNames
// names seen (by all the sockets of one Instrument) keep theirs, later ones count as "_OTHER".
type eventNames struct {
	mu    sync.Mutex
	known map[string]struct{}
}

// maxEventNames is how many distinct server event names get a series of their own.
const maxEventNames = 100

func (in *instruments) eventName(name string) string {
	n := &in.names
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.known[name]; ok {
		return name
	}
	if len(n.known) >= maxEventNames {
		return otherEventNames
	}
	n.known[name] = struct{}{}
	return name
}

// intercept is the tracing and request-metrics interceptor.
func (st *socketState) intercept(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
	in := st.in
	start := time.Now()
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = "GET"
	}
	va, known := st.perVerb[method]
	if !known { // the SDK refuses it; the span still says what was asked
		va = verbAttrs{method: keyMethod.String("_OTHER"), active: metric.WithAttributes(append([]attribute.KeyValue{keyMethod.String("_OTHER")}, st.server...)...)}
	}
	path := urlPath(req.URL)
	route, _ := ctx.Value(routeKey{}).(string)
	if route == "" && in.cfg.routeFunc != nil {
		route = in.cfg.routeFunc(method, path)
	}
	name := method
	if !known {
		name = "HTTP"
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs, va.method, keyURLPath.String(path))
	attrs = append(attrs, st.server...)
	attrs = append(attrs, st.eio)
	if route != "" {
		name += " " + route
		attrs = append(attrs, keyURLTemplate.String(route))
	}
	ctx, span := in.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	st.inject(ctx, req)

	in.active.Add(ctx, 1, va.active)
	var sent sailsio.SendTrace
	jwr, err := next(sailsio.WithSendTrace(ctx, &sent), req)
	in.active.Add(ctx, -1, va.active)

	if sent.Queued() {
		if at, ok := sent.Sent(); ok {
			span.AddEvent(eventSent, trace.WithTimestamp(at))
		}
	}
	status := 0
	if jwr != nil {
		status = jwr.StatusCode
	}
	var errType string
	switch {
	case err != nil:
		errType = errorType(err)
		span.SetStatus(codes.Error, err.Error())
	case status >= 400:
		errType = strconv.Itoa(status)
		span.SetStatus(codes.Error, "") // the status code says why
	}
	class := ""
	if status > 0 {
		class = statusClass(status)
	}
	if span.IsRecording() {
		end := make([]attribute.KeyValue, 0, 3)
		if status > 0 {
			end = append(end, keyStatus.Int(status))
		}
		if errType != "" {
			end = append(end, keyErrorType.String(errType))
		}
		if t := st.s.Transport(); t != 0 {
			end = append(end, keyTransport.String(t.String()))
		}
		span.SetAttributes(end...)
	}
	span.End()
	in.duration.Record(ctx, time.Since(start).Seconds(), st.durationAttrs(durationKey{va.method.Value.AsString(), class, errType, route}))
	return jwr, err
}

// durationKey is what tells the duration histogram's series of one socket apart.
type durationKey struct{ method, class, errType, route string }

// maxDurationSets bounds the attribute sets a socket keeps for its duration histogram: the key's
// parts are bounded (a route template is low-cardinality by definition), this bounds a misuse.
const maxDurationSets = 1024

// durationAttrs returns the histogram's attributes for k, made once per socket and key.
func (st *socketState) durationAttrs(k durationKey) metric.RecordOption {
	st.mu.Lock()
	o, ok := st.durations[k]
	st.mu.Unlock()
	if ok {
		return o
	}
	a := make([]attribute.KeyValue, 0, 7)
	a = append(a, keyMethod.String(k.method))
	a = append(a, st.server...)
	if k.class != "" {
		a = append(a, keyStatusClass.String(k.class))
	}
	if k.errType != "" {
		a = append(a, keyErrorType.String(k.errType))
	}
	if k.route != "" {
		a = append(a, keyURLTemplate.String(k.route))
	}
	o = metric.WithAttributeSet(attribute.NewSet(a...))
	st.mu.Lock()
	if len(st.durations) < maxDurationSets {
		st.durations[k] = o
	}
	st.mu.Unlock()
	return o
}

// inject writes the propagator's fields into the request's virtual headers, lower-case, except
// those the caller set: in the request's Headers or the socket's global headers (any case), or
// left out with OmitHeaders.
func (st *socketState) inject(ctx context.Context, req *sailsio.RequestOptions) {
	c := headerCarrier{req: req, s: st.s}
	st.in.cfg.prop.Inject(ctx, &c)
}

// headerCarrier is a propagation.TextMapCarrier over a request's virtual headers that never
// replaces a header the caller set.
type headerCarrier struct {
	req    *sailsio.RequestOptions
	s      *sailsio.SailsSocket
	global map[string]string // s.Headers(), fetched by the first Set
}

func (c *headerCarrier) taken(key string) bool {
	for k := range c.req.Headers {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	if c.global == nil {
		c.global = c.s.Headers()
	}
	for k := range c.global {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	for _, k := range c.req.OmitHeaders {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func (c *headerCarrier) Get(key string) string {
	for k, v := range c.req.Headers {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

func (c *headerCarrier) Set(key, value string) {
	key = strings.ToLower(key)
	if c.taken(key) {
		return
	}
	if c.req.Headers == nil {
		c.req.Headers = make(map[string]string, 3)
	}
	c.req.Headers[key] = value
}

func (c *headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c.req.Headers))
	for k := range c.req.Headers {
		keys = append(keys, k)
	}
	return keys
}

// urlPath is the path of a request URL, without its query or fragment, with its leading slash.
func urlPath(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	return u
}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(code int) string {
	if code >= 100 && code < 600 {
		return statusClasses[code/100-1]
	}
	return "_OTHER"
}

// errorType names why no response came (or, for a parse error, why the response is one): the
// SDK's sentinel or type, or the context's error.
func errorType(err error) string {
	var pe *sailsio.ParseError
	var ne net.Error
	switch {
	case errors.Is(err, sailsio.ErrTimeout):
		return "sailsio.ErrTimeout"
	case errors.Is(err, sailsio.ErrClosed):
		return "sailsio.ErrClosed"
	case errors.Is(err, sailsio.ErrQueueFull):
		return "sailsio.ErrQueueFull"
	case errors.Is(err, sailsio.ErrDisconnected):
		return "sailsio.ErrDisconnected"
	case errors.Is(err, sailsio.ErrInvalidHeader):
		return "sailsio.ErrInvalidHeader"
	case errors.Is(err, sailsio.ErrInvalidRequest):
		return "sailsio.ErrInvalidRequest"
	case errors.Is(err, sailsio.ErrInterceptor):
		return "sailsio.ErrInterceptor"
	case errors.Is(err, sailsio.ErrCSRF):
		return "sailsio.ErrCSRF"
	case errors.Is(err, context.DeadlineExceeded):
		return "context.DeadlineExceeded"
	case errors.Is(err, context.Canceled):
		return "context.Canceled"
	case errors.As(err, &pe):
		return "*sailsio.ParseError"
	case errors.As(err, &ne):
		return "net.Error"
	}
	return "_OTHER"
}
