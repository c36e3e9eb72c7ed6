package sailsio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ErrConnectParams is wrapped, beside the function's own error, by the error of a connection
// attempt whose WithConnectParams function failed or returned an invalid header or query.
var ErrConnectParams = errors.New("sailsio: connect params")

// WithConnectParams sets a function called before every connection attempt (the first, Reconnect,
// and each attempt of the reconnection loop). The headers and query parameters it returns are added
// to that attempt's handshake: every HTTP request of a polling connection, the WebSocket handshake
// and the upgrade, and the GET of WithSessionCookie. A header it returns replaces the one of the same
// name given to WithInitialConnectionHeaders (a Cookie it returns goes before the jar's cookies), and
// a query parameter replaces the one of the same name in the URL or WithQuery: what a token that
// must be fresh needs (socket.io-client's auth function).
//
// The function runs on the socket's connection goroutine, never under a lock of the SDK; ctx ends
// when the attempt is abandoned (Disconnect, the caller's context, WithConnectTimeout), and the
// function should return then. When it returns an error, the attempt fails with an error wrapping
// both ErrConnectParams and that error; the reconnection loop, if running, goes on with its backoff.
// Reserved query parameters (EIO, transport, sid, __sails_io_sdk_*) and headers that are not valid
// HTTP fail the attempt the same way.
func WithConnectParams(f func(ctx context.Context) (http.Header, url.Values, error)) Option {
	return func(o *options) error {
		if f == nil {
			return invalid("WithConnectParams needs a function")
		}
		o.connectParams = f
		return nil
	}
}

// attempt is what one connection attempt sends on its handshake requests.
type attempt struct {
	s       *SailsSocket
	header  http.Header // WithInitialConnectionHeaders, then WithConnectParams' headers over them
	wsURL   string
	pollURL string
}

// newAttempt calls the WithConnectParams function, if any, and returns the attempt's handshake.
func (s *SailsSocket) newAttempt(ctx context.Context) (*attempt, error) {
	a := &attempt{s: s, header: s.opts.initialHeaders}
	if s.opts.connectParams == nil {
		a.wsURL, a.pollURL = s.buildURLs(s.url.query)
		return a, nil
	}
	h, q, err := s.opts.connectParams(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnectParams, err)
	}
	if len(h) > 0 {
		if err := checkHTTPHeader(h); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConnectParams, err)
		}
		a.header = s.opts.initialHeaders.Clone()
		if a.header == nil {
			a.header = http.Header{}
		}
		for k, vs := range h {
			a.header[http.CanonicalHeaderKey(k)] = vs
		}
	}
	if len(q) > 0 {
		merged := url.Values{}
		for k, vs := range s.url.query {
			merged[k] = vs
		}
		for k, vs := range q {
			for _, r := range reservedQuery {
				if k == r {
					return nil, fmt.Errorf("%w: query parameter %q is set by the SDK", ErrConnectParams, k)
				}
			}
			merged[k] = vs
		}
		a.wsURL, a.pollURL = s.buildURLs(merged)
	} else {
		a.wsURL, a.pollURL = s.buildURLs(s.url.query)
	}
	return a, nil
}

// checkHTTPHeader refuses what WithInitialConnectionHeaders refuses.
func checkHTTPHeader(h http.Header) error {
	for k, vs := range h {
		if err := checkHeader(k, ""); err != nil {
			return err
		}
		for _, v := range vs {
			if err := checkHeader(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// handshakeHeader returns the headers of a handshake request: the attempt's headers, then the
// jar's cookies for the socket URL appended to any Cookie given there. It is called for each
// request, so that a cookie set meanwhile (a polling response, a sticky-session cookie) goes on the
// next one.
func (a *attempt) handshakeHeader() http.Header {
	h := a.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if a.s.opts.jar != nil {
		var parts []string
		if c := h.Get("Cookie"); c != "" {
			parts = append(parts, c)
		}
		for _, ck := range a.s.opts.jar.Cookies(a.s.httpURL()) {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
		if len(parts) > 0 {
			h.Set("Cookie", strings.Join(parts, "; "))
		}
	}
	return h
}
