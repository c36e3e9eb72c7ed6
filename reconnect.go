package sailsio

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// startReconnecting starts the reconnection loop. Caller holds s.mu.
func (s *SailsSocket) startReconnecting() {
	s.setState(stateReconnecting)
	s.loopGen++
	s.reconnects.Add(1)
	go s.reconnectLoop(s.loopGen)
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
func (s *SailsSocket) reconnectLoop(gen uint64) {
	defer s.reconnects.Done()
	b := s.newBackOff()
	for attempt := 1; ; attempt++ {
		delay := b.NextBackOff()
		if delay == backoff.Stop || (s.opts.reconnectAttempts > 0 && attempt > s.opts.reconnectAttempts) {
			s.mu.Lock()
			if s.state == stateReconnecting && s.loopGen == gen {
				s.setState(stateDisconnected)
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
		}
		s.mu.Lock()
		if s.state != stateReconnecting || s.loopGen != gen {
			s.mu.Unlock()
			return
		}
		seq := s.beginAttempt()
		s.mu.Unlock()
		// Disconnect and Reconnect cancel the dial through s.dialCancel.
		if err := s.connectOnce(context.Background(), seq, stateReconnecting, attempt); err == nil {
			return
		}
		s.mu.Lock()
		again := s.state == stateReconnecting && s.loopGen == gen
		s.mu.Unlock()
		if !again {
			return
		}
	}
}
