package sailsio

import (
	"encoding/json"
	"log/slog"
	"slices"
)

// Resubscribe sends a request now (or as soon as the socket connects) and again after every
// reconnection, before the requests that waited in the queue go out. It is meant for the requests
// that create server-side state bound to the connection, which Sails forgets when a socket
// reconnects: room joins (POST /rooms/lobby/join), blueprint subscriptions (GET /pet), watches.
// cb (may be nil) is called once for every time the request is sent, with that time's result, on
// the callback goroutine. Data is encoded once, by this call; global headers are those in force
// when it is sent. stop ends the replays (it does not undo anything on the server). Invalid
// options, or a closed socket, make cb get an error once (ErrInvalidRequest ..., ErrClosed).
//
// The socket sends these requests itself as a connection comes up, so they do not go through the
// interceptors of WithInterceptors. With WithCSRF, an unsafe one (a POST room join) carries the
// session's token: the socket fetches it before a handshake when it holds none for the session the
// handshake carries, and when Resubscribe is called on a connected socket without one, the first
// send waits for the fetch. A token that cannot be had is logged, and the replay goes without it.
func (s *SailsSocket) Resubscribe(opts RequestOptions, cb Callback) (stop func()) {
	// Encode the body once, so that sending again runs no user code (MarshalJSON) under s.mu.
	data, err := encodeData(opts.Data)
	if err == nil {
		opts.Data = json.RawMessage(data)
		_, err = s.newRequest(opts)
	}
	if err != nil {
		s.failCallback(cb, err)
		return func() {}
	}
	rs := &resubscription{s: s, opts: opts, cb: cb}
	s.mu.Lock()
	if s.state == StateClosed {
		s.mu.Unlock()
		s.failCallback(cb, ErrClosed)
		return func() {}
	}
	s.replays = append(s.replays, rs)
	if s.state == StateConnected {
		if rs.needsToken() {
			s.sendWithToken(rs, s.sess)
		} else if r := rs.request(); r != nil {
			s.send(s.sess, r)
		}
	}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.replays {
			if x == rs {
				s.replays = append(s.replays[:i:i], s.replays[i+1:]...)
				return
			}
		}
	}
}

// resubscription is a request replayed on every connection (a replay for Life).
type resubscription struct {
	s    *SailsSocket
	opts RequestOptions
	cb   Callback
}

// request builds this time's request, with the global headers in force now.
func (rs *resubscription) request() *request {
	opts := rs.opts
	if c := rs.s.csrf; c != nil && isUnsafe(opts.Method) && !hasHeader(opts.Headers, csrfHeader) {
		if tok := c.held(); tok != "" {
			h := make(map[string]string, len(opts.Headers)+1)
			for k, v := range opts.Headers {
				h[k] = v
			}
			h[csrfHeader] = tok
			opts.Headers = h
		}
	}
	r, err := rs.s.newRequest(opts)
	if err != nil { // SetHeaders may have made the global headers invalid since
		rs.s.failCallback(rs.cb, err)
		return nil
	}
	r.cb = rs.cb
	r.startTimer()
	return r
}

// needsToken reports whether the replay is an unsafe request of a WithCSRF socket that holds no
// token for the live connection's session. Caller holds s.mu.
func (rs *resubscription) needsToken() bool {
	c := rs.s.csrf
	return c != nil && isUnsafe(rs.opts.Method) && !hasHeader(rs.opts.Headers, csrfHeader) && c.held() == ""
}

// sendWithToken fetches the CSRF token, then sends the replay on sess if sess is still the live
// connection (else the connection that replaced it has sent it). Caller holds s.mu.
func (s *SailsSocket) sendWithToken(rs *resubscription, sess session) {
	s.track.goroutine(func() {
		if _, _, err := s.csrf.get(closedContext{s.closed}, ""); err != nil {
			s.logf(slog.LevelWarn, "sailsio: resubscription sent without a CSRF token", "url", rs.opts.URL, "error", err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.sess != sess || !slices.Contains(s.replays, replay(rs)) {
			return
		}
		if r := rs.request(); r != nil {
			s.send(sess, r)
		}
	})
}
