package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// Handler learns what happens on a session. Its methods are called on the session's reader
// goroutine (Closed: on whichever goroutine saw the end), one at a time, in the order frames arrived.
type Handler interface {
	// Event is a server event: its name and first argument (`null` when none). The session reads
	// nothing while Event runs; an Event that may run long calls Handoff (from any goroutine) to
	// have another goroutine go on reading.
	Event(name string, arg json.RawMessage)
	// Closed reports, once, that the session ended by itself (not by Close), and why.
	Closed(reason string, err error)
}

// Acker is a request waiting for its ack. Ack receives the ack's payload, a JSON array whose
// validity the Acker checks as it decodes it (the session does not scan it first); an error means
// the payload is not JSON: the session then ends with a parse error. The Acker has completed its
// request either way. Fail tells it that no ack will come (FailPending). Ack runs on the reader, as
// Handler.Event does, and may run long as it may: Handoff applies to it too.
type Acker interface {
	Ack(data []byte) error
	Fail(err error)
}

// Headroom is the room a request's payload leaves before its data for "42" and the ack id, so the
// frame is written in place.
const Headroom = 2 + 20

const maxKeptReadBuffer = 64 << 10

// handledMark is the size from which the reader records when it finished a frame (Session.handled).
const handledMark = 16 << 10

var jsonNull = json.RawMessage("null")

// Session is one Engine.IO + Socket.IO session over a Transport.
type Session struct {
	t         Transport
	eio       int
	open      wire.Open
	id        string
	heartbeat time.Duration // pingInterval + pingTimeout: the longest silence of a live session
	h         Handler

	// Upgrades only (a transport that can pause: polling); nil otherwise.
	ctx          context.Context // ends with the session
	cancel       context.CancelFunc
	readerPaused chan struct{}  // the reader read every polled packet and waits (upgrade)
	resumeRead   chan Transport // the transport the paused reader goes on with

	// w writes the frames; it is paused during an upgrade, finished by Close, stopped by end.
	w Writer[[]byte]
	// wmu is held by the writer around each write and by an upgrade while it swaps the transport.
	wmu sync.Mutex

	mu      sync.Mutex
	probe   Transport // a WebSocket being probed for the upgrade
	pending map[int64]Acker
	nextID  int64
	closing bool // Close is under way: accept no more frames
	ended   bool
	closeBy time.Time     // the deadline of the closing writes
	beat    *time.Timer   // the heartbeat: sends pings (EIO3) and checks that the server is alive
	pingAt  int64         // EIO3: when the next ping is due (unix nanoseconds)
	done    chan struct{} // closed when the session ends
	wg      sync.WaitGroup
	handled atomic.Int64 // unix nanoseconds when the reader last finished a frame
	asm     wire.Assembler

	reading atomic.Pointer[reader] // the current reader, which Handoff takes over from
}

// reader is the state of one reader goroutine (readLoop) that Handoff needs.
type reader struct {
	state    atomic.Int32 // readerReading, readerInEvent or readerHandedOff
	lastName string       // the name of the last event, reused for the next of that name
}

const (
	readerReading   = iota // reading, or handling a frame outside Handler.Event
	readerInEvent          // in Handler.Event or Acker.Ack
	readerHandedOff        // Handoff took the reading over while it was in Handler.Event
)

// errHandedOff ends a reader whose Handler.Event was handed off.
var errHandedOff = errors.New("the reader was handed off")

// Handshake reads the open packet on t and connects the main namespace: under EIO3 the server sends
// `40` by itself and the client must not; under EIO4 the client sends `40` and gets
// `40{"sid":...}`. ctx bounds it: when ctx ends, t is closed. Each transport enforces and reports
// its own read limit.
func Handshake(ctx context.Context, t Transport, eio int) (*Session, error) {
	s := &Session{t: t, eio: eio, pending: make(map[int64]Acker), done: make(chan struct{})}
	if _, ok := t.(Pauser); ok { // what an upgrade needs; a WebSocket session holds none of it
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.readerPaused, s.resumeRead = make(chan struct{}, 1), make(chan Transport, 1)
	}
	s.w.Init((*sessionWriter)(s), &s.wg)
	stop := context.AfterFunc(ctx, func() { t.Close() })
	defer stop()
	var buf bytes.Buffer
	frame, err := s.readText(&buf)
	if err != nil {
		return nil, err
	}
	typ, payload, err := wire.DecodeEngine(frame)
	if err != nil || typ != wire.EngineOpen {
		return nil, protocolError("expected an open packet, got %q", excerpt(frame))
	}
	if s.open, err = wire.DecodeOpen(payload); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	s.heartbeat = s.open.PingIntervalDuration() + s.open.PingTimeoutDuration()
	deadline, _ := ctx.Deadline()
	if eio == 4 {
		if err := t.WriteFrames([][]byte{[]byte("40")}, deadline); err != nil {
			return nil, err
		}
	}
	for {
		frame, err := s.readText(&buf)
		if err != nil {
			return nil, err
		}
		typ, payload, err := wire.DecodeEngine(frame)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		switch typ {
		case wire.EngineNoop, wire.EnginePong:
			continue
		case wire.EnginePing:
			if eio == 4 {
				if err := t.WriteFrames([][]byte{[]byte("3")}, deadline); err != nil {
					return nil, err
				}
			}
			continue
		case wire.EngineClose:
			return nil, protocolError("the server closed the session during the handshake")
		case wire.EngineMessage:
		default:
			return nil, protocolError("unexpected %v packet during the handshake", typ)
		}
		p, err := wire.DecodePacket(payload)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if p.Namespace != "/" {
			continue
		}
		switch p.Type {
		case wire.Connect:
			s.id = s.open.SID
			if eio == 4 {
				var v struct {
					SID string `json:"sid"`
				}
				if json.Unmarshal(p.Data, &v) != nil || v.SID == "" {
					if len(p.Data) == 0 {
						return nil, protocolError("the server connected the namespace without a socket id, as only Engine.IO v3 servers do (sails-hook-sockets 1.x and 2.x): use EIO3")
					}
					return nil, protocolError("CONNECT reply without a socket id: %q", excerpt(frame))
				}
				s.id = v.SID
			}
			return s, nil
		case wire.ConnectError:
			return nil, &ConnectRefused{Data: bytes.Clone(p.Data)}
		default:
			return nil, protocolError("unexpected %v packet before CONNECT", p.Type)
		}
	}
}

func (s *Session) readText(buf *bytes.Buffer) ([]byte, error) {
	binary, err := s.t.ReadFrame(buf)
	var ue *url.Error
	var hs *HandshakeStatusError
	if errors.As(err, &ue) || errors.As(err, &hs) {
		return nil, err // an HTTP request of polling failed: unreachable, or refused
	}
	var re *ReadError
	if errors.As(err, &re) && re.Reason == ReasonTransportError {
		return nil, re.Err // a limit of the client's was exceeded: the connection did not just end
	}
	if errors.Is(err, ErrProtocol) {
		return nil, err // the transport read something it cannot decode: the connection did not just end
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the connection ended during the Socket.IO handshake: %w", ErrProtocol, err)
	}
	if binary {
		return nil, protocolError("binary frame during the handshake")
	}
	return bytes.Clone(buf.Bytes()), nil
}

// ID is the Socket.IO socket id: the engine sid under EIO3, the CONNECT reply's sid under EIO4.
func (s *Session) ID() string { return s.id }

// Open is the server's open packet.
func (s *Session) Open() wire.Open { return s.open }

// Transport is the transport the session runs on now.
func (s *Session) Transport() Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t
}

// Start starts the reader and the heartbeat. h learns the session's events and its end.
func (s *Session) Start(h Handler) {
	s.h = h
	s.handled.Store(time.Now().UnixNano())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.wg.Add(1)
	if w, ok := s.t.(idleWaiter); ok {
		if idle, _ := w.Idle(); idle {
			go s.waitRead(w)
		} else {
			go s.readLoop()
		}
	} else {
		go s.readLoop()
	}
	// One timer per session, for the pings and for the check.
	next := s.heartbeat
	if s.eio == 3 { // the client pings; under EIO4 the server does and the reader answers
		interval := s.open.PingIntervalDuration()
		s.pingAt = time.Now().Add(interval).UnixNano()
		next = min(next, interval)
	}
	s.beat = time.AfterFunc(next, s.heartbeatTick)
}

// enter registers a timer function as running, unless the session ended.
func (s *Session) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.wg.Add(1)
	return true
}

// heartbeatTick sends the ping that is due (EIO3), then ends the session when nothing arrived for
// pingInterval+pingTimeout. Any byte received counts, and so does the time the reader spends on a
// frame: a large message is not silence. Then it sets the timer for the next ping or check.
func (s *Session) heartbeatTick() {
	if !s.enter() {
		return
	}
	defer s.wg.Done()
	now := time.Now()
	s.mu.Lock()
	pingAt := time.Unix(0, s.pingAt)
	ping := s.eio == 3 && !now.Before(pingAt)
	if ping {
		pingAt = now.Add(s.open.PingIntervalDuration())
		s.pingAt = pingAt.UnixNano()
	}
	s.mu.Unlock()
	if ping {
		s.push([]byte("2"))
	}
	last := s.Transport().LastRead()
	if h := time.Unix(0, s.handled.Load()); h.After(last) {
		last = h
	}
	idle := max(now.Sub(last), 0) // bytes may have arrived since now
	if idle >= s.heartbeat {
		s.end(ReasonPingTimeout, fmt.Errorf("sailsio: no heartbeat for %v (pingInterval+pingTimeout)", idle.Round(time.Millisecond)), true)
		return
	}
	next := s.heartbeat - idle
	if s.eio == 3 {
		next = min(next, pingAt.Sub(now))
	}
	s.mu.Lock()
	if !s.ended {
		s.beat.Reset(next)
	}
	s.mu.Unlock()
}

// Request sends a request: payload holds Headroom free bytes, then the EVENT data. It writes "42"
// and the ack id in place and registers a for the ack. It fails with ErrClosed once the session
// ended or is closing, and with ErrMessageTooLarge above the server's maxPayload.
func (s *Session) Request(payload []byte, a Acker) (int64, error) {
	id, _, err := s.request(payload, a, false)
	return id, err
}

// RequestNow is Request for a caller that can write the frame itself. When it can — the transport
// writes without waiting, the frame is small, no other request is in flight (or the reader is in a
// handler, which may be the caller) and no write is in progress — mine is true and the
// caller must call WriteNow next, holding no lock: the frame is then written on the caller's
// goroutine without a writer goroutine, and the caller never waits for the peer.
func (s *Session) RequestNow(payload []byte, a Acker) (id int64, mine bool, err error) {
	return s.request(payload, a, true)
}

// WriteNow writes the frame of a RequestNow that reported mine (Writer.WriteNow).
func (s *Session) WriteNow() { s.w.WriteNow() }

// nowFrameLimit is the largest frame a caller writes itself (RequestNow): well within NowLimit with
// the WebSocket and TLS framing.
const nowFrameLimit = NowLimit / 2

func (s *Session) request(payload []byte, a Acker, now bool) (int64, bool, error) {
	var num [20]byte
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.closing {
		return 0, false, ErrClosed
	}
	id := s.nextID
	digits := strconv.AppendInt(num[:0], id, 10)
	frame := payload[Headroom-2-len(digits):]
	if max := s.open.MaxPayload; max > 0 && int64(len(frame)) > max {
		return 0, false, fmt.Errorf("%w: request of %d bytes exceeds the server's maxPayload of %d", ErrMessageTooLarge, len(frame), max)
	}
	frame[0], frame[1] = '4', '2'
	copy(frame[2:], digits)
	// Queued under s.mu: the frames go out in the order of their ack ids.
	ok, mine := false, false
	// The caller writes its frame when it is the only request in flight (one at a time), or when
	// the reader is in a handler (the caller is most likely that handler: the reader then writes
	// with no hand-off at all). Otherwise, with more in flight, the writer goroutine writes what
	// accumulates with one system call, which costs less than a system call per frame from each
	// caller's goroutine.
	if now && (len(s.pending) == 0 || s.readerInHandler()) && len(frame) <= nowFrameLimit && s.canWriteNow() {
		ok, mine = s.w.PushNow(frame)
	} else {
		ok = s.w.Push(frame)
	}
	if !ok {
		return 0, false, ErrClosed // a write failed: the session is ending
	}
	s.nextID++
	s.pending[id] = a
	return id, mine, nil
}

// readerInHandler reports whether the session's reader is in Handler.Event or Acker.Ack.
func (s *Session) readerInHandler() bool {
	r := s.reading.Load()
	return r != nil && r.state.Load() == readerInEvent
}

// canWriteNow reports whether the transport writes without waiting. s.mu is held.
func (s *Session) canWriteNow() bool {
	nw, ok := s.t.(NowWriter)
	return ok && nw.CanWriteNow()
}

// Forget removes a request's ack registration (it timed out or was cancelled).
func (s *Session) Forget(id int64) {
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
}

// FailPending removes the ack registrations still pending and fails each with err, in send order.
func (s *Session) FailPending(err error) {
	s.mu.Lock()
	pending := s.pending
	s.pending = make(map[int64]Acker)
	s.mu.Unlock()
	ids := make([]int64, 0, len(pending))
	for id := range pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		pending[id].Fail(err)
	}
}

// push queues a frame, unless the session is closing or ended.
func (s *Session) push(frame []byte) { s.w.Push(frame) }

// sessionWriter is the session as its writer's sink.
type sessionWriter Session

// WriteBatch writes a batch of frames on the session's transport.
func (sw *sessionWriter) WriteBatch(batch [][]byte) error {
	s := (*Session)(sw)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	t, deadline := s.t, time.Now().Add(s.heartbeat)
	if s.closing {
		deadline = s.closeBy
	}
	s.mu.Unlock()
	return t.WriteFrames(batch, deadline)
}

// WriteBatchNow writes a batch without waiting (NowSink): the transport was a NowWriter when the
// batch was queued, and an upgrade only ever moves to a WebSocket.
func (sw *sessionWriter) WriteBatchNow(batch [][]byte) (bool, error) {
	s := (*Session)(sw)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	t, deadline := s.t, time.Now().Add(s.heartbeat)
	s.mu.Unlock()
	if nw, ok := t.(NowWriter); ok && nw.CanWriteNow() {
		return nw.WriteFramesNow(batch)
	}
	return true, t.WriteFrames(batch, deadline)
}

// WriteFailed ends the session.
func (sw *sessionWriter) WriteFailed(err error) {
	(*Session)(sw).end(ReasonTransportError, err, true)
}

// WriteFinished ends a graceful close once its frames are written.
func (sw *sessionWriter) WriteFinished() {
	s := (*Session)(sw)
	s.mu.Lock()
	deadline := s.closeBy
	s.mu.Unlock()
	s.Transport().WriteClose(deadline)
	s.end(ReasonClientDisconnect, nil, false)
}

// Close ends the session from the client's side: it tells the server (41) and closes the transport,
// giving the writes up to grace (less if cut is closed first), then cuts it. The Handler is not told.
// It returns when every goroutine of the session has ended.
func (s *Session) Close(grace time.Duration, cut <-chan struct{}) {
	s.mu.Lock()
	if !s.ended && !s.closing {
		s.closing = true
		s.closeBy = time.Now().Add(grace)
		s.w.Finish([]byte("41"))
		s.w.Resume() // frames paused by an upgrade go out too: the session ends
	}
	s.mu.Unlock()
	t := time.NewTimer(grace)
	select {
	case <-s.done:
	case <-t.C:
	case <-cut:
	}
	t.Stop()
	s.end(ReasonClientDisconnect, nil, false)
	s.wg.Wait()
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Wait waits for the session's goroutines, after it ended.
func (s *Session) Wait() { s.wg.Wait() }

// end ends the session once: the transport is cut, which ends the reader and a stuck writer, and
// the Handler learns why if notify is set and Close has not begun.
func (s *Session) end(reason string, err error, notify bool) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	notify = notify && !s.closing // Close began: the end is the client's, whatever cut it short
	s.w.Stop()
	probe := s.probe
	if s.beat != nil {
		s.beat.Stop()
	}
	s.mu.Unlock()
	close(s.done)
	if s.cancel != nil {
		s.cancel()
	}
	s.Transport().Close()
	if probe != nil {
		probe.Close()
	}
	if notify && s.h != nil {
		s.h.Closed(reason, err)
	}
}

func (s *Session) isEnded() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// idleWaiter is a transport that can tell when the next frame is still to come from the network
// and wait for it holding no buffer (WebSocket; BatchConn.Idle says when it can).
type idleWaiter interface {
	// Idle reports whether nothing of the next frame has arrived yet, and whether the connection
	// is quiet: its last bytes came after a long wait, so it idles rather than exchanges.
	Idle() (idle, quiet bool)
	// Wait waits until bytes arrive, holding no buffer; if reading fails, ReadFrame says so.
	Wait()
}

// waitRead is the reader of an idle session: a new goroutine, whose stack has not grown yet (a
// read blocked in gorilla/websocket is deeper than the smallest stack), waits for the next bytes
// holding no buffer, then reads on. So an idle socket keeps a goroutine with the smallest stack
// and no read buffer.
func (s *Session) waitRead(w idleWaiter) {
	if f := idleWaitHook.Load(); f != nil {
		(*f)()
	}
	w.Wait()
	s.readLoop()
}

// idleWaitHook, when set, is called by each waitRead before it waits (tests).
var idleWaitHook atomic.Pointer[func()]

// readBuffers holds the readers' frame buffers while their sessions idle.
var readBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *Session) readLoop() {
	r := new(reader)
	s.reading.Store(r) // the session's only reader from now on: the one Handoff looks at
	defer func() {
		if r.state.Load() != readerHandedOff { // Handoff counted a handed-off reader out of s.wg
			s.wg.Done()
		}
	}()
	// One buffer for every frame: what outlives a frame (bodies, event payloads, attachments) is
	// copied out of it by the decoders.
	buf := readBuffers.Get().(*bytes.Buffer)
	t := s.Transport()
	for {
		if w, ok := t.(idleWaiter); ok {
			if idle, quiet := w.Idle(); idle && quiet {
				// The connection idles: hand the wait to a new goroutine and end this one,
				// whose stack has grown, and give back the buffer.
				buf.Reset()
				readBuffers.Put(buf)
				s.wg.Add(1)
				go s.waitRead(w)
				return
			}
		}
		binary, err := t.ReadFrame(buf)
		if errors.Is(err, ErrPaused) {
			if t = s.pauseReader(); t == nil {
				return
			}
			continue
		}
		if err != nil {
			reason, cause := classify(err)
			s.end(reason, cause, true)
			return
		}
		if err := s.handleFrame(r, binary, buf.Bytes()); err != nil {
			if err != errHandedOff { // handed off: another reader reads on
				s.end(ReasonParseError, err, true)
			}
			return
		}
		if s.isEnded() { // the frame ended the session: what the transport still buffers is not for us
			return
		}
		if buf.Len() >= handledMark {
			// A large frame may have taken a while to read and decode: it counts as a sign of life
			// until now. A small one is handled at once after the bytes arrived (LastRead): not
			// reading the clock for it spares every event and ack a system clock read.
			s.handled.Store(time.Now().UnixNano())
		}
		if buf.Cap() > maxKeptReadBuffer {
			buf = new(bytes.Buffer) // do not keep a large message's memory for the session's life
		}
	}
}

// classify turns a read error into a reason and a cause: the transport's own interpretation
// (*ReadError) if it made one.
func classify(err error) (string, error) {
	var re *ReadError
	var ne net.Error
	switch {
	case errors.As(err, &re):
		return re.Reason, re.Err
	case errors.As(err, &ne) && ne.Timeout():
		return ReasonPingTimeout, errors.New("sailsio: no heartbeat within pingInterval+pingTimeout")
	}
	return ReasonTransportClose, err
}

// Handoff makes the reader goroutine that is in Handler.Event (or Acker.Ack) now stop being the
// session's reader:
// a new reader goroutine goes on reading (unless the session has ended), and the goroutine in Event
// is no longer one of the session's (Close and Wait do not wait for it). Once its Event returns, it
// leaves the reader at once. It may be called from any goroutine, and reports whether a reader was
// in Event to hand off.
func (s *Session) Handoff() bool {
	r := s.reading.Load()
	if r == nil || !r.state.CompareAndSwap(readerInEvent, readerHandedOff) {
		return false
	}
	s.mu.Lock()
	if !s.ended {
		s.wg.Add(1)
		go s.readLoop()
	}
	s.mu.Unlock()
	s.wg.Done() // the old reader's: it is in Event, not the session's any more
	return true
}

// handleFrame handles one frame read by r; an error means the frame breaks the protocol, or
// (errHandedOff) that r was handed off during Handler.Event.
func (s *Session) handleFrame(r *reader, binary bool, frame []byte) error {
	if binary {
		att, err := wire.DecodeBinaryFrame(s.eio, frame)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		p, done, err := s.asm.Binary(att)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if done {
			return s.dispatchPacket(r, p)
		}
		return nil
	}
	typ, payload, err := wire.DecodeEngine(frame)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	switch typ {
	case wire.EngineMessage:
		// An ACK's or EVENT's data is validated as it is parsed: by the Acker, by SplitEventFirst.
		p, err := wire.DecodePacketUnchecked(payload)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		p, done, err := s.asm.Packet(p)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if done {
			return s.dispatchPacket(r, p)
		}
	case wire.EnginePing:
		if s.eio == 4 {
			s.push([]byte("3"))
		}
	case wire.EngineClose:
		s.end(ReasonTransportClose, nil, true)
	}
	return nil
}

func (s *Session) dispatchPacket(r *reader, p wire.Packet) error {
	if p.Namespace != "/" {
		if (p.Type == wire.Event || p.Type == wire.Ack) && !json.Valid(p.Data) {
			return protocolError("a %v packet whose payload is not valid JSON: %q", p.Type, excerpt(p.Data))
		}
		return nil
	}
	switch p.Type {
	case wire.Event, wire.BinaryEvent:
		name, arg, err := wire.SplitEventFirstReuse(p.Data, r.lastName)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if arg == nil {
			arg = jsonNull
		}
		r.lastName = name
		r.state.Store(readerInEvent)
		s.h.Event(name, arg)
		if !r.state.CompareAndSwap(readerInEvent, readerReading) {
			return errHandedOff
		}
	case wire.Ack, wire.BinaryAck:
		if wire.FirstByte(p.Data) != '[' {
			return protocolError("an ack whose payload is not an array: %q", excerpt(p.Data))
		}
		s.mu.Lock()
		a := s.pending[p.ID]
		delete(s.pending, p.ID)
		s.mu.Unlock()
		if a != nil {
			// The Acker may run a callback on this goroutine (as Handler.Event may): Handoff can
			// take the reading over meanwhile.
			r.state.Store(readerInEvent)
			err := a.Ack(p.Data)
			if !r.state.CompareAndSwap(readerInEvent, readerReading) {
				if err != nil { // not JSON: the new reader is reading, so end the session here
					s.end(ReasonParseError, fmt.Errorf("%w: %w", ErrProtocol, err), true)
				}
				return errHandedOff
			}
			if err != nil {
				return fmt.Errorf("%w: %w", ErrProtocol, err)
			}
		} else if p.Type == wire.Ack && !json.Valid(p.Data) {
			return protocolError("an ack whose payload is not valid JSON: %q", excerpt(p.Data))
		}
	case wire.Disconnect:
		s.end(ReasonServerDisconnect, nil, true)
	case wire.ConnectError:
		s.end(ReasonServerDisconnect, &ConnectRefused{Data: bytes.Clone(p.Data)}, true)
	}
	return nil
}

func excerpt(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}
