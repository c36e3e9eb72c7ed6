package mockserver

import (
	"context"
	"errors"
	"time"

	"github.com/gorilla/websocket"
)

// ErrUnknownSocket is returned by the methods that target one connection when no live
// connection has that socket id.
var ErrUnknownSocket = errors.New("mockserver: no connection with that socket id")

// faultState is the server's fault injection state, guarded by Server.mu.
type faultState struct {
	paused       bool
	hbStopped    bool
	delay        time.Duration
	refuseN      int
	refuseStatus int
}

// DropConnections cuts every WebSocket's TCP connection at once, without a close frame, as a
// crashed server or a broken network would.
func (s *Server) DropConnections() {
	for _, c := range s.liveConns() {
		c.shutdown()
	}
}

// Drop cuts one connection's TCP connection without a close frame.
func (s *Server) Drop(socketID string) error {
	c := s.conn(socketID)
	if c == nil {
		return ErrUnknownSocket
	}
	c.shutdown()
	return nil
}

// Kick disconnects a socket the way req.socket.disconnect(true) does in Sails: the server sends
// a Socket.IO DISCONNECT (41), then closes the WebSocket. The socket leaves its rooms at once.
func (s *Server) Kick(socketID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conns[socketID]
	if c == nil {
		return ErrUnknownSocket
	}
	s.disconnectNspLocked(c)
	c.sendLast(textFrame("41"))
	return nil
}

// SendRaw writes frame to a connection as it is, as a text frame or, when binary is true, as a
// binary frame (in order with the server's other frames to that connection). It is for testing
// how a client copes with unexpected or malformed input.
func (s *Server) SendRaw(socketID string, frame []byte, binary bool) error {
	c := s.conn(socketID)
	if c == nil {
		return ErrUnknownSocket
	}
	typ := websocket.TextMessage
	if binary {
		typ = websocket.BinaryMessage
	}
	if !c.send(outFrame{typ: typ, data: append([]byte(nil), frame...)}) {
		return ErrUnknownSocket
	}
	return nil
}

// SetPaused pauses (true) or resumes (false) the server without closing anything: while paused
// it answers no request (virtual or HTTP; they are answered once it resumes), sends no EIO4
// ping, answers no EIO3 ping and enforces no heartbeat timeout. Heartbeats restart from
// scratch when it resumes. Handshakes and pushes still go through.
func (s *Server) SetPaused(p bool) {
	s.mu.Lock()
	if s.faults.paused == p {
		s.mu.Unlock()
		return
	}
	s.faults.paused = p
	if p {
		s.resume = make(chan struct{})
	} else {
		close(s.resume)
	}
	s.mu.Unlock()
	s.resetHeartbeats()
}

// StopHeartbeats stops (true) or restarts (false) the server's heartbeats: it no longer pings
// EIO4 clients, no longer answers EIO3 pings, and enforces no heartbeat timeout, so only the
// client can notice.
func (s *Server) StopHeartbeats(stop bool) {
	s.mu.Lock()
	changed := s.faults.hbStopped != stop
	s.faults.hbStopped = stop
	s.mu.Unlock()
	if changed {
		s.resetHeartbeats()
	}
}

// SetDelay delays every answer (virtual and HTTP responses, parse errors) by d; 0 removes the
// delay. The delay is taken after the handler answered.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.delay = d
}

// RefuseHandshakes makes the next n requests to the Socket.IO path fail with HTTP status
// (and its status text as the body) before any other check; n <= 0 cancels a pending refusal.
func (s *Server) RefuseHandshakes(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.refuseN = max(n, 0)
	s.faults.refuseStatus = status
}

func (s *Server) takeRefusal() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.refuseN <= 0 {
		return 0, false
	}
	s.faults.refuseN--
	return s.faults.refuseStatus, true
}

func (s *Server) heartbeatsSuspended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.paused || s.faults.hbStopped
}

func (s *Server) resetHeartbeats() {
	for _, c := range s.liveConns() {
		select {
		case c.hbReset <- struct{}{}:
		default:
		}
	}
}

func (s *Server) liveConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

func (s *Server) conn(socketID string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[socketID]
}

// waitUnpaused waits until the server is not paused; false if ctx or the server ended first.
func (s *Server) waitUnpaused(ctx context.Context) bool {
	s.mu.Lock()
	ch := s.resume
	s.mu.Unlock()
	select {
	case <-ch:
		return ctx.Err() == nil && s.ctx.Err() == nil
	case <-ctx.Done():
		return false
	case <-s.ctx.Done():
		return false
	}
}

// beforeAnswer applies the configured delay and waits while paused; false if ctx or the server
// ended first.
func (s *Server) beforeAnswer(ctx context.Context) bool {
	s.mu.Lock()
	d := s.faults.delay
	s.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		case <-s.ctx.Done():
			return false
		}
	}
	return s.waitUnpaused(ctx)
}
