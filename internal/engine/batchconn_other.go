//go:build !unix

package engine

import (
	"net"
	"syscall"
)

// readBufferSize is gorilla's read buffer (websocket.go).
const readBufferSize = 1 << 10

func rawConnOf(net.Conn) syscall.RawConn { return nil }

func (b *BatchConn) readFD(uintptr) bool { return true }
