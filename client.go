package sailsio

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cenkalti/backoff/v4"
)

// SailsSocket is a Sails socket: the Go counterpart of sails.io.js' io.socket. It is safe for
// concurrent use by many goroutines.
//
// An idle socket's memory is mostly this struct: it is 888 bytes at most, so that with the
// allocator's 8-byte header it fits the 896-byte size class; a byte more makes it 1,024
// (TestSailsSocketSizeClass).
type SailsSocket struct {
	opts    options
	url     handshakeURL // the handshake URLs are built from it (buildURLs, httpURL)
	log     *slog.Logger
	disp    dispatcher
	headers atomic.Pointer[globalHeaders]
	backOff backoff.BackOff // used by the life owner only (life.go)

	// Life (life.go): the live session, the queue, the replays and the owner's commands.
	dialSession func(ctx, parent context.Context) (session, error) // s.dial; a fake in tests
	track       tracker                                            // the socket's goroutines (Shutdown)
	mu          sync.Mutex
	state       State
	closed      chan struct{} // closed by Disconnect
	sess        session       // the live connection, in StateConnected
	queue       requestQueue
	replays     []replay
	life        lifeQueue

	pollOnce   sync.Once
	upgraded   atomic.Bool  // an upgrade succeeded (WithRememberUpgrade)
	pollClient *http.Client // polling's keep-alive client, one per socket

	lmu          sync.Mutex
	listeners    map[string][]*listener
	anyListeners []*anyListener // OnAny; never mutated in place

	chain Invoker // the interceptor chain (interceptor.go); nil without interceptors
	turns turns   // keeps requests through the chain in call order

	// Steps of every connection attempt, registered at New (dial runs them without knowing them):
	// before the handshake (may fail the attempt), and as it is made (the returned function runs
	// once it succeeded).
	beforeHandshake []func(ctx context.Context, a *attempt) error
	handshaking     func(a *attempt) (succeeded func())

	csrf    *csrf                  // WithCSRF (csrf.go)
	connSID atomic.Pointer[string] // WithCSRF: the session cookie the last handshake carried

	// maxPayload is the maxPayload of the last open packet the socket saw (0: none, or the server
	// gave none): newRequest refuses a larger request before encoding it, queued ones too.
	maxPayload atomic.Int64
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
	if err := o.ownJar(); err != nil {
		return nil, err
	}
	s := &SailsSocket{opts: o, closed: make(chan struct{})}
	s.dialSession = s.dial
	s.disp.track, s.disp.done = &s.track, s.closed
	s.queue.maxN, s.queue.maxBytes = o.queueLimit, o.queueBytes
	if len(o.headers) == 0 {
		s.headers.Store(noGlobalHeaders)
	} else {
		s.headers.Store(newGlobalHeaders(o.headers))
	}
	if o.sessionCookie {
		s.beforeHandshake = append(s.beforeHandshake, s.getSessionCookie)
	}
	var sdk []Interceptor
	if o.csrf {
		s.csrf = &csrf{s: s}
		sdk = append(sdk, s.csrf.intercept)
		s.beforeHandshake = append(s.beforeHandshake, s.csrf.beforeHandshake)
		s.handshaking = s.csrf.handshaking
	}
	s.chain = buildChain(o.interceptors, sdk, s.transmit)
	if err := s.setURL(rawURL); err != nil {
		return nil, err
	}
	if o.backOffClaim != nil && !o.backOffClaim.CompareAndSwap(false, true) {
		return nil, invalid("the BackOff given to WithReconnectionBackOff already serves another socket; a BackOff has state, so give each socket its own (WithReconnectionBackOffFunc makes one per socket)")
	}
	s.log = o.logger
	if s.log == nil {
		s.log = discardLogger
	}
	s.hookNew()
	return s, nil
}

// discardLogger is the logger of every socket given none.
var discardLogger = slog.New(slog.DiscardHandler)

// setURL checks the URL and keeps the parts of the handshake URLs (handshakeURL): the query, the
// host and the path.
func (s *SailsSocket) setURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: URL %q: %w", ErrInvalidOption, raw, err)
	}
	var tls bool
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
	case "https", "wss":
		tls = true
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
	if len(q) == 0 {
		q = nil
	}
	path := strings.TrimSuffix(s.opts.path, "/") + "/"
	if path == defaultPath+"/" {
		path = defaultPath + "/" // one string for every socket
	}
	s.url = handshakeURL{query: q, host: u.Host, path: path, tls: tls}
	return nil
}

// httpURL returns the http(s) form of the socket URL (scheme, host and path), for the cookie jar.
func (s *SailsSocket) httpURL() *url.URL {
	scheme := "http"
	if s.url.tls {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: s.url.host, Path: s.url.path}
}

// defaultPath is the default of WithPath.
const defaultPath = "/socket.io"

// handshakeURL holds the parts of the handshake URLs, from which each connection attempt builds
// them (newAttempt), adding WithConnectParams' query if any: a socket does not keep the strings.
type handshakeURL struct {
	query      url.Values // the URL's own query and WithQuery's; nil when none
	host, path string     // path ends with "/"
	tls        bool
}

// buildURLs returns the WebSocket and polling URLs for the query q: q first, then the SDK
// metadata, then EIO and transport, in the order sails.io.js sends them.
func (s *SailsSocket) buildURLs(q url.Values) (ws, poll string) {
	var b strings.Builder
	if len(q) > 0 {
		b.WriteString(q.Encode())
		b.WriteByte('&')
	}
	b.WriteString("__sails_io_sdk_version=" + url.QueryEscape(s.opts.sdkVersion))
	b.WriteString("&__sails_io_sdk_platform=" + url.QueryEscape(s.opts.sdkPlatform))
	b.WriteString("&__sails_io_sdk_language=" + url.QueryEscape(s.opts.sdkLanguage))
	b.WriteString("&EIO=" + strconv.Itoa(int(s.opts.protocol)))
	query := b.String()
	wsScheme, httpScheme := "ws://", "http://"
	if s.url.tls {
		wsScheme, httpScheme = "wss://", "https://"
	}
	ws = wsScheme + s.url.host + s.url.path + "?" + query + "&transport=websocket"
	poll = httpScheme + s.url.host + s.url.path + "?" + query + "&transport=polling"
	if s.opts.protocol == EIO3 {
		poll += "&b64=1" // binary packets as base64 text: one payload format to read
	}
	return ws, poll
}

// wsURL returns the WebSocket handshake URL without WithConnectParams' query.
func (s *SailsSocket) wsURL() string {
	ws, _ := s.buildURLs(s.url.query)
	return ws
}

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
	return s.State() == StateConnected
}

// IsConnecting reports whether a connection attempt or the reconnection loop is under way.
func (s *SailsSocket) IsConnecting() bool {
	st := s.State()
	return st == StateConnecting || st == StateReconnecting
}

// ID returns the Socket.IO socket id the server knows this socket by ("" when not connected): the
// engine sid under EIO3, the id from the CONNECT reply under EIO4. It is what sails.sockets.getId(req)
// returns on the server.
func (s *SailsSocket) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		return ""
	}
	return s.sess.id()
}
