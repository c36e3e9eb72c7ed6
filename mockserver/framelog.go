package mockserver

import (
	"context"
	"sync"
)

// Directions of a logged frame.
const (
	ServerToClient byte = '<'
	ClientToServer byte = '>'
)

// Frame is one WebSocket data frame seen by the server.
type Frame struct {
	SocketID string
	Dir      byte   // ServerToClient ('<') or ClientToServer ('>')
	Data     []byte // the frame's payload as on the wire
}

// String returns the frame as "<socketID> <dir> <data>".
func (f Frame) String() string { return f.SocketID + " " + string(f.Dir) + " " + string(f.Data) }

// FrameRecorder keeps every frame the server logs; pass its Log method to WithFrameLog. The zero
// value is ready to use and it is safe for concurrent use.
type FrameRecorder struct {
	mu     sync.Mutex
	frames []Frame
	wake   chan struct{} // closed (and replaced) at every new frame
}

// Log records a frame; its signature fits WithFrameLog.
func (r *FrameRecorder) Log(socketID string, dir byte, frame []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, Frame{SocketID: socketID, Dir: dir, Data: frame})
	if r.wake != nil {
		close(r.wake)
		r.wake = nil
	}
}

// Frames returns the frames recorded so far for socketID (every socket when socketID is ""), in
// the order they were logged.
func (r *FrameRecorder) Frames(socketID string) []Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Frame
	for _, f := range r.frames {
		if socketID == "" || f.SocketID == socketID {
			out = append(out, f)
		}
	}
	return out
}

// Wait returns the first recorded frame, already logged or still to come, for which match
// returns true, or ctx.Err() if ctx ends first.
func (r *FrameRecorder) Wait(ctx context.Context, match func(Frame) bool) (Frame, error) {
	seen := 0
	for {
		r.mu.Lock()
		if seen > len(r.frames) {
			seen = 0 // Reset was called
		}
		fresh := r.frames[seen:len(r.frames):len(r.frames)]
		seen = len(r.frames)
		if r.wake == nil {
			r.wake = make(chan struct{})
		}
		ch := r.wake
		r.mu.Unlock()
		for _, f := range fresh {
			if match(f) {
				return f, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		}
	}
}

// Reset forgets every recorded frame.
func (r *FrameRecorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = nil
}
