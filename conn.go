package sailsio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sailsio-go/sailsio/internal/engine"
)

// conn is one live connection: an Engine.IO session whose events and end it passes to the socket.
type conn struct {
	s    *SailsSocket
	sess *engine.Session
}

// Event schedules the handlers of a server event.
func (c *conn) Event(name string, arg json.RawMessage) {
	if reserved[name] {
		c.s.logf(slog.LevelWarn, "sailsio: ignoring a server event with a reserved name", "event", name)
		return
	}
	c.s.emit(name, arg)
}

// Closed learns that the connection ended by itself.
func (c *conn) Closed(reason string, err error) {
	var cr *engine.ConnectRefused
	if errors.As(err, &cr) {
		err = connectError(cr.Data)
	}
	c.s.lost(c, reason, err)
}

// reserved are the lifecycle event names; a server event of one of these names is ignored so that
// lifecycle handlers only ever see the SDK's own events.
var reserved = map[string]bool{
	EventConnect: true, EventDisconnect: true, EventReconnecting: true, EventReconnect: true,
	EventReconnectFailed: true, EventConnectError: true, EventUpgrade: true, EventUpgradeError: true,
}

// dial opens a connection and completes the handshake, within ctx and the connect timeout. parent
// is the caller's context, which tells whose deadline ended an attempt.
func (s *SailsSocket) dial(ctx, parent context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.connectTimeout)
	defer cancel()
	if err := s.getSessionCookie(ctx); err != nil {
		if ctx.Err() != nil || parent.Err() != nil {
			return nil, s.dialError(ctx, parent, err)
		}
		return nil, err
	}
	var t engine.Transport
	var err error
	if s.firstTransport() == TransportPolling {
		t = s.newPolling()
	} else {
		t, err = s.dialWebSocket(ctx, "")
	}
	if err == nil {
		var sess *engine.Session
		if sess, err = engine.Handshake(ctx, t, int(s.opts.protocol), s.opts.maxMessageSize); err == nil {
			return &conn{s: s, sess: sess}, nil
		}
		t.Close()
	}
	return nil, s.dialError(ctx, parent, err)
}

func (s *SailsSocket) storeCookies(resp *http.Response) {
	if s.opts.jar != nil {
		if cookies := resp.Cookies(); len(cookies) > 0 {
			s.opts.jar.SetCookies(s.httpURL, cookies)
		}
	}
}

// dialError names why an attempt failed. Whichever timer fired first, an attempt that outlived the
// caller's context returns an error wrapping its ctx.Err().
func (s *SailsSocket) dialError(ctx, parent context.Context, err error) error {
	host := s.httpURL.Host
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
