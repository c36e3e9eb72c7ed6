package mockserver

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio/internal/sailsproto"
)

// Server is an in-process Sails server listening on 127.0.0.1. Create it with New or NewT and
// stop it with Close. All its methods are safe for concurrent use.
type Server struct {
	cfg          config
	socketPrefix string
	upgrader     websocket.Upgrader

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the server starts itself (connections, handlers)

	router   router
	sessions sessionStore
	reqSeq   atomic.Uint64

	mu       sync.Mutex
	closed   bool
	hs       *httptest.Server            // the current listener (restart.go)
	run      context.Context             // cancelled by Stop and Close
	stopRun  context.CancelFunc          //
	stopped  bool                        // Stop was called and Start was not
	url      string                      // the base URL, the same across Stop and Start
	addr     string                      // the address to listen on again
	crashErr error                       // what the server died of (restart.go)
	conns    map[string]*conn            // every live WebSocket connection, by socket id
	rooms    map[string]map[string]*conn // room -> socket id -> namespace-connected socket
	changed  chan struct{}               // closed (and replaced) whenever conns or sockets change
	work     chan func()                 // hands a task to an idle worker (workers.go)
	faults   faultState                  // guarded by mu
	resume   chan struct{}               // closed while the server is not paused

	closeMu sync.Mutex // serializes Close
	done    bool       // Close has finished; guarded by closeMu
}

// New starts a Server on 127.0.0.1 with a random port and returns it. It panics if an option is
// invalid or the server cannot listen, as httptest.NewServer does.
func New(opts ...Option) *Server {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:          cfg,
		socketPrefix: strings.TrimSuffix(cfg.path, "/") + "/",
		ctx:          ctx,
		cancel:       cancel,
		conns:        make(map[string]*conn),
		rooms:        make(map[string]map[string]*conn),
		changed:      make(chan struct{}),
		resume:       make(chan struct{}),
		work:         make(chan func()),
	}
	close(s.resume)
	s.sessions.m = make(map[string]*Session)
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      func(*http.Request) bool { return true }, // origins are checked before, as Sails does
	}
	s.addr = cfg.addr
	if err := s.listen(); err != nil {
		cancel()
		panic(err)
	}
	return s
}

// TB is the part of testing.TB that [NewT] uses; *testing.T, *testing.B and *testing.F satisfy it.
// It keeps the package from importing testing, so that programs using the server outside tests
// (sailsio mock, the examples) do not link it.
type TB interface {
	Helper()
	Cleanup(func())
}

// NewT is New for tests: it registers t.Cleanup(s.Close) so the server is closed when the test
// (and its subtests) end.
func NewT(t TB, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	t.Cleanup(s.Close)
	return s
}

// URL returns the server's base URL, "http://127.0.0.1:PORT" ("https://..." with WithTLS). It
// stays the same across Stop and Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// WebSocketURL returns the URL a raw WebSocket client dials for a handshake, without a query:
// "ws://127.0.0.1:PORT/socket.io/" ("wss://..." with WithTLS).
func (s *Server) WebSocketURL() string {
	return "ws" + strings.TrimPrefix(s.URL(), "http") + s.socketPrefix
}

// Client returns an *http.Client configured for the server (it trusts the server's certificate
// when WithTLS is used).
func (s *Server) Client() *http.Client { return s.httpServer().Client() }

// Certificate returns the certificate used by a WithTLS server, or nil.
func (s *Server) Certificate() *x509.Certificate { return s.httpServer().Certificate() }

func (s *Server) httpServer() *httptest.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hs
}

// closeGrace bounds how long a server-initiated close waits for the client's close frame.
const closeGrace = time.Second

// Close closes every WebSocket (with a close frame, as a lowering Sails server does), stops the
// listener, and waits until every goroutine the server started has ended: connection loops and
// handlers. Handlers see their Request.Context cancelled; Close blocks until they return, so a
// handler must not call Close and must not block forever ignoring its context. Clients that do
// not answer the close frame within a second are cut. Calling Close again does nothing.
func (s *Server) Close() {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.done {
		return
	}
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	hs := s.hs
	s.mu.Unlock()
	s.cancel()
	for _, c := range conns {
		c.closeGraceful()
	}
	hs.Close() // waits for plain HTTP requests (they return once s.ctx is done)
	deadline := time.NewTimer(closeGrace + 100*time.Millisecond)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		n, ch := len(s.conns), s.changed
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-ch:
			continue
		case <-deadline.C:
		}
		for _, c := range s.liveConns() {
			c.shutdown() // the client did not answer the close frame in time
		}
	}
	s.wg.Wait()
	s.done = true
}

// notifyLocked wakes everyone waiting for a change of the connection set. s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.runContext().Err() != nil && s.ctx.Err() == nil {
		panic(http.ErrAbortHandler) // accepted while the server was stopping: it is dead
	}
	if strings.HasPrefix(r.URL.Path, s.socketPrefix) {
		s.serveHandshake(w, r)
		return
	}
	if websocket.IsWebSocketUpgrade(r) {
		s.destroyUpgrade(w)
		return
	}
	s.serveRoute(w, r)
}

// destroyUpgradeTimeout is how long engine.io leaves an upgrade request for another path
// unanswered before it closes the connection (its destroyUpgradeTimeout).
const destroyUpgradeTimeout = time.Second

// destroyUpgrade treats a WebSocket upgrade on a path that is not the Socket.IO endpoint as
// engine.io does under Sails: no HTTP response at all, and the TCP connection closed after
// destroyUpgradeTimeout (at once if the server stops).
func (s *Server) destroyUpgrade(w http.ResponseWriter) {
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	run := s.runContext()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer nc.Close()
		t := time.NewTimer(destroyUpgradeTimeout)
		defer t.Stop()
		select {
		case <-t.C:
		case <-run.Done():
		}
	}()
}

// engineError writes an Engine.IO handshake error the way engine.io does: JSON
// {"code":N,"message":"..."} for plain HTTP requests, text for aborted upgrades.
func engineError(w http.ResponseWriter, upgrade bool, code int, message string) {
	if upgrade {
		abortUpgrade(w, message)
		return
	}
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, message})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(b)
}

// abortUpgrade refuses a WebSocket upgrade with HTTP 400 and message as a text/html body, as
// engine.io's abortUpgrade does.
func abortUpgrade(w http.ResponseWriter, message string) {
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(message))
}

func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	for _, o := range s.cfg.origins {
		if o == origin {
			return true
		}
	}
	return false
}

// serveHandshake handles a request to the Socket.IO path: the checks engine.io and
// sails-hook-sockets make, in their order, then the WebSocket upgrade.
func (s *Server) serveHandshake(w http.ResponseWriter, r *http.Request) {
	if sid := r.URL.Query().Get("sid"); sid != "" && s.ctx.Err() == nil && s.cfg.accepts(r.URL.Query().Get("transport")) {
		s.serveSession(w, r, websocket.IsWebSocketUpgrade(r), sid) // polling.go
		return
	}
	if status, refused := s.takeRefusal(); refused {
		http.Error(w, http.StatusText(status), status)
		return
	}
	if s.ctx.Err() != nil {
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	q := r.URL.Query()
	upgrade := websocket.IsWebSocketUpgrade(r)
	hook3 := s.cfg.hook3()
	checkOrigins := len(s.cfg.origins) > 0 && s.cfg.beforeConnect == nil
	if hook3 && checkOrigins && !s.originAllowed(r) {
		// hook 3: the cors middleware runs before engine.io's checks.
		if upgrade {
			abortUpgrade(w, "Bad request")
		} else {
			engineError(w, false, 3, "Bad request")
		}
		return
	}
	if !s.cfg.accepts(q.Get("transport")) {
		engineError(w, upgrade, 0, "Transport unknown")
		return
	}
	if q.Get("sid") != "" {
		engineError(w, upgrade, 1, "Session ID unknown")
		return
	}
	polling := q.Get("transport") == "polling"
	if !upgrade && !polling {
		engineError(w, false, 3, "Bad request")
		return
	}
	if !hook3 && checkOrigins && !s.originAllowed(r) {
		if polling {
			// socket.io 2 refuses a polling request from another origin with 403
			http.Error(w, "Origin not allowed", http.StatusForbidden)
			return
		}
		abortUpgrade(w, "Origin not allowed")
		return
	}
	if f := s.cfg.beforeConnect; f != nil {
		if err := f(r); err != nil {
			abortUpgrade(w, err.Error())
			return
		}
	}
	hs := s.newHandshake(r)
	eio := 3
	if hook3 && q.Get("EIO") == "4" {
		eio = 4
	}
	if polling {
		s.servePollingHandshake(w, r, eio, hs) // polling.go
		return
	}
	bw := &batchingWriter{ResponseWriter: w}
	ws, err := s.upgrader.Upgrade(bw, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	s.startConn(ws, bw.conn, eio, hs)
}

// newHandshake captures what the server keeps of a handshake request.
func (s *Server) newHandshake(r *http.Request) *handshake {
	h := &handshake{
		header: r.Header.Clone(),
		query:  r.URL.Query(),
		ip:     remoteIP(r.RemoteAddr),
		tls:    r.TLS != nil,
	}
	h.origin = r.Header.Get("Origin")
	h.version = sdkMeta(r, "__sails_io_sdk_version")
	h.platform = sdkMeta(r, "__sails_io_sdk_platform")
	h.language = sdkMeta(r, "__sails_io_sdk_language")
	h.versionErr = sailsproto.CheckSDKVersion(h.version)
	h.versionOK = h.versionErr == nil
	h.session, h.cookie = s.sessions.forHandshake(strings.Join(r.Header.Values("Cookie"), "; "))
	return h
}

// sdkMeta reads SDK metadata from the handshake headers first, then the query, as
// sails-hook-sockets' parse-sdk-metadata does.
func sdkMeta(r *http.Request, name string) string {
	if v := r.Header.Get(name); v != "" {
		return v
	}
	return r.URL.Query().Get(name)
}

func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// WaitSockets blocks until cond, called with the sorted ids of the connected sockets each time
// the set changes (and once at the start), returns true; it then returns those ids. It returns
// ctx.Err() if ctx ends first. A socket counts as connected once its namespace CONNECT is done
// (under EIO4: after the server's 40{"sid":...} reply was queued).
func (s *Server) WaitSockets(ctx context.Context, cond func(ids []string) bool) ([]string, error) {
	for {
		s.mu.Lock()
		ids := s.socketIDsLocked()
		ch := s.changed
		s.mu.Unlock()
		if cond(ids) {
			return ids, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
