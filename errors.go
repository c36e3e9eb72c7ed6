package sailsio

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	// ErrMessageTooLarge: a message exceeded the server's maxPayload (outgoing) or WithMaxMessageSize (incoming).
	ErrMessageTooLarge = errors.New("sailsio: message too large")
	// ErrProtocol: the server broke the Engine.IO/Socket.IO protocol.
	ErrProtocol = errors.New("sailsio: protocol error")
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

// HandshakeError is returned by Connect when the server refused the WebSocket upgrade with an HTTP
// status (for example 400 from onlyAllowOrigins or beforeConnect).
type HandshakeError struct {
	StatusCode int
	Body       string // the start of the response body
}

// Error gives the status and the body.
func (e *HandshakeError) Error() string {
	msg := "sailsio: server refused the handshake with HTTP " + strconv.Itoa(e.StatusCode)
	if e.Body != "" {
		msg += ": " + truncate(e.Body, 200)
	}
	return msg
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
