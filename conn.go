package sailsio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/sailsio-go/sailsio/internal/engine"
)

// engineSession is Life's session (life.go) over an internal/engine Session: the only place
// where the root package meets the engine's session.
type engineSession struct {
	sess *engine.Session
	// upgrade dials the WebSocket the session moves to after a polling handshake; nil: no upgrade.
	upgrade func(ctx context.Context) (engine.Transport, error)
}

func (e *engineSession) start(ev sessionEvents) {
	e.sess.Start(engineEvents{ev})
	if e.upgrade != nil && slices.Contains(e.sess.Open().Upgrades, "websocket") {
		e.sess.Upgrade(e.upgrade)
	}
}

func (e *engineSession) id() string           { return e.sess.ID() }
func (e *engineSession) transport() Transport { return transportNamed(e.sess.Transport().Name()) }
func (e *engineSession) forget(id int64)      { e.sess.Forget(id) }
func (e *engineSession) wait()                { e.sess.Wait() }

func (e *engineSession) send(payload []byte, a engine.Acker, now bool) (int64, bool, error) {
	if now {
		return e.sess.RequestNow(payload, a)
	}
	id, err := e.sess.Request(payload, a)
	return id, false, err
}

func (e *engineSession) writeNow() { e.sess.WriteNow() }

func (e *engineSession) close(grace time.Duration, cut <-chan struct{}) { e.sess.Close(grace, cut) }
func (e *engineSession) failPending(err error)                          { e.sess.FailPending(err) }

// handoff hands the session's reading over to a new reader goroutine while its reader runs event
// handlers (engine.Session.Handoff): the dispatcher's watchdog.
func (e *engineSession) handoff() bool { return e.sess.Handoff() }

// engineEvents passes what an engine session reports (engine.Handler, engine.UpgradeHandler) to Life.
type engineEvents struct{ ev sessionEvents }

func (h engineEvents) Event(name string, arg json.RawMessage) { h.ev.event(name, arg) }

func (h engineEvents) Closed(reason string, err error) {
	var cr *engine.ConnectRefused
	if errors.As(err, &cr) {
		err = connectError(cr.Data)
	}
	h.ev.lost(reason, err)
}

func (h engineEvents) Upgraded(transport string, err error) {
	h.ev.upgraded(transportNamed(transport), err)
}

// dial opens a connection and completes the handshake, within ctx and the connect timeout. parent
// is the caller's context, which tells whose deadline ended an attempt. It is Life's dialSession
// (tests give Life a fake instead). The features that need a step before the handshake (a session
// cookie, a CSRF token) or to know what it carried register them at New (s.beforeHandshake,
// s.handshaking): dial does not know them.
func (s *SailsSocket) dial(ctx, parent context.Context) (session, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.connectTimeout)
	defer cancel()
	a, err := s.newAttempt(ctx)
	if err != nil {
		if ctx.Err() != nil || parent.Err() != nil {
			return nil, s.dialError(ctx, parent, err)
		}
		return nil, err
	}
	for _, step := range s.beforeHandshake {
		if err := step(ctx, a); err != nil {
			if ctx.Err() != nil || parent.Err() != nil {
				return nil, s.dialError(ctx, parent, err)
			}
			return nil, err
		}
	}
	var t engine.Transport
	polling := s.firstTransport() == TransportPolling
	if polling {
		t = s.newPolling(a)
	} else {
		t, err = s.dialWebSocket(ctx, a, "")
	}
	if err == nil {
		var sess *engine.Session
		var done func()
		if s.handshaking != nil {
			done = s.handshaking(a)
		}
		if sess, err = engine.Handshake(ctx, t, int(s.opts.protocol)); err == nil {
			if done != nil {
				done()
			}
			s.maxPayload.Store(sess.Open().MaxPayload)
			es := &engineSession{sess: sess}
			if polling && s.canUpgrade() {
				sid := sess.Open().SID
				es.upgrade = func(ctx context.Context) (engine.Transport, error) { return s.dialWebSocket(ctx, a, sid) }
			}
			return es, nil
		}
		t.Close()
	}
	return nil, s.dialError(ctx, parent, err)
}

func (s *SailsSocket) storeCookies(resp *http.Response) {
	if s.opts.jar != nil {
		if cookies := resp.Cookies(); len(cookies) > 0 {
			s.opts.jar.SetCookies(s.httpURL(), cookies)
		}
	}
}

// dialError names why an attempt failed. Whichever timer fired first, an attempt that outlived the
// caller's context returns an error wrapping its ctx.Err().
func (s *SailsSocket) dialError(ctx, parent context.Context, err error) error {
	host := s.url.host
	if perr := parent.Err(); perr != nil {
		return fmt.Errorf("sailsio: connect %s: %w", host, perr)
	}
	if dl, ok := parent.Deadline(); ok && !time.Now().Before(dl) {
		return fmt.Errorf("sailsio: connect %s: %w", host, context.DeadlineExceeded)
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) { // ctx carries the connect timeout
		return fmt.Errorf("sailsio: connect %s: no connection within %v (WithConnectTimeout): %w", host, s.opts.connectTimeout, context.DeadlineExceeded)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("sailsio: connect %s: %w", host, ctx.Err())
	}
	var hs *engine.HandshakeStatusError
	var cr *engine.ConnectRefused
	switch {
	case errors.As(err, &hs):
		return newHandshakeError(hs.Response.StatusCode, engineMessage(hs.Body), s.opts.path)
	case errors.Is(err, engine.ErrUpgradeClosed):
		return &HandshakeError{Hint: "the server accepted the connection but closed it without answering the WebSocket upgrade: is WithPath right (" + s.opts.path + ")? It must match sails.config.sockets.path"}
	case errors.As(err, &cr):
		return connectError(cr.Data)
	case errors.Is(err, ErrProtocol), errors.Is(err, ErrMessageTooLarge):
		return err
	case errors.Is(err, ErrSessionUnknown): // the server answered: not unreachable (no sticky sessions)
		return fmt.Errorf("sailsio: connect %s: %w", host, err)
	}
	return fmt.Errorf("%w %s: %w", ErrUnreachable, host, err)
}

func connectError(data []byte) error {
	e := &ConnectError{Data: append(json.RawMessage(nil), data...)}
	var obj struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &obj) == nil && obj.Message != "" {
		e.Message = obj.Message
	} else if json.Unmarshal(data, &e.Message) != nil {
		e.Message = string(data)
	}
	return e
}
