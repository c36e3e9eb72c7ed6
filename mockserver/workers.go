package mockserver

import "time"

// workerIdle is how long an idle worker goroutine waits for more work before it ends.
const workerIdle = 2 * time.Second

// spawn runs f on an idle worker goroutine, or on a new one when none is idle, so that a busy
// server reuses goroutines (and their grown stacks) instead of starting two per request. Workers
// count in s.wg and end when idle for workerIdle, or when the server closes.
func (s *Server) spawn(f func()) {
	select {
	case s.work <- f:
		return
	default:
	}
	s.wg.Add(1)
	go s.worker(f)
}

func (s *Server) worker(f func()) {
	defer s.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		f = nil
		idle.Reset(workerIdle)
		select {
		case f = <-s.work:
		case <-idle.C:
			return
		case <-s.ctx.Done():
			return
		}
	}
}
