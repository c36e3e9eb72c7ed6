package sailsio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/sailsio-go/sailsio/internal/engine"
)

// The life of a socket — connect, Reconnect, Disconnect, a lost connection, the backoff between
// attempts — has one owner: a goroutine that exists only while there is such work, and runs the
// commands of lifeQueue one at a time, in order. It is the only goroutine that dials. Connect and
// Reconnect post a command and wait for its reply (or their ctx); a lost connection posts the
// reconnection loop. Disconnect acts at once under s.mu, interrupts the owner through preempt and
// waits for it. State changes are made under s.mu; user code (handlers, callbacks, loggers,
// BackOff policies) never runs under it.

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
	running bool               // an owner goroutine runs
	owner   sync.WaitGroup     // the owner goroutine
	preempt context.CancelFunc // cancels what the owner waits for (dial, backoff delay, closing grace)
	inLoop  bool               // the owner runs the reconnection loop (Reconnect preempts it)
	gid     atomic.Uint64      // the owner goroutine's id, so that a BackOff policy it calls can call the socket
}

// post queues a command and makes sure an owner runs. Caller holds s.mu; the state is not Closed.
func (s *SailsSocket) post(c command) {
	s.life.cmds = append(s.life.cmds, c)
	if !s.life.running {
		s.life.running = true
		s.life.owner.Add(1)
		go s.own()
	}
}

// own runs the life commands until none is left.
func (s *SailsSocket) own() {
	defer s.life.owner.Done()
	s.life.gid.Store(goid())
	defer s.life.gid.Store(0)
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

// onOwner reports whether the caller runs on the life owner goroutine (a BackOff policy).
func (s *SailsSocket) onOwner() bool {
	id := s.life.gid.Load()
	return id != 0 && id == goid()
}

// Connect connects a socket made with New. It returns nil at once if the socket is connected, and
// waits for an attempt (or a reconnection loop) already under way. If it fails, queued requests
// stay queued (call Connect again) until their context or request timeout ends them, or Disconnect
// fails them with ErrClosed. When ctx ends first, the attempt is abandoned and the error wraps
// ctx.Err(). Called from a BackOff policy, it cannot wait for the goroutine that calls the policy:
// the attempt is queued and it returns nil.
func (s *SailsSocket) Connect(ctx context.Context) error {
	return s.command(ctx, cmdConnect)
}

// Reconnect drops the current connection (if any; its in-flight requests fail with ErrDisconnected)
// and connects again, like a new Connect. Requests made meanwhile queue. It interrupts a running
// reconnection loop. If the attempt fails and reconnection is on, the reconnection loop takes over.
// Called from a BackOff policy, it queues the reconnection and returns nil at once, as Connect does.
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
	if kind == cmdReconnect && s.life.inLoop {
		s.life.preempt()
	}
	s.post(command{kind: kind, ctx: ctx, reply: reply})
	s.mu.Unlock()
	if s.onOwner() {
		return nil // called by a BackOff policy: the command runs next; waiting would wait for itself
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("sailsio: connect: %w", ctx.Err())
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
	c := s.detach(ReasonClientDisconnect, ErrDisconnected)
	s.state = StateConnecting
	s.mu.Unlock()
	if c != nil {
		s.logf(slog.LevelInfo, "sailsio: disconnected", "reason", ReasonClientDisconnect)
		if ctx, cancel := s.begin(parent, false); ctx != nil {
			c.sess.Close(closeGrace, ctx.Done())
			s.end(cancel)
		} else {
			c.sess.Close(0, nil)
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
	c, err := s.dial(ctx, parent)
	preempted := ctx.Err() != nil && parent.Err() == nil // by Reconnect: no connect_error for that
	s.end(cancel)
	s.mu.Lock()
	if s.state == StateClosed {
		s.mu.Unlock()
		if c != nil {
			c.sess.Close(0, nil)
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
	s.install(c, n)
	s.mu.Unlock()
	s.logf(slog.LevelDebug, "sailsio: connected", "url", s.wsURL, "id", c.sess.ID(), "protocol", int(s.opts.protocol))
	return nil
}

// install makes c the live connection: connect (and reconnect) handlers are scheduled before any
// callback of a request sent on c, then the resubscriptions go out, then the queue, in order.
// Caller holds s.mu.
func (s *SailsSocket) install(c *conn, n int) {
	s.conn = c
	s.state = StateConnected
	s.emit(EventConnect, jsonNull)
	if n > 0 {
		s.emitJSON(EventReconnect, map[string]int{"attempt": n})
	}
	c.sess.Start(c)
	if _, polling := c.sess.Transport().(*engine.Polling); polling && s.canUpgrade() && slices.Contains(c.sess.Open().Upgrades, "websocket") {
		c.sess.Upgrade(func(ctx context.Context) (engine.Transport, error) { return s.dialWebSocket(ctx, c.sess.Open().SID) })
	}
	for _, rs := range s.resubs {
		rs.sendOn(c)
	}
	for _, r := range s.takeQueue() {
		s.send(c, r)
	}
}

// detach removes the live connection (if any): disconnect fires with reason and its in-flight
// requests fail with err, before anything of a later connection. Caller holds s.mu.
func (s *SailsSocket) detach(reason string, err error) *conn {
	c := s.conn
	if c == nil {
		return nil
	}
	s.conn = nil
	s.emitJSON(EventDisconnect, map[string]string{"reason": reason})
	for _, a := range c.sess.TakePending() {
		a.(*request).complete(nil, err)
	}
	return c
}

// lost is called once by a connection that ended by itself.
func (s *SailsSocket) lost(c *conn, reason string, cause error) {
	s.mu.Lock()
	if s.conn != c {
		s.mu.Unlock()
		return
	}
	s.detach(reason, disconnectedError(cause))
	s.keepBackOff = errors.Is(cause, ErrSessionUnknown)
	if s.opts.reconnection && reason != ReasonServerDisconnect {
		s.state = StateReconnecting
		s.post(command{kind: cmdLoop})
	} else {
		s.state = StateDisconnected
		s.failQueue(ErrDisconnected)
	}
	s.mu.Unlock()
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
	for _, r := range s.takeQueue() {
		r.complete(nil, err)
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

// reconnectLoop tries to connect again after a lost connection, until it succeeds, the attempts or
// the policy run out (reconnect_failed), or Disconnect or Reconnect interrupt it. It runs on the
// owner goroutine, the only caller of the BackOff policy.
func (s *SailsSocket) reconnectLoop() {
	if s.State() != StateReconnecting {
		return
	}
	b := s.reconnectBackOff()
	for n := 1; ; n++ {
		delay := b.NextBackOff()
		if delay == backoff.Stop || (s.opts.reconnectAttempts > 0 && n > s.opts.reconnectAttempts) {
			s.mu.Lock()
			if s.state == StateReconnecting && !s.hasCommand(cmdReconnect) {
				s.state = StateDisconnected
				s.emitJSON(EventReconnectFailed, map[string]int{"attempts": n - 1})
				s.failQueue(ErrDisconnected)
			}
			s.mu.Unlock()
			return
		}
		ctx, cancel := s.begin(context.Background(), true)
		if ctx == nil {
			return
		}
		s.emitJSON(EventReconnecting, map[string]int64{"attempt": int64(n), "delay_ms": delay.Milliseconds()})
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		preempted := ctx.Err() != nil // Disconnect or Reconnect
		s.end(cancel)
		if preempted {
			return
		}
		if err := s.attempt(context.Background(), n); err == nil || s.State() != StateReconnecting || s.hasCommandLocked(cmdReconnect) {
			return
		}
	}
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

// reconnectBackOff returns the delay policy, reset (unless keepBackOff says otherwise): the user's, or a jittered exponential one
// between the WithReconnectionDelay bounds. Only the owner calls it.
func (s *SailsSocket) reconnectBackOff() backoff.BackOff {
	fresh := s.backOff == nil
	if s.backOff == nil {
		switch {
		case s.opts.backOffFunc != nil:
			s.backOff = s.opts.backOffFunc()
		case s.opts.backOff != nil:
			s.backOff = s.opts.backOff
		default:
			b := backoff.NewExponentialBackOff(
				backoff.WithInitialInterval(s.opts.reconnectMin),
				backoff.WithMaxInterval(s.opts.reconnectMax),
				backoff.WithRandomizationFactor(0.5),
				backoff.WithMultiplier(2),
				backoff.WithMaxElapsedTime(0),
			)
			s.backOff = &boundedBackOff{b: b, min: s.opts.reconnectMin, max: s.opts.reconnectMax}
		}
	}
	s.mu.Lock()
	keep := s.keepBackOff && !fresh
	s.keepBackOff = false
	s.mu.Unlock()
	if !keep {
		s.backOff.Reset()
	}
	return s.backOff
}

// boundedBackOff keeps a jittered delay within [min, max].
type boundedBackOff struct {
	b        backoff.BackOff
	min, max time.Duration
}

func (b *boundedBackOff) NextBackOff() time.Duration {
	d := b.b.NextBackOff()
	if d == backoff.Stop {
		return d
	}
	return min(max(d, b.min), b.max)
}

func (b *boundedBackOff) Reset() { b.b.Reset() }

// closeGrace is how long a closing connection may take to tell the server goodbye before it is cut.
const closeGrace = time.Second

// Disconnect closes the socket for good: the server is told (41), reconnection stops, and pending
// and queued requests fail with ErrClosed. It returns within closeGrace (one second) plus the time
// callbacks take, whatever the server does: the connection is cut if the goodbye cannot be written
// by then. When it returns, no goroutine of the socket remains: the callbacks and handlers queued
// before it returns (the requests' ErrClosed callbacks and the disconnect event included) have run.
// Called from a callback or handler, it cannot wait for the callback goroutine: the rest of the
// queued callbacks run after the calling one returns. Calling it again does nothing.
func (s *SailsSocket) Disconnect() error {
	s.mu.Lock()
	if s.state == StateClosed {
		s.mu.Unlock()
		return nil
	}
	s.state = StateClosed
	if s.life.preempt != nil {
		s.life.preempt()
	}
	cmds := s.life.cmds
	s.life.cmds = nil
	c := s.detach(ReasonClientDisconnect, ErrClosed)
	s.failQueue(ErrClosed)
	s.mu.Unlock()
	for _, cmd := range cmds {
		if cmd.reply != nil {
			cmd.reply <- ErrClosed
		}
	}
	if c != nil {
		s.logf(slog.LevelInfo, "sailsio: disconnected", "reason", ReasonClientDisconnect)
		c.sess.Close(closeGrace, nil)
	}
	if !s.onOwner() { // a BackOff policy may call Disconnect: the owner ends once it returns
		s.life.owner.Wait()
	}
	s.closeHTTP()
	s.disp.wait()
	return nil
}

// Close is Disconnect, as an io.Closer: it returns within a bounded time whatever the server does.
func (s *SailsSocket) Close() error { return s.Disconnect() }

// Resubscribe sends a request now (or as soon as the socket connects) and again after every
// reconnection, before the requests that waited in the queue go out. It is meant for the requests
// that create server-side state bound to the connection, which Sails forgets when a socket
// reconnects: room joins (POST /rooms/lobby/join), blueprint subscriptions (GET /pet), watches.
// cb (may be nil) is called once for every time the request is sent, with that time's result, on
// the callback goroutine. Global headers are those in force when it is sent. stop ends the
// replays (it does not undo anything on the server). Invalid options, or a closed socket, make cb
// get an error once (ErrInvalidRequest ..., ErrClosed).
func (s *SailsSocket) Resubscribe(opts RequestOptions, cb Callback) (stop func()) {
	if _, err := s.newRequest(opts); err != nil {
		s.Request(opts, cb) // reports the error through cb, exactly once
		return func() {}
	}
	rs := &resubscription{s: s, opts: opts, cb: cb}
	s.mu.Lock()
	if s.state == StateClosed {
		s.mu.Unlock()
		s.failCallback(cb, ErrClosed)
		return func() {}
	}
	s.resubs = append(s.resubs, rs)
	if s.state == StateConnected {
		rs.sendOn(s.conn)
	}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.resubs {
			if x == rs {
				s.resubs = append(s.resubs[:i:i], s.resubs[i+1:]...)
				return
			}
		}
	}
}

// resubscription is a request replayed on every connection.
type resubscription struct {
	s    *SailsSocket
	opts RequestOptions
	cb   Callback
}

// sendOn sends the request on c. Caller holds s.mu.
func (rs *resubscription) sendOn(c *conn) {
	r, err := rs.s.newRequest(rs.opts)
	if err != nil { // SetHeaders may have made the global headers invalid since
		rs.s.failCallback(rs.cb, err)
		return
	}
	r.cb = rs.cb
	r.startTimer()
	rs.s.send(c, r)
}

// failCallback schedules cb with a JWRes that carries err.
func (s *SailsSocket) failCallback(cb Callback, err error) {
	if cb == nil {
		return
	}
	jwr := failedResponse(err)
	s.disp.post(func() { s.call(func() { cb(jwr.Body, jwr) }) })
}
