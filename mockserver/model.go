package mockserver

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// Model is an in-memory Sails model served by the blueprint REST routes of Sails 1.5, with the
// blueprint pub/sub, over sockets and plain HTTP alike. Create one with Server.Model.
//
// Routes (bound after every route of Handle, so an explicit route wins, as in Sails):
//
//	GET    /identity       find: where (JSON or the other parameters), limit (default 30), skip, sort
//	GET    /identity/:id   findOne: 404 "Not Found" when there is no such record
//	POST   /identity       create: 200 (not 201) with the new record; 400 for a missing required attribute
//	PATCH  /identity/:id   update (PUT too): 200 with the updated record, 404 when there is none
//	DELETE /identity/:id   destroy: 200 with the destroyed record, 404 when there is none
//
// Records are what sails-disk returns with the default attributes of a new Sails app
// (createdAt and updatedAt as millisecond timestamps, an auto-incremented numeric id): the
// attributes the model does not declare first, in the order they were first set, then
// createdAt, updatedAt, id and the declared attributes in declaration order. Like a default
// Sails 1.x model (schema: false), a record keeps attributes the model does not declare, and
// find refuses select and omit; with Schema(true) the model is `schema: true` instead.
// Invalid criteria and values get Sails' 400 answers: {"code":"E_INVALID_CRITERIA" or
// "E_INVALID_NEW_RECORD","details":...,"message":...}. A `where` parameter that is text but not
// JSON gets 500, as in Sails, whose blueprints throw it (see Model.find).
//
// Pub/sub, exactly as the blueprints do it over sockets: find subscribes the socket to every
// record it returns and, with auto-watch (the default), watches the model; findOne subscribes to
// the record; create subscribes the creator to the new record, introduces the watchers to it and
// publishes "created" to the watchers but the creator; update subscribes the requester and
// publishes "updated" (with the changes and "previous") to the record's subscribers but the
// requester; destroy publishes "destroyed" (with "previous") to the record's subscribers but the
// requester, then unsubscribes the requester and the watchers from the record. With Mirror(true)
// the requester is told too. Over HTTP nobody is subscribed and nobody is left out.
//
// Records live as long as the Model (Stop and Start keep them, like a database). Seed them with
// Create. A Model is safe for concurrent use.
type Model struct {
	srv      *Server
	identity string
	cfg      modelConfig

	mu      *sync.Mutex // one for every model of the server (model_assoc.go)
	records map[int64]*jsObject
	links   map[string]map[int64]map[int64]bool // collection -> parent id -> child ids (model_assoc.go)
	nextID  int64
	lastTS  int64
}

// ModelOption configures a Model.
type ModelOption func(*modelConfig)

type modelConfig struct {
	attrs     []attribute // declared attributes, after createdAt, updatedAt and id
	colls     []collection
	autoWatch bool
	mirror    bool
	schema    bool
}

type attribute struct {
	name     string
	typ      string // string, number, boolean, json or ref
	required bool
}

func (c *modelConfig) attr(name string) *attribute {
	for i := range c.attrs {
		if c.attrs[i].name == name {
			return &c.attrs[i]
		}
	}
	return nil
}

// Attribute declares an attribute of type typ, one of Waterline's "string", "number",
// "boolean", "json" and "ref" (anything else makes Server.Model panic). A declared attribute
// is in every record: one created without it gets the type's base value ("", 0, false, null),
// and values are coerced as Waterline does (a number or boolean sent for a string attribute
// is stored as its text; a numeric string sent for a number attribute as the number). Records
// list declared attributes after createdAt, updatedAt and id, in declaration order.
func Attribute(name, typ string) ModelOption {
	return func(c *modelConfig) {
		if a := c.attr(name); a != nil {
			a.typ = typ
			return
		}
		c.attrs = append(c.attrs, attribute{name: name, typ: typ})
	}
}

// Required marks attributes as required: a create without one (or with null) gets 400 with
// Sails' E_INVALID_NEW_RECORD body. An attribute not declared with Attribute is declared as a
// string attribute.
func Required(attributes ...string) ModelOption {
	return func(c *modelConfig) {
		for _, name := range attributes {
			if a := c.attr(name); a != nil {
				a.required = true
				continue
			}
			c.attrs = append(c.attrs, attribute{name: name, typ: "string", required: true})
		}
	}
}

// AutoWatch sets sails.config.blueprints.autoWatch for the model (default true): a socket's
// find then also watches the model, so it hears of every record created afterwards.
func AutoWatch(on bool) ModelOption {
	return func(c *modelConfig) { c.autoWatch = on }
}

// Mirror sets sails.config.blueprints.mirror for the model (default false): when on, the
// socket that made a change is told of it too.
func Mirror(on bool) ModelOption {
	return func(c *modelConfig) { c.mirror = on }
}

// Schema makes a Model behave as a Sails model with `schema: true` (the `sails new` Web App
// default, set in its config/models.js): attributes not declared with Attribute, Required or
// Collection are dropped on create and update (so they are in no record and no event), and the
// blueprints' select and omit work as in Sails 1.5. GET /identity?select=a,b answers the records
// with id and the selected attributes only (select=* selects all); omit=a,b answers them without
// the omitted ones (select wins when both are given; omitting id, or selecting or omitting an
// attribute the model does not declare, is a 400). find and findOne take both. A where, sort,
// select or omit naming an undeclared attribute is refused with Waterline's 400
// E_INVALID_CRITERIA. Without Schema (or with Schema(false), Sails' default) records keep
// undeclared attributes, select and omit are refused with 400, and a sort on an undeclared
// attribute fails with 500, as Waterline fails with a TypeError.
func Schema(on bool) ModelOption {
	return func(c *modelConfig) { c.schema = on }
}

var baseValues = map[string]json.RawMessage{
	"string": json.RawMessage(`""`), "number": json.RawMessage(`0`), "boolean": json.RawMessage(`false`),
	"json": json.RawMessage(`null`), "ref": json.RawMessage(`null`),
}

var nounPhrases = map[string]string{
	"string": "a string", "number": "a number", "boolean": "a boolean",
	"json": "a JSON-compatible value", "ref": "a value",
}

// Model registers an in-memory model under identity (lower-case, as Sails identities are) and
// binds its blueprint routes. It panics if identity is empty or already a model, or if an
// option is invalid.
func (s *Server) Model(identity string, opts ...ModelOption) *Model {
	if identity == "" || strings.ContainsAny(identity, "/ ") {
		panic(fmt.Sprintf("mockserver: invalid model identity %q", identity))
	}
	identity = strings.ToLower(identity)
	cfg := modelConfig{autoWatch: true}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	for _, a := range cfg.attrs {
		if _, ok := baseValues[a.typ]; !ok {
			panic(fmt.Sprintf("mockserver: model %s: attribute %s has unknown type %q", identity, a.name, a.typ))
		}
		switch a.name {
		case "id", "createdAt", "updatedAt":
			panic(fmt.Sprintf("mockserver: model %s: attribute %s is built in", identity, a.name))
		}
	}
	m := &Model{srv: s, identity: identity, cfg: cfg, records: map[int64]*jsObject{}, nextID: 1, mu: new(sync.Mutex)}
	s.router.mu.Lock()
	defer s.router.mu.Unlock()
	for _, r := range s.router.blueprints {
		if r.model == identity {
			panic(fmt.Sprintf("mockserver: model %s is already registered", identity))
		}
		m.mu = r.m.mu
	}
	base := "/" + identity
	for _, b := range append([]struct {
		address string
		h       HandlerFunc
	}{
		{"GET " + base, m.find},
		{"GET " + base + "/:id", m.findOne},
		{"POST " + base, m.create},
		{"PATCH " + base + "/:id", m.update},
		{"PUT " + base + "/:id", m.update},
		{"DELETE " + base + "/:id", m.destroy},
	}, m.collectionRoutes()...) {
		p, err := parseAddress(b.address)
		if err != nil {
			panic(err)
		}
		s.router.blueprints = append(s.router.blueprints, blueprintRoute{route: route{pattern: p, h: b.h}, model: identity, m: m})
	}
	return m
}

// Identity returns the model's identity: its event name and the first segment of its routes.
func (m *Model) Identity() string { return m.identity }

// now returns a millisecond timestamp, strictly increasing for the model.
func (m *Model) now() int64 {
	ts := time.Now().UnixMilli()
	if ts <= m.lastTS {
		ts = m.lastTS + 1
	}
	m.lastTS = ts
	return ts
}

// attrOrder lists the declared attributes in record order.
func (m *Model) attrOrder() []string {
	names := []string{"createdAt", "updatedAt", "id"}
	for _, a := range m.cfg.attrs {
		names = append(names, a.name)
	}
	return names
}

func (m *Model) declared(name string) bool {
	switch name {
	case "createdAt", "updatedAt", "id":
		return true
	}
	return m.cfg.attr(name) != nil || m.cfg.coll(name) != nil
}

// output returns a record as Sails returns it: undeclared attributes first, then the
// collections populated (model_assoc.go), then the declared ones in order.
func (m *Model) output(rec *jsObject) *jsObject { return m.render(rec, true) }

// render is output, with the collections or without them. A record in a populated collection
// (populated false) has only the declared attributes: Waterline leaves the others out of
// populated records, as Sails 1.5 answers them.
func (m *Model) render(rec *jsObject, populated bool) *jsObject {
	out := newJSObject()
	if populated {
		for _, k := range rec.order() {
			if !m.declared(k) {
				out.set(k, rec.vals[k])
			}
		}
		m.populate(rec, out)
	}
	for _, k := range m.attrOrder() {
		if v, ok := rec.vals[k]; ok {
			out.set(k, v)
		}
	}
	return out
}

// Create adds a record without any event, as seeding a database would, and returns it with its
// id and timestamps. A record that gives its own numeric id keeps it (a record with that id is
// replaced); values are coerced as by the create blueprint. Create panics if a required
// attribute is missing or a value cannot be coerced.
func (m *Model) Create(record map[string]any) map[string]any {
	b, err := marshalJSON(record)
	if err != nil {
		panic(fmt.Sprintf("mockserver: %s.Create: %v", m.identity, err))
	}
	vals := parseJSObject(b)
	if vals == nil {
		vals = newJSObject()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, uerr := m.newRecord(vals)
	if uerr != nil {
		panic(fmt.Sprintf("mockserver: %s.Create: %s", m.identity, uerr.Details))
	}
	return toMap(m.output(rec))
}

// Records returns a copy of every record, by ascending id.
func (m *Model) Records() []map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]map[string]any, 0, len(m.records))
	for _, rec := range m.sorted() {
		out = append(out, toMap(m.output(rec)))
	}
	return out
}

func toMap(o *jsObject) map[string]any {
	b, _ := o.MarshalJSON()
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	return v
}

// sorted returns the records by ascending id (Waterline's default sort).
func (m *Model) sorted() []*jsObject {
	ids := make([]int64, 0, len(m.records))
	for id := range m.records {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]*jsObject, len(ids))
	for i, id := range ids {
		out[i] = m.records[id]
	}
	return out
}

// usageError is a Waterline UsageError as the blueprints answer it (formatUsageError).
type usageError struct {
	Code    string
	Details string
	// thrown: the blueprint's parseBlueprintOptions throws it (a `where` that is not JSON), so
	// it never reaches the action's res.badRequest: Sails answers 500 with the error's stack.
	thrown bool
}

// badRequest answers 400 with the usage error's JSON, as res.badRequest(formatUsageError(err))
// does in development; a thrown error gets 500 with its first line, "UsageError: " and the
// message (Sails in development sends the stack, whose first line that is).
func (m *Model) badRequest(req *Request, res *Response, e *usageError) {
	if e.thrown {
		res.ServerError("UsageError: " + e.Details)
		return
	}
	body := newJSObject()
	body.set("code", mustJSON(e.Code))
	body.set("details", mustJSON(e.Details))
	body.set("message", mustJSON("The server could not fulfill this request (`"+req.Method+" "+req.Path+"`) "+
		"due to a problem with the parameters that were sent.  See the `details` for more info.  "+
		"**The following additional tip will not be shown in production**:  "+
		"Tip: Check your client-side code to make sure that the request data it sends matches the expectations "+
		"of the corresponding attributes in your model.  Also check that your client-side code sends data for every required attribute."))
	res.Status(http.StatusBadRequest).JSON(body)
}

// coerce validates and coerces v for attribute a as Waterline's loose validation does. It
// returns false when v cannot be coerced.
func coerce(a *attribute, v json.RawMessage) (json.RawMessage, bool) {
	if a == nil {
		return v, true
	}
	c := wire.FirstByte(v)
	switch a.typ {
	case "string":
		switch {
		case c == '"':
			return v, true
		case c == 'n':
			return baseValues["string"], true
		case c == 't' || c == 'f':
			return mustJSON(string(v)), true
		case c == '-' || c >= '0' && c <= '9':
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return nil, false
			}
			return mustJSON(jsNumberString(f)), true
		}
		return nil, false
	case "number":
		switch {
		case c == '-' || c >= '0' && c <= '9':
			return v, true
		case c == 'n':
			return baseValues["number"], true
		case c == '"':
			s := strings.TrimSpace(decodeString(v))
			f, err := strconv.ParseFloat(s, 64)
			if s == "" || err != nil || math.IsInf(f, 0) {
				return nil, false
			}
			return json.RawMessage(jsNumberString(f)), true
		}
		return nil, false
	case "boolean":
		switch {
		case c == 't' || c == 'f':
			return v, true
		case c == 'n':
			return baseValues["boolean"], true
		case c == '"':
			switch decodeString(v) {
			case "true":
				return json.RawMessage("true"), true
			case "false":
				return json.RawMessage("false"), true
			}
		}
		return nil, false
	}
	return v, true
}

// jsNumberString formats f as JavaScript's String(f) does for the common cases.
func jsNumberString(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if i := strings.Index(s, "e"); i >= 0 && !strings.Contains(s[i:], "-") && !strings.Contains(s[i:], "+") {
		s = s[:i+1] + "+" + s[i+1:]
	}
	return s
}

// parseID turns a record id as sent (a JSON number, or the text of a route param) into the
// numeric primary key.
func parseID(raw json.RawMessage) (int64, bool) {
	s := string(raw)
	if wire.FirstByte(raw) == '"' {
		s = strings.TrimSpace(decodeString(raw))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// newRecord builds and stores a new record from vals (the create blueprint's newRecord). m.mu
// must be held.
func (m *Model) newRecord(vals *jsObject) (*jsObject, *usageError) {
	rec := newJSObject()
	members := map[string][]int64{} // collections given on create
	for _, k := range vals.order() {
		v := vals.vals[k]
		if m.cfg.coll(k) != nil {
			ids, uerr := memberIDs(k, v)
			if uerr != nil {
				return nil, uerr
			}
			members[k] = ids
			continue
		}
		if m.cfg.schema && !m.declared(k) {
			continue // schema: true: Waterline drops what the model does not declare
		}
		switch k {
		case "id":
			if wire.FirstByte(v) == 'n' {
				return nil, &usageError{Code: "E_INVALID_NEW_RECORD", Details: "Could not use specified value (`null`) as the primary key value (`id`) for a new record.  (Try omitting it instead.)"}
			}
			if _, ok := parseID(v); !ok {
				return nil, &usageError{Code: "E_INVALID_NEW_RECORD", Details: "Could not use specified value (" + formatS(v) + ") as the primary key value (`id`) for a new record."}
			}
		case "createdAt", "updatedAt":
			if _, ok := coerce(&attribute{typ: "number"}, v); !ok {
				return nil, &usageError{Code: "E_INVALID_NEW_RECORD", Details: "Invalid value for `" + k + "`: expected a number."}
			}
		}
		a := m.cfg.attr(k)
		if a != nil && a.required && wire.FirstByte(v) == 'n' {
			return nil, &usageError{Code: "E_INVALID_NEW_RECORD", Details: "Missing value for required attribute `" + k + "`.  Expected " + nounPhrases[a.typ] + ", but instead, got: null"}
		}
		cv, ok := coerce(a, v)
		if !ok {
			return nil, &usageError{Code: "E_INVALID_NEW_RECORD", Details: "Could not use specified `" + k + "`.  Expected " + nounPhrases[a.typ] + ", but instead, got: " + formatS(v)}
		}
		rec.set(k, cv)
	}
	for _, a := range m.cfg.attrs {
		if a.required && !rec.has(a.name) {
			return nil, &usageError{Code: "E_INVALID_NEW_RECORD", Details: "Missing value for required attribute `" + a.name + "`.  Expected " + nounPhrases[a.typ] + ", but instead, got: undefined"}
		}
	}
	ts := json.RawMessage(strconv.FormatInt(m.now(), 10))
	for _, name := range m.attrOrder() {
		if rec.has(name) {
			continue
		}
		switch name {
		case "createdAt", "updatedAt":
			rec.set(name, ts)
		case "id":
			for m.records[m.nextID] != nil {
				m.nextID++
			}
			rec.set("id", json.RawMessage(strconv.FormatInt(m.nextID, 10)))
			m.nextID++
		default:
			rec.set(name, baseValues[m.cfg.attr(name).typ])
		}
	}
	id, _ := parseID(rec.vals["id"])
	rec.set("id", json.RawMessage(strconv.FormatInt(id, 10)))
	m.records[id] = rec
	for name, ids := range members {
		m.replaceMembers(name, id, ids)
	}
	return rec, nil
}

// allParams returns the request's parameters in the order of req.allParams(): the query, then
// the body's keys, then the route params on top.
func allParams(req *Request) *jsObject {
	o := newJSObject()
	_, rawQuery := splitURL(req.URL)
	seen := map[string][]string{}
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		seen[k] = append(seen[k], v)
		if len(seen[k]) == 1 {
			o.set(k, mustJSON(v))
		} else {
			o.set(k, mustJSON(seen[k]))
		}
	}
	if body := parseJSObject(req.Body); body != nil {
		for _, k := range body.order() {
			o.set(k, body.vals[k])
		}
	}
	for k, v := range req.Params {
		o.set(k, mustJSON(v))
	}
	return o
}

// paramString returns a parameter as req.param does for the criteria parsers: a string as is,
// anything else as its JSON text, and whether it is there.
func paramString(o *jsObject, k string) (string, bool) {
	v, ok := o.vals[k]
	if !ok {
		return "", false
	}
	if wire.FirstByte(v) == '"' {
		return decodeString(v), true
	}
	return string(v), true
}

func (m *Model) find(req *Request, res *Response) {
	params := allParams(req)
	q, uerr := m.parseCriteria(params)
	if uerr != nil {
		m.badRequest(req, res, uerr)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var matched []*jsObject
	for _, rec := range m.sorted() {
		if q.where.matches(m, rec) {
			matched = append(matched, rec)
		}
	}
	for _, k := range q.sort {
		if !m.declared(k.attr) {
			// Waterline cannot sort by an attribute the model does not declare: it throws.
			res.ServerError("TypeError: Cannot read properties of undefined (reading 'columnName')")
			return
		}
	}
	if len(q.sort) > 0 {
		sort.SliceStable(matched, func(i, j int) bool { return q.less(matched[i], matched[j]) })
	}
	if q.skip >= len(matched) {
		matched = nil
	} else {
		matched = matched[q.skip:]
	}
	if q.limit < len(matched) {
		matched = matched[:q.limit]
	}
	list := make([]json.RawMessage, 0, len(matched))
	ids := make([]any, 0, len(matched))
	for _, rec := range matched {
		b, _ := q.project(m.output(rec)).MarshalJSON()
		list = append(list, b)
		id, _ := parseID(rec.vals["id"])
		ids = append(ids, id)
	}
	if req.IsSocket {
		m.srv.Subscribe(req.SocketID, m.identity, ids...)
		if m.cfg.autoWatch {
			m.srv.Watch(req.SocketID, m.identity)
		}
	}
	res.OK(list)
}

// idParam returns the record id of a /identity/:id route, or the 400 Sails answers for an id
// that is not a number.
func (m *Model) idParam(req *Request) (int64, *usageError) {
	raw := req.Params["id"]
	id, ok := parseID(mustJSON(raw))
	if !ok {
		return 0, &usageError{Code: "E_INVALID_CRITERIA", Details: "Could not use the provided `where` clause.  Could not filter by `id`: " +
			"Does not match the declared data type of the corresponding attribute.  1 error validating value: \n" +
			" • Specified value (a string: " + jsQuote(raw) + ") doesn't match the expected type: 'number'"}
	}
	return id, nil
}

func (m *Model) findOne(req *Request, res *Response) {
	id, uerr := m.idParam(req)
	if uerr != nil {
		m.badRequest(req, res, uerr)
		return
	}
	q := &criteria{}
	if uerr := m.parseProjection(allParams(req), q); uerr != nil {
		m.badRequest(req, res, uerr)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.records[id]
	if rec == nil {
		res.NotFound(nil)
		return
	}
	if req.IsSocket {
		m.srv.Subscribe(req.SocketID, m.identity, id)
	}
	res.OK(q.project(m.output(rec)))
}

// omitFor returns the socket a publication leaves out: the requesting socket, unless mirror is on.
func (m *Model) omitFor(req *Request) string {
	if m.cfg.mirror || !req.IsSocket {
		return ""
	}
	return req.SocketID
}

func (m *Model) create(req *Request, res *Response) {
	vals := allParams(req)
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, uerr := m.newRecord(vals)
	if uerr != nil {
		m.badRequest(req, res, uerr)
		return
	}
	out := m.output(rec)
	id, _ := parseID(rec.vals["id"])
	if req.IsSocket {
		m.srv.Subscribe(req.SocketID, m.identity, id)
	}
	m.srv.Publish(m.identity, "created", id, out.clone(), nil, m.omitFor(req))
	res.OK(out)
}

func (m *Model) update(req *Request, res *Response) {
	id, uerr := m.idParam(req)
	if uerr != nil {
		m.badRequest(req, res, uerr)
		return
	}
	params := allParams(req)
	params.del("id")
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.records[id]
	if rec == nil {
		res.NotFound(nil)
		return
	}
	previous := m.output(rec)
	changes := newJSObject()
	members := map[string][]int64{}
	for _, k := range params.order() {
		v := params.vals[k]
		if m.cfg.coll(k) != nil {
			ids, uerr := memberIDs(k, v)
			if uerr != nil {
				m.badRequest(req, res, uerr)
				return
			}
			members[k] = ids
			changes.set(k, v)
			continue
		}
		if m.cfg.schema && !m.declared(k) {
			continue // dropped, from the record and from the event's data alike
		}
		a := m.cfg.attr(k)
		if k == "createdAt" || k == "updatedAt" {
			a = &attribute{name: k, typ: "number"}
		}
		if a != nil && a.required && wire.FirstByte(v) == 'n' {
			m.badRequest(req, res, &usageError{Code: "E_INVALID_VALUES_TO_SET", Details: "Cannot set `null` for required attribute `" + k + "`."})
			return
		}
		cv, ok := coerce(a, v)
		if !ok {
			m.badRequest(req, res, &usageError{Code: "E_INVALID_VALUES_TO_SET", Details: "Could not use specified `" + k + "`.  Expected " + nounPhrases[a.typ] + ", but instead, got: " + formatS(v)})
			return
		}
		changes.set(k, cv)
	}
	changes.set("id", json.RawMessage(strconv.FormatInt(id, 10)))
	if !changes.has("updatedAt") {
		changes.set("updatedAt", json.RawMessage(strconv.FormatInt(m.now(), 10)))
	}
	for _, k := range changes.order() {
		if m.cfg.coll(k) == nil {
			rec.set(k, changes.vals[k])
		}
	}
	for name, ids := range members {
		m.replaceMembers(name, id, ids)
	}
	if req.IsSocket {
		m.srv.Subscribe(req.SocketID, m.identity, id)
	}
	m.srv.Publish(m.identity, "updated", id, changes, previous, m.omitFor(req))
	res.OK(m.output(rec))
}

func (m *Model) destroy(req *Request, res *Response) {
	id, uerr := m.idParam(req)
	if uerr != nil {
		m.badRequest(req, res, uerr)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.records[id]
	if rec == nil {
		res.NotFound(nil)
		return
	}
	previous := m.output(rec)
	delete(m.records, id)
	m.dropMembers(id)
	m.srv.Publish(m.identity, "destroyed", id, nil, previous, m.omitFor(req))
	m.srv.retire(m.identity, id)
	if req.IsSocket {
		m.srv.Leave(req.SocketID, RecordRoom(m.identity, id))
	}
	res.OK(previous)
}

// retire removes the watchers of a model from a record's room (Sails' Model._retire).
func (s *Server) retire(identity string, id any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	room := RecordRoom(identity, id)
	for _, c := range s.rooms[WatchRoom(identity)] {
		if _, in := c.rooms[room]; in {
			s.leaveLocked(c, room)
		}
	}
}
