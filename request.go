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
	Data    any               // JSON-encoded as the virtual body (nil: none, sent as {}); a json.RawMessage goes as is; over the server's maxPayload: ErrMessageTooLarge
	Headers map[string]string // per-request virtual headers; they override global headers of the same name
	// OmitHeaders names global headers left out of this request (case-insensitive): what io.socket
	// does for a per-call header set to undefined.
	OmitHeaders []string
}

// Request sends a virtual request and returns at once. cb (may be nil) is called exactly once.
func (s *SailsSocket) Request(opts RequestOptions, cb Callback) {
	if s.chain != nil && !s.bypassChain(opts.Method) {
		s.requestIntercepted(opts, cb)
		return
	}
	r, err := s.newRequest(opts)
	if err != nil {
		s.failCallback(cb, err)
		return
	}
	r.cb = cb
	r.startTimer()
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
	if s.chain != nil {
		return s.invoke(ctx, opts)
	}
	r, err := s.newRequest(opts)
	if err != nil {
		return nil, err
	}
	return s.await(ctx, r, nil)
}

// await submits r and waits for its outcome; sent (may be nil) is called once r is submitted.
func (s *SailsSocket) await(ctx context.Context, r *request, sent func()) (*JWRes, error) {
	// The only Do waiting on the socket (one request at a time) waits on a waker; with more in
	// flight, channels cost less than a system call per response.
	if s.disp.waiting.Add(1) == 1 {
		r.wk = getWaker()
	}
	defer s.disp.waiting.Add(-1)
	if awaitHook != nil {
		awaitHook(r.wk != nil)
	}
	if r.wk == nil {
		r.ch = resultChans.Get().(chan result)
	}
	r.trace = sendTraceOf(ctx)
	r.startTimer()
	s.submit(r)
	if sent != nil {
		sent()
	}
	s.disp.nudge() // a handler that calls Do on the reader hands the reading over
	if r.wk != nil {
		res := r.wk.await(ctx, r)
		return res.jwr, res.err
	}
	var res result
	done := ctx.Done()
	if done == nil { // a context that never ends (Background): no select
		res = <-r.ch
		resultChans.Put(r.ch)
		return res.jwr, res.err
	}
	select {
	case res = <-r.ch:
	case <-done:
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

// awaitHook, when set, learns whether each Do waits on a waker (tests).
var awaitHook func(waker bool)

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
	ch    chan result // Do's, when it has no waker
	wk    *waker      // Do's (waker.go)
	done  atomic.Bool
	timer atomic.Pointer[time.Timer]

	// payload is frameHeadroom free bytes, then the Socket.IO EVENT data: ["verb",{...}]; nil once
	// sent or ended. Guarded by s.mu once the request is submitted.
	payload []byte
	slot    slot // Life's bookkeeping
	// via is the session the request was last handed to, set before it was: the one whose reader
	// calls Ack (which reads it after the session's own lock, so without a race).
	via   session
	trace *SendTrace // WithSendTrace (hooks.go); nil without
}

// slot is what Life (life.go, queue.go) keeps of a request, guarded by the socket's mu.
type slot struct {
	queued bool    // waits in the queue
	sess   session // the session it is in flight on
	id     int64   // its ack id there
}

// frameHeadroom is room left before a request's payload for "42" and the ack id, so that the frame
// is written in place when the request is sent.
const frameHeadroom = engine.Headroom

// newRequest validates opts and encodes the request once, with the current global headers, into
// a frame of its exact size (body.go). A request over the last maxPayload the socket saw is refused
// with ErrMessageTooLarge, before its Data is encoded when a lower bound of its size is over it.
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
	// The frame: 42<id>["<method>",{"method":"<method>","headers":<hb>,"data":<data>,"url":<url>}]
	const fixed = len(`["",{"method":"","headers":,"data":,"url":}]`)
	rest := int64(fixed + 2*len(method) + len(hb) + int(jsonStringLen(url)))
	mp, limit := s.maxPayload.Load(), int64(0)
	if mp > 0 {
		// The frame takes "42" and an ack id of one digit at least.
		if limit = mp - rest - 3; limit <= 0 {
			return nil, tooLarge(method, url, rest+3, false, mp)
		}
	}
	data, err := prepareData(opts.Data, limit)
	if err != nil {
		var big *dataTooLarge
		if errors.As(err, &big) {
			return nil, tooLarge(method, url, rest+3+big.size, big.exact, mp)
		}
		return nil, err
	}
	data.measure()
	buf := make([]byte, frameHeadroom, int64(frameHeadroom)+rest+data.size)
	buf = append(buf, `["`...)
	buf = append(buf, method...)
	buf = append(buf, `",{"method":"`...)
	buf = append(buf, method...)
	buf = append(buf, `","headers":`...)
	buf = append(buf, hb...)
	buf = append(buf, `,"data":`...)
	buf = data.appendTo(buf)
	buf = append(buf, `,"url":`...)
	buf = wire.AppendJSONString(buf, url)
	buf = append(buf, "}]"...)
	return &request{s: s, payload: buf}, nil
}

// tooLarge is the error of a request over the server's maxPayload; size is its frame's (at least, if
// !exact).
func tooLarge(method, url string, size int64, exact bool, maxPayload int64) error {
	least := "at least "
	if exact {
		least = ""
	}
	return fmt.Errorf("%w: %s %s: the request takes %s%d bytes, over the server's maxPayload of %d bytes; "+
		"send less, or raise the server's limit (sails.config.sockets.maxHttpBufferSize)",
		ErrMessageTooLarge, strings.ToUpper(method), url, least, size, maxPayload)
}

// encodeData encodes a request's Data: nil as {}, a json.RawMessage as is (checked), anything else
// as encoding/json does.
func encodeData(d any) ([]byte, error) {
	if d == nil {
		return []byte("{}"), nil
	}
	e, err := prepareData(d, 0)
	if err != nil {
		return nil, err
	}
	return e.bytes(), nil
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
		r.completeOn(jwr, nil, r.via)
		return nil
	}
	if !json.Valid(data) {
		r.complete(nil, disconnectedError(errorf(ErrProtocol, "an ack whose payload is not valid JSON")))
		return errors.New("an ack whose payload is not valid JSON") // the session wraps it in ErrProtocol
	}
	jwr, err := decodeAck(data)
	r.completeOn(jwr, err, r.via)
	return nil
}

// complete delivers the outcome exactly once. It reports whether this call was the one that did.
// The caller has already removed r from the queue or the pending map, or calls abort instead.
func (r *request) complete(jwr *JWRes, err error) bool { return r.completeOn(jwr, err, nil) }

// completeOn is complete; reader is the session whose reader calls it (Ack), or nil. On that
// reader, a callback with no other callback running or waiting runs at once (dispatcher.runInline):
// one request at a time in the callback form then costs no goroutine hand-off, since the callback's
// next request is written by the same goroutine too.
func (r *request) completeOn(jwr *JWRes, err error, reader session) bool {
	if !r.done.CompareAndSwap(false, true) {
		return false
	}
	r.stopTimer()
	if r.ch != nil || r.wk != nil {
		res := result{jwr: jwr, err: err}
		if err != nil && jwr != nil && jwr.StatusCode == 0 {
			res.jwr = nil
		}
		if r.wk != nil {
			r.wk.post(res)
		} else {
			r.ch <- res
		}
	}
	if r.cb != nil {
		if jwr == nil {
			jwr = failedResponse(err)
		}
		cb, s := r.cb, r.s
		j := job{f: func() { s.call(func() { cb(jwr.Body, jwr) }) }}
		if h, ok := reader.(handoffer); !ok || !s.disp.runInline(&j, h) {
			s.disp.postJob(j)
		}
	}
	return true
}

// abort ends the request with err wherever it is (queue or in flight). It reports whether it did.
func (r *request) abort(err error) bool {
	if r.done.Load() {
		return false
	}
	r.s.withdraw(r)
	return r.complete(nil, err)
}

// Fail completes the request without a response (engine.Acker: no ack will come).
func (r *request) Fail(err error) { r.complete(nil, err) }

// frame returns the payload, with its headroom. Caller holds s.mu.
func (r *request) frame() []byte { return r.payload }

// size is the payload's size in bytes. Caller holds s.mu.
func (r *request) size() int64 { return int64(len(r.payload)) }

// release lets go of the payload: it was sent, or the request ended. Caller holds s.mu.
func (r *request) release() { r.payload = nil }

// failCallback schedules cb with a JWRes that carries err.
func (s *SailsSocket) failCallback(cb Callback, err error) {
	if cb == nil {
		return
	}
	jwr := failedResponse(err)
	s.disp.post(func() { s.call(func() { cb(jwr.Body, jwr) }) })
}
