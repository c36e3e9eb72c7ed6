package sailsio

import (
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/sailsio-go/sailsio/internal/engine"
)

// EventHandler handles an event's payload (the first argument the server emitted, `null` if none).
type EventHandler func(data json.RawMessage)

// Lifecycle events, delivered through On like server events. Their payloads are JSON:
//
//	connect           null
//	disconnect        {"reason": "..."}
//	reconnecting      {"attempt": n, "delay_ms": d}
//	reconnect         {"attempt": n}
//	reconnect_failed  {"attempts": n}
//	connect_error     {"error": "...", "status": 400} (status only for a refused upgrade)
//	sails:parseError  the server's error object
//	upgrade           {"transport": "websocket"} (see WithTransports)
//	upgrade_error     {"error": "..."}
const (
	EventConnect         = "connect"
	EventDisconnect      = "disconnect"
	EventReconnecting    = "reconnecting"
	EventReconnect       = "reconnect"
	EventReconnectFailed = "reconnect_failed"
	EventConnectError    = "connect_error"
	EventParseError      = "sails:parseError"
)

// Disconnect reasons, the "reason" of the disconnect event (the names socket.io-client uses).
const (
	ReasonClientDisconnect = engine.ReasonClientDisconnect // Disconnect or Reconnect was called
	ReasonServerDisconnect = engine.ReasonServerDisconnect // the server kicked the socket (packet 41)
	ReasonTransportClose   = engine.ReasonTransportClose   // the connection was closed or cut
	ReasonTransportError   = engine.ReasonTransportError   // a read or write failed, or a message was too large
	ReasonPingTimeout      = engine.ReasonPingTimeout      // no heartbeat within pingInterval+pingTimeout
	ReasonParseError       = engine.ReasonParseError       // the server sent a frame the SDK cannot decode
)

type listener struct {
	h       EventHandler
	removed atomic.Bool
}

// On registers h for event (a server event name or one of the Event constants) and returns a
// function that removes exactly this registration. Handlers stay registered across reconnections,
// and may be registered before the socket connects. h runs on the socket's callback goroutine, for
// the events that arrive after On returns; once removed, it is not called again, not even for
// events that arrived earlier and still wait for their turn.
func (s *SailsSocket) On(event string, h EventHandler) (off func()) {
	if h == nil {
		return func() {}
	}
	l := &listener{h: h}
	s.lmu.Lock()
	if s.listeners == nil {
		s.listeners = make(map[string][]*listener)
	}
	s.listeners[event] = append(s.listeners[event], l)
	s.lmu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.removed.Store(true)
			s.lmu.Lock()
			defer s.lmu.Unlock()
			ls := s.listeners[event]
			for i, x := range ls {
				if x == l {
					n := make([]*listener, 0, len(ls)-1)
					n = append(n, ls[:i]...)
					n = append(n, ls[i+1:]...)
					if len(n) == 0 {
						delete(s.listeners, event)
					} else {
						s.listeners[event] = n
					}
					return
				}
			}
		})
	}
}

type anyListener struct {
	h       func(event string, data json.RawMessage)
	removed atomic.Bool
}

// OnAny registers h for every server event, whatever its name, and returns a function that
// removes exactly this registration. The lifecycle events (the Event constants) do not reach h.
// h runs on the callback goroutine like the handlers of On, in order with them: for each event,
// the OnAny handlers run first, then the event's own handlers (as socket.io-client's onAny).
// Off does not remove h; RemoveAllListeners does.
func (s *SailsSocket) OnAny(h func(event string, data json.RawMessage)) (off func()) {
	if h == nil {
		return func() {}
	}
	l := &anyListener{h: h}
	s.lmu.Lock()
	s.anyListeners = append(s.anyListeners[:len(s.anyListeners):len(s.anyListeners)], l) // a copy: never mutated in place
	s.lmu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.removed.Store(true)
			s.lmu.Lock()
			defer s.lmu.Unlock()
			var n []*anyListener
			for _, x := range s.anyListeners {
				if x != l {
					n = append(n, x)
				}
			}
			s.anyListeners = n
		})
	}
}

// Off removes every handler of event.
func (s *SailsSocket) Off(event string) {
	s.lmu.Lock()
	for _, l := range s.listeners[event] {
		l.removed.Store(true)
	}
	delete(s.listeners, event)
	s.lmu.Unlock()
}

// RemoveAllListeners removes every handler of every event, those of OnAny too. Unlike sails.io.js,
// the SDK's own bookkeeping (failing in-flight requests on disconnect) does not depend on listeners
// and keeps working.
func (s *SailsSocket) RemoveAllListeners() {
	s.lmu.Lock()
	for _, ls := range s.listeners {
		for _, l := range ls {
			l.removed.Store(true)
		}
	}
	s.listeners = nil
	for _, l := range s.anyListeners {
		l.removed.Store(true)
	}
	s.anyListeners = nil
	s.lmu.Unlock()
}

// emit schedules the handlers of event on the callback goroutine: those registered when the event
// arrived (or happened), less those removed since.
func (s *SailsSocket) emit(event string, data json.RawMessage) {
	s.lmu.Lock()
	ls := s.listeners[event] // never mutated in place
	s.lmu.Unlock()
	if len(ls) == 0 {
		return
	}
	s.disp.postJob(job{ev: s, name: event, data: data, ls: ls})
}

func (s *SailsSocket) emitJSON(event string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = jsonNull
	}
	s.emit(event, b)
}

// serverEvent runs or schedules the handlers of a server event that sess's reader got. An event
// named like a lifecycle event is ignored (and logged), so that lifecycle handlers only ever see the
// SDK's own events. When no callback runs or waits, the reader runs the handlers itself (see
// dispatcher); otherwise they are queued after the callbacks.
func (s *SailsSocket) serverEvent(sess session, name string, data json.RawMessage) {
	if reserved(name) {
		s.logf(slog.LevelWarn, "sailsio: ignoring a server event with a reserved name", "event", name)
		return
	}
	s.lmu.Lock()
	anys, ls := s.anyListeners, s.listeners[name] // never mutated in place
	s.lmu.Unlock()
	hooks := s.hookServerEvent(name, data) // LifecycleHooks.OnServerEvent (hooks.go)
	if len(anys) == 0 && len(ls) == 0 {
		if hooks != nil {
			s.disp.post(hooks)
		}
		return
	}
	// One job: the hooks, the OnAny handlers and the event's run back to back.
	j := job{ev: s, name: name, data: data, anys: anys, ls: ls, hooks: hooks}
	if h, ok := sess.(handoffer); !ok || !s.disp.runInline(&j, h) {
		s.disp.postJob(j)
	}
}

// runEvent runs the handlers of an event (emit, serverEvent) on the callback goroutine: those
// registered when it arrived, less those removed since.
func (s *SailsSocket) runEvent(j *job) {
	if j.hooks != nil {
		j.hooks()
	}
	for _, l := range j.anys {
		if !l.removed.Load() {
			s.callAny(l.h, j.name, j.data)
		}
	}
	for _, l := range j.ls {
		if !l.removed.Load() {
			s.callHandler(l.h, j.data)
		}
	}
}

// callHandler is call for an event handler, without a closure.
func (s *SailsSocket) callHandler(h EventHandler, data json.RawMessage) {
	defer s.recoverCallback()
	h(data)
}

// callAny is call for an OnAny handler, without a closure.
func (s *SailsSocket) callAny(h func(string, json.RawMessage), name string, data json.RawMessage) {
	defer s.recoverCallback()
	h(name, data)
}

// reserved reports whether name is a lifecycle event's.
func reserved(name string) bool {
	switch name {
	case EventConnect, EventDisconnect, EventReconnecting, EventReconnect, EventReconnectFailed,
		EventConnectError, EventUpgrade, EventUpgradeError:
		return true
	}
	return false
}
