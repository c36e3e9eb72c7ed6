// Package mockserver is an in-process Sails.js server for tests, modelled on net/http/httptest.
//
// A Server listens on 127.0.0.1 on a random port and speaks the wire protocol of a real Sails app
// with sails-hook-sockets: Engine.IO v3 and v4 over WebSocket on /socket.io/ (and over HTTP
// long-polling, with the upgrade to WebSocket, when WithTransports allows it), Socket.IO "virtual
// requests" (an EVENT named after the lower-case HTTP verb, answered with an ACK carrying the JWR
// {"body","headers","statusCode"}), server pushes (sails.sockets.broadcast, blast, resourceful
// pub/sub), sessions bound to the handshake cookie, the SDK version check and its
// PARSE_VIRTUAL_REQ error acks. Plain HTTP requests to any other path go through the same router,
// so one handler serves both transports:
//
//	srv := mockserver.New()
//	defer srv.Close()
//	srv.Handle("GET /user/:id", func(req *mockserver.Request, res *mockserver.Response) {
//		res.JSON(map[string]string{"id": req.Param("id")})
//	})
//	// connect a socket client to srv.URL(), or use net/http against srv.URL()+"/user/3"
//
// By default the server behaves like sails-hook-sockets 3.x (socket.io 4.x, which accepts both
// EIO=4 and EIO=3 clients); WithProtocol(sailsio.EIO3) makes it behave like hook 2.x (socket.io 2.x,
// EIO3 semantics whatever the client asks for). The differences that show on the wire (open
// packet maxPayload, who sends the namespace CONNECT and who pings, how heartbeat-direction and
// namespace violations are punished, the shape of CONNECT_ERROR and of origin rejections) follow
// the captures described in the repository's docs/protocol.md (#protocol-violations).
//
// The root package's conformance suite (conformance_test.go) runs the same scenarios against this
// server, with a Go mirror of the test app of testdata/sails, and against that app on real Sails
// with both hook generations; real Sails is the reference.
//
// Server.Model registers an in-memory model served by Sails 1.5's blueprint REST routes (find,
// findOne, create, update, destroy) with the blueprints' pub/sub, so a test does not fake
// blueprints by hand with Watch, Subscribe and Publish. Schema(true) makes it a `schema: true`
// model, as the models of an app made by `sails new` (Web App template) are.
//
// WithCSRF turns on CSRF protection as sails.config.security.csrf does (the `sails new` Web App
// template's setting): a secret per session, and every POST, PUT, PATCH and DELETE, over HTTP and
// over sockets, refused with 403 "Forbidden" unless it carries a token of its session (the
// x-csrf-token header, or _csrf). Tokens reach clients the ways Sails gives them: in a page, as
// window.SAILS_LOCALS._csrf (Request.ExposeLocalsToBrowser, or the default page WithCSRF serves
// at "/" when no route does), from Request.CSRFToken, and from GET /csrfToken with
// WithCSRFTokenRoute; never over a socket.
//
// # Differences from real Sails that remain
//
// The conformance suite checks the mock against real Sails (sails 1.5 with sails-hook-sockets 2.x
// and 3.x); what it still does differently, on purpose or not yet:
//
//   - Handlers run until they return: a Go handler that blocks without calling Request.Context
//     holds up its socket's next request (Node cannot block like that at all).
//   - Model: records keep the declared types string, number, boolean, json and ref, without
//     Waterline's other validations (isEmail, maxLength...), associations other than one-way
//     collections (Collection), unique constraints or custom primary keys; where clauses compare
//     strings case-sensitively; find ignores the populate parameter (collections are always
//     populated, where Sails takes populate=false or a list of attributes); the details of a few
//     malformed sort clauses are shorter than Waterline's. Records survive Stop and Start, like a
//     database, and timestamps are strictly increasing per model.
//   - Errors answered by Sails in development with a stack (res.serverError of an Error) carry
//     the message only; the blueprints' own 500s (a `where` that is not JSON, which they throw,
//     and Waterline's TypeError on a sort by an undeclared attribute of a schema: false model)
//     carry the stack's first line ("Name: message") only. HTTP JSON bodies are compact where
//     Sails pretty-prints them in development.
//   - Over HTTP long-polling under EIO3, the namespace CONNECT (40) comes in the handshake's
//     answer, after the open packet; real Sails sends it in the answer of the next GET (clients
//     take either). A WebSocket naming a session that was opened over WebSocket is refused with
//     400 "Session ID unknown", where engine.io accepts it and waits for a probe.
//   - A sails.sid cookie the server never issued gets a session under that value (so tests can
//     choose a session id); real Sails gives such a socket a fresh session per request, which the
//     mock does for sessions a restart lost.
//   - WithResponseTimeout answers a request nobody answers with 500; real Sails never does.
//   - WithCSRF: the check runs before every route, as in Sails, but there is no per-route
//     exemption (a route's `csrf: false`); the default page at "/" is the mock's own (Sails
//     renders the app's view), and in ExposeLocalsToBrowser's script the unescaping function is
//     not Sails' and values other than strings are JSON where Sails writes JavaScript literals
//     (the _csrf entry reads the same). GET /csrfToken refuses a socket with the error's message
//     where Sails in development sends its stack too.
//
// Faults for resilience tests (dropped connections, a paused server, slow responses, refused
// handshakes, raw frames, missing heartbeats, kicks) are methods of Server; WithFrameLog and
// FrameRecorder let a test see every frame sent and received.
//
// # Order
//
// Virtual requests of one socket reach their handlers in arrival order, as in Node, where an
// action's synchronous part runs before the socket's next message is handled. The next request
// of a socket starts when the handler of the current one returns (an answer sent later from
// another goroutine does not hold it up), when the handler calls Request.Context (the Go
// counterpart of a Node action's first await: it is about to wait for something), or when the
// response timeout answered it. A handler that blocks without either holds up its socket's
// later requests, as a busy loop in a Node action would. Requests of different sockets, and plain
// HTTP requests, run concurrently. A connection's read loop never waits for user code. Close
// waits for every goroutine the server started, handlers included.
package mockserver
