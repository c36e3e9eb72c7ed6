package mockserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// Response is how a handler answers, like a Sails res. The first method that sends a body (JSON,
// Send, End, the shorthands) answers the request; later ones are ignored. A handler may answer
// after it returned, from any goroutine; a request nobody answers gets 500 after the response
// timeout (WithResponseTimeout). Methods are safe for concurrent use.
//
// Over a socket the answer is the JWR {"body":...,"headers":{...},"statusCode":N}: body is the
// value itself (a string is a JSON string), headers holds only the headers the handler Set
// (names lower-cased, never set-cookie), and body is left out when there is none. Over HTTP the
// same answer becomes a normal HTTP response.
type Response struct {
	mu      sync.Mutex
	status  int
	headers map[string]string
	done    chan struct{}
	res     *result
}

// result is a finished answer.
type result struct {
	status      int
	headers     map[string]string // lower-case names, as set by the handler
	socketBody  []byte            // the JWR body as JSON; nil: no body
	binary      []byte            // non-nil: a binary body (a BINARY_ACK over sockets)
	httpBody    []byte
	contentType string // default Content-Type over HTTP
}

func newResponse() *Response {
	return &Response{headers: map[string]string{}, done: make(chan struct{})}
}

// Status sets the status code (default 200) and returns r for chaining.
func (r *Response) Status(code int) *Response {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = code
	return r
}

// Set sets a response header (its name is lower-cased) and returns r for chaining.
// "set-cookie" reaches HTTP clients only: it is removed from socket responses, as Sails does.
func (r *Response) Set(header, value string) *Response {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers[strings.ToLower(header)] = value
	return r
}

// Sent reports whether the request has been answered.
func (r *Response) Sent() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// finish answers with the given body; defStatus is used when Status was not called.
func (r *Response) finish(defStatus int, build func(res *result) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.res != nil {
		return
	}
	res := &result{status: r.status, headers: make(map[string]string, len(r.headers))}
	if res.status == 0 {
		res.status = defStatus
	}
	for k, v := range r.headers {
		res.headers[k] = v
	}
	if err := build(res); err != nil {
		res = &result{status: http.StatusInternalServerError, headers: map[string]string{}}
		setText(res, "mockserver: cannot encode the response body: "+err.Error(), "text/plain; charset=utf-8")
	}
	r.res = res
	close(r.done)
}

// override answers with a forced status and text body (timeouts, panics), unless answered.
func (r *Response) override(status int, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.res != nil {
		return
	}
	res := &result{status: status, headers: map[string]string{}}
	setText(res, text, "text/plain; charset=utf-8")
	r.res = res
	close(r.done)
}

func (r *Response) result() *result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res
}

func setText(res *result, s, contentType string) {
	res.socketBody, _ = marshalJSON(s)
	res.httpBody = []byte(s)
	res.contentType = contentType
}

func setJSON(res *result, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	res.socketBody = b
	res.httpBody = b
	res.contentType = "application/json; charset=utf-8"
	return nil
}

// JSON answers with v encoded as JSON (status 200 unless Status was called).
func (r *Response) JSON(v any) {
	r.finish(http.StatusOK, func(res *result) error { return setJSON(res, v) })
}

// Send answers with v: a string as is (over HTTP as text/html), a []byte as a binary body (a
// BINARY_ACK with one attachment over sockets, application/octet-stream over HTTP), an error as
// its message, nil as no body, anything else (json.RawMessage included) as JSON.
func (r *Response) Send(v any) {
	r.finish(http.StatusOK, func(res *result) error { return setAny(res, v) })
}

func setAny(res *result, v any) error {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		setText(res, x, "text/html; charset=utf-8")
	case []byte:
		res.binary = append([]byte{}, x...)
		res.httpBody = res.binary
		res.contentType = "application/octet-stream"
	case error:
		setText(res, x.Error(), "text/html; charset=utf-8")
	default:
		return setJSON(res, v)
	}
	return nil
}

// End answers with no body (status 200 unless Status was called).
func (r *Response) End() {
	r.finish(http.StatusOK, func(*result) error { return nil })
}

// Redirect answers 302 (unless Status was called) with a location header, like res.redirect.
func (r *Response) Redirect(location string) {
	r.Set("location", location)
	r.finish(http.StatusFound, func(res *result) error {
		setText(res, "Redirecting to "+location, "text/html; charset=utf-8")
		return nil
	})
}

// shorthand implements the Sails response shorthands: status code, then v as Send does, or the
// status text when v is nil (res.sendStatus).
func (r *Response) shorthand(code int, v any) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
	r.finish(code, func(res *result) error {
		if v == nil {
			setText(res, http.StatusText(code), "text/plain; charset=utf-8")
			return nil
		}
		return setAny(res, v)
	})
}

// OK answers 200 with v (as Send; nil: "OK").
func (r *Response) OK(v any) { r.shorthand(http.StatusOK, v) }

// Created answers 201 with v (as Send; nil: "Created").
func (r *Response) Created(v any) { r.shorthand(http.StatusCreated, v) }

// BadRequest answers 400 with v (as Send; nil: "Bad Request").
func (r *Response) BadRequest(v any) { r.shorthand(http.StatusBadRequest, v) }

// Forbidden answers 403 with v (as Send; nil: "Forbidden").
func (r *Response) Forbidden(v any) { r.shorthand(http.StatusForbidden, v) }

// NotFound answers 404 with v (as Send; nil: "Not Found").
func (r *Response) NotFound(v any) { r.shorthand(http.StatusNotFound, v) }

// ServerError answers 500 with v (as Send, an error as its message; nil: "Internal Server Error").
func (r *Response) ServerError(v any) { r.shorthand(http.StatusInternalServerError, v) }

// jwrHeaders returns the JWR headers: everything set but set-cookie.
func (res *result) jwrHeaders() []byte {
	h := make(map[string]string, len(res.headers))
	for k, v := range res.headers {
		if k != "set-cookie" {
			h[k] = v
		}
	}
	b, _ := marshalJSON(h)
	return b
}

// ackFrames encodes the answer as the frames of an ACK to ackID.
func (res *result) ackFrames(ackID int64, eio int) []outFrame {
	b := []byte(`[{`)
	switch {
	case res.binary != nil:
		b = append(b, `"body":{"_placeholder":true,"num":0},`...)
	case res.socketBody != nil:
		b = append(b, `"body":`...)
		b = append(b, res.socketBody...)
		b = append(b, ',')
	}
	b = append(b, `"headers":`...)
	b = append(b, res.jwrHeaders()...)
	b = append(b, `,"statusCode":`...)
	b = strconv.AppendInt(b, int64(res.status), 10)
	b = append(b, `}]`...)
	if res.binary == nil {
		return []outFrame{{typ: websocket.TextMessage, data: wire.AppendMessage(nil, wire.Packet{Type: wire.Ack, ID: ackID, Data: b})}}
	}
	return []outFrame{
		{typ: websocket.TextMessage, data: wire.AppendMessage(nil, wire.Packet{Type: wire.BinaryAck, ID: ackID, Attachments: 1, Data: b})},
		{typ: websocket.BinaryMessage, data: wire.AppendBinaryFrame(nil, eio, res.binary)},
	}
}

// writeHTTP writes the answer as an HTTP response.
func (res *result) writeHTTP(w http.ResponseWriter) {
	for k, v := range res.headers {
		w.Header().Set(k, v)
	}
	if res.httpBody != nil && w.Header().Get("Content-Type") == "" && res.contentType != "" {
		w.Header().Set("Content-Type", res.contentType)
	}
	if res.httpBody != nil {
		w.Header().Set("Content-Length", strconv.Itoa(len(res.httpBody)))
	}
	w.WriteHeader(res.status)
	_, _ = w.Write(res.httpBody)
}

// panicText is the 500 body of a handler that panicked.
func panicText(v any) string { return fmt.Sprintf("panic: %v", v) }
