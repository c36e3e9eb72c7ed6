// Package testapp is the one Go copy, on the mockserver, of the Sails apps in testdata/sails: the
// test app of testdata/sails/app ([Install]) and the look-alike of the `sails new` Web App template
// of testdata/sails/webapp ([InstallWebApp]).
//
// The conformance suite of the root package runs the same scenarios against [Install]'s app and the
// real one lifted by internal/realsails, and csrf_real_test.go the Web App flow against
// [InstallWebApp]'s and the real webapp; `sailsio mock` serves [Install]'s app as its built-in routes,
// and the examples' tests run the programs against both. The JavaScript apps are the reference:
// where this copy behaves differently, this copy is wrong. A route added or changed there must be
// changed here, and the suites that run against both must check it (testdata/sails/README.md lists
// the routes).
package testapp

import (
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sailsio-go/sailsio/mockserver"
)

// Options adjust [Install]'s app. The zero value is the test app as the hook 3.x server lifts it.
type Options struct {
	// Hook is the generation of sails-hook-sockets the server imitates: 2 or 3 (0 means 3). Only
	// GET /version tells them apart.
	Hook int
	// EchoHeader is the response header /echo sets to "1" (default "x-echo"). The app of the
	// reference transcripts (testdata/transcripts) set "x-harness-echo".
	EchoHeader string
	// NoEchoIP leaves ip out of /echo's answer, as the transcripts' app did.
	NoEchoIP bool
	// SkipModels names model identities the caller has registered on the server already (the
	// models of a `sailsio mock` routes file): Install leaves them as they are.
	SkipModels []string
}

// The limits of HarnessController.js.
const (
	slowDefaultMS = 500
	slowMaxMS     = 10000
	bigDefault    = 1024
	bigMax        = 50e6
	kickDelay     = 100 * time.Millisecond
	eventsMax     = 1e6
	eventsSizeDef = 16
	eventsSizeMax = 1e6
)

// Versions is what GET /version answers on the mock: the keys of the real app's answer (the versions
// the server loaded), with values that name the hook generation (2 or 3) the mock imitates.
func Versions(hook int) map[string]string {
	hookV, ioV, eioV := "3.x-mock", "4.x-mock", "6.x-mock"
	if hook == 2 {
		hookV, ioV, eioV = "2.x-mock", "2.x-mock", "3.x-mock"
	}
	return map[string]string{"sails": "mock", "hook": hookV, "socketio": ioV, "engineio": eioV, "orm": "mock", "node": runtime.Version()}
}

// Echo is what the test app's /echo answers: the request as the action saw it, {method, url, path,
// params, body, query, headers, isSocket, ip}, with the query's and headers' values as Sails gives
// them (a string, or an array for a repeated query parameter; header names in lower case).
func Echo(req *mockserver.Request) any { return echo(req, true) }

func echo(req *mockserver.Request, withIP bool) any {
	headers := map[string]string{}
	for k := range req.Headers {
		headers[strings.ToLower(k)] = req.Headers.Get(k)
	}
	query := map[string]any{}
	for k, vs := range req.Query {
		if len(vs) == 1 {
			query[k] = vs[0]
		} else {
			query[k] = vs
		}
	}
	var body any = req.Body
	if len(req.Body) == 0 {
		body = nil
	}
	e := Object{
		{"method", req.Method}, {"url", req.URL}, {"path", req.Path}, {"params", req.AllParams()},
		{"body", body}, {"query", query}, {"headers", headers}, {"isSocket", req.IsSocket},
	}
	if withIP {
		e = append(e, Field{"ip", req.IP})
	}
	return e
}

// Install registers the test app of testdata/sails/app on srv: the routes of config/routes.js with
// the actions of api/controllers/HarnessController.js, the policy config/policies.js binds to the
// secret action (api/policies/hasApiKey.js), and the REST blueprints with pub/sub (config/blueprints.js:
// rest, autoWatch) of the models of api/models: Pet, Owner and Tag.
//
// Routes already registered on srv come first (the mockserver tries routes in registration order), so
// a caller's routes override the app's. Install panics if a model the app declares is registered
// already and not named in [Options].SkipModels.
func Install(srv *mockserver.Server, o Options) {
	if o.EchoHeader == "" {
		o.EchoHeader = "x-echo"
	}
	installRoutes(srv, o)
	// api/models/Pet.js, with the attributes of config/models.js.
	if !slices.Contains(o.SkipModels, "pet") {
		srv.Model("pet", mockserver.Required("name"))
	}
	// api/models/Owner.js: pets is a one-way collection of Pet.
	if !slices.Contains(o.SkipModels, "owner") {
		srv.Model("owner", mockserver.Required("name"), mockserver.Collection("pets", "pet"))
	}
	// api/models/Tag.js: schema: true, as the `sails new` Web App sets it.
	if !slices.Contains(o.SkipModels, "tag") {
		srv.Model("tag", mockserver.Schema(true), mockserver.Required("name"), mockserver.Attribute("rank", "number"))
	}
}

// installRoutes registers the routes of config/routes.js.
func installRoutes(s *mockserver.Server, o Options) {
	s.Handle("/echo", func(req *mockserver.Request, res *mockserver.Response) {
		res.Set(o.EchoHeader, "1")
		res.JSON(echo(req, !o.NoEchoIP))
	})

	s.Handle("GET /status/:code", func(req *mockserver.Request, res *mockserver.Response) {
		code, ok := jsNumber(req.Params["code"])
		if !ok || code != math.Trunc(code) || code < 100 || code > 599 {
			res.BadRequest(map[string]string{"error": "bad status code"})
			return
		}
		res.Status(int(code)).JSON(map[string]int{"status": int(code)})
	})

	s.Handle("GET /slow", func(req *mockserver.Request, res *mockserver.Response) {
		ms := numberParam(req, "ms", slowDefaultMS, slowMaxMS)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			res.JSON(map[string]bool{"slow": true})
		case <-req.Context().Done():
		}
	})

	s.Handle("GET /big", func(req *mockserver.Request, res *mockserver.Response) {
		res.Send(strings.Repeat("x", numberParam(req, "n", bigDefault, bigMax)))
	})

	s.Handle("POST /size", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]int{"bytes": jsonLength(req.Body)})
	})

	s.Handle("POST /login", func(req *mockserver.Request, res *mockserver.Response) {
		if req.Session == nil {
			res.BadRequest(map[string]string{"error": "no session"})
			return
		}
		name, _ := paramAny(req, "name")
		req.Session.Set("user", name)
		res.JSON(map[string]any{"user": name})
	})

	s.Handle("GET /me", func(req *mockserver.Request, res *mockserver.Response) {
		var user any
		if req.Session != nil && jsTruthy(req.Session.Get("user")) {
			user = req.Session.Get("user")
		}
		res.JSON(map[string]any{"user": user})
	})

	s.Handle("GET /count", func(req *mockserver.Request, res *mockserver.Response) {
		if req.Session == nil {
			res.JSON(map[string]any{"count": nil})
			return
		}
		n, _ := req.Session.Get("count").(int)
		n++
		req.Session.Set("count", n)
		res.JSON(map[string]int{"count": n})
	})

	// config/policies.js binds hasApiKey to the action HarnessController.secret (not to a route
	// address): it runs before the action wherever the action is routed, and only there.
	hasAPIKey := func(req *mockserver.Request, res *mockserver.Response, next func()) {
		if req.Get("x-api-key") == "letmein" {
			next()
			return
		}
		res.Forbidden(map[string]string{"error": "no key"}) // Sails sends "Forbidden" whatever the argument
	}
	s.Handle("GET /secret", func(req *mockserver.Request, res *mockserver.Response) {
		hasAPIKey(req, res, func() { res.JSON(map[string]int{"secret": 42}) })
	})

	notSocket := func(res *mockserver.Response) { res.BadRequest(map[string]string{"error": "not a socket"}) }
	// POST /rooms/:room/join and /leave: sails.sockets.join or leave for the requesting socket.
	roomAction := func(done string, act func(socketID, room string)) mockserver.HandlerFunc {
		return func(req *mockserver.Request, res *mockserver.Response) {
			if !req.IsSocket {
				notSocket(res)
				return
			}
			room := req.Params["room"]
			act(req.SocketID, room)
			res.JSON(Object{{done, room}, {"id", req.SocketID}})
		}
	}
	s.Handle("POST /rooms/:room/join", roomAction("joined", s.Join))
	s.Handle("POST /rooms/:room/leave", roomAction("left", s.Leave))
	s.Handle("POST /rooms/:room/say", func(req *mockserver.Request, res *mockserver.Response) {
		room := req.Params["room"]
		var from any
		if req.IsSocket {
			from = req.SocketID
		}
		msg := Object{{"room", room}}
		if text, ok := paramAny(req, "text"); ok { // undefined: left out, as JSON.stringify does
			msg = append(msg, Field{"text", text})
		}
		s.Broadcast(room, "chat", append(msg, Field{"from", from}))
		res.JSON(map[string]bool{"sent": true})
	})

	s.Handle("POST /blast", func(req *mockserver.Request, res *mockserver.Response) {
		event := "news"
		if e, ok := paramAny(req, "event"); ok && jsTruthy(e) {
			event = jsString(e)
		}
		data, _ := paramAny(req, "data")
		s.Blast(event, data)
		res.JSON(map[string]bool{"blasted": true})
	})

	// POST /events {n, size, event, chunk}: n events {i, text} to the requesting socket, then the
	// answer. The real action emits chunk events per turn of its event loop; the mock queues them
	// all at once (chunk has no effect): the socket gets the same frames in the same order, the
	// events before the answer.
	s.Handle("POST /events", func(req *mockserver.Request, res *mockserver.Response) {
		if !req.IsSocket {
			notSocket(res)
			return
		}
		n := numberParam(req, "n", 1, eventsMax)
		text := strings.Repeat("x", numberParam(req, "size", eventsSizeDef, eventsSizeMax))
		event := "tick"
		if e, ok := paramAny(req, "event"); ok && jsTruthy(e) {
			event = jsString(e)
		}
		for i := range n {
			s.Emit(req.SocketID, event, Object{{"i", i}, {"text", text}})
		}
		res.JSON(map[string]int{"sent": n})
	})

	s.Handle("POST /kick", func(req *mockserver.Request, res *mockserver.Response) {
		if !req.IsSocket {
			notSocket(res)
			return
		}
		res.JSON(map[string]bool{"kicked": true})
		id := req.SocketID
		time.AfterFunc(kickDelay, func() { _ = s.Kick(id) })
	})

	s.Handle("GET /redirect", func(req *mockserver.Request, res *mockserver.Response) {
		to := "/echo"
		if v, ok := paramAny(req, "to"); ok && jsTruthy(v) {
			to = jsString(v)
		}
		res.Redirect(to)
	})

	s.Handle("GET /version", func(req *mockserver.Request, res *mockserver.Response) {
		v := Versions(o.Hook)
		res.JSON(Object{
			{"sails", v["sails"]}, {"hook", v["hook"]}, {"socketio", v["socketio"]},
			{"engineio", v["engineio"]}, {"orm", v["orm"]}, {"node", v["node"]},
		})
	})

	// POST /seq and GET /seq: the order in which requests reach their action, per key.
	var seqMu sync.Mutex
	sequences := map[string][]any{}
	s.Handle("POST /seq", func(req *mockserver.Request, res *mockserver.Response) {
		k, _ := paramAny(req, "key")
		key := jsString(k)
		n, _ := paramAny(req, "n")
		seqMu.Lock()
		sequences[key] = append(sequences[key], n)
		seqMu.Unlock()
		answer := func() { res.JSON(map[string]any{"n": n}) }
		if delay := numberParam(req, "delay", 0, slowMaxMS); delay > 0 {
			time.AfterFunc(time.Duration(delay)*time.Millisecond, answer) // setTimeout: answers later
			return
		}
		answer()
	})
	s.Handle("GET /seq", func(req *mockserver.Request, res *mockserver.Response) {
		k, _ := paramAny(req, "key")
		key := jsString(k)
		seqMu.Lock()
		list := sequences[key]
		delete(sequences, key)
		seqMu.Unlock()
		if list == nil {
			list = []any{}
		}
		res.JSON(list)
	})

	// GET /jsonstring and GET /headercase: res.json of a string, res.set in mixed case.
	s.Handle("GET /jsonstring", func(req *mockserver.Request, res *mockserver.Response) { res.JSON("a string") })
	s.Handle("GET /headercase", func(req *mockserver.Request, res *mockserver.Response) {
		res.Set("X-Mixed-Case", "M").Set("x-lower", "l").Set("X-Lower", "L").Set("Set-Cookie", "a=b").JSON(map[string]bool{"ok": true})
	})

	// GET /trace: the W3C trace context headers the request carried (null when absent).
	s.Handle("GET /trace", func(req *mockserver.Request, res *mockserver.Response) {
		field := func(name string) any {
			if v := req.Get(name); v != "" {
				return v
			}
			return nil
		}
		res.JSON(Object{{"traceparent", field("traceparent")}, {"tracestate", field("tracestate")}, {"baggage", field("baggage")}})
	})

	// r|^/re/(\\d+)/(\\w+)$|num,word: a regular-expression route.
	s.Handle(`r|^/re/(\d+)/(\w+)$|num,word`, func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(Object{{"num", req.Param("num")}, {"word", req.Param("word")}, {"zero", req.Params["0"]}, {"one", req.Params["1"]}})
	})
}
