package engine

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// BatchConn is a network connection whose writes can be batched: between BeginBatch and EndBatch
// they go to a buffer that EndBatch flushes with one system call, so a burst of frames costs one
// write(2) instead of one per frame. The buffer is borrowed from a pool for the batch only, so an
// idle connection holds none. It also records when bytes last arrived (LastRead), which tells a
// live peer that is slow to finish a large message from a dead one.
//
// Reads hold no buffer while they wait either. On unix, over a connection with a file descriptor
// (a TCP connection), a read waits for the descriptor to become readable, then reads what arrived
// into a pooled buffer that goes back to the pool once handed out (readFD). Elsewhere an idle
// connection reads straight into the caller's buffer and a busy one through the pooled buffer.
//
// A client's WebSocket connection also follows the stream's HTTP heads and frames (streamBounds):
// no read hands out bytes past the end of one, so once the reader above has taken a whole message,
// Idle tells whether the next frame is still to come from the network.
type BatchConn struct {
	net.Conn
	lastRead atomic.Int64 // unix nanoseconds

	// Owned by the reader (Read, Idle, Wait).
	raw     syscall.RawConn       // unix: reads wait for the descriptor (readFD); nil: Conn.Read
	readFn  func(fd uintptr) bool // b.readFD, made once
	ahead   *[]byte               // the pooled read-ahead buffer, while it holds bytes
	pend    []byte                // its bytes not read yet
	readErr error                 // the error of readFD's read; after Wait, for the next Read
	waitAt  int64                 // readFD: when it found nothing to read (unix nanoseconds), or 0
	bounds  streamBounds
	busy    bool // (Conn.Read) the last read filled its buffer: more is likely waiting
	quiet   bool // the last bytes came after a wait of quietAfter or more

	mu sync.Mutex
	bw *bufio.Writer // non-nil during a batch
	// rest is what a write without waiting (EndBatchNow) left unwritten: it goes out before any
	// other byte. Guarded by mu.
	rest []byte

	now      *nowWriter // the state of a write without waiting; made on first use
	nowBatch bool       // the batch in progress ends with EndBatchNow
}

// quietAfter is the wait for bytes, in nanoseconds, after which a connection counts as idle (quiet)
// rather than in the middle of an exchange: a second (tests shorten it).
var quietAfter atomic.Int64

func init() { quietAfter.Store(int64(time.Second)) }

// NewBatchConn wraps c.
func NewBatchConn(c net.Conn) *BatchConn {
	b := &BatchConn{Conn: c, quiet: true}
	b.raw = rawConnOf(c)
	if b.raw != nil {
		b.readFn = b.readFD
	}
	b.Touch()
	return b
}

var batchBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// readAheadSize is the size of the pooled read buffers.
const readAheadSize = 32 << 10

var readAheads = sync.Pool{New: func() any { b := make([]byte, readAheadSize); return &b }}

// boundWebSocket makes the reads of a client's plain WebSocket connection stop at the end of each
// HTTP head (before the 101) and, after startFrames, of each frame. Only with reads that wait for
// the descriptor: a read straight into the caller's buffer cannot be bounded.
func (b *BatchConn) boundWebSocket() {
	if b.raw != nil {
		b.bounds.mode = boundsHeads
	}
}

// startFrames: the 101 head has been read; frames follow.
func (b *BatchConn) startFrames() { b.bounds.startFrames() }

// Read reads from the connection and records the time when bytes arrived. Read is called from one
// goroutine at a time (the reader).
func (b *BatchConn) Read(p []byte) (int, error) {
	if b.raw == nil {
		return b.readConn(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(b.pend) == 0 {
		if err := b.readErr; err != nil { // Wait's
			b.readErr = nil
			return 0, err
		}
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := b.bounds.take(b.pend[:min(len(p), len(b.pend))])
	copy(p, b.pend[:n])
	b.pend = b.pend[n:]
	if len(b.pend) == 0 {
		b.releaseReadAhead()
	}
	return n, nil
}

// Idle reports whether the next frame is still to come from the network: the reader above holds
// nothing of it and neither does the connection (a plain WebSocket on unix only; otherwise it is
// never sure, and reports false). quiet tells whether the last bytes came after a long wait: the
// connection idles, rather than waits for the next message of an exchange.
func (b *BatchConn) Idle() (idle, quiet bool) {
	return len(b.pend) == 0 && b.readErr == nil && b.bounds.atFrameStart(), b.quiet
}

// Wait waits until bytes arrive, holding no buffer meanwhile; if the read fails, the next Read
// reports it. Only while Idle.
func (b *BatchConn) Wait() {
	if b.raw == nil || len(b.pend) > 0 || b.readErr != nil {
		return
	}
	b.readErr = b.fill()
}

// fill waits for bytes and reads them into a pooled buffer (b.ahead, b.pend). b.readErr is nil.
func (b *BatchConn) fill() error {
	b.waitAt = 0
	err := b.raw.Read(b.readFn)
	if err == nil {
		err, b.readErr = b.readErr, nil
	}
	if err != nil {
		return err
	}
	now := b.Touch()
	b.quiet = b.waitAt != 0 && now-b.waitAt >= quietAfter.Load()
	return nil
}

// readConn is Read through Conn.Read: an idle connection reads straight into the caller's (small)
// buffer; once a read fills it — a burst is arriving — reads go through a pooled read-ahead
// buffer, returned to the pool as soon as a read finds the connection drained. So a busy
// connection makes few system calls, and an idle one holds no large buffer.
func (b *BatchConn) readConn(p []byte) (int, error) {
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

// Touch records now as the time of the last sign of life, and returns it.
func (b *BatchConn) Touch() int64 {
	now := time.Now().UnixNano()
	b.lastRead.Store(now)
	return now
}

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

// CanWriteNow reports whether the connection can write without waiting (BeginBatchNow): it has a
// descriptor, on unix.
func (b *BatchConn) CanWriteNow() bool { return b.raw != nil && canWriteNow }

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
	if b.now == nil {
		b.now = newNowWriter()
	}
	n, err := b.now.write(b.raw, p)
	if err != nil {
		return n, err
	}
	if n < len(p) {
		b.rest = append([]byte(nil), p[n:]...)
	}
	return len(p), nil
}
