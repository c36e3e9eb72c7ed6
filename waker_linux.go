package sailsio

import (
	"encoding/binary"
	"os"
	"sync/atomic"
	"syscall"
)

// wakerFD is an eventfd, waited for in the runtime's poller.
type wakerFD struct {
	f    *os.File        // owns the descriptor (closes it when collected)
	rc   syscall.RawConn // f's, for waiting without a read that would fail first
	fd   int
	read func(fd uintptr) bool // rc.Read's function, made once
	got  bool                  // the last read took the wake-up
}

// newWakerFD makes an eventfd.
func newWakerFD() (wakerFD, bool) {
	fd, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return wakerFD{}, false
	}
	f := os.NewFile(fd, "sailsio-waker")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return wakerFD{}, false
	}
	w := wakerFD{f: f, rc: rc, fd: int(fd)}
	return w, true
}

// wake adds one to the eventfd's counter: a write that does not block.
func (w *wakerFD) wake() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	syscall.Write(w.fd, one[:]) //nolint:errcheck // an eventfd write of 1 fails only if closed
}

// wait reads the counter back to zero, waiting in the poller until wake; false if reading failed.
// The poller forgets what it saw of the descriptor as a wait begins (RawConn.Read), so a read is
// tried first only once set says a wake-up has begun: before that, the wake-up's write is still to
// come and the poller will see it. Most waits thus begin with no system call.
func (w *wakerFD) wait(set *atomic.Bool) bool {
	w.got = false
	if w.read == nil {
		w.read = func(fd uintptr) bool {
			if !set.Load() {
				return false
			}
			var b [8]byte
			for {
				n, err := syscall.Read(int(fd), b[:])
				switch err {
				case syscall.EINTR:
					continue
				case syscall.EAGAIN: // set, but not written yet: the write is still to come
					return false
				}
				w.got = err == nil && n == len(b)
				return true
			}
		}
	}
	if err := w.rc.Read(w.read); err != nil {
		return false
	}
	return w.got
}
