// Package sailsio is a Go client for Sails.js sockets: the counterpart of sails.io.js' io.socket.
//
// A Sails app answers "virtual requests" sent over Socket.IO exactly as it answers HTTP (same routes,
// policies and session), and pushes events to sockets (rooms, blasts, resourceful pub/sub). A
// SailsSocket sends such requests and receives such events:
//
//	s, err := sailsio.Connect(ctx, "http://localhost:1337")
//	if err != nil { ... }
//	defer s.Disconnect()
//
//	// io.socket style: returns at once, the callback is called exactly once.
//	s.Get("/user/3", nil, func(body json.RawMessage, jwr *sailsio.JWRes) { ... })
//
//	// Go style: blocks until the response or ctx ends. A 404 is a response, not an error.
//	jwr, err := s.PostContext(ctx, "/user", map[string]any{"name": "Ada"})
//
//	s.On("user", func(data json.RawMessage) { ... }) // resourceful pub/sub, broadcasts, blasts
//
// # Protocols
//
// EIO3 (the default) is what sails.io.js 1.2.1 speaks and what every Sails 1.x server accepts
// (sails-hook-sockets 2.x and 3.x). EIO4 (WithProtocol(EIO4)) needs sails-hook-sockets 3.x. The
// SDK follows each protocol's rules: under EIO3 the client pings and never sends a namespace CONNECT;
// under EIO4 it sends CONNECT and answers the server's pings. A heartbeat missing for
// pingInterval+pingTimeout counts as a lost connection.
//
// # Sessions, cookies and origin
//
// Sails binds the session of every virtual request to the Cookie header of the WebSocket handshake
// and forces the origin header to the handshake's Origin: a "cookie" or "origin" virtual header has
// no effect. To share a session with HTTP, log in over HTTP with an http.Client whose cookie jar is
// also given to WithCookieJar (it is consulted on every handshake, reconnections included), or set
// Cookie and Origin with WithInitialConnectionHeaders.
//
// # Callbacks and ordering
//
// For one socket, every request callback and every event handler (lifecycle events included) runs on
// the socket's callback goroutine, one at a time, in the order the frames arrived: a request
// callback never overtakes an event that arrived before its response, and the connect (and
// reconnect) handlers of a connection run before any callback of a request sent on it. A handler
// that blocks delays the socket's other callbacks, and its connection 5 to 10 ms at most (about
// 0.1 ms when it blocks on a Do of its own socket):
// what arrives meanwhile waits for its turn in an unbounded queue, so handlers should keep up with
// the rate of the server's events. The blocking forms (Do, GetContext ...) do not use that
// goroutine, so they may be called from inside any callback or handler. A panic in a callback is
// recovered and logged (to WithLogger's logger, else to slog.Default, as net/http logs a handler's
// panic); the other callbacks still run.
//
// # Goroutines and connection life
//
// The package has three layers (docs/architecture.md): the API (SailsSocket's methods), the life of
// the socket (life.go, reconnect.go, queue.go, dispatch.go: connect, reconnect, close, backoff, the
// request queue, resubscriptions, the callback goroutine) and one Engine.IO session per connection
// (internal/engine), which Life sees through a small interface.
//
// Per socket, at most:
//   - the life owner (life.go): runs Connect, Reconnect and the reconnection loop (dial, backoff
//     delay, dial ...), one command at a time, in order. It is the only goroutine that dials. It
//     exists only while such work is under way: a connected, idle socket has none.
//   - a goroutine for a call of the user's BackOff policy, while the owner waits for it (so that a
//     policy may call Connect, Reconnect or Disconnect); calls never overlap.
//   - the callback dispatcher (dispatch.go): runs every callback and handler, in order. It exists
//     only while callbacks wait, and ends 10 ms after none does. A server event that arrives while
//     no callback runs or waits has its handlers run by the connection's reader instead, the
//     callback goroutine for that time (no thread wake-up per event); handlers that run longer
//     than 5 to 10 ms (about 0.1 ms when they call Do) have the reading handed over to a new
//     reader goroutine, and the old one finishes them as the callback goroutine. Request
//     callbacks run on the reader the same way (one request at a time in the callback form: no
//     thread wake-up per request).
//   - while a connection closes, one goroutine that tells the server goodbye and waits for the
//     connection's goroutines.
//   - with WithInterceptors or WithCSRF, one goroutine per callback-form request while its
//     interceptor chain runs (the chain blocks, as Do does); without interceptors, none. Such
//     requests still reach the server in call order (interceptor.go). Do runs the chain on the
//     caller's goroutine.
//
// Per connection (internal/engine): a reader that reads frames until the connection ends; a writer
// that exists only while frames wait to be written (a burst is written with one system call); and
// timers, not goroutines, for the heartbeat. Over a WebSocket, a request made while nothing is being
// written, alone in flight or from a callback the reader runs, is written by its caller (Do's
// goroutine, or the one that called Get): one system call that does not wait — what the socket does
// not take at once goes to the writer — so one request at a time costs no writer goroutine, and no
// caller ever waits for the peer. Per request with WithRequestTimeout, a timer (no goroutine until it
// fires). A Do that waits alone on its socket waits in the runtime's network poller on a pooled
// eventfd (Linux), which the reader writes to, so that its response wakes no second thread; a
// context that ends first runs one short goroutine (context.AfterFunc) to abort it. A connection
// that ends by itself (read or write error, missing heartbeat, a frame that cannot be decoded, a
// kick) tells the socket once, from the goroutine that saw it; the socket then fails the
// connection's in-flight requests, fires disconnect and, if reconnection is on, starts the owner's
// reconnection loop.
//
// Over HTTP long-polling (WithTransports) the same two goroutines carry the connection: the reader
// sends the GETs (one in flight at a time) and reads their payloads packet by packet; the writer
// sends a burst as one POST (one in flight, split under the server's maxPayload). They share one
// keep-alive http.Client per socket (at most two TCP connections, and so up to four goroutines of
// net/http, a reader and a writer per TCP connection, until Disconnect closes them). An upgrade to
// websocket runs on one more goroutine that exists only while it lasts: it dials and probes the
// WebSocket, pauses polling (the reader finishes the payload it has, the writer its POST; what is
// sent meanwhile waits), sends 5 and hands the session to the WebSocket. Close cancels a GET or POST
// in flight and an upgrade under way, so it stays bounded on every transport.
//
// # Never waiting on user code
//
// State is changed under one mutex; no user code — callbacks, handlers, logger handlers, BackOff
// policies, cookie jars, interceptors, WithConnectParams functions, lifecycle hooks — ever runs
// under it, so all of them may call any method of the socket. Log records and lifecycle hooks
// (WithLifecycleHooks) are handed to the logger and the hooks on the callback goroutine, in order
// with the callbacks.
//
// The SDK never waits on user code without a bound. Disconnect (and Close) return within about one
// second whatever the server and the user's code do: the goodbye (41) gets that long to be
// written, then the connection is cut; an owner busy in a cookie jar or a BackOff policy is
// interrupted or left to end by itself. Every pending and queued request gets its callback
// (ErrClosed) exactly once, on the callback goroutine: before Disconnect returns when no callback
// was running or waiting as it was called, else after (Disconnect never waits for a callback that
// was already running: it may be the caller, or a handler that blocks). Connect and Reconnect
// calls waiting for the owner return ErrClosed at once. Shutdown(ctx) is Disconnect plus the wait:
// it returns once every callback queued by then has run and no goroutine of the socket remains, or
// when ctx ends (the http.Server.Shutdown model).
//
// # Transports
//
// WebSocket is the default, as in sails.io.js 1.x. WithTransports(TransportPolling) speaks HTTP
// long-polling only; WithTransports(TransportPolling, TransportWebSocket) makes the handshake over
// polling and then upgrades to a WebSocket (events upgrade and upgrade_error). Requests, events,
// ordering and errors are the same on every transport and across the upgrade. Polling behind a load
// balancer needs sticky sessions: without them the server answers "Session ID unknown"
// (ErrSessionUnknown) and the socket reconnects with its backoff.
//
// # Errors
//
// A response with any status is data: Do returns it with a nil error, and JWRes.Error is a
// *StatusError for statuses outside 200..399. Errors are returned only when no response came
// (ErrDisconnected, ErrClosed, ErrQueueFull, ErrTimeout, a context error, ErrInvalidRequest ...) or the
// server answered a *ParseError. Every error works with errors.Is and errors.As. Nothing is logged
// unless WithLogger is given, except a callback's panic (above).
package sailsio
