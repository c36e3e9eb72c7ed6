package sailsio

import (
	"encoding/json"
	"fmt"
)

// ModelEvent is a Sails 1.x resourceful pub/sub message (the event named after the model's identity).
//
// What Sails 1.5's blueprints send (see docs/protocol.md):
//
//	created      {"verb":"created","data":record,"id":pk}                                   to the model's watchers
//	updated      {"verb":"updated","data":changes,"id":pk,"previous":record}                to the record's subscribers
//	destroyed    {"verb":"destroyed","id":pk,"previous":record}                             to the record's subscribers
//	addedTo      {"id":pk,"verb":"addedTo","attribute":alias,"addedId":childPk}           to the parent's subscribers
//	removedFrom  {"id":pk,"verb":"removedFrom","attribute":alias,"removedId":childPk}     to the parent's subscribers
//
// The records in data and previous are populated (each collection as a list of records), and the
// socket that made the change is left out (unless sails.config.blueprints.mirror). Sails sends one
// child id per message, as addedId or removedId; OnModel also takes the addedIds and removedIds
// arrays an app may publish itself.
type ModelEvent[T any] struct {
	Verb       string            // "created", "updated", "destroyed", "addedTo", "removedFrom"
	ID         json.RawMessage   // the record's primary key as sent (number or string)
	Data       T                 // created: the record; updated: the changed attributes
	Previous   *T                // updated, destroyed: the record before, when Sails sends it
	Attribute  string            // addedTo, removedFrom: the association
	AddedIDs   []json.RawMessage // addedTo
	RemovedIDs []json.RawMessage // removedFrom
}

// modelMessage is a pub/sub message as sent.
type modelMessage struct {
	Verb       string            `json:"verb"`
	ID         json.RawMessage   `json:"id"`
	Data       json.RawMessage   `json:"data"`
	Previous   json.RawMessage   `json:"previous"`
	Attribute  string            `json:"attribute"`
	AddedID    json.RawMessage   `json:"addedId"`
	AddedIDs   []json.RawMessage `json:"addedIds"`
	RemovedID  json.RawMessage   `json:"removedId"`
	RemovedIDs []json.RawMessage `json:"removedIds"`
}

// OnModel registers h for the resourceful pub/sub messages of the model identity (the event of that
// name, e.g. "pet" for api/models/Pet.js) and decodes each into a ModelEvent[T]: data into Data,
// previous into Previous (nil when absent or null). A socket receives them for the records it is
// subscribed to (a blueprint find or findOne over the socket, or Model.subscribe) and, once it
// watches the model (a find with autoWatch), for new records.
//
// A message that is not one (not an object with a verb, as Model.publish may send: use On or
// OnJSON for those) or whose data or previous do not decode into T is not handed to h; it is
// logged (WithLogger, level Warn) with the event name and the error. Verbs other than the five
// above are handed over as they come. Like On, OnModel returns a function that removes exactly
// this registration, and h runs on the callback goroutine in order with the other handlers.
func OnModel[T any](s *SailsSocket, identity string, h func(ModelEvent[T])) (off func()) {
	if h == nil {
		return func() {}
	}
	return s.On(identity, func(data json.RawMessage) {
		ev, err := decodeModelEvent[T](data)
		if err != nil {
			s.logDecode(identity, err)
			return
		}
		h(ev)
	})
}

func decodeModelEvent[T any](data json.RawMessage) (ModelEvent[T], error) {
	var ev ModelEvent[T]
	var m modelMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return ev, fmt.Errorf("%w: not a pub/sub message: %w", ErrDecode, err)
	}
	if m.Verb == "" {
		return ev, fmt.Errorf("%w: not a pub/sub message: no verb", ErrDecode)
	}
	ev.Verb, ev.ID, ev.Attribute = m.Verb, m.ID, m.Attribute
	if present(m.Data) {
		if err := json.Unmarshal(m.Data, &ev.Data); err != nil {
			return ModelEvent[T]{}, fmt.Errorf("%w: %s message: data into %T: %w", ErrDecode, m.Verb, ev.Data, err)
		}
	}
	if present(m.Previous) {
		ev.Previous = new(T)
		if err := json.Unmarshal(m.Previous, ev.Previous); err != nil {
			return ModelEvent[T]{}, fmt.Errorf("%w: %s message: previous into %T: %w", ErrDecode, m.Verb, ev.Data, err)
		}
	}
	ev.AddedIDs = ids(m.AddedID, m.AddedIDs)
	ev.RemovedIDs = ids(m.RemovedID, m.RemovedIDs)
	return ev, nil
}

// present reports whether a field was sent with a value other than null.
func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// ids joins the single id and the list of ids a message carries (nil when it carries neither).
func ids(one json.RawMessage, many []json.RawMessage) []json.RawMessage {
	if present(one) {
		return append([]json.RawMessage{one}, many...)
	}
	return many
}
