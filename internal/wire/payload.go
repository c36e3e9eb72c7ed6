package wire

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// PayloadPacket is one Engine.IO packet of an HTTP long-polling payload.
type PayloadPacket struct {
	// Data is a text packet as sent ("4...", "2", "6"), or the data of a binary packet (without
	// any engine type byte).
	Data   []byte
	Binary bool // Data came as a base64 binary packet ("b4..." under EIO3, "b..." under EIO4)
}

// RecordSeparator separates the packets of an EIO4 polling payload.
const RecordSeparator = 0x1e

// DecodePayload splits the body of a polling response or request into its packets, appended to dst.
//
// EIO3 (engine.io-parser 2, text form, as with b64=1): `<length>:<packet>` repeated, where length
// counts UTF-16 code units of the packet (JavaScript's string length), not bytes; a binary packet is
// `b4<base64>`; a zero-length packet is skipped. EIO4 (engine.io-parser 5): packets joined by
// RecordSeparator; a binary packet is `b<base64>`.
//
// Text packets alias body. Memory allocated is bounded by len(body): at most one PayloadPacket per
// two bytes of body, and base64 data decodes to fewer bytes than it takes.
func DecodePayload(eio int, body []byte, dst []PayloadPacket) ([]PayloadPacket, error) {
	if len(body) == 0 {
		return dst, fmt.Errorf("%w: empty polling payload", ErrMalformed)
	}
	if eio == 3 {
		return decodePayload3(body, dst)
	}
	return decodePayload4(body, dst)
}

func decodePayload3(body []byte, dst []PayloadPacket) ([]PayloadPacket, error) {
	for i := 0; i < len(body); {
		j := i
		for j < len(body) && body[j] >= '0' && body[j] <= '9' {
			j++
		}
		if j == i || j == len(body) || body[j] != ':' || j-i > 10 {
			return dst, fmt.Errorf("%w: EIO3 payload: bad length at byte %d", ErrMalformed, i)
		}
		n, err := strconv.Atoi(string(body[i:j]))
		if err != nil {
			return dst, fmt.Errorf("%w: EIO3 payload: bad length at byte %d", ErrMalformed, i)
		}
		start := j + 1
		end, ok := advanceUTF16(body, start, n)
		if !ok {
			return dst, fmt.Errorf("%w: EIO3 payload: packet length %d (UTF-16 code units) runs past the payload", ErrMalformed, n)
		}
		i = end
		if n == 0 {
			continue
		}
		p, err := decodePayloadPacket(3, body[start:end])
		if err != nil {
			return dst, err
		}
		dst = append(dst, p)
	}
	return dst, nil
}

func decodePayload4(body []byte, dst []PayloadPacket) ([]PayloadPacket, error) {
	for i := 0; i <= len(body); {
		j := i
		for j < len(body) && body[j] != RecordSeparator {
			j++
		}
		p, err := decodePayloadPacket(4, body[i:j])
		if err != nil {
			return dst, err
		}
		dst = append(dst, p)
		i = j + 1
	}
	return dst, nil
}

func decodePayloadPacket(eio int, b []byte) (PayloadPacket, error) {
	if len(b) == 0 {
		return PayloadPacket{}, fmt.Errorf("%w: empty packet in a polling payload", ErrMalformed)
	}
	if b[0] != 'b' {
		if b[0] < byte(EngineOpen) || b[0] > byte(EngineNoop) {
			return PayloadPacket{}, fmt.Errorf("%w: unknown engine.io packet type %q in a polling payload", ErrMalformed, b[0])
		}
		return PayloadPacket{Data: b}, nil
	}
	enc := b[1:]
	if eio == 3 {
		if len(enc) == 0 || enc[0] != byte(EngineMessage) {
			return PayloadPacket{}, fmt.Errorf("%w: EIO3 binary packet that is not a message", ErrMalformed)
		}
		enc = enc[1:]
	}
	data, err := decodeBase64(enc)
	if err != nil {
		return PayloadPacket{}, fmt.Errorf("%w: binary packet in a polling payload: %v", ErrMalformed, err)
	}
	return PayloadPacket{Data: data, Binary: true}, nil
}

// decodeBase64 decodes standard base64, padded or not (Node's Buffer accepts both).
func decodeBase64(enc []byte) ([]byte, error) {
	e := base64.StdEncoding
	if len(enc)%4 != 0 {
		e = base64.RawStdEncoding
	}
	out := make([]byte, e.DecodedLen(len(enc)))
	n, err := e.Decode(out, enc)
	return out[:n], err
}

// advanceUTF16 returns the index in b after n UTF-16 code units starting at start, and false when b
// ends first or the n-th unit falls inside a surrogate pair. An invalid UTF-8 byte counts as one
// unit (it decodes to U+FFFD).
func advanceUTF16(b []byte, start, n int) (int, bool) {
	i := start
	for n > 0 {
		if i >= len(b) {
			return 0, false
		}
		c := b[i]
		if c < utf8.RuneSelf {
			i++
			n--
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		units := 1
		if r >= 0x10000 {
			units = 2
		}
		if units > n {
			return 0, false
		}
		i += size
		n -= units
	}
	return i, true
}

// UTF16Len returns the length of b, read as UTF-8, in UTF-16 code units (JavaScript's string length).
func UTF16Len(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			n++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// AppendPayload appends the polling payload of packets to dst, in the form DecodePayload reads.
func AppendPayload(dst []byte, eio int, packets []PayloadPacket) []byte {
	for i, p := range packets {
		if eio != 3 && i > 0 {
			dst = append(dst, RecordSeparator)
		}
		if eio == 3 {
			dst = strconv.AppendInt(dst, int64(PayloadPacketLen(3, p)), 10)
			dst = append(dst, ':')
		}
		dst = appendPayloadPacket(dst, eio, p)
	}
	return dst
}

func appendPayloadPacket(dst []byte, eio int, p PayloadPacket) []byte {
	if !p.Binary {
		return append(dst, p.Data...)
	}
	dst = append(dst, 'b')
	if eio == 3 {
		dst = append(dst, byte(EngineMessage))
	}
	return base64.StdEncoding.AppendEncode(dst, p.Data)
}

// PayloadPacketLen returns the length of p in a payload: for EIO3 the UTF-16 length written before
// it; for EIO4 its bytes (without the separator).
func PayloadPacketLen(eio int, p PayloadPacket) int {
	if p.Binary {
		n := 1 + base64.StdEncoding.EncodedLen(len(p.Data))
		if eio == 3 {
			n++
		}
		return n
	}
	if eio == 3 {
		return UTF16Len(p.Data)
	}
	return len(p.Data)
}

// PayloadSize returns the size in bytes of the payload of one more packet p after n bytes of
// payload: what AppendPayload would add.
func PayloadSize(eio int, n int, p PayloadPacket) int {
	size := len(p.Data)
	if p.Binary {
		size = PayloadPacketLen(4, p)
		if eio == 3 {
			size++
		}
	}
	if eio == 3 {
		return n + len(strconv.Itoa(PayloadPacketLen(3, p))) + 1 + size
	}
	if n > 0 {
		size++
	}
	return n + size
}
