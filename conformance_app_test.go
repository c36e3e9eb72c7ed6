package sailsio_test

import (
	"bytes"
	"encoding/json"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/sailsio-go/sailsio/mockserver"
)

// The Go mirror of the Sails app in testdata/sails/app, on the mockserver: the routes of
// config/routes.js with the actions of api/controllers/HarnessController.js, the policy of
// api/policies/hasApiKey.js, and the REST blueprints with pub/sub of the Pet, Owner and Tag
// models (api/models/, config/blueprints.js). Keep both apps in sync: the conformance suite runs
// the same scenarios against this app and the real one, and real Sails is the reference.

// appFlavor selects small differences between this app and the one of the reference transcripts
// (testdata/transcripts), whose test app set a different echo header and had no ip field.
type appFlavor struct {
	echoHeader string // response header of /echo ("x-echo"; the transcripts' app: "x-harness-echo")
	echoIP     bool   // /echo reports ip
}

var testdataFlavor = appFlavor{echoHeader: "x-echo", echoIP: true}

// Same limits as HarnessController.js.
const (
	slowDefaultMS = 500
	slowMaxMS     = 10000
	bigDefault    = 1024
	bigMax        = 50e6
	kickDelay     = 100 * time.Millisecond
)

// mockVersions is what GET /version answers on the mock: the keys of the real app's answer, with
// values that name the hook generation the mock imitates.
func mockVersions(hook int) map[string]string {
	hookV, ioV, eioV := "3.x-mock", "4.x-mock", "6.x-mock"
	if hook == 2 {
		hookV, ioV, eioV = "2.x-mock", "2.x-mock", "3.x-mock"
	}
	return map[string]string{"sails": "mock", "hook": hookV, "socketio": ioV, "engineio": eioV, "orm": "mock", "node": runtime.Version()}
}

// installApp registers the app on s. hook (2 or 3) is the hook generation s imitates.
func installApp(s *mockserver.Server, hook int, fl appFlavor) {
	// config/policies.js: HarnessController.secret is behind hasApiKey.
	s.Policy("GET /secret", func(req *mockserver.Request, res *mockserver.Response, next func()) {
		if req.Get("x-api-key") == "letmein" {
			next()
			return
		}
		res.Forbidden(map[string]string{"error": "no key"}) // Sails sends "Forbidden" whatever the argument
	})

	s.Handle("/echo", func(req *mockserver.Request, res *mockserver.Response) {
		res.Set(fl.echoHeader, "1")
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
		type echo struct {
			Method   string            `json:"method"`
			URL      string            `json:"url"`
			Path     string            `json:"path"`
			Params   map[string]any    `json:"params"`
			Body     any               `json:"body"`
			Query    map[string]any    `json:"query"`
			Headers  map[string]string `json:"headers"`
			IsSocket bool              `json:"isSocket"`
		}
		type echoIP struct {
			echo
			IP string `json:"ip"`
		}
		e := echo{req.Method, req.URL, req.Path, req.AllParams(), body, query, headers, req.IsSocket}
		if fl.echoIP {
			res.JSON(echoIP{e, req.IP})
			return
		}
		res.JSON(e)
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

	s.Handle("GET /secret", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]int{"secret": 42})
	})

	notSocket := func(res *mockserver.Response) { res.BadRequest(map[string]string{"error": "not a socket"}) }
	s.Handle("POST /rooms/:room/join", func(req *mockserver.Request, res *mockserver.Response) {
		if !req.IsSocket {
			notSocket(res)
			return
		}
		room := req.Params["room"]
		s.Join(req.SocketID, room)
		res.JSON(struct {
			Joined string `json:"joined"`
			ID     string `json:"id"`
		}{room, req.SocketID})
	})
	s.Handle("POST /rooms/:room/leave", func(req *mockserver.Request, res *mockserver.Response) {
		if !req.IsSocket {
			notSocket(res)
			return
		}
		room := req.Params["room"]
		s.Leave(req.SocketID, room)
		res.JSON(struct {
			Left string `json:"left"`
			ID   string `json:"id"`
		}{room, req.SocketID})
	})
	s.Handle("POST /rooms/:room/say", func(req *mockserver.Request, res *mockserver.Response) {
		room := req.Params["room"]
		text, _ := paramAny(req, "text")
		var from any
		if req.IsSocket {
			from = req.SocketID
		}
		s.Broadcast(room, "chat", struct {
			Room string `json:"room"`
			Text any    `json:"text,omitempty"` // undefined: left out, as JSON.stringify does
			From any    `json:"from"`
		}{room, text, from})
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
		v := mockVersions(hook)
		res.JSON(orderedObject{
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
		res.JSON(orderedObject{{"traceparent", field("traceparent")}, {"tracestate", field("tracestate")}, {"baggage", field("baggage")}})
	})

	// r|^/re/(\\d+)/(\\w+)$|num,word: a regular-expression route.
	s.Handle(`r|^/re/(\d+)/(\w+)$|num,word`, func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(orderedObject{{"num", req.Param("num")}, {"word", req.Param("word")}, {"zero", req.Params["0"]}, {"one", req.Params["1"]}})
	})

	// The Pet model (api/models/Pet.js) with the REST blueprints and pub/sub of
	// config/blueprints.js (rest, autoWatch) and the attributes of config/models.js.
	s.Model("pet", mockserver.Required("name"))
	// The Owner model (api/models/Owner.js): pets is a one-way collection of Pet.
	s.Model("owner", mockserver.Required("name"), mockserver.Collection("pets", "pet"))
	// The Tag model (api/models/Tag.js): schema: true, as the `sails new` Web App sets it.
	s.Model("tag", mockserver.Schema(true), mockserver.Required("name"), mockserver.Attribute("rank", "number"))
}

// paramAny is req.param(name) of Sails: route params, then the body (any JSON value but null),
// then the query; ok is false when the parameter is nowhere (undefined).
func paramAny(req *mockserver.Request, name string) (any, bool) {
	if v, ok := req.Params[name]; ok {
		return v, true
	}
	var body map[string]json.RawMessage
	if json.Unmarshal(req.Body, &body) == nil {
		if raw, ok := body[name]; ok && string(raw) != "null" {
			var v any
			if json.Unmarshal(raw, &v) == nil {
				return v, true
			}
		}
	}
	if vs, ok := req.Query[name]; ok && len(vs) > 0 {
		return vs[0], true
	}
	return nil, false
}

// jsNumber is JavaScript's Number(s) for the strings this app sees (not hex or octal forms).
func jsNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.ContainsAny(s, "xXpP_") || strings.EqualFold(strings.TrimLeft(s, "+-"), "inf") ||
		strings.EqualFold(strings.TrimLeft(s, "+-"), "infinity") || strings.EqualFold(s, "nan") {
		return 0, false
	}
	return f, true
}

// numberParam is the helper of HarnessController.js: the param as a non-negative finite number,
// floored and capped, or def.
func numberParam(req *mockserver.Request, name string, def, max int) int {
	raw, ok := paramAny(req, name)
	if !ok {
		return def
	}
	var n float64
	switch v := raw.(type) {
	case float64:
		n = v
	case string:
		if v == "" {
			return def
		}
		f, ok := jsNumber(v)
		if !ok {
			return def
		}
		n = f
	case bool:
		if v {
			n = 1
		}
	default:
		return def
	}
	if math.IsNaN(n) || math.IsInf(n, 0) || n < 0 {
		return def
	}
	return int(math.Min(math.Floor(n), float64(max)))
}

// jsTruthy reports whether a decoded JSON value is truthy in JavaScript.
func jsTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0 && !math.IsNaN(x)
	}
	return true
}

// jsString is String(v) for the JSON values this app sees.
func jsString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// jsonLength is JSON.stringify(body).length: the length in UTF-16 code units of the compact JSON
// (strings written the way JSON.stringify writes them). The body is compact JSON already; only one
// with escapes is re-encoded (JSON.stringify escapes less than most encoders).
func jsonLength(body json.RawMessage) int {
	if len(bytes.TrimSpace(body)) == 0 {
		return len("null")
	}
	s := string(body)
	if bytes.IndexByte(body, '\\') >= 0 {
		var v any
		if json.Unmarshal(body, &v) != nil {
			return 0
		}
		b, _ := marshalNoEscape(v)
		// encoding/json escapes U+2028 and U+2029, JSON.stringify does not.
		s = strings.NewReplacer(`\u2028`, "\u2028", `\u2029`, "\u2029").Replace(string(b))
	}
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// orderedObject is a JSON object that keeps its keys in order, as JavaScript objects do.
type orderedObject []kv

type kv struct {
	key   string
	value any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(p.key)
		if err != nil {
			return nil, err
		}
		v, err := marshalNoEscape(p.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}
