package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed packet")

// EngineType is an Engine.IO packet type, as its ASCII digit on the wire.
type EngineType byte

// Engine.IO packet types.
const (
	EngineOpen    EngineType = '0'
	EngineClose   EngineType = '1'
	EnginePing    EngineType = '2'
	EnginePong    EngineType = '3'
	EngineMessage EngineType = '4'
	EngineUpgrade EngineType = '5'
	EngineNoop    EngineType = '6'
)

// String returns the packet type's name.
func (t EngineType) String() string {
	switch t {
	case EngineOpen:
		return "open"
	case EngineClose:
		return "close"
	case EnginePing:
		return "ping"
	case EnginePong:
		return "pong"
	case EngineMessage:
		return "message"
	case EngineUpgrade:
		return "upgrade"
	case EngineNoop:
		return "noop"
	}
	return fmt.Sprintf("engine(%q)", byte(t))
}

// BinaryPrefixEIO3 is the byte that starts every binary WebSocket frame under EIO=3
// (the Engine.IO "message" type as a raw byte).
const BinaryPrefixEIO3 = 0x04

// DecodeEngine splits a text WebSocket frame into its Engine.IO packet type and payload.
// The payload aliases frame.
func DecodeEngine(frame []byte) (EngineType, []byte, error) {
	if len(frame) == 0 {
		return 0, nil, fmt.Errorf("%w: empty engine.io frame", ErrMalformed)
	}
	t := EngineType(frame[0])
	if t < EngineOpen || t > EngineNoop {
		return 0, nil, fmt.Errorf("%w: unknown engine.io packet type %q", ErrMalformed, frame[0])
	}
	return t, frame[1:], nil
}

// DecodeBinaryFrame returns the attachment carried by a binary WebSocket frame. Under EIO=3 the
// frame must start with BinaryPrefixEIO3, which is removed; under EIO=4 the frame is the data itself.
func DecodeBinaryFrame(eio int, frame []byte) ([]byte, error) {
	if eio == 3 {
		if len(frame) == 0 || frame[0] != BinaryPrefixEIO3 {
			return nil, fmt.Errorf("%w: EIO3 binary frame without the 0x04 prefix", ErrMalformed)
		}
		return frame[1:], nil
	}
	return frame, nil
}

// AppendBinaryFrame appends the WebSocket binary frame payload for an attachment.
func AppendBinaryFrame(dst []byte, eio int, data []byte) []byte {
	if eio == 3 {
		dst = append(dst, BinaryPrefixEIO3)
	}
	return append(dst, data...)
}

// Open is the payload of the Engine.IO open packet.
type Open struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"` // milliseconds
	PingTimeout  int64    `json:"pingTimeout"`  // milliseconds
	MaxPayload   int64    `json:"maxPayload,omitempty"`
}

// Limits on the open packet's intervals: a server that advertises values outside them is broken or
// hostile, and a client must not arm timers with them.
const (
	MinInterval = time.Millisecond
	MaxInterval = 24 * time.Hour
)

// DecodeOpen parses and validates the payload of an open packet.
func DecodeOpen(payload []byte) (Open, error) {
	var o Open
	if err := json.Unmarshal(payload, &o); err != nil {
		return Open{}, fmt.Errorf("%w: open packet: %v", ErrMalformed, err)
	}
	if o.SID == "" {
		return Open{}, fmt.Errorf("%w: open packet without sid", ErrMalformed)
	}
	for _, v := range []struct {
		name string
		ms   int64
	}{{"pingInterval", o.PingInterval}, {"pingTimeout", o.PingTimeout}} {
		d := time.Duration(v.ms) * time.Millisecond
		if v.ms <= 0 || d < MinInterval || d > MaxInterval || v.ms > int64(MaxInterval/time.Millisecond) {
			return Open{}, fmt.Errorf("%w: open packet %s %d ms is out of range", ErrMalformed, v.name, v.ms)
		}
	}
	if o.MaxPayload < 0 {
		return Open{}, fmt.Errorf("%w: open packet maxPayload %d is negative", ErrMalformed, o.MaxPayload)
	}
	return o, nil
}

// PingIntervalDuration returns the ping interval as a duration.
func (o Open) PingIntervalDuration() time.Duration {
	return time.Duration(o.PingInterval) * time.Millisecond
}

// PingTimeoutDuration returns the ping timeout as a duration.
func (o Open) PingTimeoutDuration() time.Duration {
	return time.Duration(o.PingTimeout) * time.Millisecond
}

// AppendOpen appends a complete open packet ("0{...}") to dst.
func AppendOpen(dst []byte, o Open) []byte {
	if o.Upgrades == nil {
		o.Upgrades = []string{}
	}
	b, _ := json.Marshal(o) // cannot fail: only strings and integers
	dst = append(dst, byte(EngineOpen))
	return append(dst, b...)
}
