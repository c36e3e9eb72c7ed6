package engine

import (
	"bytes"
	"time"
)

// Transport carries Engine.IO frames between the client and the server. The session calls
// ReadFrame from one goroutine (the reader) and WriteFrames from one goroutine at a time (the
// writer); Close may be called from any goroutine, at any time, more than once, and makes both
// return promptly.
type Transport interface {
	// Name is the Engine.IO name of the transport ("websocket", "polling").
	Name() string
	// ReadFrame reads the next frame into buf (reset first) and reports whether it is binary.
	ReadFrame(buf *bytes.Buffer) (binary bool, err error)
	// WriteFrames writes text frames in order, as few system calls as the transport allows, and
	// fails once deadline passes.
	WriteFrames(frames [][]byte, deadline time.Time) error
	// WriteClose tells the peer the transport closes, best effort, within deadline.
	WriteClose(deadline time.Time)
	// LastRead returns when bytes last arrived: any byte is a sign of life.
	LastRead() time.Time
	// Close cuts the transport at once.
	Close() error
}

// NowWriter is a Transport that can write small frames without waiting (WebSocket over a socket), so
// that a request's caller writes its own frame instead of starting a writer goroutine.
type NowWriter interface {
	// CanWriteNow reports whether WriteFramesNow works on this connection.
	CanWriteNow() bool
	// WriteFramesNow writes text frames of at most NowLimit bytes in all with one system call that
	// does not wait. When the connection does not take them all at once, complete is false and the
	// next WriteFrames, which the caller must make, writes the rest first.
	WriteFramesNow(frames [][]byte) (complete bool, err error)
}
