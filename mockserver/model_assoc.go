package mockserver

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// Associations: a model's collection attribute, as a Sails 1.5 model declares
// `pets: {collection: 'pet'}` (one-way, without `via`), with the blueprint routes and pub/sub
// Sails binds for it.

// collection is a collection attribute: the ids of records of another model (or of the model
// itself).
type collection struct {
	name  string // the attribute (alias)
	model string // the identity of the associated model
}

func (c *modelConfig) coll(name string) *collection {
	for i := range c.colls {
		if c.colls[i].name == name {
			return &c.colls[i]
		}
	}
	return nil
}

// Collection declares a one-way collection attribute, as `attr: {collection: 'model'}` (no `via`)
// does in a Sails model: a record holds a set of records of model (another identity registered
// on the same Server, before or after this one, or this model's own). Records then carry attr
// populated, as the blueprints return them: the associated records that exist, by ascending id,
// after the undeclared attributes and before createdAt. Create and update take attr as an array
// of ids, which replaces the set. The blueprint routes Sails binds for it:
//
//	PUT    /identity/:id/attr/:fk   add: 200 with the populated record; publishes addedTo
//	DELETE /identity/:id/attr/:fk   remove: 200 with the populated record; publishes removedFrom
//	GET    /identity/:id/attr       populate: 200 with the associated records
//
// (404 "Not Found" when the record or the associated record does not exist.) Pub/sub as Sails'
// blueprints do it: add subscribes a requesting socket to the record and to the added record,
// then publishes {"id":id,"verb":"addedTo","attribute":attr,"addedId":fk} to the record's
// subscribers but the requester (unless Mirror); remove publishes {"id":id,"verb":"removedFrom",
// "attribute":attr,"removedId":fk} the same way (an add of a member already there, or a remove
// of one that is not, is answered and published all the same); populate subscribes the socket to
// the record and to the associated records. Destroying a record forgets its set.
func Collection(attr, model string) ModelOption {
	return func(c *modelConfig) {
		if x := c.coll(attr); x != nil {
			x.model = model
			return
		}
		c.colls = append(c.colls, collection{name: attr, model: model})
	}
}

// collectionRoutes are the blueprint routes of the model's collections (Server.Model binds them).
func (m *Model) collectionRoutes() []struct {
	address string
	h       HandlerFunc
} {
	var out []struct {
		address string
		h       HandlerFunc
	}
	for _, c := range m.cfg.colls {
		if c.name == "" || c.model == "" || m.cfg.attr(c.name) != nil {
			panic(fmt.Sprintf("mockserver: model %s: invalid collection %q of %q", m.identity, c.name, c.model))
		}
		base := "/" + m.identity + "/:id/" + c.name
		c := c
		out = append(out, []struct {
			address string
			h       HandlerFunc
		}{
			{"PUT " + base + "/:fk", func(req *Request, res *Response) { m.addTo(c, req, res) }},
			{"DELETE " + base + "/:fk", func(req *Request, res *Response) { m.removeFrom(c, req, res) }},
			{"GET " + base, func(req *Request, res *Response) { m.populateRoute(c, req, res) }},
		}...)
	}
	return out
}

// other returns the model of identity registered on the same server. m.mu is held (every
// model of a server shares it).
func (m *Model) other(identity string) *Model {
	if identity == m.identity {
		return m
	}
	m.srv.router.mu.RLock()
	defer m.srv.router.mu.RUnlock()
	for _, r := range m.srv.router.blueprints {
		if r.model == identity {
			return r.m
		}
	}
	return nil
}

// memberIDs reads the array of ids given for a collection on create or update.
func memberIDs(attr string, v json.RawMessage) ([]int64, *usageError) {
	if wire.FirstByte(v) == 'n' {
		return nil, nil
	}
	var raw []json.RawMessage
	if json.Unmarshal(v, &raw) != nil {
		return nil, &usageError{Code: "E_INVALID_VALUES_TO_SET", Details: "Could not use specified `" + attr + "`.  Expected an array of ids, but instead, got: " + formatS(v)}
	}
	ids := make([]int64, 0, len(raw))
	for _, r := range raw {
		id, ok := parseID(r)
		if !ok {
			return nil, &usageError{Code: "E_INVALID_VALUES_TO_SET", Details: "Could not use specified `" + attr + "`.  Expected an array of ids, but instead, got: " + formatS(v)}
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// replaceMembers sets the members of a record's collection. m.mu is held.
func (m *Model) replaceMembers(attr string, id int64, ids []int64) {
	if m.links == nil {
		m.links = map[string]map[int64]map[int64]bool{}
	}
	if m.links[attr] == nil {
		m.links[attr] = map[int64]map[int64]bool{}
	}
	set := map[int64]bool{}
	for _, x := range ids {
		set[x] = true
	}
	m.links[attr][id] = set
}

// dropMembers forgets every collection of a destroyed record. m.mu is held.
func (m *Model) dropMembers(id int64) {
	for _, byParent := range m.links {
		delete(byParent, id)
	}
}

// members returns the records of a record's collection that exist, by ascending id. m.mu is held.
func (m *Model) members(c collection, id int64) []*jsObject {
	child := m.other(c.model)
	if child == nil {
		return nil
	}
	var ids []int64
	for x := range m.links[c.name][id] {
		if child.records[x] != nil {
			ids = append(ids, x)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]*jsObject, len(ids))
	for i, x := range ids {
		out[i] = child.render(child.records[x], false) // one level, as Waterline populates
	}
	return out
}

// populate adds the model's collections to out, a record being output. m.mu is held.
func (m *Model) populate(rec, out *jsObject) {
	if len(m.cfg.colls) == 0 {
		return
	}
	id, _ := parseID(rec.vals["id"])
	for _, c := range m.cfg.colls {
		list := m.members(c, id)
		raw := make([]json.RawMessage, len(list))
		for i, r := range list {
			raw[i], _ = r.MarshalJSON()
		}
		out.set(c.name, mustJSON(raw))
	}
}

// parentAndChild resolves the record and the associated record of an add or remove, answering
// 400 or 404 itself when it returns false. m.mu is held.
func (m *Model) parentAndChild(c collection, req *Request, res *Response) (parent *jsObject, id, fk int64, ok bool) {
	id, uerr := m.idParam(req)
	if uerr != nil {
		m.badRequest(req, res, uerr)
		return nil, 0, 0, false
	}
	fk, okFK := parseID(mustJSON(req.Params["fk"]))
	child := m.other(c.model)
	if child == nil {
		res.ServerError(fmt.Sprintf("mockserver: model %s: collection %s: no model %q", m.identity, c.name, c.model))
		return nil, 0, 0, false
	}
	if m.records[id] == nil || !okFK || child.records[fk] == nil {
		res.NotFound(nil)
		return nil, 0, 0, false
	}
	return m.records[id], id, fk, true
}

func (m *Model) addTo(c collection, req *Request, res *Response) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, id, fk, ok := m.parentAndChild(c, req, res)
	if !ok {
		return
	}
	if m.links[c.name][id] == nil {
		m.replaceMembers(c.name, id, nil)
	}
	m.links[c.name][id][fk] = true
	if req.IsSocket {
		m.srv.Subscribe(req.SocketID, m.identity, id)
	}
	msg := newJSObject()
	msg.set("id", mustJSON(id))
	msg.set("verb", mustJSON("addedTo"))
	msg.set("attribute", mustJSON(c.name))
	msg.set("addedId", mustJSON(fk))
	m.srv.publishRecord(m.identity, id, msg, m.omitFor(req))
	if req.IsSocket {
		m.srv.Subscribe(req.SocketID, c.model, fk)
	}
	res.OK(m.output(rec))
}

func (m *Model) removeFrom(c collection, req *Request, res *Response) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, id, fk, ok := m.parentAndChild(c, req, res)
	if !ok {
		return
	}
	delete(m.links[c.name][id], fk)
	msg := newJSObject()
	msg.set("id", mustJSON(id))
	msg.set("verb", mustJSON("removedFrom"))
	msg.set("attribute", mustJSON(c.name))
	msg.set("removedId", mustJSON(fk))
	m.srv.publishRecord(m.identity, id, msg, m.omitFor(req))
	res.OK(m.output(rec))
}

func (m *Model) populateRoute(c collection, req *Request, res *Response) {
	id, uerr := m.idParam(req)
	if uerr != nil {
		m.badRequest(req, res, uerr)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.records[id] == nil {
		res.NotFound(nil)
		return
	}
	list := m.members(c, id)
	if req.IsSocket {
		m.srv.Subscribe(req.SocketID, m.identity, id)
		for _, r := range list {
			fk, _ := parseID(r.vals["id"])
			m.srv.Subscribe(req.SocketID, c.model, fk)
		}
	}
	res.OK(list)
}

// publishRecord sends payload as event identity to the sockets subscribed to record id but
// omitSocketID (Sails' _publishRPS).
func (s *Server) publishRecord(identity string, id int64, payload *jsObject, omitSocketID string) {
	f := eventFrame(identity, payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	for sid, c := range s.rooms[RecordRoom(identity, id)] {
		if sid != omitSocketID {
			c.send(f)
		}
	}
}
