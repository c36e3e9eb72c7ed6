package sailsio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sailsio-go/sailsio/internal/engine"
)

// Life is the layer between the API (client.go, request.go, events.go) and the Engine.IO session
// (internal/engine): it connects, reconnects and closes, keeps the request queue (queue.go) and
// the resubscriptions, and owns the callback goroutine (dispatch.go). It knows a connection only
// through the session interface below, so it runs the same on a real session and on a fake one.
//
// The life of a socket — Connect, Reconnect, a lost connection, the backoff between attempts — has
// one owner: a goroutine that exists only while there is such work, and runs the commands of
// lifeQueue one at a time, in order. It is the only goroutine that dials. Connect and Reconnect post
// a command and wait for its reply (or their ctx); a lost connection posts the reconnection loop
// (reconnect.go). Disconnect acts at once under s.mu and interrupts the owner. State changes are
// made under s.mu; user code (handlers, callbacks, loggers, BackOff policies, cookie jars) never
// runs under it, and nothing waits on user code without a bound (see Disconnect).

// session is one live connection as Life sees it: an internal/engine Session behind the adapter
// of conn.go, or a fake in tests.
type session interface {
	// start starts reading; from then on ev hears of the session's events and of its end.
	start(ev sessionEvents)
	// id is the Socket.IO socket id the server knows the connection by.
	id() string
	// transport is the transport the connection runs on now.
	transport() Transport
	// send writes a request: payload holds engine.Headroom free bytes, then the EVENT data. The
	// session completes a with the server's ack. It fails with engine.ErrClosed once the session
	// ended or is closing. With now set, the caller offers to write the frame itself: when mine
	// is reported it must call writeNow, holding no lock (engine.Session.RequestNow).
	send(payload []byte, a engine.Acker, now bool) (id int64, mine bool, err error)
	// writeNow writes the frame of a send that reported mine, without waiting for the peer.
	writeNow()
	// forget drops the ack registration of a request that was abandoned.
	forget(id int64)
	// failPending fails the requests in flight with err, in send order (their Fail).
	failPending(err error)
	// close tells the server goodbye, giving the writes up to grace (less if cut is closed
	// first), then cuts the connection and waits for the session's goroutines. ev is not told.
	close(grace time.Duration, cut <-chan struct{})
	// wait waits for the session's goroutines, once it has ended by itself.
	wait()
}

// sessionEvents is what a session tells Life, from its own goroutines, in arrival order.
type sessionEvents interface {
	event(name string, data json.RawMessage) // a server event
	lost(reason string, err error)           // the session ended by itself; called once
	upgraded(t Transport, err error)         // how an upgrade went (err: it failed, the session stays)
}

// replay is a request Life sends again on every connection, before the queue (Resubscribe).
type replay interface {
	// request returns the request to send this time, or nil (it reported why to its owner).
	request() *request
}

// link is how a session tells Life what happens to it.
type link struct {
	s    *SailsSocket
	sess session
}

func (l link) event(name string, data json.RawMessage) { l.s.serverEvent(l.sess, name, data) }
func (l link) lost(reason string, err error)           { l.s.lost(l.sess, reason, err) }
func (l link) upgraded(t Transport, err error)         { l.s.upgradeDone(t, err) }

type commandKind int

const (
	cmdConnect   commandKind = iota // Connect: connect unless connected
	cmdReconnect                    // Reconnect: drop the connection, connect again
	cmdLoop                         // the connection was lost: reconnect with backoff
)

type command struct {
	kind  commandKind
	ctx   context.Context
	reply chan error // buffered; nil for cmdLoop
}

// lifeQueue is the owner's work, guarded by s.mu.
type lifeQueue struct {
	cmds    []command
	done    chan struct{}      // closed when that goroutine ends
	preempt context.CancelFunc // cancels what the owner waits for (dial, delay, closing grace, user code)
	// userDone is closed when the last call of user code made by the owner returns. Owner only.
	userDone chan struct{}
	running  bool // an owner goroutine runs
	inLoop   bool // the owner runs the reconnection loop (Reconnect preempts it)
	inUser   bool // the owner waits for user code (a BackOff policy): any command preempts it
	// keepBackOff: the last connection was lost because the server did not know its session
	// (ErrSessionUnknown): the next reconnection loop goes on with the delays where the last one
	// stopped instead of starting over, so that a load balancer without sticky sessions (every
	// connection lost at once) meets a growing delay.
	keepBackOff bool
}

// post queues a command and makes sure an owner runs. Caller holds s.mu; the state is not Closed.
func (s *SailsSocket) post(c command) {
	s.life.cmds = append(s.life.cmds, c)
	if !s.life.running {
		s.life.running = true
		done := make(chan struct{})
		s.life.done = done
		s.track.goroutine(func() {
			defer close(done)
			s.own()
		})
	}
}

// own runs the life commands until none is left.
func (s *SailsSocket) own() {
	for {
		s.mu.Lock()
		if len(s.life.cmds) == 0 || s.state == StateClosed {
			s.life.running = false
			s.mu.Unlock()
			return
		}
		c := s.life.cmds[0]
		s.life.cmds[0] = command{}
		s.life.cmds = s.life.cmds[1:]
		s.mu.Unlock()
		switch c.kind {
		case cmdConnect:
			c.reply <- s.handleConnect(c.ctx)
		case cmdReconnect:
			c.reply <- s.handleReconnect(c.ctx)
		}
		s.reconnectLoop() // when the connection was lost, or an attempt failed and reconnection is on
	}
}

// begin gives the owner a context for its next wait: cancelled by parent, by Disconnect, and (when
// loop is set) by Reconnect. It returns nil if the socket is closed.
func (s *SailsSocket) begin(parent context.Context, loop bool) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == StateClosed {
		cancel()
		return nil, nil
	}
	s.life.preempt, s.life.inLoop = cancel, loop
	if loop && s.hasCommand(cmdReconnect) {
		cancel() // a Reconnect waits: the loop gives way at once
	}
	return ctx, cancel
}

func (s *SailsSocket) end(cancel context.CancelFunc) {
	s.mu.Lock()
	s.life.preempt, s.life.inLoop = nil, false
	s.mu.Unlock()
	cancel()
}

// userCall runs f — user code the owner needs, a BackOff policy — on a goroutine of its own and
// waits until it returns or ctx (from begin) ends. Any command preempts the wait: f may call
// Connect, Reconnect or Disconnect, which wait for the owner, without deadlock. Calls never
// overlap: a call first waits for the one before it to return. It reports whether f returned.
func (s *SailsSocket) userCall(ctx context.Context, f func()) bool {
	s.mu.Lock()
	s.life.inUser = true
	preempted := len(s.life.cmds) > 0
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.life.inUser = false
		s.mu.Unlock()
	}()
	if preempted {
		return false
	}
	if prev := s.life.userDone; prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			return false
		}
	}
	done := make(chan struct{})
	s.life.userDone = done
	s.track.goroutine(func() {
		defer close(done)
		f()
	})
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// Connect connects a socket made with New. It returns nil at once if the socket is connected, and
// waits for an attempt (or a reconnection loop) already under way. If it fails, queued requests
// stay queued (call Connect again) until their context or request timeout ends them, or Disconnect
// fails them with ErrClosed. When ctx ends first, the attempt is abandoned and the error wraps
// ctx.Err(). Called from a BackOff policy while the reconnection loop asks it for a delay, it makes
// an attempt at once instead of waiting for the loop.
func (s *SailsSocket) Connect(ctx context.Context) error {
	return s.command(ctx, cmdConnect)
}

// Reconnect drops the current connection (if any; its in-flight requests fail with ErrDisconnected)
// and connects again, like a new Connect. Requests made meanwhile queue. It interrupts a running
// reconnection loop. If the attempt fails and reconnection is on, the reconnection loop takes over.
func (s *SailsSocket) Reconnect(ctx context.Context) error {
	return s.command(ctx, cmdReconnect)
}

func (s *SailsSocket) command(ctx context.Context, kind commandKind) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sailsio: connect: %w", err)
	}
	reply := make(chan error, 1)
	s.mu.Lock()
	switch {
	case s.state == StateClosed:
		s.mu.Unlock()
		return ErrClosed
	case kind == cmdConnect && s.state == StateConnected && len(s.life.cmds) == 0:
		s.mu.Unlock()
		return nil
	}
	if s.life.preempt != nil && (s.life.inUser || (kind == cmdReconnect && s.life.inLoop)) {
		s.life.preempt()
	}
	s.post(command{kind: kind, ctx: ctx, reply: reply})
	s.mu.Unlock()
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("sailsio: connect: %w", ctx.Err())
	case <-s.closed:
		return ErrClosed // the owner may be busy with user code (a cookie jar): do not wait for it
	}
}

func (s *SailsSocket) handleConnect(parent context.Context) error {
	s.mu.Lock()
	prev := s.state
	switch prev {
	case StateClosed:
		s.mu.Unlock()
		return ErrClosed
	case StateConnected:
		s.mu.Unlock()
		return nil
	}
	s.state = StateConnecting
	s.mu.Unlock()
	err := s.attempt(parent, 0)
	if err != nil {
		s.afterFailure(prev)
	}
	return err
}

func (s *SailsSocket) handleReconnect(parent context.Context) error {
	s.mu.Lock()
	prev := s.state
	if prev == StateClosed {
		s.mu.Unlock()
		return ErrClosed
	}
	old := s.detach(ReasonClientDisconnect, nil, ErrDisconnected)
	s.state = StateConnecting
	s.mu.Unlock()
	if old != nil {
		s.logf(slog.LevelInfo, "sailsio: disconnected", "reason", ReasonClientDisconnect)
		if ctx, cancel := s.begin(parent, false); ctx != nil {
			old.close(closeGrace, ctx.Done())
			s.end(cancel)
		} else {
			old.close(0, nil)
		}
	}
	err := s.attempt(parent, 0)
	if err != nil {
		if prev == StateIdle {
			s.afterFailure(StateIdle)
		} else {
			s.afterFailure(StateReconnecting)
		}
	}
	return err
}

// afterFailure sets the state after a failed Connect or Reconnect: back to prev, or to the
// reconnection loop (the owner runs it next) when prev was Reconnecting and reconnection is on.
func (s *SailsSocket) afterFailure(prev State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != StateConnecting {
		return // closed meanwhile
	}
	switch {
	case prev == StateReconnecting && s.opts.reconnection:
		s.state = StateReconnecting
	case prev == StateReconnecting, prev == StateDisconnected:
		s.state = StateDisconnected
		s.failQueue(ErrDisconnected)
	default:
		s.state = prev
	}
}

// attempt makes one connection attempt within parent and the connect timeout, and installs the
// connection. n > 0 numbers the attempts of the reconnection loop.
func (s *SailsSocket) attempt(parent context.Context, n int) error {
	ctx, cancel := s.begin(parent, n > 0)
	if ctx == nil {
		return ErrClosed
	}
	sess, err := s.dialSession(ctx, parent)
	preempted := ctx.Err() != nil && parent.Err() == nil // by Reconnect: no connect_error for that
	s.end(cancel)
	s.mu.Lock()
	if s.state == StateClosed {
		s.mu.Unlock()
		if sess != nil {
			sess.close(0, nil)
		}
		return ErrClosed
	}
	if err != nil {
		s.mu.Unlock()
		if !preempted {
			s.connectError(err)
		}
		return err
	}
	s.install(sess, n)
	s.mu.Unlock()
	s.logf(slog.LevelDebug, "sailsio: connected", "url", s.wsURL(), "id", sess.id(), "protocol", int(s.opts.protocol))
	return nil
}

// install makes sess the live connection: connect (and reconnect) handlers are scheduled before
// any callback of a request sent on it, then the resubscriptions go out, then the queue, in order.
// Caller holds s.mu.
func (s *SailsSocket) install(sess session, n int) {
	s.sess = sess
	s.state = StateConnected
	s.emit(EventConnect, jsonNull)
	if n > 0 {
		s.emitJSON(EventReconnect, map[string]int{"attempt": n})
	}
	s.hookConnect(sess.transport(), n)
	sess.start(link{s: s, sess: sess})
	for _, rp := range s.replays {
		if r := rp.request(); r != nil {
			s.send(sess, r)
		}
	}
	for _, r := range s.queue.take() {
		s.send(sess, r)
	}
}

// submit sends r now, queues it, or fails it, according to the socket's state. On a connection
// that allows it, the caller writes the frame itself, after s.mu is released and without waiting
// for the peer: one request at a time then costs no writer goroutine.
func (s *SailsSocket) submit(r *request) {
	s.mu.Lock()
	if s.state == StateConnected && !r.done.Load() {
		sess := s.sess
		mine := s.sendVia(sess, r, true)
		s.mu.Unlock()
		if mine {
			sess.writeNow()
		}
		return
	}
	defer s.mu.Unlock()
	if r.done.Load() {
		return
	}
	switch s.state {
	case StateIdle, StateConnecting, StateReconnecting:
		if err := s.queue.push(r); err != nil {
			r.release()
			r.Fail(err)
		} else {
			r.noteQueued()
		}
	case StateClosed:
		r.Fail(ErrClosed)
	default:
		r.Fail(ErrDisconnected)
	}
}

// send puts r on the wire on sess; the session holds the frame until it is written, so r lets go
// of its payload. Caller holds s.mu, which keeps frames in call order.
func (s *SailsSocket) send(sess session, r *request) { s.sendVia(sess, r, false) }

// sendVia is send; with now set, the caller offers to write the frame itself, and must call
// sess.writeNow once s.mu is released when it reports true.
func (s *SailsSocket) sendVia(sess session, r *request, now bool) (mine bool) {
	r.via = sess // before the session can ack it
	id, mine, err := sess.send(r.frame(), r, now)
	r.release()
	switch {
	case err == nil:
		r.slot.sess, r.slot.id = sess, id
		r.noteSent()
	case errors.Is(err, engine.ErrClosed):
		// The connection is ending; Life learns it at once (lost) and fails what was in flight.
		// A request that was not sent yet is failed the same way.
		r.Fail(ErrDisconnected)
	default:
		r.Fail(err)
	}
	return mine
}

// withdraw takes r out of the queue or out of the session it is in flight on (its context or
// timeout ended), and lets go of its payload.
func (s *SailsSocket) withdraw(r *request) {
	s.mu.Lock()
	if r.slot.queued {
		s.queue.remove(r)
	}
	if r.slot.sess != nil {
		r.slot.sess.forget(r.slot.id)
		r.slot.sess = nil
	}
	r.release()
	s.mu.Unlock()
}

// detach removes the live connection (if any): disconnect fires with reason (and cause, for the
// hooks) and its in-flight requests fail with err, before anything of a later connection. Caller
// holds s.mu.
func (s *SailsSocket) detach(reason string, cause, err error) session {
	sess := s.sess
	if sess == nil {
		return nil
	}
	s.sess = nil
	s.emitJSON(EventDisconnect, map[string]string{"reason": reason})
	s.hookDisconnect(reason, cause)
	sess.failPending(err)
	return sess
}

// lost is called once by a connection that ended by itself.
func (s *SailsSocket) lost(sess session, reason string, cause error) {
	s.mu.Lock()
	if s.sess != sess {
		s.mu.Unlock()
		return
	}
	s.detach(reason, cause, disconnectedError(cause))
	s.life.keepBackOff = errors.Is(cause, ErrSessionUnknown)
	if s.opts.reconnection && reason != ReasonServerDisconnect {
		s.state = StateReconnecting
		s.post(command{kind: cmdLoop})
	} else {
		s.state = StateDisconnected
		s.failQueue(ErrDisconnected)
	}
	s.mu.Unlock()
	s.track.goroutine(sess.wait) // the session's goroutines end on their own: Shutdown waits for them
	s.logf(slog.LevelInfo, "sailsio: disconnected", "reason", reason, "error", cause)
}

func disconnectedError(cause error) error {
	if cause == nil {
		return ErrDisconnected
	}
	return fmt.Errorf("%w: %w", ErrDisconnected, cause)
}

// failQueue fails every queued request with err. Caller holds s.mu.
func (s *SailsSocket) failQueue(err error) {
	for _, r := range s.queue.take() {
		r.release()
		r.Fail(err)
	}
}

func (s *SailsSocket) connectError(err error) {
	payload := map[string]any{"error": err.Error()}
	var he *HandshakeError
	if errors.As(err, &he) && he.StatusCode != 0 {
		payload["status"] = he.StatusCode
	}
	s.emitJSON(EventConnectError, payload)
	s.logf(slog.LevelWarn, "sailsio: connection attempt failed", "error", err)
}

// hasCommand reports whether a command of kind waits. Caller holds s.mu.
func (s *SailsSocket) hasCommand(kind commandKind) bool {
	for _, c := range s.life.cmds {
		if c.kind == kind {
			return true
		}
	}
	return false
}

func (s *SailsSocket) hasCommandLocked(kind commandKind) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hasCommand(kind)
}

// closeGrace is how long a closing connection may take to tell the server goodbye before it is
// cut, and so about the longest Disconnect takes.
const closeGrace = time.Second

// Disconnect closes the socket for good: the server is told (41), reconnection stops, and pending
// and queued requests fail with ErrClosed. It returns within about closeGrace (one second),
// whatever the server and the user's code (callbacks, handlers, loggers, BackOff policies, cookie
// jars) do: the connection is cut if the goodbye cannot be written by then, and the SDK's own
// goroutines that are still busy with user code end once it returns.
//
// Every pending and queued request still gets its callback exactly once (ErrClosed), on the
// callback goroutine, and the disconnect event fires. When no callback was running or waiting as
// Disconnect was called, it also waits (within the same second) for those callbacks, so that they
// have run when it returns; it never waits for a callback that was already running, which may be
// the caller itself or a handler that blocks: then they run after it returns. To wait for every
// callback and goroutine of the socket, use Shutdown. Calling Disconnect again does nothing.
func (s *SailsSocket) Disconnect() error {
	bound, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	waitCallbacks := !s.disp.busy()
	s.mu.Lock()
	if s.state == StateClosed {
		s.mu.Unlock()
		return nil
	}
	s.state = StateClosed
	close(s.closed)
	if s.life.preempt != nil {
		s.life.preempt()
	}
	cmds := s.life.cmds
	s.life.cmds = nil
	owner := s.life.done
	if !s.life.running {
		owner = nil
	}
	sess := s.detach(ReasonClientDisconnect, nil, ErrClosed)
	s.failQueue(ErrClosed)
	s.hookClose()
	s.mu.Unlock()
	for _, cmd := range cmds {
		if cmd.reply != nil {
			cmd.reply <- ErrClosed
		}
	}
	var closed chan struct{}
	if sess != nil {
		s.logf(slog.LevelInfo, "sailsio: disconnected", "reason", ReasonClientDisconnect)
		closed = make(chan struct{})
		s.track.goroutine(func() {
			defer close(closed)
			sess.close(closeGrace, nil)
		})
	}
	waitUntil(closed, bound.Done()) // the goodbye, so that a program that exits next has sent it
	waitUntil(owner, bound.Done())  // an interrupted dial or delay ends at once; user code may not
	s.closeHTTP()
	if waitCallbacks {
		waitUntil(s.disp.idle(), bound.Done())
	}
	return nil
}

// waitUntil waits until ch is closed (a nil ch is) or deadline is.
func waitUntil(ch, deadline <-chan struct{}) {
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-deadline:
	}
}

// Close is Disconnect, as an io.Closer: it returns within a bounded time whatever the server does.
func (s *SailsSocket) Close() error { return s.Disconnect() }

// Shutdown is Disconnect, then waits until every callback and handler queued by then has run and
// no goroutine of the socket remains (its connections' readers and writers, its life owner, its
// callback goroutine), or until ctx ends: then it returns an error wrapping ctx.Err(), and what is
// still running ends later. It is the http.Server.Shutdown model; called from a callback or a
// handler, it would wait for itself until ctx ends.
func (s *SailsSocket) Shutdown(ctx context.Context) error {
	s.Disconnect()
	if err := s.track.wait(ctx); err != nil {
		return fmt.Errorf("sailsio: shutdown: %w", err)
	}
	return nil
}
