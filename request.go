package sailsio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sailsio-go/sailsio/internal/engine"
	"github.com/sailsio-go/sailsio/internal/sailsproto"
	"github.com/sailsio-go/sailsio/internal/wire"
)

// Callback receives the outcome of a request made in io.socket style. It is called exactly once, on
// the socket's callback goroutine: with the server's response, or with a JWRes whose StatusCode is 0
// and whose Error says why no response came. resData is the same bytes as jwr.Body.
type Callback func(resData json.RawMessage, jwr *JWRes)

// RequestOptions describes a virtual request.
type RequestOptions struct {
	Method  string            // "get", "post", "put", "patch", "delete" (also "head", "options"); case-insensitive; default "get"
	URL     string            // path with optional query, e.g. "/user/3/friends?limit=15"
	Data    any               // JSON-encoded as the virtual body (nil: none, sent as {}); a json.RawMessage goes as is
	Headers map[string]string // per-request virtual headers; they override global headers of the same name
	// OmitHeaders names global headers left out of this request (case-insensitive): what io.socket
	// does for a per-call header set to undefined.
	OmitHeaders []string
}

// Request sends a virtual request and returns at once. cb (may be nil) is called exactly once.
func (s *SailsSocket) Request(opts RequestOptions, cb Callback) {
	r, err := s.newRequest(opts)
	if err != nil {
		s.failCallback(cb, err)
		return
	}
	r.cb = cb
	s.submit(r)
}

// Get sends a GET virtual request; data (may be nil) becomes the virtual body, as in sails.io.js.
func (s *SailsSocket) Get(url string, data any, cb Callback) {
	s.Request(RequestOptions{Method: "get", URL: url, Data: data}, cb)
}

// Post sends a POST virtual request.
func (s *SailsSocket) Post(url string, data any, cb Callback) {
	s.Request(RequestOptions{Method: "post", URL: url, Data: data}, cb)
}

// Put sends a PUT virtual request.
func (s *SailsSocket) Put(url string, data any, cb Callback) {
	s.Request(RequestOptions{Method: "put", URL: url, Data: data}, cb)
}

// Patch sends a PATCH virtual request.
func (s *SailsSocket) Patch(url string, data any, cb Callback) {
	s.Request(RequestOptions{Method: "patch", URL: url, Data: data}, cb)
}

// Delete sends a DELETE virtual request.
func (s *SailsSocket) Delete(url string, data any, cb Callback) {
	s.Request(RequestOptions{Method: "delete", URL: url, Data: data}, cb)
}

// Do sends a virtual request and waits for its response. As in net/http, a response of any status
// is not an error. err is non-nil only when no response was received (the context ended: the error
// wraps ctx.Err(); ErrDisconnected, ErrClosed, ErrQueueFull, ErrTimeout, ErrInvalidRequest ...) — then
// jwr is nil — or when the server answered a parse error: then err is a *ParseError and jwr has
// StatusCode 400. Cancelling ctx abandons the wait and the queue slot, never the connection.
// Do does not use the callback goroutine, so it may be called from any callback or handler.
func (s *SailsSocket) Do(ctx context.Context, opts RequestOptions) (*JWRes, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sailsio: %w", err)
	}
	r, err := s.newRequest(opts)
	if err != nil {
		return nil, err
	}
	r.ch = resultChans.Get().(chan result)
	s.submit(r)
	var res result
	select {
	case res = <-r.ch:
	case <-ctx.Done():
		if r.abort(fmt.Errorf("sailsio: %w", ctx.Err())) {
			res = <-r.ch
			res.jwr = nil
		} else {
			res = <-r.ch // the response won the race
		}
	}
	resultChans.Put(r.ch) // drained: complete sends exactly once
	return res.jwr, res.err
}

// resultChans recycles the channels through which Do receives its result.
var resultChans = sync.Pool{New: func() any { return make(chan result, 1) }}

// GetContext is Do with method "get".
func (s *SailsSocket) GetContext(ctx context.Context, url string, data any) (*JWRes, error) {
	return s.Do(ctx, RequestOptions{Method: "get", URL: url, Data: data})
}

// PostContext is Do with method "post".
func (s *SailsSocket) PostContext(ctx context.Context, url string, data any) (*JWRes, error) {
	return s.Do(ctx, RequestOptions{Method: "post", URL: url, Data: data})
}

// PutContext is Do with method "put".
func (s *SailsSocket) PutContext(ctx context.Context, url string, data any) (*JWRes, error) {
	return s.Do(ctx, RequestOptions{Method: "put", URL: url, Data: data})
}

// PatchContext is Do with method "patch".
func (s *SailsSocket) PatchContext(ctx context.Context, url string, data any) (*JWRes, error) {
	return s.Do(ctx, RequestOptions{Method: "patch", URL: url, Data: data})
}

// DeleteContext is Do with method "delete".
func (s *SailsSocket) DeleteContext(ctx context.Context, url string, data any) (*JWRes, error) {
	return s.Do(ctx, RequestOptions{Method: "delete", URL: url, Data: data})
}

type result struct {
	jwr *JWRes
	err error
}

// request is one virtual request from the call to its completion.
type request struct {
	s     *SailsSocket
	cb    Callback
	ch    chan result
	done  atomic.Bool
	timer atomic.Pointer[time.Timer]

	// Guarded by s.mu.
	payload []byte // frameHeadroom free bytes, then the Socket.IO EVENT data: ["verb",{...}]; nil once sent or ended
	queued  bool
	conn    *conn // set while in flight
	id      int64
}

// frameHeadroom is room left before a request's payload for "42" and the ack id, so that the frame
// is written in place when the request is sent.
const frameHeadroom = engine.Headroom

// newRequest validates opts and encodes the request once, with the current global headers.
func (s *SailsSocket) newRequest(opts RequestOptions) (*request, error) {
	method := strings.ToLower(opts.Method)
	if method == "" {
		method = "get"
	}
	if !sailsproto.IsVerb(method) {
		return nil, errorf(ErrInvalidRequest, "method %q is not one Sails answers over sockets", opts.Method)
	}
	url, err := requestURL(opts.URL)
	if err != nil {
		return nil, err
	}
	hb, err := s.headers.Load().encode(opts.Headers, opts.OmitHeaders)
	if err != nil {
		return nil, err
	}
	data := []byte("{}")
	switch d := opts.Data.(type) {
	case nil:
	case json.RawMessage:
		if !json.Valid(d) {
			return nil, errorf(ErrInvalidRequest, "Data is a json.RawMessage holding invalid JSON")
		}
		data = d
	default:
		if data, err = json.Marshal(d); err != nil {
			return nil, fmt.Errorf("%w: cannot encode Data: %w", ErrInvalidRequest, err)
		}
	}
	buf := make([]byte, frameHeadroom, frameHeadroom+len(method)*2+len(hb)+len(data)+len(url)+48)
	buf = append(buf, `["`...)
	buf = append(buf, method...)
	buf = append(buf, `",{"method":"`...)
	buf = append(buf, method...)
	buf = append(buf, `","headers":`...)
	buf = append(buf, hb...)
	buf = append(buf, `,"data":`...)
	buf = append(buf, data...)
	buf = append(buf, `,"url":`...)
	buf = wire.AppendJSONString(buf, url)
	buf = append(buf, "}]"...)
	return &request{s: s, payload: buf}, nil
}

// requestURL checks a request URL: a path with an optional query. A path without its leading slash
// gets one ("pet" is "/pet", as a Sails route means it); a full URL is refused, since the socket
// already names the server.
func requestURL(u string) (string, error) {
	switch {
	case u == "":
		return "", errorf(ErrInvalidRequest, "empty URL")
	case strings.Contains(u, "://"):
		return "", errorf(ErrInvalidRequest, "URL %q: give the path (and query) only; the socket names the server", u)
	case strings.ContainsAny(u, "\r\n\x00"):
		return "", errorf(ErrInvalidRequest, "URL %q holds CR, LF or NUL", u)
	case u[0] != '/':
		return "/" + u, nil
	}
	return u, nil
}

// startTimer arms the request timeout, counted from now.
func (r *request) startTimer() {
	if d := r.s.opts.requestTimeout; d > 0 {
		r.timer.Store(time.AfterFunc(d, func() { r.abort(ErrTimeout) }))
		if r.done.Load() { // completed before the timer was stored
			r.stopTimer()
		}
	}
}

func (r *request) stopTimer() {
	if t := r.timer.Swap(nil); t != nil {
		t.Stop()
	}
}

// Ack completes the request with the server's ack (engine.Acker). The session has not checked
// that data is JSON: fastAck accepts only valid JSON, and anything else is checked here. An ack
// that is not JSON breaks the protocol: the request fails as the connection it ends.
func (r *request) Ack(data []byte) error {
	if jwr, ok := fastAck(data); ok {
		r.complete(jwr, nil)
		return nil
	}
	if !json.Valid(data) {
		r.complete(nil, disconnectedError(errorf(ErrProtocol, "an ack whose payload is not valid JSON")))
		return errors.New("an ack whose payload is not valid JSON") // the session wraps it in ErrProtocol
	}
	r.complete(decodeAck(data))
	return nil
}

// complete delivers the outcome exactly once. It reports whether this call was the one that did.
// The caller has already removed r from the queue or the pending map, or calls abort instead.
func (r *request) complete(jwr *JWRes, err error) bool {
	if !r.done.CompareAndSwap(false, true) {
		return false
	}
	r.stopTimer()
	if r.ch != nil {
		res := result{jwr: jwr, err: err}
		if err != nil && jwr != nil && jwr.StatusCode == 0 {
			res.jwr = nil
		}
		r.ch <- res
	}
	if r.cb != nil {
		if jwr == nil {
			jwr = failedResponse(err)
		}
		cb, s := r.cb, r.s
		s.disp.post(func() { s.call(func() { cb(jwr.Body, jwr) }) })
	}
	return true
}

// abort ends the request with err wherever it is (queue or in flight), and lets go of its payload.
// It reports whether it did.
func (r *request) abort(err error) bool {
	if r.done.Load() {
		return false
	}
	s := r.s
	s.mu.Lock()
	if r.queued {
		s.unqueue(r)
	}
	if r.conn != nil {
		r.conn.sess.Forget(r.id)
		r.conn = nil
	}
	r.payload = nil
	s.mu.Unlock()
	return r.complete(nil, err)
}

// submit sends r now, queues it, or fails it, according to the socket's state.
func (s *SailsSocket) submit(r *request) {
	r.startTimer()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.done.Load() {
		return
	}
	switch s.state {
	case StateConnected:
		s.send(s.conn, r)
	case StateIdle, StateConnecting, StateReconnecting:
		s.enqueue(r)
	case StateClosed:
		r.complete(nil, ErrClosed)
	default:
		r.complete(nil, ErrDisconnected)
	}
}

// send puts r on the wire on c. The payload is dropped once handed to the session: the writer
// holds the frame until it is written. Caller holds s.mu, which keeps frames in call order.
func (s *SailsSocket) send(c *conn, r *request) {
	id, err := c.sess.Request(r.payload, r)
	r.payload = nil
	switch {
	case err == nil:
		r.conn, r.id = c, id
	case errors.Is(err, engine.ErrClosed):
		// The connection is ending; the socket learns it at once (lost) and fails what was in
		// flight. A request that was not sent yet is failed the same way.
		r.complete(nil, ErrDisconnected)
	default:
		r.complete(nil, err)
	}
}

// enqueue puts r in the queue, or fails it with ErrQueueFull when the queue is at its count or byte
// bound. Caller holds s.mu.
func (s *SailsSocket) enqueue(r *request) {
	n := int64(len(r.payload))
	switch {
	case s.queued >= s.opts.queueLimit:
		r.payload = nil
		r.complete(nil, fmt.Errorf("%w: %d requests wait already (WithQueueLimit)", ErrQueueFull, s.queued))
		return
	case s.queuedBytes+n > s.opts.queueBytes:
		r.payload = nil
		r.complete(nil, fmt.Errorf("%w: %d bytes wait already, %d more would pass WithQueueBytes(%d)", ErrQueueFull, s.queuedBytes, n, s.opts.queueBytes))
		return
	}
	s.compactQueue()
	r.queued = true
	s.queue = append(s.queue, r)
	s.queued++
	s.queuedBytes += n
}

// unqueue takes r out of the queue's counts; compactQueue drops the entry later. Caller holds s.mu.
func (s *SailsSocket) unqueue(r *request) {
	r.queued = false
	s.queued--
	s.queuedBytes -= int64(len(r.payload))
}

// compactQueue drops abandoned entries once they make up most of the queue. Caller holds s.mu.
func (s *SailsSocket) compactQueue() {
	if len(s.queue) < 2*s.queued+32 {
		return
	}
	live := s.queue[:0]
	for _, q := range s.queue {
		if q.queued {
			live = append(live, q)
		}
	}
	clear(s.queue[len(live):])
	s.queue = live
}

// takeQueue empties the queue and returns its live requests in order. Caller holds s.mu.
func (s *SailsSocket) takeQueue() []*request {
	q := s.queue[:0]
	for _, r := range s.queue {
		if r.queued {
			r.queued = false
			q = append(q, r)
		}
	}
	s.queue, s.queued, s.queuedBytes = nil, 0, 0
	return q
}
