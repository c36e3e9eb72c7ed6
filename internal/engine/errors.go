package engine

import (
	"errors"
	"fmt"
)

// Errors of a session. The client package re-exports ErrProtocol and ErrMessageTooLarge under the
// same names, so they are the sentinels its users test with errors.Is.
var (
	// ErrProtocol: the server broke the Engine.IO/Socket.IO protocol.
	ErrProtocol = errors.New("sailsio: protocol error")
	// ErrMessageTooLarge: a message exceeded the server's maxPayload (outgoing) or the client's limit (incoming).
	ErrMessageTooLarge = errors.New("sailsio: message too large")
	// ErrClosed: the session has ended; nothing more can be sent on it.
	ErrClosed = errors.New("sailsio: session closed")
)

// ConnectRefused is a Socket.IO CONNECT_ERROR packet: the server refused (or ended) the namespace
// connection. Data is the packet's payload as sent.
type ConnectRefused struct{ Data []byte }

func (e *ConnectRefused) Error() string {
	return "sailsio: server refused the connection: " + string(e.Data)
}

// ReadError is a read error its transport has interpreted: Reason is why the session ends (one of
// the Reason constants) and Err what it reports. A session ends with Reason and Err as they are; a
// plain error from ReadFrame ends it with ReasonTransportClose.
type ReadError struct {
	Reason string
	Err    error
}

func (e *ReadError) Error() string { return e.Err.Error() }

func (e *ReadError) Unwrap() error { return e.Err }

func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// Reasons a session ends, the names socket.io-client gives them.
const (
	ReasonClientDisconnect = "io client disconnect"
	ReasonServerDisconnect = "io server disconnect"
	ReasonTransportClose   = "transport close"
	ReasonTransportError   = "transport error"
	ReasonPingTimeout      = "ping timeout"
	ReasonParseError       = "parse error"
)
