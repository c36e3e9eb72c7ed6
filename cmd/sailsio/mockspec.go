package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sailsio-go/sailsio/mockserver"
)

// mockSpec is a routes file of sailsio mock.
type mockSpec struct {
	Routes   []mockRoute `yaml:"routes"`
	Models   []mockModel `yaml:"models"`
	Blasts   []mockBlast `yaml:"blasts"`
	Builtins bool        `yaml:"builtins"`
}

// mockRoute is one route: a static answer (status, headers, body), an echo, a delay, and room actions.
type mockRoute struct {
	Route     string            `yaml:"route"`
	Status    int               `yaml:"status"`
	Headers   map[string]string `yaml:"headers"`
	Body      any               `yaml:"body"`
	Echo      bool              `yaml:"echo"`
	Delay     time.Duration     `yaml:"delay"`
	Join      string            `yaml:"join"`
	Leave     string            `yaml:"leave"`
	Broadcast *struct {
		Room  string `yaml:"room"`
		Event string `yaml:"event"`
		Data  any    `yaml:"data"`
	} `yaml:"broadcast"`
	Blast string `yaml:"blast"` // an event name: blast the request body to every socket
}

type mockModel struct {
	Identity string           `yaml:"identity"`
	Required []string         `yaml:"required"`
	Records  []map[string]any `yaml:"records"`
}

type mockBlast struct {
	Event string        `yaml:"event"`
	Every time.Duration `yaml:"every"`
	Data  any           `yaml:"data"`
}

func loadMockSpec(path string) (*mockSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	spec := &mockSpec{}
	var probe map[string]any
	if err := yaml.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if _, ok := probe["builtins"]; !ok {
		spec.Builtins = false
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(spec); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for i, r := range spec.Routes {
		if r.Route == "" {
			return nil, fmt.Errorf("%s: routes[%d]: no route address", path, i)
		}
	}
	for i, b := range spec.Blasts {
		if b.Event == "" || b.Every <= 0 {
			return nil, fmt.Errorf("%s: blasts[%d]: want an event and a positive every", path, i)
		}
	}
	return spec, nil
}

// install registers the spec on srv (it panics on an invalid address; turned into an error).
func (spec *mockSpec) install(ctx context.Context, srv *mockserver.Server, ping time.Duration) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	statsRoute(srv, ping)
	for _, r := range spec.Routes {
		srv.Handle(r.Route, r.handler(srv))
	}
	for _, m := range spec.Models {
		var opts []mockserver.ModelOption
		if len(m.Required) > 0 {
			opts = append(opts, mockserver.Required(m.Required...))
		}
		model := srv.Model(m.Identity, opts...)
		for _, rec := range m.Records {
			model.Create(normalizeYAML(rec).(map[string]any))
		}
	}
	if spec.Builtins {
		builtinRoutes(srv)
	}
	for _, b := range spec.Blasts {
		go func(b mockBlast) {
			t := time.NewTicker(b.Every)
			defer t.Stop()
			data := normalizeYAML(b.Data)
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					srv.Blast(b.Event, data)
				}
			}
		}(b)
	}
	return nil
}

// substParams replaces ":name" in s with the request's route params.
func substParams(s string, params map[string]string) string {
	if !strings.Contains(s, ":") {
		return s
	}
	for k, v := range params {
		s = strings.ReplaceAll(s, ":"+k, v)
	}
	return s
}

func (r mockRoute) handler(srv *mockserver.Server) mockserver.HandlerFunc {
	body := normalizeYAML(r.Body)
	var bdata any
	if r.Broadcast != nil {
		bdata = normalizeYAML(r.Broadcast.Data)
	}
	return func(req *mockserver.Request, res *mockserver.Response) {
		if req.IsSocket {
			if r.Join != "" {
				srv.Join(req.SocketID, substParams(r.Join, req.Params))
			}
			if r.Leave != "" {
				srv.Leave(req.SocketID, substParams(r.Leave, req.Params))
			}
		}
		if r.Broadcast != nil {
			data := bdata
			if data == nil {
				data = json.RawMessage(req.Body)
			}
			srv.Broadcast(substParams(r.Broadcast.Room, req.Params), r.Broadcast.Event, data)
		}
		if r.Blast != "" {
			srv.Blast(r.Blast, json.RawMessage(req.Body))
		}
		answer := func() {
			for k, v := range r.Headers {
				res.Set(k, v)
			}
			if r.Status != 0 {
				res.Status(r.Status)
			}
			switch {
			case r.Echo:
				res.JSON(echoOf(req))
			case body != nil:
				res.Send(body)
			default:
				res.JSON(map[string]any{"ok": true})
			}
		}
		if r.Delay > 0 {
			time.AfterFunc(r.Delay, answer)
			return
		}
		answer()
	}
}

// echoOf is what /echo answers: the request as the handler saw it (as the test app's /echo does).
func echoOf(req *mockserver.Request) map[string]any {
	h := map[string]string{}
	for k := range req.Headers {
		h[strings.ToLower(k)] = req.Headers.Get(k)
	}
	return map[string]any{
		"method": req.Method, "url": req.URL, "path": req.Path, "params": req.AllParams(),
		"body": req.Body, "query": req.Query, "headers": h, "isSocket": req.IsSocket, "ip": req.IP,
	}
}

// builtinRoutes mirrors the project's test app (testdata/sails/README.md), so the same commands and
// load scenarios run against sailsio mock and the real Sails app.
func builtinRoutes(srv *mockserver.Server) {
	srv.Handle("/echo", func(req *mockserver.Request, res *mockserver.Response) {
		res.Set("x-echo", "1").JSON(echoOf(req))
	})
	srv.Handle("GET /status/:code", func(req *mockserver.Request, res *mockserver.Response) {
		code, err := strconv.Atoi(req.Params["code"])
		if err != nil || code < 100 || code > 599 {
			code = 400
		}
		res.Status(code).JSON(map[string]int{"status": code})
	})
	srv.Handle("GET /slow", func(req *mockserver.Request, res *mockserver.Response) {
		ms, err := strconv.Atoi(req.Query.Get("ms"))
		if err != nil {
			ms = 500
		}
		ms = min(max(ms, 0), 10000)
		time.AfterFunc(time.Duration(ms)*time.Millisecond, func() { res.JSON(map[string]bool{"slow": true}) })
	})
	srv.Handle("POST /login", func(req *mockserver.Request, res *mockserver.Response) {
		name := req.Param("name")
		req.Session.Set("user", name)
		res.JSON(map[string]string{"user": name})
	})
	srv.Handle("GET /me", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]any{"user": req.Session.Get("user")})
	})
	srv.Handle("GET /count", func(req *mockserver.Request, res *mockserver.Response) {
		n, _ := req.Session.Get("count").(int)
		n++
		req.Session.Set("count", n)
		res.JSON(map[string]int{"count": n})
	})
	srv.Handle("POST /rooms/:room/join", func(req *mockserver.Request, res *mockserver.Response) {
		if !req.IsSocket {
			res.BadRequest("socket only")
			return
		}
		srv.Join(req.SocketID, req.Params["room"])
		res.JSON(map[string]string{"joined": req.Params["room"], "id": req.SocketID})
	})
	srv.Handle("POST /rooms/:room/leave", func(req *mockserver.Request, res *mockserver.Response) {
		if !req.IsSocket {
			res.BadRequest("socket only")
			return
		}
		srv.Leave(req.SocketID, req.Params["room"])
		res.JSON(map[string]string{"left": req.Params["room"], "id": req.SocketID})
	})
	srv.Handle("POST /rooms/:room/say", func(req *mockserver.Request, res *mockserver.Response) {
		room := req.Params["room"]
		srv.Broadcast(room, "chat", map[string]any{"room": room, "text": jsonOf(req.Body)["text"], "from": req.SocketID})
		res.JSON(map[string]bool{"sent": true})
	})
	srv.Handle("POST /blast", func(req *mockserver.Request, res *mockserver.Response) {
		b := jsonOf(req.Body)
		ev, _ := b["event"].(string)
		if ev == "" {
			ev = "news"
		}
		srv.Blast(ev, b["data"])
		res.JSON(map[string]bool{"blasted": true})
	})
	func() {
		defer func() { _ = recover() }() // a routes file may have declared pet already
		srv.Model("pet", mockserver.Required("name"))
	}()
}

// normalizeYAML turns yaml.v3's map[string]any trees (and any map[any]any) into JSON-encodable values.
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = normalizeYAML(x)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = normalizeYAML(x)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = normalizeYAML(x)
		}
		return out
	}
	return v
}
