package sailsio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// DefaultSessionCookieName is the name of Sails' session cookie (sails.config.session.name).
const DefaultSessionCookieName = "sails.sid"

// WithSessionCookie gives every connection of the socket the same Sails session. Without a session
// cookie on the handshake, Sails makes a throw-away session for each connection, so what a socket
// stored in its session (a login done over the socket, a cart) is gone after any reconnection or
// failover. With this option, before each handshake (reconnections included), if the cookie jar
// holds no session cookie (DefaultSessionCookieName, or the name given to WithSessionCookieName) for
// the socket URL and WithInitialConnectionHeaders carries none either, the socket GETs /__getcookie
// over HTTP first, as sails.io.js does in browsers (Sails' sails.config.sockets.grant3rdPartyCookie
// route, on by default), and keeps the cookie the response sets. Every handshake then carries it.
//
// The jar is the one given to WithCookieJar, or, when none is, one of the socket's own. The GET
// carries the headers of WithInitialConnectionHeaders and WithConnectParams and the jar's cookies,
// uses the TLS settings of WithTLSConfig, and counts against WithConnectTimeout. When it fails, or sets no session cookie
// (the route is off, the server keeps no sessions, or the session cookie has another name: see
// WithSessionCookieName), the connection attempt fails with an error wrapping ErrSessionCookie (and
// ErrUnreachable when the server could not be reached); the reconnection loop, if running, goes on.
//
// Behind a load balancer the session must live in a store every node reads (Redis ...), or it is
// found only on the node that made it.
func WithSessionCookie() Option {
	return func(o *options) error {
		o.sessionCookie = true
		return nil
	}
}

// WithSessionCookieName sets the name of the server's session cookie (sails.config.session.name;
// default DefaultSessionCookieName, "sails.sid") and turns WithSessionCookie on.
func WithSessionCookieName(name string) Option {
	return func(o *options) error {
		if name == "" || strings.ContainsAny(name, "=;, \t\r\n") {
			return invalid("session cookie name %q", name)
		}
		o.sessionCookie = true
		o.sessionCookieName = name
		return nil
	}
}

// ownJar gives a socket WithSessionCookie without WithCookieJar a jar of its own.
func (o *options) ownJar() error {
	if !o.sessionCookie || o.jar != nil {
		return nil
	}
	j, err := cookiejar.New(nil)
	if err != nil {
		return fmt.Errorf("%w: cookie jar: %w", ErrInvalidOption, err)
	}
	o.jar = j
	return nil
}

// hasSessionCookie reports whether the next handshake carries the session cookie.
func (s *SailsSocket) hasSessionCookie(a *attempt) bool {
	return s.jarSessionID() != "" || cookieValue(a.header, s.sessionCookieName()) != ""
}

func (s *SailsSocket) sessionCookieName() string {
	if s.opts.sessionCookieName != "" {
		return s.opts.sessionCookieName
	}
	return DefaultSessionCookieName
}

// getSessionCookie runs before a handshake on the life owner goroutine (never under s.mu): with
// WithSessionCookie and no session cookie yet, it GETs /__getcookie so that the jar gets one.
func (s *SailsSocket) getSessionCookie(ctx context.Context, a *attempt) error {
	if s.hasSessionCookie(a) {
		return nil
	}
	u := &url.URL{Scheme: s.httpURL().Scheme, Host: s.url.host, Path: "/__getcookie"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%w: GET %s: %w", ErrSessionCookie, u, err)
	}
	req.Header = a.header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	resp, err := s.jarClient().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return err // dialError names the deadline
		}
		return fmt.Errorf("%w: GET %s: %w %s: %w", ErrSessionCookie, u, ErrUnreachable, u.Host, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if s.hasSessionCookie(a) {
		return nil
	}
	hint := "is sails.config.sockets.grant3rdPartyCookie off, the session hook disabled, or the session cookie named otherwise (WithSessionCookieName)?"
	if resp.StatusCode == http.StatusNotFound {
		hint = "the server has no /__getcookie route: is sails.config.sockets.grant3rdPartyCookie off?"
	}
	return fmt.Errorf("%w: GET %s answered HTTP %d without a %s cookie (%s)", ErrSessionCookie, u, resp.StatusCode, s.sessionCookieName(), hint)
}

// jarClient returns an HTTP client over the socket's polling transport (its TLS settings) that
// sends the jar's cookies and stores what every response, redirects included, sets.
func (s *SailsSocket) jarClient() *http.Client {
	return &http.Client{
		Transport: s.httpClient().Transport,
		Jar:       s.opts.jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			return nil
		},
	}
}

// jarSessionID returns the value of the session cookie the jar holds for the socket URL ("" if none).
func (s *SailsSocket) jarSessionID() string {
	if s.opts.jar == nil {
		return ""
	}
	name := s.sessionCookieName()
	for _, ck := range s.opts.jar.Cookies(s.httpURL()) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// cookieValue returns the value of the cookie named name in the Cookie headers of h ("" if none).
func cookieValue(h http.Header, name string) string {
	for _, line := range h.Values("Cookie") {
		for _, part := range strings.Split(line, ";") {
			if n, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && n == name {
				return v
			}
		}
	}
	return ""
}
