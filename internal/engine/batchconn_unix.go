//go:build unix

package engine

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// readBufferSize is gorilla's read buffer (websocket.go).
const readBufferSize = 125

// rawConnOf returns the raw connection of c's descriptor, or nil when c has none.
func rawConnOf(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn) // *net.TCPConn, *net.UnixConn
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// readFD reads what arrived on the (non-blocking) descriptor into a pooled buffer. When nothing
// has, it returns the buffer to the pool and reports false: the runtime's poller then parks the
// reader until the descriptor becomes readable, and calls it again. So a waiting read holds no
// buffer. It sets b.ahead and b.pend, or b.readErr, as the read of a net.Conn would end.
func (b *BatchConn) readFD(fd uintptr) bool {
	buf := readAheads.Get().(*[]byte)
	n, err := syscall.Read(int(fd), *buf)
	for err == syscall.EINTR {
		n, err = syscall.Read(int(fd), *buf)
	}
	switch {
	case err == syscall.EAGAIN:
		readAheads.Put(buf)
		if b.waitAt == 0 {
			b.waitAt = time.Now().UnixNano()
		}
		return false
	case err != nil:
		readAheads.Put(buf)
		b.readErr = &net.OpError{Op: "read", Net: b.LocalAddr().Network(), Source: b.LocalAddr(), Addr: b.RemoteAddr(), Err: os.NewSyscallError("read", err)}
	case n == 0:
		readAheads.Put(buf)
		b.readErr = io.EOF
	default:
		b.ahead, b.pend = buf, (*buf)[:n]
	}
	return true
}
