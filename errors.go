package sailsio

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/sailsio-go/sailsio/internal/engine"
)

// Sentinel errors. Every error the package returns either is one of these, wraps one of them, or is
// one of the error types below; test with errors.Is and errors.As.
var (
	// ErrDisconnected: the connection was lost (or none is expected any more) before the request completed.
	ErrDisconnected = errors.New("sailsio: socket disconnected before the request completed")
	// ErrClosed: Disconnect was called.
	ErrClosed = errors.New("sailsio: socket closed")
	// ErrQueueFull: the request could not wait for a connection because WithQueueLimit requests already wait.
	ErrQueueFull = errors.New("sailsio: request queue full")
	// ErrTimeout: the request did not complete within WithRequestTimeout.
	ErrTimeout = errors.New("sailsio: request timed out")

	// ErrInvalidRequest: the request was refused before it was sent (bad method, URL, data, size ...).
	ErrInvalidRequest = errors.New("sailsio: invalid request")
	// ErrInvalidHeader: a header name or value is empty where it must not be, or holds CR, LF or NUL.
	ErrInvalidHeader = errors.New("sailsio: invalid header")
	// ErrInvalidOption: an option value was refused by New or Connect.
	ErrInvalidOption = errors.New("sailsio: invalid option")
	// ErrMessageTooLarge: a message exceeded the server's maxPayload (outgoing) or WithMaxMessageSize
	// (incoming), or the server closed the connection because a message was too large (1009, 1008).
	ErrMessageTooLarge = engine.ErrMessageTooLarge
	// ErrProtocol: the server broke the Engine.IO/Socket.IO protocol: a frame the SDK cannot decode
	// ends the connection with reason "parse error", as socket.io-client does.
	ErrProtocol = engine.ErrProtocol
	// ErrUnreachable: a connection attempt failed below the WebSocket upgrade (refused, reset, DNS,
	// TLS ...); the error wraps the network error.
	ErrUnreachable = errors.New("sailsio: server unreachable")
	// ErrSessionUnknown: over polling, the server answered HTTP 400 "Session ID unknown": it does not
	// know the Engine.IO session (any more). Behind a load balancer this means the session's requests
	// do not all reach one server: polling needs sticky sessions. The connection is lost and
	// reconnection (with its backoff) follows.
	ErrSessionUnknown = engine.ErrSessionUnknown
	// ErrUpgradeFailed: the upgrade from polling to websocket failed; the connection stays on polling
	// (the upgrade_error event carries the error).
	ErrUpgradeFailed = engine.ErrUpgradeFailed
	// ErrSessionCookie: WithSessionCookie could not get a session cookie before a handshake: GET
	// /__getcookie failed (the error then also wraps ErrUnreachable and the network error) or set no
	// session cookie (the error names the status and the likely cause). The attempt fails; a running
	// reconnection loop goes on.
	ErrSessionCookie = errors.New("sailsio: no session cookie")
	// ErrBadResponse: a response arrived but could not be understood.
	ErrBadResponse = errors.New("sailsio: malformed response")
)

// StatusError is the Error of a JWRes whose status code is below 200 or at least 400.
type StatusError struct {
	StatusCode int
	Body       json.RawMessage
}

// Error returns the status and a short excerpt of the body.
func (e *StatusError) Error() string {
	return "sailsio: server responded with status " + strconv.Itoa(e.StatusCode) + excerpt(e.Body)
}

// ParseError is a server-side PARSE_VIRTUAL_REQ error: the server answered an error object instead of
// a response (for example because the SDK version in the handshake is missing or too old).
type ParseError struct {
	Code    string // e.g. "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ"
	Message string
	Status  int // the status the server gives the error (400)
	Details any // the server's details (usually a string)
}

// Error describes the parse error.
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("sailsio: server could not parse the request")
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if d, ok := e.Details.(string); ok && d != "" {
		b.WriteString(": " + truncate(d, 200))
	}
	return b.String()
}

// HandshakeError is returned by Connect when the WebSocket upgrade failed: the server answered
// with an HTTP status instead (for example 400 from onlyAllowOrigins or beforeConnect, 200 or 404
// from something that is not a Socket.IO endpoint), or closed the connection without an answer
// (StatusCode 0), as real Sails does for a path that is not its Socket.IO endpoint.
type HandshakeError struct {
	StatusCode int    // the HTTP status of the answer; 0 when there was none
	Body       string // a short excerpt of the response body, on one line
	Hint       string // the likely cause, when the SDK can tell
}

// Error gives the status, the body excerpt and the likely cause.
func (e *HandshakeError) Error() string {
	msg := "sailsio: server refused the handshake"
	if e.StatusCode != 0 {
		msg += " with HTTP " + strconv.Itoa(e.StatusCode)
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// newHandshakeError keeps a one-line excerpt of the body (the text of an HTML page, not its markup)
// and names the likely cause of the usual statuses.
func newHandshakeError(status int, body []byte, path string) *HandshakeError {
	e := &HandshakeError{StatusCode: status, Body: bodyExcerpt(body, 120)}
	switch {
	case status >= 200 && status < 300, status == http.StatusNotFound:
		e.Hint = "not a Socket.IO endpoint: check the URL and WithPath (" + path + "); it must match sails.config.sockets.path"
	case status == http.StatusBadRequest && strings.Contains(e.Body, "Unsupported protocol version"):
		// engine.io 4 and later refuse an EIO3 handshake so unless allowEIO3 is set
		// (docs/protocol.md#server-generations): EIO3-only servers never answer this.
		e.Hint = "the server refuses Engine.IO v3: socket.io 3.x and later accept it only with allowEIO3, which sails-hook-sockets 3.x sets; use EIO4"
	case status == http.StatusBadRequest && strings.Contains(e.Body, "Transport unknown"):
		e.Hint = "the server does not accept this transport (sails.config.sockets.transports)"
	case status == http.StatusBadRequest || status == http.StatusForbidden:
		e.Hint = "refused by onlyAllowOrigins or beforeConnect: set an allowed Origin with WithInitialConnectionHeaders"
	}
	return e
}

// bodyExcerpt returns the start of body on one line: markup removed, white space collapsed.
func bodyExcerpt(body []byte, n int) string {
	var b strings.Builder
	inTag, space := false, false
	for _, r := range string(body) {
		switch {
		case r == '<':
			inTag = true
			continue
		case r == '>' && inTag:
			inTag = false
			space = true
			continue
		case inTag:
			continue
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() > 4*n {
			break
		}
	}
	return truncate(b.String(), n)
}

// ConnectError is a Socket.IO CONNECT_ERROR (packet 44) answered to the namespace connection.
type ConnectError struct {
	Message string
	Data    json.RawMessage // the whole payload as sent
}

// Error returns the server's message.
func (e *ConnectError) Error() string {
	return "sailsio: server refused the connection: " + e.Message
}

func excerpt(body json.RawMessage) string {
	if len(body) == 0 || string(body) == "null" {
		return ""
	}
	return ": " + truncate(string(body), 120)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Do not cut a UTF-8 sequence in half.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
