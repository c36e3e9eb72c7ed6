package sailsio

import (
	"encoding/binary"
	"os"
	"syscall"
)

// wakerFD is an eventfd, read through the runtime's poller.
type wakerFD struct {
	f  *os.File
	fd int
}

func newWakerFD() (wakerFD, bool) {
	fd, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return wakerFD{}, false
	}
	return wakerFD{f: os.NewFile(fd, "sailsio-waker"), fd: int(fd)}, true
}

// wake adds one to the eventfd's counter: a write that does not block.
func (w *wakerFD) wake() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	syscall.Write(w.fd, one[:]) //nolint:errcheck // an eventfd write of 1 fails only if closed
}

// wait reads the counter back to zero, waiting in the poller until wake; false if reading failed.
func (w *wakerFD) wait() bool {
	var b [8]byte
	n, err := w.f.Read(b[:])
	return err == nil && n == len(b)
}
