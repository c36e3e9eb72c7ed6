package wire

import (
	"bytes"
	"fmt"
)

// Assembler puts a binary packet (BINARY_EVENT, BINARY_ACK) back together from its text packet and
// the binary frames of its attachments that follow it. The zero value is ready to use.
type Assembler struct {
	p    Packet
	atts [][]byte
	open bool
}

// Waiting reports whether a binary packet waits for attachments.
func (a *Assembler) Waiting() bool { return a.open }

// Packet takes a decoded packet. A packet without attachments is returned at once (done true); a
// binary packet with attachments is kept until they arrive. A packet that arrives while another
// still waits for attachments is an error, as in socket.io-parser.
func (a *Assembler) Packet(p Packet) (out Packet, done bool, err error) {
	if a.open {
		a.reset()
		return Packet{}, false, fmt.Errorf("%w: a %v packet arrived while a binary packet waited for its attachments", ErrMalformed, p.Type)
	}
	if p.Attachments == 0 {
		return p, true, nil
	}
	p.Data = bytes.Clone(p.Data) // it outlives the frame
	a.p, a.atts, a.open = p, make([][]byte, 0, p.Attachments), true
	return Packet{}, false, nil
}

// Binary takes the payload of a binary frame (after DecodeBinaryFrame). It returns the packet with
// its placeholders replaced once the last attachment arrived.
func (a *Assembler) Binary(att []byte) (out Packet, done bool, err error) {
	if !a.open {
		return Packet{}, false, fmt.Errorf("%w: a binary frame that no packet announced (%d bytes)", ErrMalformed, len(att))
	}
	a.atts = append(a.atts, bytes.Clone(att))
	if len(a.atts) < a.p.Attachments {
		return Packet{}, false, nil
	}
	p, atts := a.p, a.atts
	a.reset()
	data, err := ReplacePlaceholders(p.Data, atts)
	if err != nil {
		return Packet{}, false, err
	}
	p.Data = data
	return p, true, nil
}

func (a *Assembler) reset() { a.p, a.atts, a.open = Packet{}, nil, false }
