package sailsio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// SailsSocket is a Sails socket: the Go counterpart of sails.io.js' io.socket. It is safe for
// concurrent use by many goroutines.
type SailsSocket struct {
	opts    options
	wsURL   string   // ws(s)://host/path/?query
	httpURL *url.URL // the http(s) form, for the cookie jar
	log     *slog.Logger
	disp    dispatcher

	mu         sync.Mutex
	state      State
	conn       *conn
	headers    atomic.Pointer[globalHeaders]
	queue      []*request
	queued     int                // live entries of queue
	changed    chan struct{}      // closed and replaced on every state change
	stop       chan struct{}      // closed by Disconnect
	dialCancel context.CancelFunc // cancels the current attempt's dial
	attemptSeq uint64             // identifies the current connection attempt
	loopGen    uint64             // identifies the running reconnection loop
	loopStop   chan struct{}      // closed to wake the running reconnection loop when it is superseded
	reconnects sync.WaitGroup     // the reconnection loop

	resubs []*resubscription // sent again on every connection, in order

	lmu       sync.Mutex
	listeners map[string][]*listener
}

// Connect dials url (http://, https://, ws:// or wss://; the path defaults to /socket.io/), performs
// the Engine.IO/Socket.IO handshake and returns once the socket is connected, or an error (ctx bounds
// it, and so does WithConnectTimeout). It does not retry a failed first connection.
func Connect(ctx context.Context, url string, opts ...Option) (*SailsSocket, error) {
	s, err := New(url, opts...)
	if err != nil {
		return nil, err
	}
	if err := s.Connect(ctx); err != nil {
		s.Disconnect()
		return nil, err
	}
	return s, nil
}

// New validates the URL and options and returns a socket that is not connected yet. Requests and
// listeners registered before Connect are kept (requests queue, in order) and go out once connected.
func New(rawURL string, opts ...Option) (*SailsSocket, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	s := &SailsSocket{opts: o, changed: make(chan struct{}), stop: make(chan struct{})}
	s.headers.Store(newGlobalHeaders(o.headers))
	if err := s.setURL(rawURL); err != nil {
		return nil, err
	}
	s.log = o.logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// setURL derives the handshake URL: user query first, then the SDK metadata, then EIO and transport,
// in the order sails.io.js sends them.
func (s *SailsSocket) setURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: URL %q: %v", ErrInvalidOption, raw, err)
	}
	var wsScheme, httpScheme string
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		wsScheme, httpScheme = "ws", "http"
	case "https", "wss":
		wsScheme, httpScheme = "wss", "https"
	default:
		return invalid("URL %q: scheme must be http, https, ws or wss", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return invalid("URL %q has no host", raw)
	}
	if u.User != nil {
		return invalid("URL %q: user info is not supported; use WithInitialConnectionHeaders", raw)
	}
	if u.Path != "" && u.Path != "/" {
		return invalid("URL %q: the path names a Socket.IO namespace, which Sails does not use; set the endpoint with WithPath", raw)
	}
	q := u.Query()
	for _, k := range reservedQuery {
		if _, ok := q[k]; ok {
			return invalid("URL %q: query parameter %q is set by the SDK", raw, k)
		}
	}
	for k, vs := range s.opts.query {
		q[k] = append(q[k], vs...)
	}
	var b strings.Builder
	if len(q) > 0 {
		b.WriteString(q.Encode())
		b.WriteByte('&')
	}
	b.WriteString("__sails_io_sdk_version=" + url.QueryEscape(s.opts.sdkVersion))
	b.WriteString("&__sails_io_sdk_platform=" + url.QueryEscape(s.opts.sdkPlatform))
	b.WriteString("&__sails_io_sdk_language=" + url.QueryEscape(s.opts.sdkLanguage))
	fmt.Fprintf(&b, "&EIO=%d&transport=websocket", int(s.opts.protocol))
	path := strings.TrimSuffix(s.opts.path, "/") + "/"
	s.wsURL = wsScheme + "://" + u.Host + path + "?" + b.String()
	s.httpURL = &url.URL{Scheme: httpScheme, Host: u.Host, Path: path}
	return nil
}

// Connect connects a socket made with New. It returns nil at once if the socket is connected, and
// waits for an attempt already under way. If it fails, queued requests stay queued (call Connect
// again) until their context or request timeout ends them, or Disconnect fails them with ErrClosed.
func (s *SailsSocket) Connect(ctx context.Context) error {
	for {
		s.mu.Lock()
		switch s.state {
		case StateClosed:
			s.mu.Unlock()
			return ErrClosed
		case StateConnected:
			s.mu.Unlock()
			return nil
		case StateConnecting, StateReconnecting:
			ch := s.changed
			s.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return fmt.Errorf("sailsio: connect: %w", ctx.Err())
			}
		}
		prev := s.state
		seq := s.beginAttempt()
		s.mu.Unlock()
		return s.connectOnce(ctx, seq, prev, 0)
	}
}

// beginAttempt starts a connection attempt, superseding (and cancelling) any other. Caller holds s.mu.
func (s *SailsSocket) beginAttempt() uint64 {
	if s.dialCancel != nil {
		s.dialCancel()
		s.dialCancel = nil
	}
	s.setState(StateConnecting)
	s.attemptSeq++
	return s.attemptSeq
}

// connectOnce runs attempt seq (from beginAttempt): it dials, then installs the connection or
// reverts to prev. attempt > 0 is a reconnection attempt of the running loop; otherwise a failure
// with prev StateReconnecting starts the loop.
func (s *SailsSocket) connectOnce(ctx context.Context, seq uint64, prev State, attempt int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	if s.attemptSeq != seq || s.state != StateConnecting { // Disconnect or Reconnect came first
		s.mu.Unlock()
		return errSuperseded
	}
	s.dialCancel = cancel
	s.mu.Unlock()
	c, err := s.dial(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attemptSeq != seq || s.state != StateConnecting {
		if c != nil {
			c.ws.Close() // never installed: no goroutines, no requests
		}
		if s.state == StateClosed {
			return ErrClosed
		}
		return errSuperseded
	}
	s.dialCancel = nil
	if err != nil {
		s.emitConnectError(err)
		switch {
		case prev == StateReconnecting && attempt > 0:
			s.setState(StateReconnecting)
		case prev == StateReconnecting:
			s.startReconnecting()
		default:
			s.setState(prev)
			if prev == StateDisconnected {
				s.failQueue(ErrDisconnected)
			}
		}
		return err
	}
	s.install(c, attempt)
	return nil
}

// setState changes the state and wakes whoever waits for a change. Caller holds s.mu.
func (s *SailsSocket) setState(st State) {
	if s.state == st {
		return
	}
	s.state = st
	close(s.changed)
	s.changed = make(chan struct{})
}

// install makes c the current connection: connect (and reconnect) handlers are scheduled before any
// callback of a request sent on c, then the resubscriptions go out, then the queue, in order.
// Caller holds s.mu.
func (s *SailsSocket) install(c *conn, attempt int) {
	s.conn = c
	s.setState(StateConnected)
	s.emit(EventConnect, jsonNull)
	if attempt > 0 {
		s.emitJSON(EventReconnect, map[string]int{"attempt": attempt})
	}
	s.log.Debug("sailsio: connected", "url", s.wsURL, "id", c.id, "protocol", int(c.eio))
	c.start()
	for _, rs := range s.resubs {
		rs.sendOn(c)
	}
	for _, r := range s.takeQueue() {
		c.send(r)
	}
}

// connLost is called once by a connection that ended on its own (not by Disconnect or Reconnect).
func (s *SailsSocket) connLost(c *conn, reason string, cause error) {
	s.mu.Lock()
	if s.conn != c {
		s.mu.Unlock()
		return
	}
	s.conn = nil
	s.log.Info("sailsio: disconnected", "reason", reason, "error", cause)
	s.emitJSON(EventDisconnect, map[string]string{"reason": reason})
	c.failPending(disconnectedError(cause)) // before any event of the reconnection
	if s.opts.reconnection && reason != ReasonServerDisconnect {
		s.startReconnecting()
	} else {
		s.setState(StateDisconnected)
	}
	s.mu.Unlock()
}

func disconnectedError(cause error) error {
	if cause == nil {
		return ErrDisconnected
	}
	return fmt.Errorf("%w: %w", ErrDisconnected, cause)
}

// failQueue fails every queued request with err. Caller holds s.mu.
func (s *SailsSocket) failQueue(err error) {
	for _, r := range s.takeQueue() {
		r.complete(nil, err)
	}
}

func (s *SailsSocket) emitConnectError(err error) {
	payload := map[string]any{"error": err.Error()}
	var he *HandshakeError
	if errors.As(err, &he) {
		payload["status"] = he.StatusCode
	}
	s.log.Warn("sailsio: connection attempt failed", "error", err)
	s.emitJSON(EventConnectError, payload)
}

// Disconnect closes the socket for good: the server is told (41), reconnection stops, and pending and
// queued requests fail with ErrClosed. It waits for the connection's goroutines to end. Calling it again
// does nothing.
func (s *SailsSocket) Disconnect() error {
	s.mu.Lock()
	if s.state == StateClosed {
		s.mu.Unlock()
		return nil
	}
	wasConnected := s.state == StateConnected
	s.setState(StateClosed)
	close(s.stop)
	if s.dialCancel != nil {
		s.dialCancel()
		s.dialCancel = nil
	}
	s.attemptSeq++
	c := s.conn
	s.conn = nil
	queued := s.takeQueue()
	if wasConnected {
		s.emitJSON(EventDisconnect, map[string]string{"reason": ReasonClientDisconnect})
	}
	s.mu.Unlock()
	if c != nil {
		c.closeGracefully()
		c.failPending(ErrClosed)
		c.wait()
	}
	for _, r := range queued {
		r.complete(nil, ErrClosed)
	}
	s.reconnects.Wait()
	return nil
}

// Reconnect drops the current connection (if any; its in-flight requests fail with ErrDisconnected)
// and connects again, like a new Connect. Requests made meanwhile queue. If the attempt fails and
// reconnection is on, the reconnection loop takes over.
func (s *SailsSocket) Reconnect(ctx context.Context) error {
	s.mu.Lock()
	if s.state == StateClosed {
		s.mu.Unlock()
		return ErrClosed
	}
	c := s.conn
	s.conn = nil
	prev := s.state
	if prev == StateConnected {
		s.emitJSON(EventDisconnect, map[string]string{"reason": ReasonClientDisconnect})
	}
	seq := s.beginAttempt()
	s.stopLoop()
	s.mu.Unlock()
	if c != nil {
		c.closeGracefully()
		c.failPending(ErrDisconnected)
		c.wait()
	}
	after := StateIdle
	if prev != StateIdle {
		after = StateDisconnected
		if s.opts.reconnection {
			after = StateReconnecting
		}
	}
	return s.connectOnce(ctx, seq, after, 0)
}

var errSuperseded = errors.New("sailsio: connection attempt superseded by Reconnect or Disconnect")

// State is the connection state of a SailsSocket.
type State int

// Connection states.
const (
	StateIdle         State = iota // made by New; Connect not called yet, or the first Connect failed
	StateConnecting                // Connect or Reconnect is under way
	StateConnected                 // a connection is up
	StateReconnecting              // the connection was lost and the reconnection loop is running
	StateDisconnected              // lost, and no connection is expected: reconnection off, given up, or kicked
	StateClosed                    // Disconnect was called
)

var stateNames = [...]string{"idle", "connecting", "connected", "reconnecting", "disconnected", "closed"}

// String returns the state's name.
func (st State) String() string {
	if st >= 0 && int(st) < len(stateNames) {
		return stateNames[st]
	}
	return "State(" + strconv.Itoa(int(st)) + ")"
}

// State returns the current connection state.
func (s *SailsSocket) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// IsConnected reports whether a connection is up.
func (s *SailsSocket) IsConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == StateConnected
}

// IsConnecting reports whether a connection attempt or the reconnection loop is under way.
func (s *SailsSocket) IsConnecting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == StateConnecting || s.state == StateReconnecting
}

// ID returns the Socket.IO socket id the server knows this socket by ("" when not connected): the
// engine sid under EIO3, the id from the CONNECT reply under EIO4. It is what sails.sockets.getId(req)
// returns on the server.
func (s *SailsSocket) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return ""
	}
	return s.conn.id
}

// handshakeHeader returns the upgrade request's headers: the initial connection headers, then the
// jar's cookies for the socket URL appended to any Cookie given there.
func (s *SailsSocket) handshakeHeader() http.Header {
	h := s.opts.initialHeaders.Clone()
	if h == nil {
		h = http.Header{}
	}
	if s.opts.jar != nil {
		var parts []string
		if c := h.Get("Cookie"); c != "" {
			parts = append(parts, c)
		}
		for _, ck := range s.opts.jar.Cookies(s.httpURL) {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
		if len(parts) > 0 {
			h.Set("Cookie", strings.Join(parts, "; "))
		}
	}
	return h
}
