package sailsio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sailsio-go/sailsio/internal/wire"
)

// conn is one WebSocket connection with its Engine.IO session and Socket.IO namespace connection.
// Its reader goroutine decodes frames and schedules callbacks; its writer goroutine owns all writes;
// under EIO3 a pinger goroutine sends the heartbeat.
type conn struct {
	s         *SailsSocket
	ws        *websocket.Conn
	eio       Protocol
	open      wire.Open
	id        string        // the Socket.IO socket id
	heartbeat time.Duration // pingInterval + pingTimeout: the longest silence of a live connection

	pmu     sync.Mutex
	pending map[int64]*request
	nextID  int64

	omu     sync.Mutex
	out     [][]byte
	spare   [][]byte
	closing bool
	wake    chan struct{}

	lastSeen atomic.Int64 // unix nanoseconds of the last frame read or handled: liveness
	net      *liveConn    // under ws (below TLS, if any)

	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	started bool

	// Reader-only state: a binary packet waiting for its attachments.
	partial *wire.Packet
	atts    [][]byte
}

// dial opens a connection and completes the handshake, within ctx and the connect timeout.
func (s *SailsSocket) dial(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.connectTimeout)
	defer cancel()
	c := &conn{
		s:       s,
		eio:     s.opts.protocol,
		pending: make(map[int64]*request),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	var nd net.Dialer
	var stopWatch func() bool
	d := websocket.Dialer{
		Proxy:           http.ProxyFromEnvironment,
		TLSClientConfig: s.opts.tlsConfig,
		// Every byte received is a sign of life, even in the middle of a large message.
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			c.net = &liveConn{Conn: nc, seen: &c.lastSeen}
			// gorilla bounds the upgrade by the context's deadline only; make a cancellation
			// (Disconnect, Reconnect) interrupt it too.
			stopWatch = context.AfterFunc(ctx, func() { nc.Close() })
			return c.net, nil
		},
	}
	ws, resp, err := d.DialContext(ctx, s.wsURL, s.handshakeHeader())
	if stopWatch != nil {
		stopWatch()
	}
	if resp != nil && s.opts.jar != nil {
		if cookies := resp.Cookies(); len(cookies) > 0 {
			s.opts.jar.SetCookies(s.httpURL, cookies)
		}
	}
	if err != nil {
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			return nil, &HandshakeError{StatusCode: resp.StatusCode, Body: string(bytes.TrimSpace(body))}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sailsio: connect %s: %w", s.httpURL.Host, ctx.Err())
		}
		return nil, fmt.Errorf("sailsio: connect %s: %w", s.httpURL.Host, err)
	}
	ws.SetReadLimit(s.opts.maxMessageSize)
	c.ws = ws
	if err := c.handshake(ctx); err != nil {
		ws.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sailsio: connect %s: %w", s.httpURL.Host, ctx.Err())
		}
		return nil, err
	}
	return c, nil
}

// liveConn is the network connection under the WebSocket. It records when bytes last arrived
// (liveness), and lets the writer batch frames: between beginBatch and endBatch, writes go to a
// buffer that endBatch flushes with one system call.
type liveConn struct {
	net.Conn
	seen *atomic.Int64

	wmu      sync.Mutex
	bw       *bufio.Writer
	batching bool
}

func (l *liveConn) Read(p []byte) (int, error) {
	n, err := l.Conn.Read(p)
	if n > 0 {
		l.seen.Store(time.Now().UnixNano())
	}
	return n, err
}

func (l *liveConn) Write(p []byte) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.batching {
		return l.bw.Write(p)
	}
	return l.Conn.Write(p)
}

func (l *liveConn) beginBatch() {
	l.wmu.Lock()
	if l.bw == nil {
		l.bw = bufio.NewWriterSize(l.Conn, 32<<10)
	}
	l.batching = true
	l.wmu.Unlock()
}

func (l *liveConn) endBatch() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.batching = false
	return l.bw.Flush()
}

// handshake reads the open packet and connects the main namespace: under EIO3 the server sends
// `40` by itself and the client must not; under EIO4 the client sends `40` and gets `40{"sid":...}`.
func (c *conn) handshake(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		c.ws.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.ws.NetConn().Close() }) // a cancelled attempt ends now
	defer stop()
	frame, err := c.readText()
	if err != nil {
		return err
	}
	t, payload, err := wire.DecodeEngine(frame)
	if err != nil || t != wire.EngineOpen {
		return errorf(ErrProtocol, "expected an open packet, got %q", truncate(string(frame), 80))
	}
	if c.open, err = wire.DecodeOpen(payload); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	c.heartbeat = c.open.PingIntervalDuration() + c.open.PingTimeoutDuration()
	if c.eio == EIO4 {
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
			return fmt.Errorf("sailsio: connect: %w", err)
		}
	}
	for {
		frame, err := c.readText()
		if err != nil {
			return err
		}
		t, payload, err := wire.DecodeEngine(frame)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		switch t {
		case wire.EngineNoop, wire.EnginePong:
			continue
		case wire.EnginePing:
			if c.eio == EIO4 {
				if err := c.ws.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
					return fmt.Errorf("sailsio: connect: %w", err)
				}
			}
			continue
		case wire.EngineClose:
			return errorf(ErrProtocol, "server closed the session during the handshake")
		case wire.EngineMessage:
		default:
			return errorf(ErrProtocol, "unexpected %v packet during the handshake", t)
		}
		p, err := wire.DecodePacket(payload)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if p.Namespace != "/" {
			continue
		}
		switch p.Type {
		case wire.Connect:
			c.id = c.open.SID
			if c.eio == EIO4 {
				var v struct {
					SID string `json:"sid"`
				}
				if json.Unmarshal(p.Data, &v) != nil || v.SID == "" {
					return errorf(ErrProtocol, "CONNECT reply without a socket id: %q", truncate(string(frame), 80))
				}
				c.id = v.SID
			}
			c.ws.SetReadDeadline(time.Time{})
			c.lastSeen.Store(time.Now().UnixNano())
			return nil
		case wire.ConnectError:
			return connectError(p.Data)
		default:
			return errorf(ErrProtocol, "unexpected %v packet before CONNECT", p.Type)
		}
	}
}

func connectError(data []byte) error {
	e := &ConnectError{Data: append(json.RawMessage(nil), data...)}
	var obj struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &obj) == nil && obj.Message != "" {
		e.Message = obj.Message
	} else if json.Unmarshal(data, &e.Message) != nil {
		e.Message = string(data)
	}
	return e
}

// readText reads the next frame, which must be text.
func (c *conn) readText() ([]byte, error) {
	mt, frame, err := c.ws.ReadMessage()
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			return nil, fmt.Errorf("%w: a message exceeded %d bytes", ErrMessageTooLarge, c.s.opts.maxMessageSize)
		}
		return nil, fmt.Errorf("sailsio: connect: %w", err)
	}
	if mt != websocket.TextMessage {
		return nil, errorf(ErrProtocol, "binary frame during the handshake")
	}
	return frame, nil
}

// start launches the connection's goroutines. Caller holds s.mu.
func (c *conn) start() {
	c.started = true
	c.wg.Add(3)
	go c.readLoop()
	go c.writeLoop()
	go c.heartbeatLoop()
}

// wait waits for the connection's goroutines.
func (c *conn) wait() {
	c.wg.Wait()
}

// send puts r on the wire with the next ack id. Caller holds s.mu, which keeps frames in call order.
func (c *conn) send(r *request) {
	c.pmu.Lock()
	id := c.nextID
	// Write "42<id>" right before the payload, in the headroom newRequest left for it.
	var num [20]byte
	digits := strconv.AppendInt(num[:0], id, 10)
	start := frameHeadroom - 2 - len(digits)
	frame := r.payload[start:]
	if max := c.open.MaxPayload; max > 0 && int64(len(frame)) > max {
		c.pmu.Unlock()
		r.complete(nil, fmt.Errorf("%w: request of %d bytes exceeds the server's maxPayload of %d", ErrMessageTooLarge, len(frame), max))
		return
	}
	c.nextID++
	c.pending[id] = r
	c.pmu.Unlock()
	r.conn, r.id = c, id
	frame[0], frame[1] = '4', '2'
	copy(frame[2:], digits)
	c.push(frame)
}

// forget removes a pending request (timed out or cancelled); a late ack for it is ignored.
func (c *conn) forget(id int64) {
	c.pmu.Lock()
	delete(c.pending, id)
	c.pmu.Unlock()
}

// failPending fails every request in flight on c.
func (c *conn) failPending(err error) {
	c.pmu.Lock()
	pending := c.pending
	c.pending = make(map[int64]*request)
	c.pmu.Unlock()
	// In ack-id order, which is send order.
	ids := make([]int64, 0, len(pending))
	for id := range pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		pending[id].complete(nil, err)
	}
}

// push queues a frame for the writer.
func (c *conn) push(frame []byte) {
	c.omu.Lock()
	c.out = append(c.out, frame)
	c.omu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// closeGracefully tells the server (41) and closes the WebSocket, or cuts the connection if it was
// never started.
func (c *conn) closeGracefully() {
	if !c.started {
		c.fail(ReasonClientDisconnect, nil)
		return
	}
	c.omu.Lock()
	c.out = append(c.out, []byte("41"))
	c.closing = true
	c.omu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// fail ends the connection once: the network connection is closed, which ends the goroutines, and
// the socket learns why (unless Disconnect or Reconnect already detached this connection).
func (c *conn) fail(reason string, cause error) {
	c.once.Do(func() {
		close(c.done)
		c.ws.NetConn().Close()
		c.s.connLost(c, reason, cause)
	})
}

const (
	closeWriteTimeout = 2 * time.Second
	maxKeptReadBuffer = 64 << 10
)

func (c *conn) writeLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		runtime.Gosched() // let the other requests of a burst add their frames to this batch
		c.omu.Lock()
		batch, closing := c.out, c.closing
		c.out, c.spare = c.spare[:0], nil
		c.omu.Unlock()
		deadline := time.Now().Add(c.heartbeat)
		if closing {
			deadline = time.Now().Add(closeWriteTimeout)
		}
		c.ws.SetWriteDeadline(deadline)
		c.net.beginBatch()
		for i, frame := range batch {
			if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
				c.net.endBatch()
				c.fail(ReasonTransportError, err)
				return
			}
			batch[i] = nil
		}
		if err := c.net.endBatch(); err != nil {
			c.fail(ReasonTransportError, err)
			return
		}
		if closing {
			c.ws.WriteMessage(websocket.CloseMessage, nil)
			c.fail(ReasonClientDisconnect, nil)
			return
		}
		c.omu.Lock()
		if c.spare == nil {
			c.spare = batch[:0]
		}
		c.omu.Unlock()
	}
}

// heartbeatLoop sends the EIO3 heartbeat (the client pings every pingInterval; under EIO4 the
// reader answers the server's pings) and ends the connection when nothing arrived for
// pingInterval+pingTimeout. Any byte received counts as a sign of life, and so does the time the
// reader spends handling a frame, so a large message is never mistaken for a dead server.
func (c *conn) heartbeatLoop() {
	defer c.wg.Done()
	var ping <-chan time.Time
	if c.eio == EIO3 {
		t := time.NewTicker(c.open.PingIntervalDuration())
		defer t.Stop()
		ping = t.C
	}
	check := time.NewTimer(c.heartbeat)
	defer check.Stop()
	for {
		select {
		case <-ping:
			c.push([]byte("2"))
		case <-check.C:
			idle := time.Since(time.Unix(0, c.lastSeen.Load()))
			if idle >= c.heartbeat {
				c.fail(ReasonPingTimeout, fmt.Errorf("sailsio: no heartbeat for %v (pingInterval+pingTimeout)", idle.Round(time.Millisecond)))
				return
			}
			check.Reset(c.heartbeat - idle)
		case <-c.done:
			return
		}
	}
}

func (c *conn) readLoop() {
	defer c.wg.Done()
	// One buffer for every frame: what outlives a frame (bodies, event payloads, attachments) is
	// copied out of it by the decoders.
	var buf bytes.Buffer
	for {
		mt, r, err := c.ws.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			c.fail(classify(err, c.s.opts.maxMessageSize))
			return
		}
		c.handleFrame(mt, buf.Bytes())
		select {
		case <-c.done: // the frame ended the connection: what gorilla still buffers is not for us
			return
		default:
		}
		c.lastSeen.Store(time.Now().UnixNano()) // handling time is not silence
		if buf.Cap() > maxKeptReadBuffer {
			buf = bytes.Buffer{} // do not keep a large message's memory for the connection's life
		}
	}
}

func (c *conn) handleFrame(mt int, frame []byte) {
	{
		if mt == websocket.BinaryMessage {
			c.handleBinary(frame)
			return
		}
		t, payload, err := wire.DecodeEngine(frame)
		if err != nil {
			c.s.log.Warn("sailsio: ignoring malformed frame", "error", err, "frame", truncate(string(frame), 80))
			return
		}
		switch t {
		case wire.EngineMessage:
			c.handlePacket(payload)
		case wire.EnginePing:
			if c.eio == EIO4 {
				c.push([]byte("3"))
			} else {
				c.s.log.Warn("sailsio: ignoring a server ping under EIO3")
			}
		case wire.EnginePong:
		case wire.EngineClose:
			c.fail(ReasonTransportClose, nil)
		case wire.EngineNoop:
		default:
			c.s.log.Warn("sailsio: ignoring unexpected packet", "type", t.String())
		}
	}
}

// classify turns a read error into a disconnect reason and cause.
func classify(err error, limit int64) (string, error) {
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		return ReasonTransportError, fmt.Errorf("%w: a message exceeded %d bytes", ErrMessageTooLarge, limit)
	case errors.As(err, &ne) && ne.Timeout():
		return ReasonPingTimeout, errors.New("sailsio: no heartbeat within pingInterval+pingTimeout")
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code == websocket.CloseMessageTooBig {
		return ReasonTransportClose, fmt.Errorf("%w: the server closed the connection (1009 message too big)", ErrMessageTooLarge)
	}
	return ReasonTransportClose, err
}

func (c *conn) handlePacket(payload []byte) {
	p, err := wire.DecodePacket(payload)
	if err != nil {
		c.s.log.Warn("sailsio: ignoring malformed packet", "error", err, "packet", truncate(string(payload), 80))
		return
	}
	if c.partial != nil {
		c.s.log.Warn("sailsio: binary packet abandoned before all its attachments arrived")
		c.partial, c.atts = nil, nil
	}
	if p.Namespace != "/" {
		return
	}
	switch p.Type {
	case wire.Event:
		c.handleEvent(p.Data)
	case wire.Ack:
		c.handleAck(p.ID, p.Data)
	case wire.BinaryEvent, wire.BinaryAck:
		if p.Attachments == 0 {
			c.dispatchBinary(p)
			return
		}
		bp := p                       // only a binary packet goes to the heap
		bp.Data = bytes.Clone(p.Data) // it outlives the frame
		c.partial = &bp
	case wire.Disconnect:
		c.fail(ReasonServerDisconnect, nil)
	case wire.ConnectError:
		c.fail(ReasonServerDisconnect, connectError(p.Data))
	case wire.Connect:
		// hook 2.x answers a duplicate CONNECT; nothing to do.
	}
}

func (c *conn) handleBinary(frame []byte) {
	if c.partial == nil {
		c.s.log.Warn("sailsio: ignoring a binary frame that no packet announced", "bytes", len(frame))
		return
	}
	att, err := wire.DecodeBinaryFrame(int(c.eio), frame)
	if err != nil {
		c.s.log.Warn("sailsio: ignoring binary packet", "error", err)
		c.partial, c.atts = nil, nil
		return
	}
	c.atts = append(c.atts, bytes.Clone(att))
	if len(c.atts) < c.partial.Attachments {
		return
	}
	p := *c.partial
	data, err := wire.ReplacePlaceholders(p.Data, c.atts)
	c.partial, c.atts = nil, nil
	if err != nil {
		c.s.log.Warn("sailsio: ignoring binary packet", "error", err)
		return
	}
	p.Data = data
	c.dispatchBinary(p)
}

func (c *conn) dispatchBinary(p wire.Packet) {
	if p.Type == wire.BinaryAck {
		c.handleAck(p.ID, p.Data)
	} else {
		c.handleEvent(p.Data)
	}
}

// reserved are the lifecycle event names; a server event of one of these names is ignored so that
// lifecycle handlers only ever see the SDK's own events.
var reserved = map[string]bool{
	EventConnect: true, EventDisconnect: true, EventReconnecting: true, EventReconnect: true,
	EventReconnectFailed: true, EventConnectError: true,
}

func (c *conn) handleEvent(data []byte) {
	name, args, err := wire.SplitEvent(data)
	if err != nil {
		c.s.log.Warn("sailsio: ignoring malformed event", "error", err)
		return
	}
	if reserved[name] {
		c.s.log.Warn("sailsio: ignoring a server event with a reserved name", "event", name)
		return
	}
	arg := jsonNull
	if len(args) > 0 {
		arg = args[0]
	}
	c.s.emit(name, arg)
}

func (c *conn) handleAck(id int64, data []byte) {
	c.pmu.Lock()
	r := c.pending[id]
	delete(c.pending, id)
	c.pmu.Unlock()
	if r == nil {
		c.s.log.Debug("sailsio: ignoring an ack for no pending request", "id", id)
		return
	}
	r.complete(decodeAck(data))
}
