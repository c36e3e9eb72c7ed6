package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// ErrSessionUnknown: the server answered HTTP 400 "Session ID unknown" to a polling request: it
// does not know the Engine.IO session (any more). Behind a load balancer this means the requests
// of one session do not all reach the same server: polling needs sticky sessions. The client
// package re-exports it.
var ErrSessionUnknown = errors.New("sailsio: the server does not know the Engine.IO session (HTTP 400 \"Session ID unknown\"; behind a load balancer, polling needs sticky sessions)")

// ErrPaused is what ReadFrame of a paused Polling returns once the payloads already received are
// read: the upgrade to WebSocket may proceed.
var ErrPaused = errors.New("sailsio: polling paused for the upgrade")

// PollingConfig is what NewPolling needs.
type PollingConfig struct {
	// URL is the http(s) URL of the handshake with its query, EIO and transport=polling included
	// (and b64=1 under EIO3); the transport adds t and, after the open packet, sid.
	URL string
	EIO int
	// Header returns the headers of one request: the initial connection headers and the cookie
	// jar's cookies of the moment. It is called for every request.
	Header func() http.Header
	// OnResponse sees every response, for cookies. May be nil.
	OnResponse func(*http.Response)
	// Client sends the requests: one keep-alive client per socket.
	Client *http.Client
	// MaxMessage is the largest message accepted from the server.
	MaxMessage int64
}

// Polling is the HTTP long-polling transport: ReadFrame returns the packets of one GET's payload one
// at a time and GETs again when they are all read; WriteFrames POSTs a batch (split so that no POST
// exceeds the server's maxPayload). At most one GET (the reader's) and one POST (the writer's) are
// in flight. Close cancels both.
type Polling struct {
	cfg    PollingConfig
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	sid        string
	maxPayload int64

	seq      atomic.Uint64
	lastRead atomic.Int64
	paused   atomic.Bool

	// owned by the reader
	body    *[]byte // the last GET's payload, from pollBodies, while packets hold parts of it
	packets []wire.PayloadPacket
}

// pollBodies holds the buffers of the GETs' payloads while no payload is being read: a GET waits
// (the session idles) holding none.
var pollBodies = sync.Pool{New: func() any { return new([]byte) }}

// NewPolling returns a polling transport; nothing is sent before the first ReadFrame, whose GET
// is the handshake.
func NewPolling(cfg PollingConfig) *Polling {
	p := &Polling{cfg: cfg}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.lastRead.Store(time.Now().UnixNano())
	return p
}

// Name returns "polling".
func (p *Polling) Name() string { return "polling" }

// SID returns the Engine.IO session id, once the open packet arrived.
func (p *Polling) SID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sid
}

// Pause makes ReadFrame return ErrPaused instead of starting another GET.
func (p *Polling) Pause() { p.paused.Store(true) }

// Resume undoes Pause.
func (p *Polling) Resume() { p.paused.Store(false) }

// ReadFrame returns the next packet of the last GET's payload, GETting another payload when none
// is left. A binary packet comes as the session expects a binary WebSocket frame: prefixed with
// 0x04 under EIO3.
func (p *Polling) ReadFrame(buf *bytes.Buffer) (bool, error) {
	for len(p.packets) == 0 {
		if p.paused.Load() {
			return false, ErrPaused
		}
		if err := p.poll(); err != nil {
			return false, err
		}
	}
	pk := p.packets[0]
	p.packets[0] = wire.PayloadPacket{}
	p.packets = p.packets[1:]
	buf.Reset()
	if pk.Binary {
		if p.cfg.EIO == 3 {
			buf.WriteByte(wire.BinaryPrefixEIO3)
		}
		buf.Write(pk.Data)
		return true, nil
	}
	if len(pk.Data) > 0 && pk.Data[0] == byte(wire.EngineOpen) {
		p.learnOpen(pk.Data[1:])
	}
	buf.Write(pk.Data)
	return false, nil
}

// learnOpen takes the sid and maxPayload of the open packet.
func (p *Polling) learnOpen(payload []byte) {
	o, err := wire.DecodeOpen(payload)
	if err != nil {
		return // the session reports it
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sid == "" {
		p.sid, p.maxPayload = o.SID, o.MaxPayload
	}
}

// requestURL returns the URL of the next request: cache buster t, and sid once known.
func (p *Polling) requestURL() string {
	var b strings.Builder
	b.WriteString(p.cfg.URL)
	b.WriteString("&t=")
	b.WriteString(strconv.FormatInt(time.Now().UnixMilli(), 36))
	b.WriteByte('.')
	b.WriteString(strconv.FormatUint(p.seq.Add(1), 36))
	if sid := p.SID(); sid != "" {
		b.WriteString("&sid=")
		b.WriteString(sid)
	}
	return b.String()
}

// poll GETs one payload.
func (p *Polling) poll() error {
	p.releaseBody() // every packet of the last payload has been read
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, p.requestURL(), nil)
	if err != nil {
		return err
	}
	resp, err := p.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// base64 makes binary data a third larger; the framing adds a little.
	limit := p.cfg.MaxMessage/3*4 + 64<<10
	p.body = pollBodies.Get().(*[]byte)
	body, err := readLimited(resp.Body, (*p.body)[:0], limit)
	p.lastRead.Store(time.Now().UnixNano())
	if err != nil {
		return err
	}
	*p.body = body
	if p.cfg.EIO == 4 && p.SID() == "" && isEIO3Open(body) {
		return protocolError("the server answered with an Engine.IO v3 polling payload (%q), as only Engine.IO v3 servers do (sails-hook-sockets 1.x and 2.x): use EIO3", excerpt(body))
	}
	packets, err := wire.DecodePayload(p.cfg.EIO, body, p.packets[:0])
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	p.packets = packets
	return nil
}

// releaseBody gives the last payload's buffer back, unless it grew large.
func (p *Polling) releaseBody() {
	if p.body == nil {
		return
	}
	if cap(*p.body) <= maxKeptReadBuffer {
		*p.body = (*p.body)[:0]
		pollBodies.Put(p.body)
	}
	p.body = nil
}

// isEIO3Open reports whether body, the payload of the first GET, is an Engine.IO v3 one starting
// with the open packet: `<length>:0{...`. An Engine.IO v3 server (sails-hook-sockets 1.x and 2.x)
// answers EIO=4 so (docs/protocol.md, "Server generations"); an EIO4 payload starts with `0{`.
func isEIO3Open(body []byte) bool {
	packets, err := wire.DecodePayload(3, body, nil)
	return err == nil && len(packets) > 0 && !packets[0].Binary && bytes.HasPrefix(packets[0].Data, []byte("0{"))
}

func readLimited(r io.Reader, dst []byte, limit int64) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%w: a polling payload exceeded %d bytes", ErrMessageTooLarge, limit)
	}
	return buf.Bytes(), nil
}

// do sends a request with the socket's headers and checks the status: 200, or an error
// (ErrSessionUnknown for "Session ID unknown", a *HandshakeStatusError otherwise).
func (p *Polling) do(req *http.Request) (*http.Response, error) {
	if p.cfg.Header != nil {
		for k, vs := range p.cfg.Header() {
			req.Header[k] = vs
		}
	}
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	if p.cfg.OnResponse != nil {
		p.cfg.OnResponse(resp)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode == http.StatusRequestEntityTooLarge {
		return nil, fmt.Errorf("%w: the server refused a POST of %d bytes (HTTP 413; maxHttpBufferSize)", ErrMessageTooLarge, req.ContentLength)
	}
	if resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte("Session ID unknown")) && p.SID() != "" {
		return nil, fmt.Errorf("%w: %s %s", ErrSessionUnknown, req.Method, req.URL.Redacted())
	}
	return nil, &HandshakeStatusError{Response: resp, Body: body}
}

// WriteFrames POSTs the frames, in as few requests as the server's maxPayload allows.
func (p *Polling) WriteFrames(frames [][]byte, deadline time.Time) error {
	p.mu.Lock()
	max := p.maxPayload
	p.mu.Unlock()
	var payload []byte
	for _, f := range frames {
		pk := wire.PayloadPacket{Data: f}
		if max > 0 && len(payload) > 0 && int64(wire.PayloadSize(p.cfg.EIO, len(payload), pk)) > max {
			if err := p.post(payload, deadline); err != nil {
				return err
			}
			payload = payload[:0]
		}
		if p.cfg.EIO != 3 && len(payload) > 0 {
			payload = append(payload, wire.RecordSeparator)
		}
		payload = wire.AppendPayload(payload, p.cfg.EIO, []wire.PayloadPacket{pk})
	}
	if len(payload) == 0 {
		return nil
	}
	return p.post(payload, deadline)
}

func (p *Polling) post(payload []byte, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(p.ctx, deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.requestURL(), bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := p.do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.Body.Close()
}

// WriteClose POSTs a close packet, best effort, within deadline.
func (p *Polling) WriteClose(deadline time.Time) {
	if p.SID() != "" {
		_ = p.WriteFrames([][]byte{{byte(wire.EngineClose)}}, deadline)
	}
}

// LastRead returns when the last payload arrived.
func (p *Polling) LastRead() time.Time { return time.Unix(0, p.lastRead.Load()) }

// Close cancels the requests in flight.
func (p *Polling) Close() error {
	p.cancel()
	return nil
}

// NewHTTPClient returns the keep-alive client of one socket's polling requests: TLS config as
// given, the environment's proxy, and never more than two connections to the server (one GET and
// one POST in flight).
func NewHTTPClient(tlsConfig *tls.Config) *http.Client {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsConfig,
		MaxConnsPerHost:     2,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &http.Client{Transport: tr}
}
