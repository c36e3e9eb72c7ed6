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
type SailsSocket struct {
	opts    options
	wsURL   string   // ws(s)://host/path/?query
	pollURL string   // http(s)://host/path/?query with transport=polling
	httpURL *url.URL // the http(s) form, for the cookie jar
	log     *slog.Logger
	disp    dispatcher
	headers atomic.Pointer[globalHeaders]
	backOff backoff.BackOff // used by the life owner only (life.go)
	// keepBackOff: the last connection was lost because the server did not know its session
	// (ErrSessionUnknown): the next reconnection loop goes on with the delays where the last one
	// stopped instead of starting over, so that a load balancer without sticky sessions (every
	// connection lost at once) meets a growing delay. Guarded by mu.
	keepBackOff bool

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
	pollClient *http.Client // polling's keep-alive client, one per socket
	upgraded   atomic.Bool  // an upgrade succeeded (WithRememberUpgrade)

	lmu          sync.Mutex
	listeners    map[string][]*listener
	anyListeners []*anyListener // OnAny; never mutated in place
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
	s.disp.track = &s.track
	s.queue.maxN, s.queue.maxBytes = o.queueLimit, o.queueBytes
	s.headers.Store(newGlobalHeaders(o.headers))
	if err := s.setURL(rawURL); err != nil {
		return nil, err
	}
	if o.backOffClaim != nil && !o.backOffClaim.CompareAndSwap(false, true) {
		return nil, invalid("the BackOff given to WithReconnectionBackOff already serves another socket; a BackOff has state, so give each socket its own (WithReconnectionBackOffFunc makes one per socket)")
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
		return fmt.Errorf("%w: URL %q: %w", ErrInvalidOption, raw, err)
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
	fmt.Fprintf(&b, "&EIO=%d", int(s.opts.protocol))
	path := strings.TrimSuffix(s.opts.path, "/") + "/"
	s.wsURL = wsScheme + "://" + u.Host + path + "?" + b.String() + "&transport=websocket"
	s.pollURL = httpScheme + "://" + u.Host + path + "?" + b.String() + "&transport=polling"
	if s.opts.protocol == EIO3 {
		s.pollURL += "&b64=1" // binary packets as base64 text: one payload format to read
	}
	s.httpURL = &url.URL{Scheme: httpScheme, Host: u.Host, Path: path}
	return nil
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
