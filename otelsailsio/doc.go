// Package otelsailsio instruments sailsio sockets with OpenTelemetry: a client span per virtual
// request, the W3C trace context carried to the Sails app in the request's virtual headers, and
// metrics of requests, connections and events.
//
//	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
//	s, err := sailsio.Connect(ctx, "http://localhost:1337", otelsailsio.Instrument())
//	jwr, err := s.Do(otelsailsio.WithRoute(ctx, "/pet/:id"), sailsio.RequestOptions{URL: "/pet/3"})
//
// Sails merges a virtual request's headers into req.headers, so the traceparent reaches the action
// as it would over HTTP, and an instrumented Sails app continues the trace. The module is separate
// from the SDK's so that the SDK keeps its three dependencies; it needs Go 1.26 (OpenTelemetry
// v1.47.0), the SDK does not.
//
// # Spans
//
// Instrument adds an interceptor (sailsio.WithInterceptors) that makes one span of kind Client per
// virtual request, callback and context forms alike (a retry made by an interceptor given after
// Instrument stays within the span; give Instrument first). For Do and its forms the span is a
// child of the span in the caller's context; the callback forms have no caller's context, so their
// spans are roots. The span is named after the method ("GET"), or "GET /pet/:id" when a route
// template is known (WithRoute, WithRouteFunc): request paths hold ids and would make names without
// bound. Attributes, after OpenTelemetry's HTTP client conventions where they fit:
//
//	http.request.method        "GET", "POST" ... (upper case; "_OTHER" for a method Sails does not answer)
//	url.path                   the request's path, without its query
//	url.template               the route template, when one is known
//	server.address             the host of the socket's URL
//	server.port                its port (80 or 443 when the URL names none)
//	sailsio.engineio.version   3 or 4 (sailsio.WithProtocol)
//	http.response.status_code  the JWR's status, when a response came
//	sailsio.transport          "websocket" or "polling": the connection's transport when the request ended
//	error.type                 when the request ended in an error: the status code ("404", "500") for
//	                           a status of 400 or more; else the error: "sailsio.ErrDisconnected",
//	                           "sailsio.ErrTimeout", "sailsio.ErrClosed", "sailsio.ErrQueueFull",
//	                           "sailsio.ErrInvalidRequest", "sailsio.ErrInvalidHeader",
//	                           "sailsio.ErrInterceptor", "sailsio.ErrCSRF", "context.DeadlineExceeded",
//	                           "context.Canceled", "*sailsio.ParseError", "net.Error", or "_OTHER"
//
// The span's status is Error when no response came (its description is the error's text) and for
// a status of 400 or more (without description), as the HTTP client conventions say for client
// spans; it is left unset otherwise. A request made while no connection is up waits in the
// socket's queue: its span covers the wait, and has the event "sailsio.request.sent" at the time
// the request was handed to a connection (sailsio.SendTrace tells it).
//
// The propagator's fields (traceparent, tracestate, baggage for the usual ones) are added to the
// request's virtual headers, in lower case, except a header the caller set: in the request's
// Headers or the socket's global headers (sailsio.WithHeaders, SetHeaders), in any case, or left out
// with OmitHeaders. The propagator is otel.GetTextMapPropagator() unless WithPropagators says
// otherwise; OpenTelemetry's default global propagator injects nothing, so a program sets one.
//
// # Metrics
//
// All instruments come from the meter named ScopeName. server.address and server.port are as on
// the spans; every instrument carries them.
//
//	sailsio.request.duration     histogram, s          from the call to the response or failure, time in the
//	                                                   queue included; http.request.method, sailsio.status_class
//	                                                   ("2xx" ... "5xx", when a response came), error.type (as on
//	                                                   the span), url.template (when known). Buckets: 5 ms to 10 s.
//	sailsio.request.active       updowncounter, {request}  requests under way (queued or in flight); http.request.method
//	sailsio.queue.requests       gauge, {request}      requests waiting in the queue for a connection
//	                                                   (sailsio.SailsSocket.QueueLen; summed over the sockets of a server)
//	sailsio.queue.size           gauge, By             the bytes of those requests
//	sailsio.connection.opened    counter, {connection} connections made, reconnections included;
//	                                                   sailsio.transport, sailsio.engineio.version
//	sailsio.connection.closed    counter, {connection} connections that ended; sailsio.disconnect.reason: "io client
//	                                                   disconnect" (Disconnect, Reconnect), or a lost connection's
//	                                                   "transport close", "transport error", "ping timeout",
//	                                                   "io server disconnect" (a kick), "parse error"
//	sailsio.connection.upgrades  counter, {connection} connections moved from polling to websocket; sailsio.transport
//	sailsio.reconnect.attempts   counter, {attempt}    waits of the reconnection loop before an attempt
//	sailsio.event.received       counter, {event}      server events; sailsio.event.name: the event's name for the
//	                                                   first 100 distinct names (over the sockets of one Instrument),
//	                                                   "_OTHER" after, so that a server cannot make series without bound
//
// The lifecycle metrics come from the SDK's typed lifecycle hooks (sailsio.WithLifecycleHooks), on
// the socket's callback goroutine: a handler that blocks delays them as it delays the socket's other
// callbacks.
//
// # Cost
//
// With a recording tracer the instrumentation costs a few microseconds and a few kilobytes of
// allocations per request, most of it the span itself (see BenchmarkInstrument and
// docs/observability.md for figures). With Instrument, callback-form requests run their interceptor
// chain on a goroutine each, as with any interceptor (sailsio.WithInterceptors).
package otelsailsio
