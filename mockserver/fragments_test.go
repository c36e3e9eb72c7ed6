package mockserver

import (
	"bytes"
	"testing"

	"github.com/gorilla/websocket"
)

// fragmented returns the frames of one client text message (masked, as a client's are): text
// split into a first frame and n-1 continuation frames, the extra ones empty.
func fragmented(text string, n int) []byte {
	var b bytes.Buffer
	frame := func(fin bool, op byte, payload string) {
		h := op
		if fin {
			h |= 0x80
		}
		b.WriteByte(h)
		b.WriteByte(0x80 | byte(len(payload))) // masked, short payload
		mask := [4]byte{1, 2, 3, 4}
		b.Write(mask[:])
		for i := 0; i < len(payload); i++ {
			b.WriteByte(payload[i] ^ mask[i%4])
		}
	}
	frame(n == 1, websocket.TextMessage, text)
	for i := 1; i < n; i++ {
		frame(i == n-1, 0, "")
	}
	return b.Bytes()
}

// TestTooManyFragments: like ws (maxFragments 16,384), the server takes a message of 16,384
// frames and closes the WebSocket with status 1008 at one of 16,385.
func TestTooManyFragments(t *testing.T) {
	for _, m := range modes {
		if m.eio != 3 {
			continue // the message is an EIO3 ping
		}
		t.Run(m.name, func(t *testing.T) {
			s := NewT(t, WithProtocol(m.server))
			c, _ := connect(t, s, 3, nil)
			raw := c.ws.UnderlyingConn()
			if _, err := raw.Write(fragmented("2", MaxMessageFragments)); err != nil {
				t.Fatal(err)
			}
			c.expect("3")
			if _, err := raw.Write(fragmented("2", MaxMessageFragments+1)); err != nil {
				t.Fatal(err)
			}
			if err := c.expectClosed(); closeCode(err) != websocket.ClosePolicyViolation {
				t.Errorf("after %d fragments: %v, want close 1008", MaxMessageFragments+1, err)
			}
		})
	}
}

func TestFragmentCounter(t *testing.T) {
	var f fragmentCounter
	// Control frames between fragments do not count; headers may arrive a byte at a time; long
	// lengths are skipped.
	msg := fragmented("2", 3)
	ping := []byte{0x89, 0x80, 0, 0, 0, 0}
	long := append([]byte{0x82, 0x80 | 126, 0x01, 0x00, 0, 0, 0, 0}, make([]byte, 256)...)
	stream := append(append(append([]byte{}, msg[:7]...), ping...), msg[7:]...) // after the first frame (7 bytes)
	stream = append(stream, long...)
	for i := range stream {
		if !f.feed(stream[i : i+1]) {
			t.Fatal("refused a small message")
		}
	}
	if f.frames != 0 || f.payload != 0 || f.have != 0 {
		t.Errorf("state after whole messages: %+v", f)
	}
	if f.feed(fragmented("x", MaxMessageFragments+1)) {
		t.Error("took a message of too many fragments")
	}
}
