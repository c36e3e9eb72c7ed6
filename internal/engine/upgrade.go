package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// UpgradeHandler is implemented by a Handler that wants to learn how an upgrade went: transport is
// the transport the session runs on afterwards, err why the upgrade failed (nil when it succeeded).
// It is called once per Upgrade, on the upgrade's goroutine, unless the session ended first.
type UpgradeHandler interface {
	Upgraded(transport string, err error)
}

// ErrUpgradeFailed is wrapped by the error an UpgradeHandler gets when the probe failed: the session
// stays on polling.
var ErrUpgradeFailed = errors.New("sailsio: the upgrade to websocket failed; staying on polling")

// probeTimeout bounds the probe: dialing the WebSocket and getting 3probe back.
const probeTimeout = 10 * time.Second

// Pauser is a transport the session can pause for an upgrade (Polling).
type Pauser interface {
	Transport
	Pause()
	Resume()
}

// Upgrade moves a started session from polling to the transport dial opens (a WebSocket with the
// session's sid), in the background, as engine.io-client does: probe (2probe, 3probe), pause
// polling (the reader reads what the last GET brought, the in-flight POST ends; frames sent
// meanwhile wait), send 5 on the new transport, make it the session's transport and write what
// waited. Nothing is lost, duplicated or reordered. If the probe fails, the session stays on
// polling. It does nothing when the session's transport cannot pause or the session has ended.
func (s *Session) Upgrade(dial func(ctx context.Context) (Transport, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.closing {
		return
	}
	if _, ok := s.t.(Pauser); !ok {
		return
	}
	s.wg.Add(1)
	go s.upgrade(dial)
}

func (s *Session) upgrade(dial func(ctx context.Context) (Transport, error)) {
	defer s.wg.Done()
	old := s.Transport().(Pauser)
	nt, err := s.probeTransport(dial)
	if err == nil {
		err = s.swap(old, nt)
	}
	if err != nil {
		if nt != nil {
			nt.Close()
		}
		s.mu.Lock()
		s.probe = nil
		s.mu.Unlock()
		if s.isEnded() {
			return
		}
		err = fmt.Errorf("%w: %w", ErrUpgradeFailed, err)
	}
	s.mu.Lock()
	closing := s.closing || s.ended
	s.mu.Unlock()
	if u, ok := s.h.(UpgradeHandler); ok && !closing {
		u.Upgraded(s.Transport().Name(), err)
	}
}

// probeTransport dials the new transport and checks it with 2probe / 3probe.
func (s *Session) probeTransport(dial func(ctx context.Context) (Transport, error)) (Transport, error) {
	ctx, cancel := context.WithTimeout(s.ctx, probeTimeout)
	defer cancel()
	nt, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nt, ErrClosed
	}
	s.probe = nt
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { nt.Close() })
	defer stop()
	deadline, _ := ctx.Deadline()
	if err := nt.WriteFrames([][]byte{[]byte("2probe")}, deadline); err != nil {
		return nt, err
	}
	var buf bytes.Buffer
	for {
		binary, err := nt.ReadFrame(&buf)
		if err != nil {
			if ctx.Err() != nil {
				return nt, fmt.Errorf("no 3probe within %v", probeTimeout)
			}
			return nt, err
		}
		if binary {
			return nt, protocolError("binary frame during the probe")
		}
		switch buf.String() {
		case "3probe":
			return nt, nil
		case "6":
			continue
		}
		return nt, protocolError("probe answered with %q", excerpt(buf.Bytes()))
	}
}

// swap pauses polling, sends 5 on nt and makes nt the session's transport.
func (s *Session) swap(old Pauser, nt Transport) error {
	s.mu.Lock()
	if s.ended || s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	s.w.Pause()
	s.mu.Unlock()
	old.Pause()
	// The reader ends the payload it has (the server releases a pending GET with a noop) and waits.
	select {
	case <-s.readerPaused:
	case <-s.done:
		return ErrClosed
	}
	s.wmu.Lock() // the POST in flight, if any, has ended; the writer starts no other
	defer s.wmu.Unlock()
	resume := old
	var err error
	s.mu.Lock()
	if s.ended || s.closing {
		err = ErrClosed
	}
	s.mu.Unlock()
	if err == nil {
		err = nt.WriteFrames([][]byte{{'5'}}, time.Now().Add(s.heartbeat))
	}
	s.mu.Lock()
	if err == nil {
		s.t, s.probe = nt, nil
		resume = nil
	} else {
		old.Resume()
	}
	s.w.Resume() // what waited goes out, on nt if the swap succeeded
	s.mu.Unlock()
	if resume != nil {
		s.resumeRead <- old
		return err
	}
	s.resumeRead <- nt
	old.Close()
	return nil
}

// pauseReader is the reader's side of an upgrade: it says it has paused and returns the transport
// to read from next, or nil when the session ended.
func (s *Session) pauseReader() Transport {
	s.readerPaused <- struct{}{}
	select {
	case t := <-s.resumeRead:
		return t
	case <-s.done:
		return nil
	}
}
