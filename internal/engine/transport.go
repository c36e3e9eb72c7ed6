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
