package sailsio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// ErrDecode: a 2xx response body (DoJSON) or an event's data (OnJSON, OnModel) could not be
// decoded into the type asked for; the error also wraps the encoding/json error.
var ErrDecode = errors.New("sailsio: cannot decode JSON")

// DoJSON sends the request and decodes a 2xx body into T. Any other status returns the zero T, the
// JWRes and its *StatusError (a 3xx too, although its JWRes.Error is nil: a redirect is not
// followed). No response returns the same errors as Do (with a *ParseError, the JWRes of status
// 400 too).
//
// A 2xx response without a body (Sails sends none for res.ok() or res.sendStatus(204); JWRes.Body
// is then `null`) leaves T at its zero value and is not an error. A body that does not decode into
// T returns the zero T, the JWRes and an error wrapping ErrDecode and the encoding/json error.
func DoJSON[T any](ctx context.Context, s *SailsSocket, opts RequestOptions) (T, *JWRes, error) {
	var v T
	jwr, err := s.Do(ctx, opts)
	if err != nil {
		return v, jwr, err
	}
	if jwr.StatusCode < 200 || jwr.StatusCode >= 300 {
		if jwr.Error != nil {
			return v, jwr, jwr.Error
		}
		return v, jwr, &StatusError{StatusCode: jwr.StatusCode, Body: jwr.Body}
	}
	if err := json.Unmarshal(jwr.Body, &v); err != nil {
		var zero T
		return zero, jwr, fmt.Errorf("%w: %s %s: the %d body into %T: %w", ErrDecode, methodName(opts.Method), opts.URL, jwr.StatusCode, v, err)
	}
	return v, jwr, nil
}

// methodName is the method of a request as Sails names it in its messages.
func methodName(m string) string {
	if m == "" {
		return "GET"
	}
	return strings.ToUpper(m)
}

// OnJSON decodes each event's data into T. Data that does not decode is not handed to h; it is logged
// (WithLogger, level Warn) with the event name and the decode error. Like On, it returns a function
// that removes exactly this registration, and h runs on the callback goroutine in order with the
// other handlers. An event sent without data decodes as `null`: h gets T's zero value.
func OnJSON[T any](s *SailsSocket, event string, h func(T)) (off func()) {
	if h == nil {
		return func() {}
	}
	return s.On(event, func(data json.RawMessage) {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			s.logDecode(event, fmt.Errorf("%w: event data into %T: %w", ErrDecode, v, err))
			return
		}
		h(v)
	})
}

// logDecode logs an event whose data could not be decoded. It runs in a handler, on the callback
// goroutine, so it logs directly (logf would queue the record after the events that follow).
func (s *SailsSocket) logDecode(event string, err error) {
	if s.opts.logger == nil {
		return
	}
	s.log.Log(context.Background(), slog.LevelWarn, "sailsio: event dropped: its data does not decode", "event", event, "error", err)
}
