package mockserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
)

// ErrServerClosed is returned by Start after Close.
var ErrServerClosed = errors.New("mockserver: server closed")

// listen starts serving on s.addr (the address of the first listener once known).
func (s *Server) listen() error {
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("mockserver: listen on %s: %w", s.addr, err)
	}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	_ = hs.Listener.Close()
	hs.Listener = l
	if s.cfg.tls {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	run, stop := context.WithCancel(s.ctx)
	s.mu.Lock()
	s.hs, s.run, s.stopRun, s.stopped = hs, run, stop, false
	s.url, s.addr = hs.URL, l.Addr().String()
	s.mu.Unlock()
	return nil
}

// Stop makes the server die as a crashed Sails process does: every WebSocket's TCP connection is
// cut without a close frame, the listener closes (new connections are refused), plain HTTP
// requests in flight are aborted, and the contexts of running handlers end. Sessions are lost
// unless WithPersistentSessions was given; routes, policies, models and their records stay, and
// Start brings the server back on the same address. Stop does nothing on a stopped or closed
// server. Like Close, it waits for plain HTTP handlers to return.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.closed || s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	hs, stop := s.hs, s.stopRun
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	_ = hs.Listener.Close() // first: nothing new gets in while the rest dies
	stop()
	for _, c := range conns {
		c.shutdown()
	}
	hs.Close()
	if !s.cfg.persistSessions {
		s.sessions.forget()
	}
}

// Start brings a stopped server back on the same address (URL does not change). It returns an
// error if the server is running, was closed (ErrServerClosed), or cannot listen on its address
// again (another process took the port).
func (s *Server) Start() error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrServerClosed
	case !s.stopped:
		s.mu.Unlock()
		return errors.New("mockserver: Start: the server is running")
	}
	s.crashErr = nil
	s.mu.Unlock()
	return s.listen()
}

// crash makes the server die of err, as an uncaught exception kills a Sails process.
func (s *Server) crash(err error) {
	s.mu.Lock()
	if s.crashErr == nil && !s.stopped {
		s.crashErr = err
	}
	s.mu.Unlock()
	s.Stop()
}

// Crashed returns the error the server died of, or nil: a virtual request from a socket whose
// handshake carried an SDK version that is not valid semver (e.g. "banana") throws
// "TypeError: Invalid Version" in sails-hook-sockets, which kills a real Sails process, so the
// mock stops as Stop does. Start clears it.
func (s *Server) Crashed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crashErr
}

// Stopped reports whether the server is stopped (Stop was called and Start was not).
func (s *Server) Stopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// runContext returns the context of the current run: done after Stop or Close.
func (s *Server) runContext() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run
}
