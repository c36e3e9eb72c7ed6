package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// writeBufferSize is the size of a WebSocket fragment the client writes. ws-based servers (every
// Sails server) refuse a message of more than 16,384 fragments, so a 100 MB message needs fragments
// of at least 6.1 KB; 64 KiB fragments put Sails' whole maxHttpBufferSize within reach. The buffers
// are pooled: an idle connection holds none.
const writeBufferSize = 64 << 10

var writeBuffers sync.Pool

// readBufferSize (batchconn_unix.go, batchconn_other.go) is the size of gorilla's read buffer,
// which each connection keeps for its life. Where BatchConn reads into pooled buffers (unix),
// gorilla's takes its bytes from those: the least gorilla accepts (room for a control frame's
// payload) costs no extra system call. Elsewhere an idle connection reads straight into it: 1 KiB.
// A larger message is read past it either way.

// WebSocketConfig is what DialWebSocket needs.
type WebSocketConfig struct {
	URL        string      // ws:// or wss:// with the handshake query
	Header     http.Header // handshake headers
	TLS        *tls.Config
	MaxMessage int64 // the longest message accepted from the server
}

// HandshakeStatusError is a refused WebSocket upgrade: the server answered with an HTTP status.
type HandshakeStatusError struct {
	Response *http.Response
	Body     []byte // the start of the response body
}

func (e *HandshakeStatusError) Error() string {
	return "websocket: bad handshake: " + e.Response.Status
}

// ErrUpgradeClosed: the server accepted the TCP connection but closed it without answering the upgrade.
var ErrUpgradeClosed = errors.New("the server closed the connection without answering the WebSocket upgrade")

// WebSocket is the WebSocket transport.
type WebSocket struct {
	ws  *websocket.Conn
	net *BatchConn
	max int64 // the read limit
}

// DialWebSocket opens a WebSocket. A cancelled ctx interrupts the dial and the upgrade at once.
// The response of the upgrade (refused or not) goes to onResponse, for cookies.
func DialWebSocket(ctx context.Context, cfg WebSocketConfig, onResponse func(*http.Response)) (*WebSocket, error) {
	t := &WebSocket{max: cfg.MaxMessage}
	plain := !strings.HasPrefix(cfg.URL, "wss:") // TLS records are not frames: no bounds
	var nd net.Dialer
	var stopWatch func() bool
	d := websocket.Dialer{
		Proxy:           http.ProxyFromEnvironment,
		TLSClientConfig: cfg.TLS,
		ReadBufferSize:  readBufferSize,
		WriteBufferPool: &writeBuffers,
		WriteBufferSize: writeBufferSize,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			t.net = NewBatchConn(nc)
			if plain {
				t.net.boundWebSocket()
			}
			// gorilla bounds the upgrade by the context's deadline only; make a cancellation
			// interrupt it too.
			stopWatch = context.AfterFunc(ctx, func() { nc.Close() })
			return t.net, nil
		},
	}
	ws, resp, err := d.DialContext(ctx, cfg.URL, cfg.Header)
	if stopWatch != nil {
		stopWatch()
	}
	if resp != nil && onResponse != nil {
		onResponse(resp)
	}
	if err != nil {
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return nil, &HandshakeStatusError{Response: resp, Body: body}
		}
		if t.net != nil && ctx.Err() == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			return nil, ErrUpgradeClosed
		}
		return nil, err
	}
	ws.SetReadLimit(cfg.MaxMessage)
	t.net.startFrames() // gorilla has read the 101's head, and no further
	t.ws = ws
	return t, nil
}

// Name returns "websocket".
func (t *WebSocket) Name() string { return "websocket" }

// ReadFrame reads the next message. A message over the read limit, and a close frame with status
// 1009 or 1008 (how ws-based servers refuse a message too large or of too many fragments), are
// *ReadError wrapping ErrMessageTooLarge.
func (t *WebSocket) ReadFrame(buf *bytes.Buffer) (bool, error) {
	mt, r, err := t.ws.NextReader()
	if err != nil {
		return false, t.readError(err)
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return false, t.readError(err)
	}
	return mt == websocket.BinaryMessage, nil
}

// readError interprets what gorilla/websocket reports, so the session needs no knowledge of it.
func (t *WebSocket) readError(err error) error {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		return &ReadError{ReasonTransportError, fmt.Errorf("%w: a message exceeded %d bytes", ErrMessageTooLarge, t.max)}
	case errors.As(err, &ce) && ce.Code == websocket.CloseMessageTooBig:
		return &ReadError{ReasonTransportClose, fmt.Errorf("%w: the server closed the connection (1009 message too big)", ErrMessageTooLarge)}
	case errors.As(err, &ce) && ce.Code == websocket.ClosePolicyViolation:
		return &ReadError{ReasonTransportClose, fmt.Errorf("%w: the server closed the connection (1008 policy violation: a message of too many fragments, or too large)", ErrMessageTooLarge)}
	}
	return err
}

// Idle reports whether the next frame is still to come from the network, and whether the
// connection is quiet (BatchConn.Idle).
func (t *WebSocket) Idle() (idle, quiet bool) { return t.net.Idle() }

// Wait waits until bytes arrive, holding no buffer; a failure is the next ReadFrame's.
func (t *WebSocket) Wait() { t.net.Wait() }

// WriteFrames writes text messages, batched into one system call.
func (t *WebSocket) WriteFrames(frames [][]byte, deadline time.Time) error {
	t.ws.SetWriteDeadline(deadline)
	t.net.BeginBatch()
	for _, f := range frames {
		if err := t.ws.WriteMessage(websocket.TextMessage, f); err != nil {
			t.net.EndBatch()
			return err
		}
	}
	return t.net.EndBatch()
}

// CanWriteNow reports whether WriteFramesNow can write without waiting: the connection is a socket.
func (t *WebSocket) CanWriteNow() bool { return t.net.CanWriteNow() }

// WriteFramesNow writes text messages, at most NowLimit bytes in all (with their headers), with one
// system call that does not wait. What the connection did not take at once (complete is false) goes
// out first on the next WriteFrames, which must follow.
func (t *WebSocket) WriteFramesNow(frames [][]byte) (complete bool, err error) {
	t.ws.SetWriteDeadline(time.Time{}) // the write does not wait, and a past deadline would refuse it
	t.net.BeginBatchNow()
	for _, f := range frames {
		if err := t.ws.WriteMessage(websocket.TextMessage, f); err != nil {
			t.net.EndBatchNow()
			return false, err
		}
	}
	return t.net.EndBatchNow()
}

// WriteClose sends a close frame.
func (t *WebSocket) WriteClose(deadline time.Time) {
	t.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), deadline)
}

// LastRead returns when bytes last arrived.
func (t *WebSocket) LastRead() time.Time { return t.net.LastRead() }

// Close cuts the connection.
func (t *WebSocket) Close() error { return t.ws.NetConn().Close() }
