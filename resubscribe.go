package sailsio

import "encoding/json"

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
// interceptors of WithInterceptors. With WithCSRF, an unsafe one carries the token the socket holds
// for the connection's session, if it holds one (a POST room join after a reconnection, say); after
// a restart that lost the session, there is none until the next unsafe request fetches one, and the
// replay is refused like any request without a token.
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
		if r := rs.request(); r != nil {
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
