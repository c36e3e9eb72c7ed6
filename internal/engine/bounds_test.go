package engine

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

// wsFrame returns a server's WebSocket frame header and payload (masked if masked: a server
// must not mask, but the bounds must follow such a frame too).
func wsFrame(opcode byte, fin bool, payload []byte, masked bool) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	var m byte
	if masked {
		m = 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, m|byte(n))
	case n <= 0xffff:
		f = append(f, m|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, m|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	if masked {
		f = append(f, 1, 2, 3, 4)
	}
	return append(f, payload...)
}

// TestStreamBounds: whatever the sizes of the chunks the bounds see, the bytes they let out add up
// to the stream, no read passes the end of an HTTP head or of a frame, and atFrameStart holds
// exactly at the frames' ends.
func TestStreamBounds(t *testing.T) {
	heads := []string{
		"HTTP/1.1 200 Connection established\r\n\r\n", // a proxy's answer to CONNECT
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n",
	}
	var stream []byte
	var ends []int // where each head and frame ends
	for _, h := range heads {
		stream = append(stream, h...)
		ends = append(ends, len(stream))
	}
	framesFrom := len(stream)
	rnd := rand.New(rand.NewPCG(7, 19))
	for i, n := range []int{0, 1, 3, 125, 126, 127, 300, 0xffff, 0x10000, 70000, 2, 0} {
		payload := make([]byte, n)
		for j := range payload {
			payload[j] = byte(rnd.Uint32()) // '\r' and '\n' too: frames are not scanned as heads
		}
		opcode := byte(1)
		switch i % 4 {
		case 1:
			opcode = 2
		case 2:
			opcode = 9 // a ping
		}
		stream = append(stream, wsFrame(opcode, i%3 != 0, payload, i == 5)...)
		ends = append(ends, len(stream))
	}
	for _, maxChunk := range []int{1, 2, 7, 128, 4096, 1 << 20} {
		var b streamBounds
		b.mode = boundsHeads
		var got []byte
		for pos := 0; pos < len(stream); {
			if pos == framesFrom {
				b.startFrames()
			}
			if start := b.atFrameStart(); start != (pos >= framesFrom && slices.Contains(ends, pos)) {
				t.Fatalf("chunks up to %d: at %d, atFrameStart %v", maxChunk, pos, start)
			}
			chunk := stream[pos:min(len(stream), pos+1+rnd.IntN(maxChunk))]
			n := b.take(chunk)
			if n < 1 || n > len(chunk) {
				t.Fatalf("chunks up to %d: at %d, took %d of %d", maxChunk, pos, n, len(chunk))
			}
			for _, e := range ends {
				if pos < e && e < pos+n {
					t.Fatalf("chunks up to %d: a read of %d at %d passes the end at %d", maxChunk, n, pos, e)
				}
			}
			got = append(got, chunk[:n]...)
			pos += n
		}
		if !bytes.Equal(got, stream) {
			t.Fatalf("chunks up to %d: the bytes differ", maxChunk)
		}
		if !b.atFrameStart() {
			t.Fatalf("chunks up to %d: not at a frame's start at the end", maxChunk)
		}
	}
}

// TestStreamBoundsOff: without bounds (TLS, or another connection) a read takes what it is given.
func TestStreamBoundsOff(t *testing.T) {
	var b streamBounds
	p := []byte("HTTP/1.1 101 x\r\n\r\n\x81\x01a")
	if n := b.take(p); n != len(p) || b.atFrameStart() {
		t.Fatalf("took %d of %d, atFrameStart %v", n, len(p), b.atFrameStart())
	}
	b.startFrames() // only after heads
	if b.mode != boundsOff {
		t.Fatal("startFrames turned bounds on")
	}
}
