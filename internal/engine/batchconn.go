package engine

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// BatchConn is a network connection whose writes can be batched: between BeginBatch and EndBatch
// they go to a buffer that EndBatch flushes with one system call, so a burst of frames costs one
// write(2) instead of one per frame. The buffer is borrowed from a pool for the batch only, so an
// idle connection holds none. It also records when bytes last arrived (LastRead), which tells a
// live peer that is slow to finish a large message from a dead one.
type BatchConn struct {
	net.Conn
	lastRead atomic.Int64 // unix nanoseconds

	mu sync.Mutex
	bw *bufio.Writer // non-nil during a batch
}

// NewBatchConn wraps c.
func NewBatchConn(c net.Conn) *BatchConn {
	b := &BatchConn{Conn: c}
	b.Touch()
	return b
}

var batchBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// Read reads from the connection and records the time when bytes arrived.
func (b *BatchConn) Read(p []byte) (int, error) {
	n, err := b.Conn.Read(p)
	if n > 0 {
		b.Touch()
	}
	return n, err
}

// Touch records now as the time of the last sign of life.
func (b *BatchConn) Touch() { b.lastRead.Store(time.Now().UnixNano()) }

// LastRead returns when bytes last arrived (or Touch was called).
func (b *BatchConn) LastRead() time.Time { return time.Unix(0, b.lastRead.Load()) }

// Write writes p, into the batch buffer during a batch.
func (b *BatchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bw != nil {
		return b.bw.Write(p)
	}
	return b.Conn.Write(p)
}

// BeginBatch starts buffering writes.
func (b *BatchConn) BeginBatch() {
	bw := batchBuffers.Get().(*bufio.Writer)
	bw.Reset(b.Conn)
	b.mu.Lock()
	b.bw = bw
	b.mu.Unlock()
}

// EndBatch flushes the buffered writes and stops buffering.
func (b *BatchConn) EndBatch() error {
	b.mu.Lock()
	bw := b.bw
	b.bw = nil
	b.mu.Unlock()
	if bw == nil {
		return nil
	}
	err := bw.Flush()
	bw.Reset(nil)
	batchBuffers.Put(bw)
	return err
}
