package mockserver

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/engine"
	"github.com/sailsio-go/sailsio/internal/wire"
)

// WithTransports sets what the server accepts, as sails.config.sockets.transports (default:
// websocket only, as Sails). With sailsio.TransportPolling, a handshake may come over HTTP
// long-polling; with both, the open packet of a polling handshake offers the upgrade to websocket
// (2probe, 3probe, 5), and engine.io's rules hold: a pending GET is released with a noop during the
// upgrade, frames queued meanwhile go out on the WebSocket once the client sent 5, and a WebSocket
// naming a session that is upgrading or upgraded is accepted and closed at once. A session ends as
// engine.io ends one: a client's close packet releases the pending GET with a noop; a GET
// overlapping the pending one, and a ping timeout, end the session at once, the pending GET
// getting the close packet. A transport the server does not accept gets HTTP 400
// {"code":0,"message":"Transport unknown"}, as real Sails answers. Every fault works on polling
// sessions too: DropConnections cuts the pending GET's TCP connection, and later requests of the
// session get 400 "Session ID unknown".
func WithTransports(t ...sailsio.Transport) Option {
	return func(c *config) { c.transports = slices.Clone(t) }
}

// accepts reports whether the server accepts the Engine.IO transport name.
func (c *config) accepts(name string) bool {
	switch name {
	case "websocket":
		return len(c.transports) == 0 || slices.Contains(c.transports, sailsio.TransportWebSocket)
	case "polling":
		return slices.Contains(c.transports, sailsio.TransportPolling)
	}
	return false
}

// pollState is the polling side of a connection that started over HTTP long-polling.
type pollState struct {
	mu        sync.Mutex
	getting   bool // a GET is pending
	probing   bool // a WebSocket of the session is being probed, or carries it
	upgrading bool // a WebSocket probe succeeded: release GETs with a noop
	upgraded  bool // the client sent 5: the WebSocket carries the session
	ended     bool // the session ended at once (pollEnd): a pending GET gets endNoop or the close packet
	endNoop   bool
	cut       chan struct{} // closed when the connection is cut
	release   chan struct{} // wakes the pending GET (upgrade)
	postMu    sync.Mutex    // one POST at a time: it owns the reader's state
	closeOnce sync.Once
}

// pollWait bounds how long a GET waits for frames when nothing wakes it: a safety net, the
// heartbeat normally releases it well before.
const pollWait = 5 * time.Minute

// servePollingHandshake opens a session over polling: the open packet (and, under EIO3, the
// namespace CONNECT, as socket.io 2 appends it) is the answer of this first GET.
func (s *Server) servePollingHandshake(w http.ResponseWriter, r *http.Request, eio int, hs *handshake) {
	if r.Method != http.MethodGet {
		engineError(w, false, 2, "Bad handshake method")
		return
	}
	upgrades := []string{}
	if s.cfg.accepts("websocket") {
		upgrades = []string{"websocket"}
	}
	c := s.newPollConn(eio, hs, upgrades)
	if c == nil {
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	c.serveGet(w, r)
}

// newPollConn registers a polling connection and starts its heartbeat.
func (s *Server) newPollConn(eio int, hs *handshake, upgrades []string) *conn {
	c := s.newConn(eio, hs)
	c.poll = &pollState{cut: make(chan struct{}), release: make(chan struct{}, 1)}
	c.w.Pause() // GETs take the frames until an upgrade
	if !s.registerConn(c, upgrades) {
		return nil
	}
	s.wg.Add(1)
	go c.heartbeatLoop()
	return c
}

// pollConn returns the live connection of Engine.IO session sid.
func (s *Server) pollConn(sid string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if c.sid == sid {
			return c
		}
	}
	return nil
}

// serveSession serves a request that names a session (sid): a polling GET or POST, or the
// WebSocket of an upgrade. As in engine.io, a WebSocket for a session that is upgrading or
// upgraded is accepted and closed at once (the session carries on), and a polling request for an
// upgraded session gets 400 "Bad request" (its transport is websocket now).
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request, upgrade bool, sid string) {
	c := s.pollConn(sid)
	if c != nil && c.poll == nil && !upgrade {
		engineError(w, false, 3, "Bad request") // a WebSocket session: the transports differ
		return
	}
	if c == nil || c.poll == nil {
		engineError(w, upgrade, 1, "Session ID unknown")
		return
	}
	if upgrade {
		if r.URL.Query().Get("transport") != "websocket" {
			engineError(w, true, 3, "Bad request")
			return
		}
		if !c.poll.startProbe() {
			s.closeUpgrade(w, r)
			return
		}
		c.serveUpgrade(w, r)
		return
	}
	if r.URL.Query().Get("transport") != "polling" || c.poll.isUpgraded() {
		engineError(w, false, 3, "Bad request")
		return
	}
	switch r.Method {
	case http.MethodGet:
		c.serveGet(w, r)
	case http.MethodPost:
		c.servePost(w, r)
	default:
		engineError(w, false, 2, "Bad handshake method")
	}
}

func (p *pollState) isUpgraded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.upgraded
}

// startProbe reports whether a WebSocket may probe the session: none is being probed or
// carries it already (engine.io's upgrading and upgraded).
func (p *pollState) startProbe() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.probing || p.ended {
		return false
	}
	p.probing = true
	return true
}

// closeUpgrade accepts a WebSocket and closes it at once, as engine.io does with a WebSocket for
// a session that is upgrading or upgraded: a close frame without a status, then the TCP
// connection once the client answers it (or after closeGrace).
func (s *Server) closeUpgrade(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer ws.Close()
		_ = ws.WriteControl(websocket.CloseMessage, []byte{}, time.Now().Add(writeWait))
		_ = ws.SetReadDeadline(time.Now().Add(closeGrace))
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
}

// pollEnd ends a polling session at once, as engine.io's Socket.onClose does on a ping timeout,
// a transport error or the client's close packet: the session is forgotten (later requests naming
// it get 400 "Session ID unknown"), and a pending GET is answered, with a noop when the client
// closed (engine.io's polling onClose), else with the close packet (the transport's close).
func (c *conn) pollEnd(noop bool) {
	p := c.poll
	p.mu.Lock()
	if !p.ended {
		p.ended, p.endNoop = true, noop
	}
	p.mu.Unlock()
	c.wakeGet()
	c.end(false)
}

// serveGet answers a GET with what waits for the client, or waits for something (long polling).
func (c *conn) serveGet(w http.ResponseWriter, r *http.Request) {
	p := c.poll
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		engineError(w, false, 1, "Session ID unknown")
		return
	}
	if p.getting {
		p.mu.Unlock()
		// engine.io: a poll overlapping the pending one is a transport error, which closes the
		// session (the pending GET gets the close packet); the overlapping one gets 400 with no
		// body (engine.io 6) or 500 (engine.io 3).
		c.pollEnd(false)
		if c.srv.cfg.hook3() {
			w.WriteHeader(http.StatusBadRequest)
		} else {
			w.WriteHeader(http.StatusInternalServerError)
		}
		return
	}
	p.getting = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.getting = false
		p.mu.Unlock()
	}()
	timer := time.NewTimer(pollWait)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ended, noop := p.ended, p.endNoop
		p.mu.Unlock()
		if ended {
			if noop {
				c.writePayload(w, []outFrame{textFrame("6")}, false)
			} else {
				c.writePayload(w, nil, true)
			}
			return
		}
		frames, last := c.w.Take()
		if len(frames) > 0 || last {
			c.writePayload(w, frames, last)
			if last {
				c.shutdown()
			}
			return
		}
		p.mu.Lock()
		noop = p.upgrading || p.upgraded
		p.mu.Unlock()
		if noop {
			c.writePayload(w, []outFrame{textFrame("6")}, false)
			return
		}
		select {
		case <-c.outWake:
		case <-p.release:
		case <-timer.C:
			c.writePayload(w, []outFrame{textFrame("6")}, false)
			return
		case <-p.cut:
			panic(http.ErrAbortHandler) // the TCP connection is cut, as a dead server's would be
		case <-r.Context().Done():
			return
		case <-c.srv.ctx.Done():
			panic(http.ErrAbortHandler)
		}
	}
}

// writePayload writes frames as one polling payload, followed by the close packet if closing.
func (c *conn) writePayload(w http.ResponseWriter, frames []outFrame, closing bool) {
	packets := make([]wire.PayloadPacket, 0, len(frames)+1)
	for _, f := range frames {
		switch f.typ {
		case websocket.BinaryMessage:
			c.logFrame('<', f.data)
			data := f.data
			if c.eio == 3 && len(data) > 0 {
				data = data[1:] // the 0x04 of an EIO3 binary WebSocket frame
			}
			packets = append(packets, wire.PayloadPacket{Data: data, Binary: true})
		default:
			c.logFrame('<', f.data)
			packets = append(packets, wire.PayloadPacket{Data: f.data})
		}
	}
	if closing {
		packets = append(packets, wire.PayloadPacket{Data: []byte{byte(wire.EngineClose)}})
	}
	body := wire.AppendPayload(nil, c.eio, packets)
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	_, _ = w.Write(body)
}

// servePost takes the packets of a POST, in order, as the WebSocket reader takes frames.
func (c *conn) servePost(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, c.srv.cfg.maxBuffer+1))
	if err != nil {
		return
	}
	if int64(len(body)) > c.srv.cfg.maxBuffer {
		if !c.srv.cfg.hook3() {
			panic(http.ErrAbortHandler) // engine.io 3 destroys the request's connection
		}
		w.WriteHeader(http.StatusRequestEntityTooLarge) // engine.io 6
		return
	}
	packets, err := wire.DecodePayload(c.eio, body, nil)
	if err != nil {
		engineError(w, false, 3, "Bad request")
		c.shutdown()
		return
	}
	c.poll.postMu.Lock()
	ok := true
	for _, pk := range packets {
		data := pk.Data
		if pk.Binary && c.eio == 3 {
			data = append([]byte{wire.BinaryPrefixEIO3}, data...)
		}
		c.logFrame('>', data)
		if c.isClosing() {
			continue
		}
		if pk.Binary {
			ok = c.onBinary(data)
		} else {
			ok = c.onText(data)
		}
		if !ok {
			break
		}
	}
	c.poll.postMu.Unlock()
	w.Header().Set("Content-Type", "text/html")
	_, _ = w.Write([]byte("ok"))
	switch {
	case !ok && slices.ContainsFunc(packets, func(p wire.PayloadPacket) bool { return !p.Binary && string(p.Data) == "1" }):
		c.pollEnd(true) // the client closed the transport: a pending GET gets a noop
	case !ok:
		c.closeGraceful()
	}
}

// pollClosing makes sure a polling connection whose close was queued ends: the pending (or next)
// GET carries the close packet; a client that sends none is cut after closeGrace.
func (c *conn) pollClosing() {
	p := c.poll
	p.mu.Lock()
	idle := !p.getting && !p.upgraded
	p.mu.Unlock()
	if idle && c.srv.ctx.Err() != nil {
		c.shutdown() // the server closes and no GET waits to carry the close packet
		return
	}
	p.closeOnce.Do(func() { time.AfterFunc(closeGrace, c.shutdown) })
}

// pollCut cuts a polling connection's pending GET.
func (c *conn) pollCut() {
	select {
	case <-c.poll.cut:
	default:
		close(c.poll.cut)
	}
}

// serveUpgrade takes the WebSocket of an upgrade: 2probe is answered 3probe, pending GETs are
// released with a noop, and 5 moves the session onto the WebSocket. The probe's WebSocket is
// closed, and the session stays on polling, if anything else comes first.
func (c *conn) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	bw := &batchingWriter{ResponseWriter: w}
	ws, err := c.srv.upgrader.Upgrade(bw, r, nil)
	if err != nil {
		c.poll.mu.Lock()
		c.poll.probing = false
		c.poll.mu.Unlock()
		return
	}
	c.srv.wg.Add(1)
	go c.probe(ws, bw.conn)
}

// upgradeTimeout is engine.io's upgradeTimeout: a probe that does not end with 5 by then is closed.
const upgradeTimeout = 10 * time.Second

func (c *conn) probe(ws *websocket.Conn, bc *engine.BatchConn) {
	p := c.poll
	ok := false
	defer func() {
		if !ok {
			_ = ws.Close()
			p.mu.Lock()
			p.upgrading, p.probing = false, false
			p.mu.Unlock()
			c.srv.wg.Done()
		}
	}()
	_ = ws.SetReadDeadline(time.Now().Add(upgradeTimeout))
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a cut or ended connection ends the probe too
		select {
		case <-p.cut:
			_ = ws.Close()
		case <-c.ctx.Done():
			_ = ws.Close()
		case <-stop:
		}
	}()
	mt, data, err := ws.ReadMessage()
	if err != nil || mt != websocket.TextMessage || string(data) != "2probe" {
		return
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("3probe")); err != nil {
		return
	}
	p.mu.Lock()
	p.upgrading = true
	p.mu.Unlock()
	c.wakeGet()
	mt, data, err = ws.ReadMessage()
	if err != nil || mt != websocket.TextMessage || string(data) != "5" {
		return
	}
	_ = ws.SetReadDeadline(time.Time{})
	c.wsMu.Lock()
	if c.ctx.Err() != nil {
		c.wsMu.Unlock()
		return
	}
	c.ws, c.bc = ws, bc
	c.wsMu.Unlock()
	p.mu.Lock()
	p.upgraded = true
	p.mu.Unlock()
	c.wakeGet()
	ok = true
	c.w.Resume() // what waited goes out on the WebSocket
	c.readLoop() // the probe's goroutine becomes the reader (its wg.Done is readLoop's)
}

func (c *conn) wakeGet() {
	select {
	case c.poll.release <- struct{}{}:
	default:
	}
}
