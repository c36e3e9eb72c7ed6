package sailsio

import (
	"context"
	"encoding/json"
	"net/url"
	"sync/atomic"
	"time"
)

// LifecycleHooks are typed functions the socket calls as its life goes on: the facts of the
// lifecycle events (connect, disconnect, reconnecting ...) without their JSON, plus the socket
// itself, for code that observes sockets from outside, such as instrumentation (the otelsailsio
// module). Any field may be nil.
//
// Every hook but OnNew runs on the socket's callback goroutine, in order with the callbacks and
// event handlers: a hook runs after the handlers of the lifecycle event it mirrors. No hook runs
// under a lock of the SDK, so a hook may call any method of the socket; like a handler, a hook that
// blocks delays the socket's other callbacks (its connection 5 to 10 ms at most). A panic
// in a hook is recovered and logged as a callback's, except in OnNew, which runs inside New: its
// panic reaches New's caller.
type LifecycleHooks struct {
	// OnNew is called once by New, on its caller's goroutine, just before New returns the socket
	// (not connected yet). It is where code that needs the socket (to read QueueLen, say) gets it.
	OnNew func(s *SailsSocket)
	// OnConnect: a connection is up (every connection, reconnections included), on transport t.
	OnConnect func(s *SailsSocket, t Transport)
	// OnDisconnect: the live connection is gone, for reason (a Reason constant) and, when it ended
	// by itself, cause (nil for Disconnect and Reconnect, and for a kick without detail).
	OnDisconnect func(s *SailsSocket, reason string, cause error)
	// OnReconnecting: the reconnection loop waits delay before its attempt number attempt (from 1).
	OnReconnecting func(s *SailsSocket, attempt int, delay time.Duration)
	// OnReconnect: attempt number attempt of the reconnection loop connected (after OnConnect).
	OnReconnect func(s *SailsSocket, attempt int)
	// OnUpgrade: the connection moved to transport t (WithTransports with polling first).
	OnUpgrade func(s *SailsSocket, t Transport)
	// OnServerEvent: the server emitted event, whether or not a handler listens for it. Lifecycle
	// names sent by the server, which the socket ignores, do not reach it.
	OnServerEvent func(s *SailsSocket, event string, data json.RawMessage)
	// OnClose: Disconnect (or Close, Shutdown) closed the socket. Called once, after the
	// OnDisconnect of the last connection, if there was one.
	OnClose func(s *SailsSocket)
}

// WithLifecycleHooks adds lifecycle hooks to the socket. Several WithLifecycleHooks add up: each
// hook is called in the order the options were given. Without hooks the socket does no work for
// them.
func WithLifecycleHooks(h LifecycleHooks) Option {
	one := []LifecycleHooks{h} // shared by the sockets this option makes: never modified in place
	return func(o *options) error {
		if len(o.hooks) == 0 {
			o.hooks = one
		} else {
			o.hooks = append(o.hooks[:len(o.hooks):len(o.hooks)], h)
		}
		return nil
	}
}

// fire runs f for each LifecycleHooks of the socket, on the callback goroutine (nothing without
// hooks). It may be called under s.mu: it only queues the work.
func (s *SailsSocket) fire(f func(h *LifecycleHooks)) {
	hooks := s.opts.hooks
	if len(hooks) == 0 {
		return
	}
	s.disp.post(func() {
		for i := range hooks {
			s.call(func() { f(&hooks[i]) })
		}
	})
}

func (s *SailsSocket) hookNew() {
	for _, h := range s.opts.hooks {
		if h.OnNew != nil {
			h.OnNew(s)
		}
	}
}

func (s *SailsSocket) hookConnect(t Transport, attempt int) {
	s.fire(func(h *LifecycleHooks) {
		if h.OnConnect != nil {
			h.OnConnect(s, t)
		}
	})
	if attempt > 0 {
		s.fire(func(h *LifecycleHooks) {
			if h.OnReconnect != nil {
				h.OnReconnect(s, attempt)
			}
		})
	}
}

func (s *SailsSocket) hookDisconnect(reason string, cause error) {
	s.fire(func(h *LifecycleHooks) {
		if h.OnDisconnect != nil {
			h.OnDisconnect(s, reason, cause)
		}
	})
}

func (s *SailsSocket) hookReconnecting(attempt int, delay time.Duration) {
	s.fire(func(h *LifecycleHooks) {
		if h.OnReconnecting != nil {
			h.OnReconnecting(s, attempt, delay)
		}
	})
}

func (s *SailsSocket) hookUpgrade(t Transport) {
	s.fire(func(h *LifecycleHooks) {
		if h.OnUpgrade != nil {
			h.OnUpgrade(s, t)
		}
	})
}

// hookServerEvent returns the work of the OnServerEvent hooks for one event, to run on the
// callback goroutine, or nil when there are none.
func (s *SailsSocket) hookServerEvent(name string, data json.RawMessage) func() {
	if len(s.opts.hooks) == 0 {
		return nil
	}
	return func() {
		for _, h := range s.opts.hooks {
			if h.OnServerEvent != nil {
				s.call(func() { h.OnServerEvent(s, name, data) })
			}
		}
	}
}

func (s *SailsSocket) hookClose() {
	s.fire(func(h *LifecycleHooks) {
		if h.OnClose != nil {
			h.OnClose(s)
		}
	})
}

// QueueLen returns how many requests wait in the socket's queue for a connection, and the bytes of
// their encoded payloads: what WithQueueLimit and WithQueueBytes bound. Requests in flight on a
// connection are not counted.
func (s *SailsSocket) QueueLen() (requests int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue.n, s.queue.bytes
}

// URL returns the http or https form of the socket's endpoint, as New derived it from its URL
// and WithPath, without the handshake query: e.g. "http://localhost:1337/socket.io/". It is a
// copy.
func (s *SailsSocket) URL() *url.URL {
	u := *s.httpURL()
	return &u
}

// Protocol returns the Engine.IO protocol the socket speaks (WithProtocol).
func (s *SailsSocket) Protocol() Protocol { return s.opts.protocol }

// SendTrace learns when the SDK hands a request to a live connection. Give it to a request through
// its context with WithSendTrace (Do and its forms, or an Interceptor's call of next, which is how
// callback-form requests are reached); after the request has ended, Sent says whether and when it
// went out and Queued whether it waited in the queue for a connection first. The SDK only stores
// into it (it calls no code), so it costs a request next to nothing; instrumentation uses it to mark
// the end of the wait of a request made while disconnected. A SendTrace serves one request at a
// time; when a request is sent again with the same one (an interceptor's retry), the last send wins.
// Its methods are safe for concurrent use.
type SendTrace struct {
	sent   atomic.Int64 // Unix nanoseconds of the last send; 0: not sent
	queued atomic.Bool
}

// Sent returns when the request was last handed to a live connection, and false if it never was
// (it failed, or its context ended, before a connection took it).
func (t *SendTrace) Sent() (at time.Time, ok bool) {
	ns := t.sent.Load()
	if ns == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// Queued reports whether the request waited in the socket's queue because no connection was up
// when it was made.
func (t *SendTrace) Queued() bool { return t.queued.Load() }

type sendTraceKey struct{}

// WithSendTrace returns a copy of ctx that makes the requests made with it record their send in t.
func WithSendTrace(ctx context.Context, t *SendTrace) context.Context {
	return context.WithValue(ctx, sendTraceKey{}, t)
}

// sendTraceOf returns the SendTrace ctx carries, or nil.
func sendTraceOf(ctx context.Context) *SendTrace {
	t, _ := ctx.Value(sendTraceKey{}).(*SendTrace)
	return t
}

// noteQueued and noteSent record into r's SendTrace, if it has one. Caller holds s.mu.
func (r *request) noteQueued() {
	if r.trace != nil {
		r.trace.queued.Store(true)
	}
}

func (r *request) noteSent() {
	if r.trace != nil {
		r.trace.sent.Store(time.Now().UnixNano())
	}
}
