package sailsio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// WithHeaders sets the global virtual headers sent with every request. Per-request headers win over
// them (case-insensitively). Names go on the wire in lower case.
//
// Virtual headers are not HTTP headers: Sails takes cookie and origin from the WebSocket handshake
// only. A "cookie" or "origin" set here reaches req.headers of no action; use
// WithInitialConnectionHeaders or WithCookieJar for those.
func WithHeaders(h map[string]string) Option {
	return func(o *options) error {
		if err := checkHeaderMap(h); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
		o.headers = copyHeaders(h)
		return nil
	}
}

// WithInitialConnectionHeaders sets the headers of the WebSocket handshake request (Cookie, Origin,
// Authorization, nosession ...), sent on every connection, reconnections included. The session
// cookie and the origin that Sails gives every virtual request come from here.
func WithInitialConnectionHeaders(h http.Header) Option {
	return func(o *options) error {
		if err := checkHTTPHeader(h); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
		o.initialHeaders = h.Clone()
		return nil
	}
}

// SetHeaders replaces the global virtual headers; the next request uses them. Invalid headers make
// each later request fail with ErrInvalidHeader until they are replaced.
func (s *SailsSocket) SetHeaders(h map[string]string) {
	s.headers.Store(newGlobalHeaders(h))
}

// Headers returns a copy of the global virtual headers (an empty map when there are none).
func (s *SailsSocket) Headers() map[string]string {
	c := copyHeaders(s.headers.Load().given)
	if c == nil {
		c = map[string]string{}
	}
	return c
}

// globalHeaders is an immutable snapshot of the global headers, validated, lower-cased and encoded
// once, so that a request without headers of its own reuses the encoding.
type globalHeaders struct {
	given   map[string]string // as the user gave them (a private copy)
	lower   map[string]string // lower-cased names
	encoded []byte            // JSON of lower
	err     error             // why they are invalid
}

// noGlobalHeaders are the global headers of every socket that has none (never modified).
var noGlobalHeaders = newGlobalHeaders(nil)

func newGlobalHeaders(h map[string]string) *globalHeaders {
	g := &globalHeaders{given: copyHeaders(h)}
	g.lower, g.err = mergeHeaders(nil, h)
	if g.err == nil {
		g.encoded, g.err = json.Marshal(g.lower)
	}
	return g
}

// encode returns the JSON of the headers of a request: the global ones, less those named in omit,
// merged with perRequest.
func (g *globalHeaders) encode(perRequest map[string]string, omit []string) ([]byte, error) {
	if g.err != nil {
		return nil, g.err
	}
	if len(perRequest) == 0 && len(omit) == 0 {
		return g.encoded, nil
	}
	global := g.lower
	if len(omit) > 0 {
		global = make(map[string]string, len(g.lower))
		for k, v := range g.lower {
			global[k] = v
		}
		for _, k := range omit {
			delete(global, strings.ToLower(k))
		}
	}
	merged, err := mergeHeaders(global, perRequest)
	if err != nil {
		return nil, err
	}
	return json.Marshal(merged)
}

func copyHeaders(h map[string]string) map[string]string {
	if h == nil {
		return nil
	}
	c := make(map[string]string, len(h))
	for k, v := range h {
		c[k] = v
	}
	return c
}

func checkHeaderMap(h map[string]string) error {
	for k, v := range h {
		if err := checkHeader(k, v); err != nil {
			return err
		}
	}
	return nil
}

// checkHeader refuses empty names and any CR, LF or NUL, which could split or smuggle headers in the
// servers and proxies that turn virtual headers back into HTTP ones.
func checkHeader(name, value string) error {
	if name == "" {
		return errorf(ErrInvalidHeader, "empty header name")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return errorf(ErrInvalidHeader, "header name %q holds %q, which an HTTP header name cannot (spaces, separators and control characters are refused)", name, name[i])
		}
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return errorf(ErrInvalidHeader, "value of header %q holds CR, LF or NUL", name)
	}
	return nil
}

// mergeHeaders returns the lower-cased union of global and per-request headers, per-request winning.
func mergeHeaders(global, perRequest map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(global)+len(perRequest))
	for k, v := range perRequest {
		if err := checkHeader(k, v); err != nil {
			return nil, err
		}
		out[strings.ToLower(k)] = v
	}
	for k, v := range global {
		lk := strings.ToLower(k)
		if _, ok := out[lk]; ok {
			continue
		}
		if err := checkHeader(k, v); err != nil {
			return nil, err
		}
		out[lk] = v
	}
	return out, nil
}

// isTokenChar reports whether c may appear in an HTTP header name (RFC 9110 token).
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
