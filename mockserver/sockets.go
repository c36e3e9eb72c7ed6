package mockserver

import (
	"fmt"
	"sort"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// Rooms and pushes, as sails.sockets.* and the resourceful pub/sub of Sails models do. Every
// connected socket is in a room named after its id. Pushes are EVENT packets without an ack id,
// 42["<event>",<data>]; data is encoded as JSON (like JSON.stringify: no HTML escaping) and the
// methods panic if it cannot be. Methods naming an unknown or disconnected socket do nothing.

func (s *Server) joinLocked(c *conn, room string) {
	if !c.nsp {
		return
	}
	m := s.rooms[room]
	if m == nil {
		m = make(map[string]*conn)
		s.rooms[room] = m
	}
	m[c.id] = c
	c.rooms[room] = struct{}{}
}

func (s *Server) leaveLocked(c *conn, room string) {
	if m := s.rooms[room]; m != nil {
		delete(m, c.id)
		if len(m) == 0 {
			delete(s.rooms, room)
		}
	}
	delete(c.rooms, room)
}

// Join adds a socket to a room (sails.sockets.join).
func (s *Server) Join(socketID, room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.conns[socketID]; c != nil {
		s.joinLocked(c, room)
	}
}

// Leave removes a socket from a room (sails.sockets.leave).
func (s *Server) Leave(socketID, room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.conns[socketID]; c != nil && c.nsp {
		s.leaveLocked(c, room)
	}
}

// eventFrame encodes a push.
func eventFrame(event string, data any) outFrame {
	b, err := marshalJSON(data)
	if err != nil {
		panic(fmt.Sprintf("mockserver: cannot encode the data of event %q: %v", event, err))
	}
	return outFrame{typ: websocket.TextMessage, data: wire.AppendMessage(nil, wire.Packet{
		Type: wire.Event, ID: wire.NoID, Data: wire.AppendEventData(nil, event, b),
	})}
}

// Broadcast sends event with data to every socket in room (sails.sockets.broadcast).
func (s *Server) Broadcast(room, event string, data any) {
	s.BroadcastExcept(room, event, data, "")
}

// BroadcastExcept is Broadcast omitting the socket omitSocketID (sails.sockets.broadcast with a
// socketToOmit, usually the requesting socket: pass req.SocketID).
func (s *Server) BroadcastExcept(room, event string, data any, omitSocketID string) {
	f := eventFrame(event, data)
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.rooms[room] {
		if id != omitSocketID {
			c.send(f)
		}
	}
}

// Blast sends event with data to every connected socket (sails.sockets.blast).
func (s *Server) Blast(event string, data any) {
	s.BlastExcept(event, data, "")
}

// BlastExcept is Blast omitting the socket omitSocketID.
func (s *Server) BlastExcept(event string, data any, omitSocketID string) {
	f := eventFrame(event, data)
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.conns {
		if c.nsp && id != omitSocketID {
			c.send(f)
		}
	}
}

// Emit sends event with data to one socket (sails.sockets.broadcast to its id room).
func (s *Server) Emit(socketID, event string, data any) {
	f := eventFrame(event, data)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.conns[socketID]; c != nil && c.nsp {
		c.send(f)
	}
}

func (s *Server) socketIDsLocked() []string {
	ids := make([]string, 0, len(s.conns))
	for id, c := range s.conns {
		if c.nsp {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// SocketIDs returns the ids of the connected sockets, sorted.
func (s *Server) SocketIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.socketIDsLocked()
}

// Rooms returns the rooms a socket is in (its own id room included), sorted; nil for an unknown
// or disconnected socket (sails.sockets.socketRooms).
func (s *Server) Rooms(socketID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conns[socketID]
	if c == nil || !c.nsp {
		return nil
	}
	rooms := make([]string, 0, len(c.rooms))
	for r := range c.rooms {
		rooms = append(rooms, r)
	}
	sort.Strings(rooms)
	return rooms
}

// RoomMembers returns the ids of the sockets in room, sorted.
func (s *Server) RoomMembers(room string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.rooms[room]))
	for id := range s.rooms[room] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// WatchRoom returns the name of the class room of a model identity, the room Sails' _watch
// joins ("sails_model_create_<identity>").
func WatchRoom(identity string) string { return "sails_model_create_" + identity }

// RecordRoom returns the name of the room of one record, the room Sails' subscribe joins
// ("sails_model_<identity>_<id>:<identity>").
func RecordRoom(identity string, id any) string {
	return fmt.Sprintf("sails_model_%s_%v:%s", identity, id, identity)
}

// Watch makes a socket watch a model identity (Model._watch(req), what blueprint find does with
// autoWatch): it will get Publish(identity, "created", ...) and is subscribed to every record
// created afterwards.
func (s *Server) Watch(socketID, identity string) {
	s.Join(socketID, WatchRoom(identity))
}

// Subscribe subscribes a socket to records of a model identity (Model.subscribe(req, ids)): it
// will get every Publish about them other than "created".
func (s *Server) Subscribe(socketID, identity string, ids ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conns[socketID]
	if c == nil {
		return
	}
	for _, id := range ids {
		s.joinLocked(c, RecordRoom(identity, id))
	}
}

// publication is the payload of a resourceful pub/sub event, keys in the order Sails writes them.
type publication struct {
	Verb     string `json:"verb"`
	Data     any    `json:"data,omitempty"`
	ID       any    `json:"id"`
	Previous any    `json:"previous,omitempty"`
}

// Publish sends a resourceful pub/sub event the way Sails blueprints do: event identity with
// payload {"verb":verb,"data":data,"id":id,"previous":previous} (data and previous left out when
// nil), e.g. 42["user",{"verb":"created","data":{"id":1,"name":"a"},"id":1}].
// A "created" event goes to the watchers of identity (see Watch), which are then subscribed to
// the new record, as publishCreate's "introduce" does; any other verb ("updated", "destroyed",
// "addedTo", ...) goes to the sockets subscribed to record id. omitSocketID, if not "", is left
// out (the requesting socket, as blueprints do).
func (s *Server) Publish(identity, verb string, id, data, previous any, omitSocketID string) {
	f := eventFrame(identity, publication{Verb: verb, Data: data, ID: id, Previous: previous})
	s.mu.Lock()
	defer s.mu.Unlock()
	room := RecordRoom(identity, id)
	if verb == "created" {
		for _, c := range s.rooms[WatchRoom(identity)] {
			if c.id != omitSocketID {
				c.send(f)
			}
			s.joinLocked(c, room)
		}
		return
	}
	for sid, c := range s.rooms[room] {
		if sid != omitSocketID {
			c.send(f)
		}
	}
}
