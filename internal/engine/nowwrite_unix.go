//go:build unix

package engine

import (
	"os"
	"syscall"
)

// nowWriter writes to a socket with a single write(2) that does not wait: the socket is in
// non-blocking mode (the Go runtime's poller put it there), so the system call takes what fits in
// the socket's send buffer and returns.
type nowWriter struct {
	fn  func(fd uintptr) bool // do, bound once
	p   []byte                // the bytes of the write in progress
	n   int
	err error
}

// canWriteNow: a socket can be written without waiting here.
const canWriteNow = true

func newNowWriter() *nowWriter {
	w := &nowWriter{}
	w.fn = w.do
	return w
}

func (w *nowWriter) do(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), w.p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			w.n, w.err = 0, nil
		case err != nil:
			w.n, w.err = 0, err
		default:
			w.n, w.err = n, nil
		}
		return true // never wait for the socket to become writable
	}
}

// write writes what the socket rc takes of p at once. Calls are serialized by the BatchConn's mutex.
func (w *nowWriter) write(rc syscall.RawConn, p []byte) (int, error) {
	w.p = p
	err := rc.Write(w.fn) // fails only if the socket is closed or its write deadline passed
	w.p = nil
	switch {
	case err != nil:
		return 0, err
	case w.err != nil:
		return 0, os.NewSyscallError("write", w.err)
	}
	return w.n, nil
}
