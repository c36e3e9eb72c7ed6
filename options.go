package sailsio

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/sailsio-go/sailsio/internal/sailsproto"
)

// Protocol selects the Engine.IO protocol revision spoken on the wire.
type Protocol int

// Engine.IO protocol revisions.
const (
	// EIO3 is Engine.IO v3 with Socket.IO protocol v4: what sails.io.js 1.2.1 speaks and what every
	// Sails 1.x server (sails-hook-sockets 2.x and 3.x) accepts. The client pings the server.
	EIO3 Protocol = 3
	// EIO4 is Engine.IO v4 with Socket.IO protocol v5: accepted only by sails-hook-sockets 3.x.
	// The server pings the client, and the client must connect the namespace with a CONNECT packet.
	EIO4 Protocol = 4
)

// Option configures a SailsSocket. Options are applied, in order, to a fresh copy of the defaults for
// each socket; an option that gets an invalid value makes New or Connect return an error wrapping
// ErrInvalidOption.
type Option func(*options) error

// DefaultSDKVersion is the sails.io.js SDK version announced in the handshake. Sails refuses every
// request of a client whose version is missing or below 0.11.0, and crashes on one that is not semver.
const DefaultSDKVersion = "1.2.1"

type options struct {
	protocol          Protocol
	path              string
	query             url.Values
	tlsConfig         *tls.Config
	jar               http.CookieJar
	reconnectAttempts int
	reconnectMin      time.Duration
	reconnectMax      time.Duration
	backOff           backoff.BackOff
	backOffClaim      *atomic.Bool // set by the first socket that takes backOff
	backOffFunc       func() backoff.BackOff
	queueBytes        int64
	connectTimeout    time.Duration
	requestTimeout    time.Duration
	queueLimit        int
	maxMessageSize    int64
	logger            *slog.Logger
	headers           map[string]string
	initialHeaders    http.Header
	sdkVersion        string
	sdkPlatform       string
	sdkLanguage       string
	transports        []Transport
	sessionCookieName string // WithSessionCookieName
	interceptors      []Interceptor
	connectParams     func(context.Context) (http.Header, url.Values, error)
	csrfPage          string // WithCSRFPage

	// The flags together, so that they take one word of a socket's memory.
	reconnection    bool
	rememberUpgrade bool
	sessionCookie   bool // WithSessionCookie
	csrf            bool // WithCSRF

	hooks []LifecycleHooks // WithLifecycleHooks (hooks.go)
}

// defaultTransports is the default of WithTransports, shared by the sockets (never modified).
var defaultTransports = []Transport{TransportWebSocket}

func defaultOptions() options {
	return options{
		protocol:       EIO3,
		path:           defaultPath,
		reconnection:   true,
		reconnectMin:   time.Second,
		reconnectMax:   5 * time.Second,
		connectTimeout: 20 * time.Second,
		queueLimit:     1024,
		queueBytes:     DefaultQueueBytes,
		maxMessageSize: 100_000_000,
		sdkVersion:     DefaultSDKVersion,
		sdkPlatform:    "go",
		sdkLanguage:    "go",
		transports:     defaultTransports,
	}
}

func invalid(format string, args ...any) error { return errorf(ErrInvalidOption, format, args...) }

// WithProtocol selects the Engine.IO protocol (default EIO3, which every Sails 1.x server accepts;
// EIO4 needs sails-hook-sockets 3.x).
func WithProtocol(p Protocol) Option {
	return func(o *options) error {
		if p != EIO3 && p != EIO4 {
			return invalid("protocol %d is neither EIO3 nor EIO4", int(p))
		}
		o.protocol = p
		return nil
	}
}

// WithPath sets the Socket.IO endpoint path (default "/socket.io"; it must match sails.config.sockets.path).
func WithPath(path string) Option {
	return func(o *options) error {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?#\r\n ") {
			return invalid("path %q must start with / and hold no query, fragment or spaces", path)
		}
		o.path = path
		return nil
	}
}

// reservedQuery are the handshake parameters the SDK itself sets.
var reservedQuery = []string{"EIO", "transport", "sid", "__sails_io_sdk_version", "__sails_io_sdk_platform", "__sails_io_sdk_language"}

// WithQuery adds query parameters to the handshake URL (sent before the SDK's own parameters).
// EIO, transport, sid and the __sails_io_sdk_* parameters are set by the SDK and refused here.
func WithQuery(q url.Values) Option {
	return func(o *options) error {
		for _, k := range reservedQuery {
			if _, ok := q[k]; ok {
				return invalid("query parameter %q is set by the SDK (see WithProtocol and WithSDKVersion)", k)
			}
		}
		if o.query == nil {
			o.query = url.Values{}
		}
		for k, vs := range q {
			o.query[k] = append(o.query[k], vs...)
		}
		return nil
	}
}

// WithTLSConfig sets the TLS configuration for wss:// and https:// URLs. Certificates are verified
// unless the configuration says otherwise. The config is cloned.
func WithTLSConfig(c *tls.Config) Option {
	return func(o *options) error {
		if c != nil {
			c = c.Clone()
		}
		o.tlsConfig = c
		return nil
	}
}

// WithCookieJar sets a cookie jar. Its cookies for the http(s) form of the socket URL go on every
// handshake, reconnections included, and cookies the handshake response sets are stored into it, so a
// session obtained by an HTTP login (with an http.Client sharing the jar) carries over to the socket.
func WithCookieJar(j http.CookieJar) Option {
	return func(o *options) error {
		o.jar = j
		return nil
	}
}

// WithReconnection turns automatic reconnection on or off (default on).
func WithReconnection(on bool) Option {
	return func(o *options) error {
		o.reconnection = on
		return nil
	}
}

// WithReconnectionAttempts bounds the reconnection attempts after a lost connection (default 0:
// unlimited). When they are used up, reconnect_failed fires and waiting requests fail with ErrDisconnected.
func WithReconnectionAttempts(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return invalid("reconnection attempts %d is negative", n)
		}
		o.reconnectAttempts = n
		return nil
	}
}

// WithReconnectionDelay sets the bounds of the jittered exponential delay between reconnection
// attempts (default 1s and 5s).
func WithReconnectionDelay(min, max time.Duration) Option {
	return func(o *options) error {
		if min <= 0 || max < min {
			return invalid("reconnection delay bounds %v, %v: need 0 < min <= max", min, max)
		}
		o.reconnectMin, o.reconnectMax = min, max
		return nil
	}
}

// WithReconnectionBackOff replaces the reconnection delay policy with any backoff.BackOff
// (WithReconnectionDelay is then ignored). A policy that returns backoff.Stop ends reconnection as if
// the attempts were used up. The policy is Reset before every reconnection loop, and is only ever
// called from one goroutine at a time, never under a lock of the SDK. A BackOff has state, so it
// serves one socket: New refuses a second socket made with the same Option value (use
// WithReconnectionBackOffFunc to give many sockets a policy each).
func WithReconnectionBackOff(b backoff.BackOff) Option {
	claim := new(atomic.Bool)
	return func(o *options) error {
		if b == nil {
			return invalid("nil BackOff")
		}
		o.backOff, o.backOffClaim, o.backOffFunc = b, claim, nil
		return nil
	}
}

// WithReconnectionBackOffFunc is WithReconnectionBackOff for many sockets: newBackOff is called once
// per socket, when it first reconnects, to make that socket's policy.
func WithReconnectionBackOffFunc(newBackOff func() backoff.BackOff) Option {
	return func(o *options) error {
		if newBackOff == nil {
			return invalid("nil BackOff function")
		}
		o.backOffFunc, o.backOff, o.backOffClaim = newBackOff, nil, nil
		return nil
	}
}

// WithConnectTimeout bounds each connection attempt: dial, upgrade and Socket.IO handshake (default 20s).
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return invalid("connect timeout %v must be positive", d)
		}
		o.connectTimeout = d
		return nil
	}
}

// WithRequestTimeout bounds every request, counted from the call and time in the queue included
// (default 0: none). A request that times out fails with ErrTimeout.
func WithRequestTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return invalid("request timeout %v is negative", d)
		}
		o.requestTimeout = d
		return nil
	}
}

// WithQueueLimit bounds the number of requests waiting for a connection (default 1024). Beyond it a
// request fails with ErrQueueFull. 0 means requests never wait.
func WithQueueLimit(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return invalid("queue limit %d is negative", n)
		}
		o.queueLimit = n
		return nil
	}
}

// DefaultQueueBytes is the default bound of the bytes of the requests waiting for a connection.
const DefaultQueueBytes = 32 << 20

// WithQueueBytes bounds the bytes of the requests waiting for a connection (default
// DefaultQueueBytes, 32 MiB), as nats.go's ReconnectBufSize does: beyond it a request fails with
// ErrQueueFull. A request larger than the bound cannot wait at all; send it once connected.
func WithQueueBytes(n int64) Option {
	return func(o *options) error {
		if n < 0 {
			return invalid("queue bytes %d is negative", n)
		}
		o.queueBytes = n
		return nil
	}
}

// WithMaxMessageSize bounds the size of a message read from the server (default 100 MB, as Sails'
// maxHttpBufferSize). A larger message closes the connection with an error wrapping ErrMessageTooLarge.
func WithMaxMessageSize(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return invalid("max message size %d must be positive", n)
		}
		o.maxMessageSize = n
		return nil
	}
}

// WithLogger sets the logger for connection life and protocol anomalies (default: nothing is logged).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		o.logger = l
		return nil
	}
}

// WithSDKVersion sets the sails.io.js SDK version announced in the handshake (default
// DefaultSDKVersion). It must be a semantic version; Sails refuses requests below 0.11.0.
func WithSDKVersion(v string) Option {
	return func(o *options) error {
		if err := checkSDKVersion(v); err != nil {
			return err
		}
		o.sdkVersion = v
		return nil
	}
}

// WithSDKPlatform sets __sails_io_sdk_platform (default "go") and __sails_io_sdk_language (default "go").
func WithSDKPlatform(platform, language string) Option {
	return func(o *options) error {
		if platform == "" || language == "" {
			return invalid("SDK platform and language must not be empty")
		}
		o.sdkPlatform, o.sdkLanguage = platform, language
		return nil
	}
}

// checkSDKVersion accepts the versions real Sails serves: valid semantic versions (as node-semver
// parses them strictly) of at least 0.11.0. Anything else would make Sails refuse every request,
// or crash the server.
func checkSDKVersion(v string) error {
	if v != strings.TrimSpace(v) {
		return invalid("SDK version %q has surrounding spaces", v)
	}
	if err := sailsproto.ValidateSDKVersion(v); err != nil {
		return fmt.Errorf("%w: SDK version %q: %w", ErrInvalidOption, v, err)
	}
	return nil
}
