package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// PacketType is a Socket.IO packet type.
type PacketType byte

// Socket.IO packet types. ConnectError is called ERROR in Socket.IO protocol v4 (EIO=3).
const (
	Connect      PacketType = 0
	Disconnect   PacketType = 1
	Event        PacketType = 2
	Ack          PacketType = 3
	ConnectError PacketType = 4
	BinaryEvent  PacketType = 5
	BinaryAck    PacketType = 6
)

// String returns the packet type's protocol name.
func (t PacketType) String() string {
	switch t {
	case Connect:
		return "CONNECT"
	case Disconnect:
		return "DISCONNECT"
	case Event:
		return "EVENT"
	case Ack:
		return "ACK"
	case ConnectError:
		return "CONNECT_ERROR"
	case BinaryEvent:
		return "BINARY_EVENT"
	case BinaryAck:
		return "BINARY_ACK"
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// NoID marks a packet without an ack id.
const NoID int64 = -1

// maxIDDigits bounds ack ids so they always fit an int64 (and JavaScript's safe integers).
const maxIDDigits = 15

// maxAttachments bounds the attachment count of a binary packet (socket.io-parser allows 10 by default).
const maxAttachments = 10

// Packet is one Socket.IO packet.
type Packet struct {
	Type        PacketType
	Namespace   string // "/" for the main namespace
	ID          int64  // ack id, or NoID
	Attachments int    // number of binary attachments that follow (BINARY_EVENT, BINARY_ACK)
	Data        []byte // the JSON payload as sent; nil when there is none. Aliases the decoded input.
}

// DecodePacket parses a Socket.IO packet (the payload of an Engine.IO message packet).
func DecodePacket(s []byte) (Packet, error) { return decodePacket(s, checkAll) }

// DecodePacketAckUnchecked is DecodePacket without the JSON validation of an ACK's data (BINARY_ACK
// data is still checked): for a caller that parses the ack at once with a decoder that refuses
// invalid JSON, so that the payload is not scanned twice. Everything else is checked.
func DecodePacketAckUnchecked(s []byte) (Packet, error) { return decodePacket(s, checkNotAck) }

// DecodePacketUnchecked is DecodePacket without the JSON validation of the data of an ACK or an
// EVENT (that of BINARY_ACK and BINARY_EVENT is still checked), for a caller that validates them as
// it parses them: an EVENT's with SplitEvent or SplitEventFirst, an ACK's with its own decoder, so
// that the payload is not scanned twice. Everything else is checked, the shape of the data (an
// array) included.
func DecodePacketUnchecked(s []byte) (Packet, error) { return decodePacket(s, checkNeither) }

// What decodePacket validates as JSON.
const (
	checkAll     = iota // every payload
	checkNotAck         // every payload but an ACK's
	checkNeither        // neither an ACK's nor an EVENT's
)

func decodePacket(s []byte, check int) (Packet, error) {
	p := Packet{Namespace: "/", ID: NoID}
	if len(s) == 0 {
		return p, fmt.Errorf("%w: empty socket.io packet", ErrMalformed)
	}
	if s[0] < '0' || s[0] > '6' {
		return p, fmt.Errorf("%w: unknown socket.io packet type %q", ErrMalformed, s[0])
	}
	p.Type = PacketType(s[0] - '0')
	i := 1
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start || i >= len(s) || s[i] != '-' || i-start > 2 {
			return p, fmt.Errorf("%w: binary packet without a valid attachment count", ErrMalformed)
		}
		n, _ := strconv.Atoi(string(s[start:i]))
		if n > maxAttachments {
			return p, fmt.Errorf("%w: %d attachments exceed the limit of %d", ErrMalformed, n, maxAttachments)
		}
		p.Attachments = n
		i++
	}
	if i < len(s) && s[i] == '/' {
		end := bytes.IndexByte(s[i:], ',')
		if end < 0 {
			p.Namespace = string(s[i:])
			i = len(s)
		} else {
			p.Namespace = string(s[i : i+end])
			i += end + 1
		}
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > start {
		if i-start > maxIDDigits {
			return p, fmt.Errorf("%w: ack id too long", ErrMalformed)
		}
		id, _ := strconv.ParseInt(string(s[start:i]), 10, 64)
		p.ID = id
	}
	if i < len(s) {
		p.Data = s[i:]
	}
	if err := checkPayload(p, check); err != nil {
		return p, err
	}
	return p, nil
}

// FirstByte returns the first non-space byte of b (the kind of a JSON value), or 0.
func FirstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

func checkPayload(p Packet, check int) error {
	c := FirstByte(p.Data)
	switch p.Type {
	case Connect:
		if p.Data != nil && c != '{' {
			return fmt.Errorf("%w: CONNECT payload must be an object", ErrMalformed)
		}
	case Disconnect:
		if p.Data != nil {
			return fmt.Errorf("%w: DISCONNECT with a payload", ErrMalformed)
		}
	case ConnectError:
		if c != '{' && c != '"' {
			return fmt.Errorf("%w: CONNECT_ERROR payload must be an object or a string", ErrMalformed)
		}
	case Event, BinaryEvent:
		if c != '[' {
			return fmt.Errorf("%w: %v payload must be an array", ErrMalformed, p.Type)
		}
	case Ack, BinaryAck:
		if p.ID == NoID {
			return fmt.Errorf("%w: %v without an ack id", ErrMalformed, p.Type)
		}
		if c != '[' {
			return fmt.Errorf("%w: %v payload must be an array", ErrMalformed, p.Type)
		}
	}
	skip := p.Type == Ack && check != checkAll || p.Type == Event && check == checkNeither
	if p.Data != nil && !skip && !json.Valid(p.Data) {
		return fmt.Errorf("%w: %v payload is not valid JSON", ErrMalformed, p.Type)
	}
	return nil
}

// AppendPacket appends the encoding of p (without the Engine.IO message prefix) to dst.
// p.Data must already be valid JSON (or nil).
func AppendPacket(dst []byte, p Packet) []byte {
	dst = append(dst, byte('0'+p.Type))
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		dst = strconv.AppendInt(dst, int64(p.Attachments), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.ID >= 0 {
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

// AppendMessage appends a whole text frame: the Engine.IO message type followed by p.
func AppendMessage(dst []byte, p Packet) []byte {
	dst = append(dst, byte(EngineMessage))
	return AppendPacket(dst, p)
}

// AppendEventData appends the JSON array `["name",arg]` (or `["name"]` when arg is nil).
// arg must be valid JSON.
func AppendEventData(dst []byte, name string, arg []byte) []byte {
	dst = append(dst, '[')
	dst = appendJSONString(dst, name)
	if arg != nil {
		dst = append(dst, ',')
		dst = append(dst, arg...)
	}
	return append(dst, ']')
}

func appendJSONString(dst []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			simple = false
			break
		}
	}
	if simple {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}

// SplitEvent splits an EVENT payload into its event name and arguments. The arguments are copies:
// they do not alias data. It validates data: invalid JSON is an error.
func SplitEvent(data []byte) (string, []json.RawMessage, error) {
	if name, arg, ok := splitSimpleEvent(data); ok {
		return name, []json.RawMessage{arg}, nil
	}
	return splitEvent(data)
}

// SplitEventFirst is SplitEvent for a caller that wants the first argument only: arg is nil when the
// event has none. It validates the whole of data.
func SplitEventFirst(data []byte) (name string, arg json.RawMessage, err error) {
	return SplitEventFirstReuse(data, "")
}

// SplitEventFirstReuse is SplitEventFirst returning prev itself, rather than a new string, when the
// event's name is prev: a reader that passes the name of its last event allocates no name for a
// run of events of one name.
func SplitEventFirstReuse(data []byte, prev string) (name string, arg json.RawMessage, err error) {
	if name, arg, ok := splitSimpleEventBytes(data); ok {
		if string(name) == prev {
			return prev, arg, nil
		}
		return string(name), arg, nil
	}
	name, args, err := splitEvent(data)
	if err != nil || len(args) == 0 {
		return name, nil, err
	}
	return name, args[0], nil
}

func splitEvent(data []byte) (string, []json.RawMessage, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil {
		return "", nil, fmt.Errorf("%w: event payload: %v", ErrMalformed, err)
	}
	if len(arr) == 0 {
		return "", nil, fmt.Errorf("%w: event payload is an empty array", ErrMalformed)
	}
	var name *string // stays nil for a null name, which json.Unmarshal would accept as ""
	if err := json.Unmarshal(arr[0], &name); err != nil || name == nil {
		return "", nil, fmt.Errorf("%w: event name is not a string", ErrMalformed)
	}
	return *name, arr[1:], nil
}

// SplitAck returns the arguments of an ACK payload.
func SplitAck(data []byte) ([]json.RawMessage, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil {
		return nil, fmt.Errorf("%w: ack payload: %v", ErrMalformed, err)
	}
	if arr == nil { // null
		return nil, fmt.Errorf("%w: ack payload is not an array", ErrMalformed)
	}
	return arr, nil
}

// AppendJSONString appends s as a JSON string.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// splitSimpleEvent is SplitEvent's fast path for the usual `["name",<value>]` with a plain ASCII
// name: one validating pass (ValidValue) and one copy, no reflection. ok is false for any other
// shape, and for invalid JSON (which the slow path then reports).
func splitSimpleEvent(data []byte) (string, json.RawMessage, bool) {
	name, arg, ok := splitSimpleEventBytes(data)
	return string(name), arg, ok
}

// splitSimpleEventBytes is splitSimpleEvent with the name as bytes of data.
func splitSimpleEventBytes(data []byte) ([]byte, json.RawMessage, bool) {
	i := SkipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, nil, false
	}
	name, i, ok := SimpleString(data, SkipSpace(data, i+1))
	if !ok {
		return nil, nil, false
	}
	i = SkipSpace(data, i)
	if i >= len(data) || data[i] != ',' {
		return nil, nil, false
	}
	start := SkipSpace(data, i+1)
	end := ValidValue(data, start)
	if end < 0 {
		return nil, nil, false
	}
	i = SkipSpace(data, end)
	if i >= len(data) || data[i] != ']' || SkipSpace(data, i+1) != len(data) {
		return nil, nil, false
	}
	arg := make(json.RawMessage, end-start)
	copy(arg, data[start:end])
	return name, arg, true
}
