// Package wire is the Engine.IO / Socket.IO codec shared by the sailsio client and the mockserver.
//
// It knows two layers:
//
//   - Engine.IO packets (open, close, ping, pong, message, upgrade, noop), one per WebSocket frame.
//     Protocol v3 (EIO=3) prefixes binary WebSocket frames with the byte 0x04; v4 (EIO=4) does not.
//   - Socket.IO packets carried inside an Engine.IO message: CONNECT, DISCONNECT, EVENT, ACK,
//     CONNECT_ERROR (ERROR in protocol v4), BINARY_EVENT and BINARY_ACK, with optional namespace and
//     ack id, e.g. 421["get",{...}] or 430[{...}].
//
// Decoders never panic on any input and return an error wrapping ErrMalformed for anything that is
// not a well-formed packet. Encoders append to a caller-supplied buffer so the hot path can reuse memory.
package wire
