package engine

// streamBounds follows the bytes a client's WebSocket connection receives (an HTTP response head,
// then frames: RFC 6455 §5.2) and tells where each head and each frame ends, so that BatchConn
// never hands a reader bytes past one. Once a reader above (gorilla/websocket and its bufio.Reader)
// has taken a whole message, it then holds nothing of the next: when the connection has nothing
// pending either, the next frame can only come from the network, and the session's reader may wait
// for it holding no buffer and on a small stack (Session.readLoop).
//
// The heads end at each "\r\n\r\n" (a proxy's answer to CONNECT, then the 101: neither has a body);
// after the 101 (startFrames), the frames end where their header says: 2 bytes, then 2 or 8 bytes
// of extended length, then 4 of mask key if the mask bit is set (a server must not set it, and
// gorilla then fails the connection; the bounds only need to stay where gorilla reads), then the
// payload. The bounds only cut reads short; they never change the bytes, so bounds out of step
// with the stream (a TLS stream: its records are not frames, so it never starts them) cost extra
// reads, never data.
type streamBounds struct {
	mode    boundsMode
	crlf    uint8  // heads: how much of "\r\n\r\n" ends the bytes so far
	started bool   // frames: the current frame has begun (a header byte went out) and not ended
	hn      uint8  // frames: bytes of the current frame's header seen, while in the header
	need    uint8  // frames: the length of the current frame's header, once hn >= 2
	ext     uint8  // frames: the bytes of extended payload length in that header (0, 2 or 8)
	plen    uint64 // frames: the payload length, as its header is read
	remain  uint64 // frames: payload bytes of the current frame not handed out yet
}

type boundsMode uint8

const (
	boundsOff    boundsMode = iota // no bounds (a TLS stream, or a connection not a client's WebSocket)
	boundsHeads                    // HTTP heads, up to each "\r\n\r\n"
	boundsFrames                   // WebSocket frames from a server
)

// startFrames: the 101 head has been read; frames follow.
func (b *streamBounds) startFrames() {
	if b.mode == boundsHeads {
		*b = streamBounds{mode: boundsFrames}
	}
}

// atFrameStart reports whether the bytes handed out so far end a frame.
func (b *streamBounds) atFrameStart() bool { return b.mode == boundsFrames && !b.started }

// take returns how many of p's bytes (the next of the stream, len(p) > 0) may go out in one read
// without passing the end of a head or frame, at least one, and moves past them.
func (b *streamBounds) take(p []byte) int {
	switch b.mode {
	case boundsHeads:
		const end = "\r\n\r\n"
		for i, c := range p {
			switch {
			case c == end[b.crlf]:
				b.crlf++
			case c == '\r':
				b.crlf = 1
			default:
				b.crlf = 0
			}
			if b.crlf == 4 {
				b.crlf = 0
				return i + 1
			}
		}
		return len(p)
	case boundsFrames:
		n := 0
		for n < len(p) {
			if b.remain > 0 { // in the payload
				k := min(uint64(len(p)-n), b.remain)
				n += int(k)
				b.remain -= k
				if b.remain == 0 {
					b.started = false
				}
				return n
			}
			c := p[n] // a header byte
			n++
			b.started = true
			switch {
			case b.hn == 1:
				b.need, b.ext = 2, 0
				switch l := c & 0x7f; l {
				case 126:
					b.ext = 2
				case 127:
					b.ext = 8
				default:
					b.plen = uint64(l)
				}
				b.need += b.ext
				if c&0x80 != 0 {
					b.need += 4 // the mask key
				}
			case b.hn >= 2 && b.hn < 2+b.ext:
				b.plen = b.plen<<8 | uint64(c)
			}
			b.hn++
			if b.hn >= 2 && b.hn == b.need { // the header is complete
				b.remain, b.hn, b.need, b.plen = b.plen, 0, 0, 0
				if b.remain == 0 {
					b.started = false
					return n // an empty frame ends with its header
				}
			}
		}
		return n
	}
	return len(p)
}
