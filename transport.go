package sailsio

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strconv"

	"github.com/sailsio-go/sailsio/internal/engine"
)

// Transport is an Engine.IO transport.
type Transport int

// Transports.
const (
	// TransportWebSocket is one WebSocket for the whole session (the default, as sails.io.js 1.x).
	TransportWebSocket Transport = iota + 1
	// TransportPolling is HTTP long-polling: a GET waits for what the server sends, POSTs carry what
	// the client sends. The server must accept it (sails.config.sockets.transports) and, behind a
	// load balancer, route a session's requests to one server (sticky sessions).
	TransportPolling
)

// String returns the Engine.IO name of the transport: "websocket" or "polling".
func (t Transport) String() string {
	switch t {
	case TransportWebSocket:
		return "websocket"
	case TransportPolling:
		return "polling"
	}
	return "Transport(" + strconv.Itoa(int(t)) + ")"
}

func transportNamed(name string) Transport {
	switch name {
	case "websocket":
		return TransportWebSocket
	case "polling":
		return TransportPolling
	}
	return 0
}

// Upgrade events: after a handshake over polling with WithTransports(TransportPolling,
// TransportWebSocket), the socket probes a WebSocket and moves the session onto it. Payloads:
//
//	upgrade        {"transport": "websocket"}
//	upgrade_error  {"error": "..."} (the probe failed: the connection stays on polling)
const (
	EventUpgrade      = "upgrade"
	EventUpgradeError = "upgrade_error"
)

// WithTransports picks the transports in the order sails.io.js' (socket.io-client's) `transports`
// option does: the first one carries the handshake; when it is polling and websocket follows, the
// connection then upgrades to a WebSocket (events upgrade and upgrade_error tell how that went).
//
//	WithTransports(TransportWebSocket)                   websocket only (the default)
//	WithTransports(TransportPolling)                     HTTP long-polling only
//	WithTransports(TransportPolling, TransportWebSocket) handshake over polling, then upgrade to websocket
//
// WithTransports(TransportWebSocket, TransportPolling) connects over websocket, as socket.io-client
// does (it does not fall back to polling).
func WithTransports(t ...Transport) Option {
	t = slices.Clone(t) // one copy, shared by the sockets this option makes (never modified)
	return func(o *options) error {
		if len(t) == 0 {
			return invalid("WithTransports needs at least one transport")
		}
		for i, x := range t {
			if x != TransportWebSocket && x != TransportPolling {
				return invalid("transport %d is neither TransportWebSocket nor TransportPolling", int(x))
			}
			if slices.Contains(t[:i], x) {
				return invalid("transport %v given twice", x)
			}
		}
		o.transports = t
		return nil
	}
}

// WithRememberUpgrade makes reconnections skip polling and go straight to websocket once an upgrade
// succeeded, as socket.io-client's rememberUpgrade does (default off).
func WithRememberUpgrade(on bool) Option {
	return func(o *options) error {
		o.rememberUpgrade = on
		return nil
	}
}

// Transport returns the transport the live connection uses now (0 when not connected).
func (s *SailsSocket) Transport() Transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		return 0
	}
	return s.sess.transport()
}

// firstTransport returns the transport of the next handshake.
func (s *SailsSocket) firstTransport() Transport {
	if s.opts.transports[0] == TransportPolling && s.upgraded.Load() && s.opts.rememberUpgrade && s.canUpgrade() {
		return TransportWebSocket
	}
	return s.opts.transports[0]
}

// canUpgrade reports whether a polling connection should try websocket.
func (s *SailsSocket) canUpgrade() bool {
	return s.opts.transports[0] == TransportPolling && slices.Contains(s.opts.transports, TransportWebSocket)
}

// httpClient returns the socket's keep-alive client for polling (made on first use).
func (s *SailsSocket) httpClient() *http.Client {
	s.pollOnce.Do(func() { s.pollClient = engine.NewHTTPClient(s.opts.tlsConfig) })
	return s.pollClient
}

// closeHTTP closes the idle connections of the polling client.
func (s *SailsSocket) closeHTTP() {
	s.pollOnce.Do(func() {})
	if s.pollClient != nil {
		s.pollClient.CloseIdleConnections()
	}
}

// newPolling returns the polling transport of one connection.
func (s *SailsSocket) newPolling(a *attempt) *engine.Polling {
	return engine.NewPolling(engine.PollingConfig{
		URL:        a.pollURL,
		EIO:        int(s.opts.protocol),
		Header:     a.handshakeHeader,
		OnResponse: s.storeCookies,
		Client:     s.httpClient(),
		MaxMessage: s.opts.maxMessageSize,
	})
}

// dialWebSocket opens the WebSocket of a handshake (sid "") or of an upgrade.
func (s *SailsSocket) dialWebSocket(ctx context.Context, a *attempt, sid string) (*engine.WebSocket, error) {
	u := a.wsURL
	if sid != "" {
		u += "&sid=" + sid
	}
	return engine.DialWebSocket(ctx, engine.WebSocketConfig{
		URL:        u,
		Header:     a.handshakeHeader(),
		TLS:        s.opts.tlsConfig,
		MaxMessage: s.opts.maxMessageSize,
	}, s.storeCookies)
}

// engineMessage returns the message of an engine.io JSON error body ({"code":3,"message":"Bad
// request"}, how engine.io refuses a polling request), else body as is.
func engineMessage(body []byte) []byte {
	var e struct {
		Code    *int    `json:"code"`
		Message *string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Code != nil && e.Message != nil {
		return []byte(*e.Message)
	}
	return body
}

// upgradeDone learns how the upgrade of the live connection went.
func (s *SailsSocket) upgradeDone(transport Transport, err error) {
	if err != nil {
		s.logf(slog.LevelWarn, "sailsio: staying on polling", "error", err)
		s.emitJSON(EventUpgradeError, map[string]string{"error": err.Error()})
		return
	}
	s.upgraded.Store(true)
	s.logf(slog.LevelDebug, "sailsio: upgraded", "transport", transport.String())
	s.emitJSON(EventUpgrade, map[string]string{"transport": transport.String()})
	s.hookUpgrade(transport)
}
