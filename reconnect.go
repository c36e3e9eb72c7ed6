package sailsio

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// startReconnecting starts the reconnection loop. Caller holds s.mu.
func (s *SailsSocket) startReconnecting() {
	s.setState(StateReconnecting)
	s.stopLoop()
	s.loopStop = make(chan struct{})
	s.reconnects.Add(1)
	go s.reconnectLoop(s.loopGen, s.loopStop)
}

// stopLoop makes a running reconnection loop stop at once (if asleep) or at its next check.
// Caller holds s.mu.
func (s *SailsSocket) stopLoop() {
	s.loopGen++
	if s.loopStop != nil {
		close(s.loopStop)
		s.loopStop = nil
	}
}

// newBackOff returns the delay policy: the user's, or a jittered exponential one between the
// WithReconnectionDelay bounds.
func (s *SailsSocket) newBackOff() backoff.BackOff {
	if s.opts.backOff != nil {
		s.opts.backOff.Reset()
		return s.opts.backOff
	}
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(s.opts.reconnectMin),
		backoff.WithMaxInterval(s.opts.reconnectMax),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMultiplier(2),
		backoff.WithMaxElapsedTime(0),
	)
	return &boundedBackOff{b: b, min: s.opts.reconnectMin, max: s.opts.reconnectMax}
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

// reconnectLoop tries to connect again after a lost connection, until it succeeds, the attempts or
// the policy run out (reconnect_failed), or Disconnect/Reconnect take over.
func (s *SailsSocket) reconnectLoop(gen uint64, superseded <-chan struct{}) {
	defer s.reconnects.Done()
	b := s.newBackOff()
	for attempt := 1; ; attempt++ {
		delay := b.NextBackOff()
		if delay == backoff.Stop || (s.opts.reconnectAttempts > 0 && attempt > s.opts.reconnectAttempts) {
			s.mu.Lock()
			if s.state == StateReconnecting && s.loopGen == gen {
				s.setState(StateDisconnected)
				s.emitJSON(EventReconnectFailed, map[string]int{"attempts": attempt - 1})
				s.failQueue(ErrDisconnected)
			}
			s.mu.Unlock()
			return
		}
		s.emitJSON(EventReconnecting, map[string]int64{"attempt": int64(attempt), "delay_ms": delay.Milliseconds()})
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			return
		case <-superseded:
			t.Stop()
			return
		}
		s.mu.Lock()
		if s.state != StateReconnecting || s.loopGen != gen {
			s.mu.Unlock()
			return
		}
		seq := s.beginAttempt()
		s.mu.Unlock()
		// Disconnect and Reconnect cancel the dial through s.dialCancel.
		if err := s.connectOnce(context.Background(), seq, StateReconnecting, attempt); err == nil {
			return
		}
		s.mu.Lock()
		again := s.state == StateReconnecting && s.loopGen == gen
		s.mu.Unlock()
		if !again {
			return
		}
	}
}

// Resubscribe sends a request now (or as soon as the socket connects) and again after every
// reconnection, before the requests that waited in the queue go out. It is meant for the requests
// that create server-side state bound to the connection, which Sails forgets when a socket
// reconnects: room joins (POST /rooms/lobby/join), blueprint subscriptions (GET /pet), watches.
// cb (may be nil) is called once for every time the request is sent, with that time's result, on
// the callback goroutine. Global headers are those in force when it is sent. stop ends the
// replays (it does not undo anything on the server). Invalid options make cb get an error once.
func (s *SailsSocket) Resubscribe(opts RequestOptions, cb Callback) (stop func()) {
	if _, err := s.newRequest(opts); err != nil {
		s.Request(opts, cb) // reports the error through cb, exactly once
		return func() {}
	}
	rs := &resubscription{s: s, opts: opts, cb: cb}
	s.mu.Lock()
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
		if rs.cb != nil {
			jwr := failedResponse(err)
			rs.s.disp.post(func() { rs.s.call(func() { rs.cb(jwr.Body, jwr) }) })
		}
		return
	}
	r.cb = rs.cb
	if d := rs.s.opts.requestTimeout; d > 0 {
		r.timer = time.AfterFunc(d, func() { r.abort(ErrTimeout) })
	}
	c.send(r)
}
