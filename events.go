package sailsio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strconv"
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

// Off removes every handler of event.
func (s *SailsSocket) Off(event string) {
	s.lmu.Lock()
	for _, l := range s.listeners[event] {
		l.removed.Store(true)
	}
	delete(s.listeners, event)
	s.lmu.Unlock()
}

// RemoveAllListeners removes every handler of every event. Unlike sails.io.js, the SDK's own
// bookkeeping (failing in-flight requests on disconnect) does not depend on listeners and keeps working.
func (s *SailsSocket) RemoveAllListeners() {
	s.lmu.Lock()
	for _, ls := range s.listeners {
		for _, l := range ls {
			l.removed.Store(true)
		}
	}
	s.listeners = nil
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
	s.disp.post(func() {
		for _, l := range ls {
			if !l.removed.Load() {
				s.call(func() { l.h(data) })
			}
		}
	})
}

func (s *SailsSocket) emitJSON(event string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = jsonNull
	}
	s.emit(event, b)
}

// call runs user code, turning a panic into a log line so that the other callbacks still run. Without
// WithLogger the panic goes to slog.Default (as net/http logs a handler's panic to the standard
// logger): a panic never vanishes without a trace.
func (s *SailsSocket) call(f func()) {
	defer func() {
		if r := recover(); r != nil {
			l := s.opts.logger
			if l == nil {
				l = slog.Default()
			}
			l.Error("sailsio: callback panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	f()
}

// logf logs through the callback goroutine, in order with the callbacks, so that a logger's
// handler never runs under a lock of the SDK nor on a goroutine that Disconnect or Reconnect wait
// for: it may call any method of the socket. Without WithLogger it does nothing.
func (s *SailsSocket) logf(level slog.Level, msg string, args ...any) {
	if s.opts.logger == nil {
		return
	}
	s.disp.post(func() { s.call(func() { s.log.Log(context.Background(), level, msg, args...) }) })
}

// dispatcher runs functions one at a time, in the order they were posted, on one goroutine that
// exists only while there is work: an idle or closed socket leaves no goroutine behind.
type dispatcher struct {
	mu      sync.Mutex
	queue   []func()
	spare   []func()
	running bool
	gid     atomic.Uint64 // the running goroutine's id, for wait
	waiters int
	idle    *sync.Cond // signalled when the goroutine ends and waiters > 0
}

func (d *dispatcher) post(f func()) {
	d.mu.Lock()
	d.queue = append(d.queue, f)
	if !d.running {
		d.running = true
		go d.run()
	}
	d.mu.Unlock()
}

func (d *dispatcher) run() {
	d.gid.Store(goid())
	for {
		d.mu.Lock()
		if len(d.queue) == 0 {
			d.running = false
			d.gid.Store(0)
			if d.waiters > 0 {
				d.idle.Broadcast()
			}
			d.mu.Unlock()
			return
		}
		batch := d.queue
		d.queue, d.spare = d.spare[:0], nil
		d.mu.Unlock()
		for i, f := range batch {
			f()
			batch[i] = nil
		}
		d.mu.Lock()
		if d.spare == nil && cap(batch) <= 4096 {
			d.spare = batch[:0]
		}
		d.mu.Unlock()
	}
}

// wait returns once everything posted so far has run and the goroutine has ended, unless it is
// called from that goroutine (a callback), which cannot wait for itself.
func (d *dispatcher) wait() {
	if id := d.gid.Load(); id != 0 && id == goid() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.idle == nil {
		d.idle = sync.NewCond(&d.mu)
	}
	d.waiters++
	for d.running {
		d.idle.Wait()
	}
	d.waiters--
}

// goid returns the current goroutine's id, read from its stack header ("goroutine 42 [").
func goid() uint64 {
	var buf [32]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
