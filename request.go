package sailsio

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
}

// methods are the verbs sails-hook-sockets listens to; any other event would never be answered.
var methods = map[string]bool{"get": true, "post": true, "put": true, "patch": true, "delete": true, "head": true, "options": true}

// Request sends a virtual request and returns at once. cb (may be nil) is called exactly once.
func (s *SailsSocket) Request(opts RequestOptions, cb Callback) {
	r, err := s.newRequest(opts)
	if err != nil {
		if cb != nil {
			jwr := failedResponse(err)
			s.disp.post(func() { s.call(func() { cb(jwr.Body, jwr) }) })
		}
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
	s       *SailsSocket
	payload []byte // frameHeadroom free bytes, then the Socket.IO EVENT data: ["verb",{...}]
	cb      Callback
	ch      chan result
	done    atomic.Bool
	timer   *time.Timer

	// Guarded by s.mu.
	queued bool
	conn   *conn // set while in flight
	id     int64
}

// frameHeadroom is room left before a request's payload for "42" and the ack id, so that the frame
// is written in place when the request is sent.
const frameHeadroom = 2 + 20

// newRequest validates opts and encodes the request once, with the current global headers.
func (s *SailsSocket) newRequest(opts RequestOptions) (*request, error) {
	method := strings.ToLower(opts.Method)
	if method == "" {
		method = "get"
	}
	if !methods[method] {
		return nil, errorf(ErrInvalidRequest, "method %q is not one Sails answers over sockets", opts.Method)
	}
	if opts.URL == "" {
		return nil, errorf(ErrInvalidRequest, "empty URL")
	}
	hb, err := s.headers.Load().encode(opts.Headers)
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
	buf := make([]byte, frameHeadroom, frameHeadroom+len(method)*2+len(hb)+len(data)+len(opts.URL)+48)
	buf = append(buf, `["`...)
	buf = append(buf, method...)
	buf = append(buf, `",{"method":"`...)
	buf = append(buf, method...)
	buf = append(buf, `","headers":`...)
	buf = append(buf, hb...)
	buf = append(buf, `,"data":`...)
	buf = append(buf, data...)
	buf = append(buf, `,"url":`...)
	buf = wire.AppendJSONString(buf, opts.URL)
	buf = append(buf, "}]"...)
	return &request{s: s, payload: buf}, nil
}

// complete delivers the outcome exactly once. It reports whether this call was the one that did.
// The caller has already removed r from the queue or the pending map, or calls abort instead.
func (r *request) complete(jwr *JWRes, err error) bool {
	if !r.done.CompareAndSwap(false, true) {
		return false
	}
	if r.timer != nil {
		r.timer.Stop()
	}
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

// abort ends the request with err wherever it is (queue or in flight). It reports whether it did.
func (r *request) abort(err error) bool {
	if r.done.Load() {
		return false
	}
	s := r.s
	s.mu.Lock()
	if r.queued {
		r.queued = false
		s.queued--
	}
	if r.conn != nil {
		r.conn.forget(r.id)
		r.conn = nil
	}
	s.mu.Unlock()
	return r.complete(nil, err)
}

// submit sends r now, queues it, or fails it, according to the socket's state.
func (s *SailsSocket) submit(r *request) {
	if d := s.opts.requestTimeout; d > 0 {
		r.timer = time.AfterFunc(d, func() { r.abort(ErrTimeout) })
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.done.Load() {
		return
	}
	switch s.state {
	case StateConnected:
		s.conn.send(r)
	case StateIdle, StateConnecting, StateReconnecting:
		if s.queued >= s.opts.queueLimit {
			r.complete(nil, ErrQueueFull)
			return
		}
		s.compactQueue()
		r.queued = true
		s.queue = append(s.queue, r)
		s.queued++
	case StateClosed:
		r.complete(nil, ErrClosed)
	default:
		r.complete(nil, ErrDisconnected)
	}
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
	s.queue, s.queued = nil, 0
	return q
}
