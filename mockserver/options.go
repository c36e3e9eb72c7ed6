package mockserver

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sailsio-go/sailsio"
)

// Option configures a Server. Options are applied in order by New.
type Option func(*config)

// Defaults, as in sails-hook-sockets (lib/defaults.js) and Sails' session hook.
const (
	DefaultPingInterval      = 25 * time.Second
	DefaultPingTimeout       = 60 * time.Second
	DefaultMaxHTTPBufferSize = int64(1e8)
	DefaultResponseTimeout   = 30 * time.Second
	DefaultPath              = "/socket.io"
	// SessionCookieName is the name of the session cookie, as in Sails (sails.config.session.name).
	SessionCookieName = "sails.sid"
)

type config struct {
	protocol        sailsio.Protocol
	pingInterval    time.Duration
	pingTimeout     time.Duration
	maxBuffer       int64
	responseTimeout time.Duration
	origins         []string
	beforeConnect   func(r *http.Request) error
	frameLog        func(socketID string, dir byte, frame []byte)
	path            string
	tls             bool
	getCookie       bool
	transports      []sailsio.Transport // nil: websocket only
	addr            string
	persistSessions bool
	csrf            bool // WithCSRF (csrf.go)
	csrfTokenRoute  bool // WithCSRFTokenRoute
}

func defaultConfig() config {
	return config{
		protocol:        sailsio.EIO4,
		pingInterval:    DefaultPingInterval,
		pingTimeout:     DefaultPingTimeout,
		maxBuffer:       DefaultMaxHTTPBufferSize,
		responseTimeout: DefaultResponseTimeout,
		path:            DefaultPath,
		getCookie:       true,
		addr:            "127.0.0.1:0",
	}
}

// hook3 reports whether the server behaves like sails-hook-sockets 3.x.
func (c *config) hook3() bool { return c.protocol != sailsio.EIO3 }

// WithProtocol selects which sails-hook-sockets generation the server imitates.
// sailsio.EIO4 (the default) behaves like hook 3.x: socket.io 4.x with allowEIO3, so EIO=4 clients
// get Engine.IO v4 / Socket.IO v5 semantics and every other client EIO3 semantics; the open packet
// always carries maxPayload. sailsio.EIO3 behaves like hook 2.x: socket.io 2.x, EIO3 semantics
// whatever the client asks for, and no maxPayload. Any other value makes New panic.
func WithProtocol(p sailsio.Protocol) Option {
	return func(c *config) { c.protocol = p }
}

// WithPingInterval sets the Engine.IO pingInterval advertised in the open packet and used by the
// server (default 25s, as Sails).
func WithPingInterval(d time.Duration) Option {
	return func(c *config) { c.pingInterval = d }
}

// WithPingTimeout sets the Engine.IO pingTimeout advertised in the open packet and used by the
// server (default 60s, as Sails).
func WithPingTimeout(d time.Duration) Option {
	return func(c *config) { c.pingTimeout = d }
}

// WithMaxHTTPBufferSize sets sails.config.sockets.maxHttpBufferSize (default 1e8 bytes): the
// largest WebSocket message the server accepts. A larger one makes the server close the
// WebSocket with status 1009 and no Engine.IO close packet, as real Sails does. In hook-3 mode the
// value is advertised as maxPayload in the open packet. It also bounds plain HTTP request bodies.
func WithMaxHTTPBufferSize(n int64) Option {
	return func(c *config) { c.maxBuffer = n }
}

// WithResponseTimeout sets how long the server waits for a handler to answer before it answers
// 500 itself (default 30s). Real Sails has no such timeout; it keeps tests from hanging.
func WithResponseTimeout(d time.Duration) Option {
	return func(c *config) { c.responseTimeout = d }
}

// WithOnlyAllowOrigins imitates sails.config.sockets.onlyAllowOrigins: the WebSocket handshake
// must carry an Origin header equal to one of origins. A missing or other Origin gets HTTP 400
// with body "Bad request" (hook-3 mode) or "Origin not allowed" (hook-2 mode). As in
// sails-hook-sockets, the setting is ignored when WithBeforeConnect is also given.
func WithOnlyAllowOrigins(origins ...string) Option {
	return func(c *config) { c.origins = append([]string(nil), origins...) }
}

// WithBeforeConnect imitates sails.config.sockets.beforeConnect: f sees every WebSocket
// handshake request before the upgrade; a non-nil error refuses it with HTTP 400 and the
// error's text as the body. f runs on the handshake's goroutine.
func WithBeforeConnect(f func(r *http.Request) error) Option {
	return func(c *config) { c.beforeConnect = f }
}

// WithFrameLog makes the server call f with every WebSocket data frame it sends (dir '<',
// server to client) or receives (dir '>', client to server), exactly as on the wire (binary
// attachment frames included, with their 0x04 prefix under EIO3). socketID is the Socket.IO id of
// the connection (under EIO4 the id the server will announce in its CONNECT reply, so frames
// logged before that reply carry it too). f is called from the connection's goroutines, in wire
// order for each direction, must be safe for concurrent use and must not block; frame is a
// copy that f may keep. A FrameRecorder's Log method fits here.
func WithFrameLog(f func(socketID string, dir byte, frame []byte)) Option {
	return func(c *config) { c.frameLog = f }
}

// WithPath sets sails.config.sockets.path (default "/socket.io"): WebSocket handshakes are
// accepted on path + "/".
func WithPath(path string) Option {
	return func(c *config) { c.path = path }
}

// WithTLS makes New start the server with TLS (a self-signed certificate, as
// httptest.NewTLSServer): URL then starts with "https://" and Client and Certificate are set.
func WithTLS() Option {
	return func(c *config) { c.tls = true }
}

// WithGetCookieRoute turns the built-in "GET /__getcookie" route (Sails'
// sails.config.sockets.grant3rdPartyCookie, on by default) on or off. When on, the route answers
// `_sailsIoJSConnect();` as application/javascript after every user route failed to match, and
// like every HTTP response it sets the session cookie when the request had none.
func WithGetCookieRoute(on bool) Option {
	return func(c *config) { c.getCookie = on }
}

// WithAddr makes the server listen on addr (default "127.0.0.1:0": a random port on the
// loopback interface), e.g. "127.0.0.1:1337". With port 0 the port is chosen once: Start listens
// again on the same one.
func WithAddr(addr string) Option {
	return func(c *config) { c.addr = addr }
}

// WithPersistentSessions keeps sessions across Stop and Start, as a Sails app whose sessions are
// in Redis or a file does. Without it sessions live in memory and a restart loses them, as with
// Sails' default memory store.
func WithPersistentSessions() Option {
	return func(c *config) { c.persistSessions = true }
}

func (c *config) validate() error {
	if c.protocol != sailsio.EIO3 && c.protocol != sailsio.EIO4 {
		return fmt.Errorf("mockserver: WithProtocol(%d): want sailsio.EIO3 or sailsio.EIO4", c.protocol)
	}
	if c.pingInterval < time.Millisecond || c.pingTimeout < time.Millisecond {
		return fmt.Errorf("mockserver: ping interval %v and timeout %v must be at least 1ms", c.pingInterval, c.pingTimeout)
	}
	if c.maxBuffer <= 0 {
		return fmt.Errorf("mockserver: WithMaxHTTPBufferSize(%d): must be positive", c.maxBuffer)
	}
	if c.responseTimeout <= 0 {
		return fmt.Errorf("mockserver: WithResponseTimeout(%v): must be positive", c.responseTimeout)
	}
	c.path = "/" + strings.Trim(c.path, "/")
	return nil
}
