package mockserver

import (
	"fmt"
	"net/http"
	"sort"
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
// (names lower-cased, in the order they were first set, never set-cookie), and body is left out
// when there is none. Over HTTP the same answer becomes a normal HTTP response.
type Response struct {
	mu      sync.Mutex
	status  int
	headers []header
	done    chan struct{}
	res     *result
}

// header is one response header. Sails builds the JWR headers as a JavaScript object, so they
// keep the order in which they were first set, and a few built-in answers carry a name that is
// not lower-case or a value that is not a string.
type header struct {
	name  string // as it appears in the JWR
	value string // the value over HTTP
	json  []byte // the value in the JWR; nil: value as a JSON string
	first int    // when a header of this exact name was first set (order of setting)
	seq   int    // when it was last set
}

// setHeader sets name (exactly as given) in list: in place if present, else at the end.
func setHeader(list []header, h header) []header {
	n := 0
	for i := range list {
		n = max(n, list[i].seq)
	}
	h.seq = n + 1
	for i := range list {
		if list[i].name == h.name {
			h.first = list[i].first
			list[i] = h
			return list
		}
	}
	h.first = h.seq
	return append(list, h)
}

// merged returns the headers of a JWR the way Sails builds them from a virtual response: the
// names exactly as set, in the order first set, then the lower-cased names (Node's own header
// store, where a name set in two spellings is one header with the value set last): a lower-cased
// name that is also there exactly takes that value in place, any other is appended, in the order
// first set. Sails then deletes the "set-cookie" key (only that spelling). So res.set("X-Foo", v)
// gives {"X-Foo":v,"x-foo":v}.
func merged(list []header) []header {
	out := append([]header(nil), list...)
	type lower struct {
		name  string
		first int
		h     header
	}
	var lowers []*lower
	byName := map[string]*lower{}
	for _, h := range list {
		ln := strings.ToLower(h.name)
		l := byName[ln]
		if l == nil {
			l = &lower{name: ln, first: h.first, h: h}
			byName[ln] = l
			lowers = append(lowers, l)
			continue
		}
		l.first = min(l.first, h.first)
		if h.seq > l.h.seq {
			l.h = h
		}
	}
	sort.SliceStable(lowers, func(i, j int) bool { return lowers[i].first < lowers[j].first })
	for _, l := range lowers {
		h := l.h
		h.name = l.name
		found := false
		for i := range out {
			if out[i].name == l.name {
				out[i].value, out[i].json = h.value, h.json
				found = true
				break
			}
		}
		if !found {
			out = append(out, h)
		}
	}
	kept := out[:0]
	for _, h := range out {
		if h.name != "set-cookie" {
			kept = append(kept, h)
		}
	}
	return kept
}

// result is a finished answer.
type result struct {
	status      int
	headers     []header // as set by the handler (names lower-cased) and built-in answers
	httpHeaders []header // HTTP only, applied after headers (where Express differs from the JWR)
	socketBody  []byte   // the JWR body as JSON; nil: no body
	binary      []byte   // non-nil: a binary body (a BINARY_ACK over sockets)
	httpBody    []byte
	contentType string // default Content-Type over HTTP
}

func newResponse() *Response {
	return &Response{done: make(chan struct{})}
}

// Status sets the status code (default 200) and returns r for chaining.
func (r *Response) Status(code int) *Response {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = code
	return r
}

// Set sets a response header and returns r for chaining. As with res.set on a Sails virtual
// response, the name is kept exactly as given: the JWR's headers object gets that key ("X-Foo"
// and "x-foo" are two keys there; over HTTP, where names are case-insensitive, the later one
// wins). "set-cookie" (lower case) reaches HTTP clients only: Sails removes that key from socket
// responses.
func (r *Response) Set(name, value string) *Response {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers = setHeader(r.headers, header{name: name, value: value})
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
	res := &result{status: r.status, headers: append([]header(nil), r.headers...)}
	if res.status == 0 {
		res.status = defStatus
	}
	if err := build(res); err != nil {
		res = &result{status: http.StatusInternalServerError}
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
	res := &result{status: status}
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

// JSON answers with v encoded as JSON (status 200 unless Status was called), like res.json. As in
// Sails, a string is special over sockets: res.json's shim JSON-encodes it and sets
// "content-type": "application/json", so the JWR body is the JSON text of the string, encoded
// again (res.json("hi") gives {"body":"\"hi\"","headers":{"content-type":"application/json"},...});
// over HTTP the body is "hi" with its quotes, as JSON. Use Send for a plain string body.
func (r *Response) JSON(v any) {
	str, isString := v.(string)
	if !isString {
		r.finish(http.StatusOK, func(res *result) error { return setJSON(res, v) })
		return
	}
	r.mu.Lock()
	r.headers = setHeader(r.headers, header{name: "content-type", value: "application/json"})
	r.mu.Unlock()
	r.finish(http.StatusOK, func(res *result) error {
		if err := setJSON(res, str); err != nil {
			return err
		}
		res.socketBody, _ = marshalJSON(string(res.httpBody))
		res.httpHeaders = append(res.httpHeaders, header{name: "Content-Type", value: "application/json; charset=utf-8"})
		return nil
	})
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

// Redirect answers 302 (unless Status was called) like Sails' res.redirect: over a socket the
// JWR is {"body":"Redirecting to <encodeURI(location)>","headers":{"content-type":"text/html",
// "Location":location,"location":location},...} (the client is not redirected); over HTTP it is
// Express' redirect: a Location header and the body "Found. Redirecting to <location>" as
// text/plain.
func (r *Response) Redirect(location string) {
	r.mu.Lock()
	r.headers = setHeader(r.headers, header{name: "content-type", value: "text/html"})
	r.headers = setHeader(r.headers, header{name: "Location", value: location})
	r.mu.Unlock()
	r.finish(http.StatusFound, func(res *result) error {
		res.headers = setHeader(res.headers, header{name: "location", value: location})
		res.socketBody, _ = marshalJSON("Redirecting to " + encodeURI(location))
		loc := encodeURL(location)
		text := http.StatusText(res.status)
		if text == "" {
			text = strconv.Itoa(res.status)
		}
		res.httpBody = []byte(text + ". Redirecting to " + loc)
		res.httpHeaders = []header{
			{name: "Location", value: loc},
			{name: "Content-Type", value: "text/plain; charset=utf-8"},
			{name: "Vary", value: "Accept"},
		}
		return nil
	})
}

// encodeURI is JavaScript's encodeURI (on the UTF-8 bytes of s).
func encodeURI(s string) string {
	return percentEncode(s, ";,/?:@&=+$-_.!~*'()#", false)
}

// encodeURL is the encodeurl package Express uses for Location: it leaves valid %XX escapes,
// [ and ] alone, but encodes # and $.
func encodeURL(s string) string {
	return percentEncode(s, ";,/?:@&=+-_.!~*'()[]", true)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// percentEncode escapes every byte of s but ASCII letters, digits and the bytes of keep;
// keepEscapes leaves valid %XX escapes as they are.
func percentEncode(s, keep string, keepEscapes bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0:
			b.WriteByte(c)
		case c == '%' && keepEscapes && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// optionsAllow is what Sails answers to an OPTIONS request no route handles: every path matches
// one of its built-in routes bound to the default verbs (GET, PUT, POST, DELETE, PATCH; HEAD
// through GET).
const (
	optionsAllowSocket = "DELETE, GET, HEAD, PATCH, POST, PUT" // @sailshq/router (virtual requests)
	optionsAllowHTTP   = "GET,HEAD,PUT,POST,DELETE,PATCH"      // Express
)

// autoOptions answers an OPTIONS request that no route handles, as Sails does: 200 with an Allow
// header. Over a socket the JWR has no body and the headers of @sailshq/router's OPTIONS answer,
// content-length a JSON number:
// {"headers":{"allow":"DELETE, GET, HEAD, PATCH, POST, PUT","content-length":35,
// "content-type":"text/plain","x-content-type-options":"nosniff"},"statusCode":200}.
// Over HTTP it is Express' answer: the allowed verbs as a text/html body.
func (r *Response) autoOptions(socket bool) {
	r.finish(http.StatusOK, func(res *result) error {
		res.status = http.StatusOK
		if socket {
			res.headers = setHeader(res.headers, header{name: "allow", value: optionsAllowSocket})
			res.headers = setHeader(res.headers, header{name: "content-length", value: strconv.Itoa(len(optionsAllowSocket)),
				json: []byte(strconv.Itoa(len(optionsAllowSocket)))})
			res.headers = setHeader(res.headers, header{name: "content-type", value: "text/plain"})
			res.headers = setHeader(res.headers, header{name: "x-content-type-options", value: "nosniff"})
			return nil
		}
		res.headers = setHeader(res.headers, header{name: "allow", value: optionsAllowHTTP})
		res.httpBody = []byte(optionsAllowHTTP)
		res.contentType = "text/html; charset=utf-8"
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

// Forbidden answers 403 "Forbidden". Like Sails' default res.forbidden (Sails 1.x), it ignores v:
// the body is always the status text.
func (r *Response) Forbidden(v any) { r.shorthand(http.StatusForbidden, nil) }

// NotFound answers 404 "Not Found". Like Sails' default res.notFound (Sails 1.x, without views),
// it ignores v: the body is always the status text.
func (r *Response) NotFound(v any) { r.shorthand(http.StatusNotFound, nil) }

// ServerError answers 500 with v (as Send, an error as its message; nil: "Internal Server Error").
func (r *Response) ServerError(v any) { r.shorthand(http.StatusInternalServerError, v) }

// jwrHeaders returns the JWR headers (see merged).
func (res *result) jwrHeaders() []byte {
	b := []byte{'{'}
	for _, h := range merged(res.headers) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		name, _ := marshalJSON(h.name)
		b = append(b, name...)
		b = append(b, ':')
		if h.json != nil {
			b = append(b, h.json...)
		} else {
			v, _ := marshalJSON(h.value)
			b = append(b, v...)
		}
	}
	return append(b, '}')
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
	inOrder := append([]header(nil), res.headers...)
	sort.SliceStable(inOrder, func(i, j int) bool { return inOrder[i].seq < inOrder[j].seq })
	for _, h := range inOrder {
		w.Header().Set(h.name, h.value) // names are case-insensitive: the one set last wins
	}
	for _, h := range res.httpHeaders {
		w.Header().Set(h.name, h.value)
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
