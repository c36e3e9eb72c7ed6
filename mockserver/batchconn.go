package mockserver

import (
	"bufio"
	"net"
	"net/http"

	"github.com/sailsio-go/sailsio/internal/engine"
)

// batchingWriter hands the WebSocket upgrader a batching connection (the one the client uses too)
// when it hijacks the connection, so that a writer pass's frames cost one write(2).
type batchingWriter struct {
	http.ResponseWriter
	conn *engine.BatchConn
}

func (w *batchingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = engine.NewBatchConn(&fragConn{Conn: nc})
	return w.conn, brw, nil
}
