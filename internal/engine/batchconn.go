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

	// Owned by the reader (Read).
	ahead *[]byte // the pooled read-ahead buffer, while busy
	pend  []byte  // its bytes not read yet
	busy  bool    // the last read filled its buffer: more is likely waiting

	mu sync.Mutex
	bw *bufio.Writer // non-nil during a batch
	// rest is what a write without waiting (EndBatchNow) left unwritten: it goes out before any
	// other byte. Guarded by mu.
	rest []byte

	now      *nowWriter // how this connection writes without waiting; nil: it cannot
	nowBatch bool       // the batch in progress ends with EndBatchNow
}

// NewBatchConn wraps c.
func NewBatchConn(c net.Conn) *BatchConn {
	b := &BatchConn{Conn: c}
	b.now = newNowWriter(c)
	b.Touch()
	return b
}

var batchBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// readAheadSize is the read-ahead buffer of a busy connection.
const readAheadSize = 32 << 10

var readAheads = sync.Pool{New: func() any { b := make([]byte, readAheadSize); return &b }}

// Read reads from the connection and records the time when bytes arrived. An idle connection reads
// straight into the caller's (small) buffer; once a read fills it — a burst is arriving — reads go
// through a pooled read-ahead buffer, returned to the pool as soon as a read finds the connection
// drained. So a busy connection makes few system calls, and an idle one holds no large buffer.
// Read is called from one goroutine at a time (the reader).
func (b *BatchConn) Read(p []byte) (int, error) {
	if len(b.pend) > 0 {
		n := copy(p, b.pend)
		b.pend = b.pend[n:]
		if len(b.pend) == 0 && !b.busy {
			b.releaseReadAhead()
		}
		return n, nil
	}
	if !b.busy || len(p) >= readAheadSize {
		n, err := b.Conn.Read(p)
		if n > 0 {
			b.Touch()
		}
		b.busy = n == len(p)
		if !b.busy {
			b.releaseReadAhead()
		}
		return n, err
	}
	if b.ahead == nil {
		b.ahead = readAheads.Get().(*[]byte)
	}
	buf := *b.ahead
	n, err := b.Conn.Read(buf)
	if n > 0 {
		b.Touch()
	}
	c := copy(p, buf[:n])
	b.pend = buf[c:n]
	b.busy = n == len(buf)
	if len(b.pend) == 0 && !b.busy {
		b.releaseReadAhead()
	}
	return c, err
}

func (b *BatchConn) releaseReadAhead() {
	if b.ahead != nil {
		readAheads.Put(b.ahead)
		b.ahead, b.pend = nil, nil
	}
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
	return b.writeOut(p)
}

// writeOut writes p to the connection, after what an earlier EndBatchNow left. b.mu is held.
func (b *BatchConn) writeOut(p []byte) (int, error) {
	if len(b.rest) > 0 {
		if _, err := b.Conn.Write(b.rest); err != nil {
			return 0, err
		}
		b.rest = nil
	}
	return b.Conn.Write(p)
}

// outConn is a BatchConn as the destination of a blocking batch: what an earlier EndBatchNow left
// goes first.
type outConn BatchConn

func (o *outConn) Write(p []byte) (int, error) { return (*BatchConn)(o).writeOut(p) }

// BeginBatch starts buffering writes.
func (b *BatchConn) BeginBatch() {
	bw := batchBuffers.Get().(*bufio.Writer)
	b.mu.Lock()
	bw.Reset((*outConn)(b))
	b.bw = bw
	b.nowBatch = false
	b.mu.Unlock()
}

// EndBatch flushes the buffered writes and stops buffering.
func (b *BatchConn) EndBatch() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	bw := b.bw
	b.bw = nil
	if bw == nil {
		return nil
	}
	err := bw.Flush()
	bw.Reset(nil)
	batchBuffers.Put(bw)
	return err
}

// CanWriteNow reports whether the connection can write without waiting (BeginBatchNow).
func (b *BatchConn) CanWriteNow() bool { return b.now != nil }

// BeginBatchNow starts a batch that EndBatchNow writes without waiting. The batch must fit the
// batch buffer (NowLimit bytes): it is written by EndBatchNow only. Only when CanWriteNow.
func (b *BatchConn) BeginBatchNow() {
	bw := batchBuffers.Get().(*bufio.Writer)
	b.mu.Lock()
	bw.Reset((*nowConn)(b))
	b.bw = bw
	b.nowBatch = true
	b.mu.Unlock()
}

// NowLimit is the most a batch written without waiting may hold: the batch buffer's size, so that
// nothing is written before EndBatchNow.
const NowLimit = 32 << 10

// EndBatchNow writes the batch with one system call that does not wait: what the connection does
// not take at once stays in the BatchConn and goes out first on the next write, which the caller
// must then make (EndBatch of an empty batch) from a goroutine that may wait. complete reports
// that everything was written.
func (b *BatchConn) EndBatchNow() (complete bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bw := b.bw
	b.bw = nil
	if bw == nil {
		return len(b.rest) == 0, nil
	}
	err = bw.Flush()
	bw.Reset(nil)
	batchBuffers.Put(bw)
	return len(b.rest) == 0, err
}

// nowConn is a BatchConn as the destination of a batch written without waiting.
type nowConn BatchConn

func (c *nowConn) Write(p []byte) (int, error) {
	b := (*BatchConn)(c)
	if len(b.rest) > 0 { // an earlier write did not finish: keep the order
		b.rest = append(b.rest, p...)
		return len(p), nil
	}
	n, err := b.now.write(p)
	if err != nil {
		return n, err
	}
	if n < len(p) {
		b.rest = append([]byte(nil), p[n:]...)
	}
	return len(p), nil
}
