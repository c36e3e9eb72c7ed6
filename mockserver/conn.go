package mockserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio/internal/engine"
	"github.com/sailsio-go/sailsio/internal/sailsproto"
	"github.com/sailsio-go/sailsio/internal/wire"
)

// handshake is what the server keeps of a WebSocket handshake request (socket.handshake).
type handshake struct {
	header     http.Header
	query      url.Values
	ip         string
	tls        bool
	origin     string // "" when the handshake had none
	version    string // __sails_io_sdk_version as sent ("" when missing)
	platform   string
	language   string
	versionOK  bool     // version is valid semver >= 0.11.0
	versionErr error    // the version check's error: too old, or invalid (the server crashes)
	session    *Session // the socket's session (nil: a lost one, each request gets a fresh one)
	cookie     string   // the Cookie header of every virtual request (generated when the handshake had none)
}

// sessionID returns the id of the socket's session ("" when its cookie names a lost session).
func (h *handshake) sessionID() string {
	if h.session == nil {
		return ""
	}
	return h.session.ID()
}

// writeWait bounds one WebSocket write.
const writeWait = 10 * time.Second

// connectTimeout is socket.io's connectTimeout: an EIO4 client that has not sent its namespace
// CONNECT by then is closed.
const connectTimeout = 45 * time.Second

type outFrame struct {
	typ  int // websocket.TextMessage or websocket.BinaryMessage
	data []byte
}

func textFrame(s string) outFrame { return outFrame{typ: websocket.TextMessage, data: []byte(s)} }

// conn is one WebSocket connection: an Engine.IO session carrying the Socket.IO main namespace.
// Goroutines serve it: readLoop (the only reader), heartbeatLoop, and the writer of data frames
// (engine.Writer, the one the client uses), which writes in batches and runs only while frames wait.
type conn struct {
	srv *Server
	ws  *websocket.Conn   // nil while on polling; set under wsMu by an upgrade
	bc  *engine.BatchConn // under ws: batches the frames of one writer pass
	eio int               // 3 or 4: the semantics the connection follows
	sid string            // Engine.IO session id
	id  string            // Socket.IO socket id (= sid under EIO3)
	hs  *handshake

	// poll is set when the connection started over HTTP long-polling (polling.go): GETs and
	// POSTs serve it, without readLoop, and take the frames of the paused writer, until an upgrade
	// starts the reader and resumes the writer.
	poll *pollState

	ctx    context.Context // cancelled when the connection is gone
	cancel context.CancelFunc

	// w queues the frames for the client. Once a close is queued (Finish) or the connection is
	// gone (Stop), nothing more is sent.
	w       engine.Writer[outFrame]
	wsMu    sync.Mutex
	outWake chan struct{} // a frame was queued: wakes a pending polling GET

	hbBeat  chan struct{} // a client ping (EIO3) or pong (EIO4) arrived
	hbReset chan struct{} // pause or heartbeat settings changed

	shutOnce sync.Once

	// guarded by srv.mu
	nsp   bool                // the main namespace is connected
	rooms map[string]struct{} // rooms joined (its own id room included)

	// owned by readLoop
	asm wire.Assembler // a binary packet waiting for its attachments

	// virtual requests waiting for their turn (order.go)
	vmu   sync.Mutex
	vq    []virtualMsg
	vbusy bool // a goroutine is draining vq
}

// newID returns a 20-character id like socket.io's base64id.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.URLEncoding.EncodeToString(b[:])
}

func durationMS(d time.Duration) int64 { return int64(d / time.Millisecond) }

// startConn registers a freshly upgraded WebSocket and starts its goroutines.
func (s *Server) startConn(ws *websocket.Conn, bc *engine.BatchConn, eio int, hs *handshake) {
	c := s.newConn(eio, hs)
	c.ws, c.bc = ws, bc
	if !s.registerConn(c, []string{}) {
		_ = ws.NetConn().Close()
		return
	}
	s.wg.Add(2)
	go c.readLoop()
	go c.heartbeatLoop()
}

// newConn returns a connection that is not registered yet.
func (s *Server) newConn(eio int, hs *handshake) *conn {
	c := &conn{
		srv:     s,
		eio:     eio,
		sid:     newID(),
		hs:      hs,
		outWake: make(chan struct{}, 1),
		hbBeat:  make(chan struct{}, 1),
		hbReset: make(chan struct{}, 1),
	}
	c.id = c.sid
	if eio == 4 {
		c.id = newID()
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.w.Init((*connWriter)(c), &s.wg)
	return c
}

// registerConn registers c and queues its open packet (and, under EIO3, the namespace CONNECT).
// It reports false when the server is closed or stopped.
func (s *Server) registerConn(c *conn, upgrades []string) bool {
	open := wire.Open{
		SID:          c.sid,
		Upgrades:     upgrades,
		PingInterval: durationMS(s.cfg.pingInterval),
		PingTimeout:  durationMS(s.cfg.pingTimeout),
	}
	if s.cfg.hook3() {
		open.MaxPayload = s.cfg.maxBuffer
	}
	s.mu.Lock()
	if s.closed || s.stopped {
		s.mu.Unlock()
		return false
	}
	s.conns[c.id] = c
	c.send(outFrame{typ: websocket.TextMessage, data: wire.AppendOpen(nil, open)})
	if c.eio == 3 {
		// EIO3: the server connects the main namespace by itself.
		s.connectNspLocked(c)
	}
	s.notifyLocked()
	s.mu.Unlock()
	return true
}

// connectNspLocked connects the main namespace: the socket joins its own room and the CONNECT
// reply is queued, atomically with respect to pushes. s.mu must be held.
func (s *Server) connectNspLocked(c *conn) {
	c.nsp = true
	c.rooms = make(map[string]struct{})
	s.joinLocked(c, c.id)
	if c.eio == 4 {
		c.send(outFrame{typ: websocket.TextMessage, data: wire.AppendMessage(nil, wire.Packet{
			Type: wire.Connect, ID: wire.NoID, Data: []byte(`{"sid":"` + c.id + `"}`),
		})})
	} else {
		c.send(textFrame("40"))
	}
	s.notifyLocked()
}

// disconnectNspLocked disconnects the main namespace: the socket leaves every room. s.mu must
// be held.
func (s *Server) disconnectNspLocked(c *conn) {
	if !c.nsp {
		return
	}
	c.nsp = false
	for room := range c.rooms {
		s.leaveLocked(c, room)
	}
	c.rooms = nil
	s.notifyLocked()
}

// removeConn forgets a connection that is gone.
func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disconnectNspLocked(c)
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
		s.notifyLocked()
	}
}

// send queues frames for the client. It reports whether they were queued: not once a close was
// queued or the connection is gone.
func (c *conn) send(frames ...outFrame) bool {
	if !c.w.Push(frames...) {
		return false
	}
	c.wakeOut()
	return true
}

// sendLast queues frames, then a WebSocket close frame (no status code, as engine.io's transport
// close sends; on polling, the close packet): nothing queued afterwards is sent.
func (c *conn) sendLast(frames ...outFrame) bool {
	if !c.w.Finish(frames...) {
		return false
	}
	c.wakeOut()
	return true
}

// wakeOut wakes a polling GET waiting for frames.
func (c *conn) wakeOut() {
	select {
	case c.outWake <- struct{}{}:
	default:
	}
}

// closeGraceful queues a WebSocket close frame; the connection ends when the client answers it,
// or after closeGrace.
func (c *conn) closeGraceful() {
	c.sendLast()
	if c.poll != nil {
		c.pollClosing()
	}
}

// isClosing reports whether a close was queued or the connection is gone.
func (c *conn) isClosing() bool { return c.w.Closed() }

// shutdown cuts the connection at once (no close frame) and forgets it.
func (c *conn) shutdown() { c.end(true) }

// end forgets the connection at once: its WebSocket, if any, is cut (no close frame); a pending
// polling GET is cut too when cut is set (else it answers by itself, see pollEnd).
func (c *conn) end(cut bool) {
	c.shutOnce.Do(func() {
		c.w.Stop()
		c.wsMu.Lock()
		ws := c.ws
		c.wsMu.Unlock()
		c.cancel()
		if ws != nil {
			_ = ws.NetConn().Close()
		}
		if c.poll != nil && cut {
			c.pollCut()
		}
		c.srv.removeConn(c)
	})
}

func (c *conn) logFrame(dir byte, data []byte) {
	if f := c.srv.cfg.frameLog; f != nil {
		f(c.id, dir, append([]byte(nil), data...))
	}
}

// connWriter is the connection as its writer's sink.
type connWriter conn

// WriteBatch writes frames on the WebSocket, with one system call.
func (cw *connWriter) WriteBatch(frames []outFrame) error {
	c := (*conn)(cw)
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	c.bc.BeginBatch()
	for _, f := range frames {
		if err := c.ctx.Err(); err != nil {
			c.bc.EndBatch()
			return err
		}
		c.logFrame('<', f.data)
		if err := c.ws.WriteMessage(f.typ, f.data); err != nil {
			c.bc.EndBatch()
			return err
		}
	}
	return c.bc.EndBatch()
}

// WriteFailed cuts the connection.
func (cw *connWriter) WriteFailed(error) { (*conn)(cw).shutdown() }

// WriteFinished writes the close frame once the last frames are written and gives the client
// closeGrace to answer it.
func (cw *connWriter) WriteFinished() {
	c := (*conn)(cw)
	_ = c.ws.WriteControl(websocket.CloseMessage, []byte{}, time.Now().Add(writeWait))
	_ = c.ws.SetReadDeadline(time.Now().Add(closeGrace))
}

func (c *conn) readLoop() {
	defer c.srv.wg.Done()
	defer c.shutdown()
	c.ws.SetReadLimit(c.srv.cfg.maxBuffer) // over it: close 1009, no engine packet
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, errTooManyFragments) {
				c.refuseFragments()
			}
			return
		}
		c.logFrame('>', data)
		if c.isClosing() {
			continue // waiting for the close handshake
		}
		var ok bool
		if mt == websocket.BinaryMessage {
			ok = c.onBinary(data)
		} else {
			ok = c.onText(data)
		}
		if !ok {
			c.closeGraceful()
		}
	}
}

func (c *conn) beat() {
	select {
	case c.hbBeat <- struct{}{}:
	default:
	}
}

// onText handles one text frame (an Engine.IO packet). It returns false when the client broke
// the protocol in a way that makes the server close the connection.
func (c *conn) onText(data []byte) bool {
	hook3 := c.srv.cfg.hook3()
	t, payload, err := wire.DecodeEngine(data)
	if err != nil {
		return false
	}
	switch t {
	case wire.EnginePing:
		if c.eio == 4 {
			return false // engine.io 6: invalid heartbeat direction
		}
		c.beat()
		if !c.srv.heartbeatsSuspended() {
			c.send(textFrame("3" + string(payload)))
		}
	case wire.EnginePong:
		if c.eio == 4 {
			c.beat()
		} else if hook3 {
			return false // engine.io 6: invalid heartbeat direction
		}
	case wire.EngineClose:
		return false
	case wire.EngineMessage:
		p, err := wire.DecodePacket(payload)
		if err != nil {
			return false
		}
		// A packet while a binary one waits for its attachments is an error, as in socket.io-parser.
		p, done, err := c.asm.Packet(p)
		if err != nil {
			return false
		}
		if !done {
			return true
		}
		return c.onPacket(p)
	}
	return true
}

// onBinary handles a binary frame: an attachment of the pending binary packet.
func (c *conn) onBinary(data []byte) bool {
	att, err := wire.DecodeBinaryFrame(c.eio, data)
	if err != nil {
		return false
	}
	p, done, err := c.asm.Binary(att)
	if err != nil {
		return false
	}
	if !done {
		return true
	}
	return c.onPacket(p)
}

// onPacket handles one Socket.IO packet.
func (c *conn) onPacket(p wire.Packet) bool {
	s := c.srv
	hook3 := s.cfg.hook3()
	if p.Namespace != "/" {
		if p.Type == wire.Connect {
			// Sails only serves the main namespace.
			data := []byte(`{"message":"Invalid namespace"}`)
			if !hook3 {
				data = []byte(`"Invalid namespace"`)
			}
			c.send(outFrame{typ: websocket.TextMessage, data: wire.AppendMessage(nil, wire.Packet{
				Type: wire.ConnectError, Namespace: p.Namespace, ID: wire.NoID, Data: data,
			})})
			return true
		}
		return !hook3 // socket.io 4 closes on a packet for a namespace that is not connected
	}
	s.mu.Lock()
	connected := c.nsp
	switch {
	case p.Type == wire.Connect && !connected:
		s.connectNspLocked(c)
	case p.Type == wire.Connect && !hook3:
		c.send(textFrame("40")) // socket.io 2 answers a duplicate CONNECT
	case p.Type == wire.Disconnect && connected:
		s.disconnectNspLocked(c)
	}
	s.mu.Unlock()
	switch p.Type {
	case wire.Connect:
		return !connected || !hook3 // hook 3: CONNECT for a connected namespace is an invalid state
	case wire.Disconnect:
		return connected || !hook3
	case wire.Event, wire.BinaryEvent:
		if !connected {
			return !hook3 // hook 3: an event before CONNECT closes the connection
		}
		return c.onEvent(p)
	case wire.Ack, wire.BinaryAck:
		return connected || !hook3 // the server never asks for acks: nothing to do
	}
	return true // CONNECT_ERROR from a client: ignored
}

// onEvent handles an EVENT: the seven lower-case verbs are virtual requests, anything else is
// ignored (no listener), as in sails-hook-sockets.
func (c *conn) onEvent(p wire.Packet) bool {
	name, args, err := wire.SplitEvent(p.Data)
	if err != nil {
		return false // socket.io-parser rejects an empty or nameless event
	}
	if !sailsproto.IsVerb(name) {
		return true
	}
	var msg []byte
	if len(args) > 0 {
		msg = args[0]
	}
	c.enqueue(virtualMsg{verb: name, msg: msg, ackID: p.ID})
	return true
}

// heartbeatLoop runs the Engine.IO heartbeat: under EIO3 it closes the connection when no client
// ping came for pingInterval+pingTimeout; under EIO4 it pings every pingInterval and closes when
// no pong came within pingTimeout (and closes a client that never connects the namespace).
// Nothing is enforced or sent while the server is paused or its heartbeats are stopped.
func (c *conn) heartbeatLoop() {
	defer c.srv.wg.Done()
	s := c.srv
	if c.eio == 3 {
		wait := s.cfg.pingInterval + s.cfg.pingTimeout
		t := time.NewTimer(wait)
		defer t.Stop()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-c.hbBeat:
				t.Reset(wait)
			case <-c.hbReset:
				t.Reset(wait)
			case <-t.C:
				if s.heartbeatsSuspended() {
					t.Reset(wait)
					continue
				}
				c.pingTimedOut()
				return
			}
		}
	}
	t := time.NewTimer(s.cfg.pingInterval)
	defer t.Stop()
	ct := time.NewTimer(connectTimeout)
	defer ct.Stop()
	waiting := false // a ping is out, waiting for its pong
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-ct.C:
			s.mu.Lock()
			connected := c.nsp
			s.mu.Unlock()
			if !connected {
				c.closeGraceful()
				return
			}
		case <-c.hbBeat:
			if waiting {
				waiting = false
				t.Reset(s.cfg.pingInterval)
			}
		case <-c.hbReset:
			waiting = false
			t.Reset(s.cfg.pingInterval)
		case <-t.C:
			switch {
			case s.heartbeatsSuspended():
				waiting = false
				t.Reset(s.cfg.pingInterval)
			case waiting:
				c.pingTimedOut()
				return
			default:
				c.send(textFrame("2"))
				waiting = true
				t.Reset(s.cfg.pingTimeout)
			}
		}
	}
}

// pingTimedOut closes the connection on a ping timeout: as engine.io's Socket.onClose does, a
// WebSocket gets a close frame, and a polling session is forgotten at once (pollEnd).
func (c *conn) pingTimedOut() {
	if c.poll != nil && !c.poll.isUpgraded() {
		c.pollEnd(false)
		return
	}
	c.closeGraceful()
}

// Handshake describes the WebSocket handshake of a connection, for tests that check what a
// client sends.
type Handshake struct {
	Header      http.Header // the upgrade request's headers
	Query       url.Values  // the upgrade request's query
	EIO         int         // the Engine.IO semantics the connection follows: 3 or 4
	EngineID    string      // the Engine.IO session id (the socket id too under EIO3)
	SDKVersion  string      // __sails_io_sdk_version (headers first, then query; "" when missing)
	SDKPlatform string      // __sails_io_sdk_platform
	SDKLanguage string      // __sails_io_sdk_language
	Cookie      string      // the Cookie header every virtual request of the socket carries
	SessionID   string      // the socket's session (its sails.sid cookie value)
}

// Handshake returns the handshake of the live connection socketID.
func (s *Server) Handshake(socketID string) (Handshake, bool) {
	c := s.conn(socketID)
	if c == nil {
		return Handshake{}, false
	}
	return Handshake{
		Header:      c.hs.header.Clone(),
		Query:       cloneValues(c.hs.query),
		EIO:         c.eio,
		EngineID:    c.sid,
		SDKVersion:  c.hs.version,
		SDKPlatform: c.hs.platform,
		SDKLanguage: c.hs.language,
		Cookie:      c.hs.cookie,
		SessionID:   c.hs.sessionID(),
	}, true
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
