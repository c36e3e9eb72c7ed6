package mockserver

import (
	"errors"
	"net"
	"time"

	"github.com/gorilla/websocket"
)

// MaxMessageFragments is the most WebSocket frames one message may be made of: the maxFragments
// of the ws server under both sails-hook-sockets generations (16 * 1024). A message of more
// frames makes the server close the WebSocket with status 1008 (policy violation), as ws does.
const MaxMessageFragments = 16 * 1024

// errTooManyFragments ends the read side of a connection whose client sent a message of more than
// MaxMessageFragments frames.
var errTooManyFragments = errors.New("mockserver: too many message fragments")

// fragmentCounter follows the frame headers of a client's byte stream (gorilla/websocket does not
// expose frames) and counts the data frames of the current message.
type fragmentCounter struct {
	hdr     [14]byte
	have    int   // header bytes collected
	need    int   // header bytes needed (2 until the length is known)
	payload int64 // payload bytes of the current frame still to skip
	frames  int   // data frames of the current message so far
}

// feed consumes p and reports false once a message has more than MaxMessageFragments frames.
func (f *fragmentCounter) feed(p []byte) bool {
	for len(p) > 0 {
		if f.payload > 0 {
			n := int64(len(p))
			if n > f.payload {
				n = f.payload
			}
			f.payload -= n
			p = p[n:]
			continue
		}
		if f.need == 0 {
			f.need = 2
		}
		for f.have < f.need && len(p) > 0 {
			f.hdr[f.have] = p[0]
			f.have++
			p = p[1:]
		}
		if f.have < f.need {
			return true
		}
		if f.need == 2 {
			need := 2
			switch f.hdr[1] & 0x7f {
			case 126:
				need += 2
			case 127:
				need += 8
			}
			if f.hdr[1]&0x80 != 0 {
				need += 4 // mask key
			}
			if need > 2 {
				f.need = need
				continue
			}
		}
		// A whole header.
		var length int64
		switch l := f.hdr[1] & 0x7f; l {
		case 126:
			length = int64(f.hdr[2])<<8 | int64(f.hdr[3])
		case 127:
			for i := 2; i < 10; i++ {
				length = length<<8 | int64(f.hdr[i])
			}
		default:
			length = int64(l)
		}
		fin, opcode := f.hdr[0]&0x80 != 0, f.hdr[0]&0x0f
		f.have, f.need, f.payload = 0, 0, length
		if opcode >= 8 {
			continue // control frames are not fragments
		}
		f.frames++
		if f.frames > MaxMessageFragments {
			return false
		}
		if fin {
			f.frames = 0
		}
	}
	return true
}

// fragConn is the network connection under a WebSocket (and its batching writer): its reads
// stop, with errTooManyFragments, at a message of too many frames. Only the WebSocket's reader
// reads it.
type fragConn struct {
	net.Conn
	frag    fragmentCounter
	tooMany bool
}

func (f *fragConn) Read(p []byte) (int, error) {
	if f.tooMany {
		return 0, errTooManyFragments
	}
	n, err := f.Conn.Read(p)
	if n > 0 && !f.frag.feed(p[:n]) {
		f.tooMany = true
		return 0, errTooManyFragments
	}
	return n, err
}

// refuseFragments answers a message of too many frames as ws does: a close frame with status
// 1008 and no reason; the connection ends when the client closes it, or after closeGrace.
func (c *conn) refuseFragments() {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, ""), time.Now().Add(writeWait))
	c.w.Stop()
	// Drain what the client still sends, so the close frame is not lost to a reset.
	raw := c.bc.Conn
	if f, ok := raw.(*fragConn); ok {
		raw = f.Conn
	}
	_ = raw.SetReadDeadline(time.Now().Add(closeGrace))
	buf := make([]byte, 32<<10)
	for {
		if _, err := raw.Read(buf); err != nil {
			return
		}
	}
}
