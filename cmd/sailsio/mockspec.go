package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sailsio-go/sailsio/internal/testapp"
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

// install registers the spec on srv, whose server imitates sails-hook-sockets hook.x (it panics on an
// invalid address; turned into an error).
func (spec *mockSpec) install(ctx context.Context, srv *mockserver.Server, hook int, ping time.Duration) (err error) {
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
		// The project's test app (testdata/sails/app), the copy the conformance suite checks against
		// real Sails; the routes and models of the file come first, so they override the app's.
		var models []string
		for _, m := range spec.Models {
			models = append(models, strings.ToLower(m.Identity))
		}
		testapp.Install(srv, testapp.Options{Hook: hook, SkipModels: models})
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
				res.JSON(testapp.Echo(req))
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
