package sailsio

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// reconnectLoop tries to connect again after a lost connection, until it succeeds, the attempts or
// the policy run out (reconnect_failed), or Disconnect, Reconnect or a Connect made while the policy
// is asked for a delay interrupt it. It runs on the life owner, the only caller of the BackOff
// policy; the policy itself runs through userCall, so that it may call the socket.
func (s *SailsSocket) reconnectLoop() {
	if s.State() != StateReconnecting {
		return
	}
	b, ok := s.reconnectBackOff()
	if !ok {
		return
	}
	for n := 1; ; n++ {
		ctx, cancel := s.begin(context.Background(), true)
		if ctx == nil {
			return
		}
		if ctx.Err() != nil {
			// A Reconnect waits (begin gave way to it): no reconnecting event for an attempt that
			// will not be made. (This happens when a stale loop command follows a loop that a
			// Reconnect interrupted.)
			s.end(cancel)
			return
		}
		var delay time.Duration
		if !s.policyCall(ctx, func() { delay = b.NextBackOff() }) {
			s.end(cancel)
			return // interrupted while the policy ran
		}
		if delay == backoff.Stop || (s.opts.reconnectAttempts > 0 && n > s.opts.reconnectAttempts) {
			s.end(cancel)
			s.mu.Lock()
			if s.state == StateReconnecting && !s.hasCommand(cmdReconnect) {
				s.state = StateDisconnected
				s.emitJSON(EventReconnectFailed, map[string]int{"attempts": n - 1})
				s.failQueue(ErrDisconnected)
			}
			s.mu.Unlock()
			return
		}
		s.emitJSON(EventReconnecting, map[string]int64{"attempt": int64(n), "delay_ms": delay.Milliseconds()})
		s.hookReconnecting(n, delay)
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

// reconnectBackOff returns the delay policy, reset (unless keepBackOff says otherwise): the user's,
// or a jittered exponential one between the WithReconnectionDelay bounds. Only the owner calls it.
// It reports false when the loop was interrupted while the user's code ran.
func (s *SailsSocket) reconnectBackOff() (backoff.BackOff, bool) {
	ctx, cancel := s.begin(context.Background(), true)
	if ctx == nil {
		return nil, false
	}
	defer s.end(cancel)
	fresh := s.backOff == nil
	if fresh {
		switch {
		case s.opts.backOffFunc != nil:
			var b backoff.BackOff
			if !s.userCall(ctx, func() { b = s.opts.backOffFunc() }) {
				return nil, false
			}
			if b == nil {
				b = &backoff.StopBackOff{}
			}
			s.backOff = b
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
	keep := s.life.keepBackOff && !fresh
	s.life.keepBackOff = false
	s.mu.Unlock()
	if !keep && !s.policyCall(ctx, s.backOff.Reset) {
		return nil, false
	}
	return s.backOff, true
}

// policyCall calls the BackOff policy: the SDK's own directly, the user's through userCall.
func (s *SailsSocket) policyCall(ctx context.Context, f func()) bool {
	if _, own := s.backOff.(*boundedBackOff); own {
		f()
		return true
	}
	return s.userCall(ctx, f)
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
