package mockserver

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// batchConn is the network connection under a socket's WebSocket. Between beginBatch and endBatch
// its writes go to a buffer that endBatch flushes with one system call, so a burst of frames costs
// one write(2) instead of one per frame. Outside a batch, writes go straight through.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	bw       *bufio.Writer
	batching bool
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batching {
		return b.bw.Write(p)
	}
	return b.Conn.Write(p)
}

func (b *batchConn) beginBatch() {
	b.mu.Lock()
	if b.bw == nil {
		b.bw = bufio.NewWriterSize(b.Conn, 32<<10)
	}
	b.batching = true
	b.mu.Unlock()
}

func (b *batchConn) endBatch() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		return nil
	}
	b.batching = false
	return b.bw.Flush()
}

// batchingWriter hands the WebSocket upgrader a batchConn when it hijacks the connection.
type batchingWriter struct {
	http.ResponseWriter
	conn *batchConn
}

func (w *batchingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &batchConn{Conn: nc}
	return w.conn, brw, nil
}
