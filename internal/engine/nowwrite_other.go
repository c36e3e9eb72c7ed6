//go:build !unix

package engine

import (
	"errors"
	"syscall"
)

// nowWriter is not available here (CanWriteNow is false): every batch is written by a goroutine
// that may wait.
type nowWriter struct{}

const canWriteNow = false

func newNowWriter() *nowWriter { return &nowWriter{} }

func (*nowWriter) write(syscall.RawConn, []byte) (int, error) {
	return 0, errors.New("sailsio: writing without waiting is not supported on this platform")
}
