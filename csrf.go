package sailsio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrCSRF is wrapped by the error of an unsafe request (post, put, patch, delete) made with WithCSRF
// when no CSRF token could be obtained: the error names the URLs tried, what they answered and what
// the app may lack. See docs/protocol.md#csrf.
var ErrCSRF = errors.New("sailsio: no CSRF token")

// DefaultCSRFPage is the page whose window.SAILS_LOCALS._csrf WithCSRF reads when the app serves no
// /csrfToken route: the home page of the `sails new` Web App template.
const DefaultCSRFPage = "/"

// WithCSRF makes unsafe virtual requests (post, put, patch, delete) carry the x-csrf-token header of
// the socket's Sails session, as Sails' CSRF protection (sails.config.security.csrf) requires over
// sockets too. A request that sets x-csrf-token itself is left alone.
//
// The token cannot be had over a socket (Sails refuses it to socket requests), so it is fetched over
// HTTP with the socket's cookie jar (WithCookieJar, or the socket's own) and the headers of
// WithInitialConnectionHeaders: GET /csrfToken where the app serves it (Sails'
// security/grant-csrf-token action), else the _csrf of window.SAILS_LOCALS in an HTML page, which is
// where the `sails new` Web App template exposes it (exposeLocalsToBrowser in its layout): GET /, or
// the path given to WithCSRFPage. A page with a hidden <input name="_csrf"> works too.
// WithSessionCookie is implied, so that the socket and the HTTP requests share one Sails session.
//
// The token is fetched on the first unsafe request, and again when a connection carries another
// session than the token's, and once when a request is refused 403 "CSRF mismatch" (that request is
// then sent again, once). When fetching the token gives the jar a new session cookie while the live
// connection carries the old one (the server forgot the session: a restart with the memory store),
// the socket reconnects first, so that the socket and the token share the new session; requests in
// flight then fail with ErrDisconnected, as with Reconnect.
//
// When no token can be found, the unsafe request fails with an error wrapping ErrCSRF that names
// where it was looked for. WithCSRF runs as the innermost interceptor (see WithInterceptors), so the
// callback forms of every request then run the chain on a goroutine of their own.
func WithCSRF() Option {
	return func(o *options) error {
		o.csrf = true
		o.sessionCookie = true
		return nil
	}
}

// WithCSRFPage turns WithCSRF on and names the page whose window.SAILS_LOCALS._csrf (or hidden
// _csrf input) holds the token when the app serves no /csrfToken route (default DefaultCSRFPage).
func WithCSRFPage(path string) Option {
	return func(o *options) error {
		if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.ContainsAny(path, "#\r\n\x00 ") {
			return invalid("CSRF page %q must be a path starting with / (a query may follow)", path)
		}
		o.csrf = true
		o.csrfPage = path
		o.sessionCookie = true
		return nil
	}
}

// csrfHeader is the header Sails reads the token from (sails.io.js' own name for it).
const csrfHeader = "x-csrf-token"

// maxCSRFPage bounds how much of a page is read for the token.
const maxCSRFPage = 4 << 20

// csrf keeps the socket's CSRF token (WithCSRF).
type csrf struct {
	s *SailsSocket

	mu       sync.Mutex
	token    string
	sid      string        // the session cookie the token was fetched with
	fetching chan struct{} // closed when the running fetch ends; nil when none runs
	moving   chan struct{} // closed when the reconnection to the token's session ends; nil when none runs
	noRoute  atomic.Bool   // GET /csrfToken answered 404 once: go to the page directly
}

// isUnsafe reports whether Sails checks the CSRF token of method.
func isUnsafe(method string) bool {
	switch strings.ToLower(method) {
	case "get", "head", "options", "":
		return false
	}
	return true
}

// intercept is the CSRF interceptor, the innermost of the chain.
func (c *csrf) intercept(ctx context.Context, req *RequestOptions, next Invoker) (*JWRes, error) {
	if !isUnsafe(req.Method) || hasHeader(req.Headers, csrfHeader) {
		return next(ctx, req)
	}
	tok, fresh, err := c.get(ctx, "")
	if err != nil {
		return nil, err
	}
	// A map of its own: an outer interceptor that calls next again with the same req must not
	// find this token there (it would be taken for the caller's and never refreshed).
	h := req.Headers
	req.Headers = make(map[string]string, len(h)+1)
	for k, v := range h {
		req.Headers[k] = v
	}
	req.Headers[csrfHeader] = tok
	jwr, err := next(ctx, req)
	if err != nil || fresh || !isCSRFMismatch(jwr) {
		// A 403 with a token fetched for this very request is no stale token: a policy refused it.
		return jwr, err
	}
	tok, _, ferr := c.get(ctx, tok)
	if ferr != nil {
		c.s.logf(slog.LevelWarn, "sailsio: CSRF mismatch, and no new token", "url", req.URL, "error", ferr)
		return jwr, nil
	}
	req.Headers[csrfHeader] = tok
	return next(ctx, req)
}

// hasHeader reports whether h has name (case-insensitive).
func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// isCSRFMismatch reports whether jwr may be Sails' refusal of a missing or wrong token: a 403 whose
// body is what Sails' default forbidden response sends ("Forbidden": the CSRF hook calls
// res.forbidden('CSRF mismatch'), which drops its argument), or one that says "CSRF mismatch" (an
// app's own forbidden response that keeps it). See docs/protocol.md#csrf.
func isCSRFMismatch(jwr *JWRes) bool {
	if jwr == nil || jwr.StatusCode != http.StatusForbidden {
		return false
	}
	body := strings.TrimSpace(string(jwr.Body))
	return body == `"Forbidden"` || strings.Contains(strings.ToLower(body), "csrf mismatch")
}

// get returns the token for the socket's session, fetching it when there is none, when it was
// fetched with another session, or when it is stale (the token just refused); fresh says this call
// fetched it. One fetch runs at a time; the others wait for it and take what it got.
func (c *csrf) get(ctx context.Context, stale string) (tok string, fresh bool, err error) {
	for {
		sid, connected := c.session()
		c.mu.Lock()
		if wait := c.moving; wait != nil {
			c.mu.Unlock()
			if err := waitCtx(ctx, wait); err != nil {
				return "", false, err
			}
			continue
		}
		if c.token != "" && c.token != stale && c.sid == sid {
			tok := c.token
			c.mu.Unlock()
			return tok, false, nil
		}
		c.mu.Unlock()
		tok, jarSID, led, err := c.fetchShared(ctx)
		if err != nil {
			return "", false, err
		}
		if !led {
			stale = "" // what that fetch got is fresh
			continue
		}
		if connected && jarSID != sid {
			// The page gave the jar another session than the live connection's: the server forgot
			// the connection's session. Reconnect, so that the socket carries the token's session;
			// other requests wait for it (moving) instead of fetching again.
			c.mu.Lock()
			moving := make(chan struct{})
			c.moving = moving
			c.mu.Unlock()
			c.s.logf(slog.LevelInfo, "sailsio: CSRF token belongs to a new session; reconnecting")
			err = c.s.Reconnect(ctx)
			c.mu.Lock()
			c.moving = nil
			c.mu.Unlock()
			close(moving)
			if err != nil {
				return "", false, err
			}
		}
		return tok, true, nil
	}
}

// fetchShared fetches a token and keeps it with the jar's session, or, when a fetch already runs,
// waits for it (led false: the caller looks again at what it got). It never waits for the life
// owner, so the owner may call it before a handshake.
func (c *csrf) fetchShared(ctx context.Context) (tok, jarSID string, led bool, err error) {
	c.mu.Lock()
	if wait := c.fetching; wait != nil {
		c.mu.Unlock()
		return "", "", false, waitCtx(ctx, wait)
	}
	done := make(chan struct{})
	c.fetching = done
	c.mu.Unlock()
	tok, err = c.fetch(ctx)
	jarSID = c.s.jarSessionID()
	c.mu.Lock()
	c.fetching = nil
	if err == nil {
		c.token, c.sid = tok, jarSID
	}
	c.mu.Unlock()
	close(done)
	return tok, jarSID, true, err
}

// waitCtx waits until ch is closed or ctx ends.
func waitCtx(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sailsio: CSRF token: %w", ctx.Err())
	}
}

// beforeHandshake runs on the life owner before a handshake: when unsafe resubscriptions will be
// sent on the connection and no token is held for the session the handshake carries (the jar's),
// it fetches one, so that they carry it. A failure is logged, not returned: the connection still
// goes on.
func (c *csrf) beforeHandshake(ctx context.Context, _ *attempt) error {
	s := c.s
	s.mu.Lock()
	need := false
	for _, rp := range s.replays {
		if rs, ok := rp.(*resubscription); ok && isUnsafe(rs.opts.Method) && !hasHeader(rs.opts.Headers, csrfHeader) {
			need = true
			break
		}
	}
	s.mu.Unlock()
	if !need {
		return nil
	}
	sid := s.jarSessionID()
	c.mu.Lock()
	held := c.token != "" && c.sid == sid
	c.mu.Unlock()
	if held {
		return nil
	}
	for {
		_, _, led, err := c.fetchShared(ctx)
		if err != nil {
			s.logf(slog.LevelWarn, "sailsio: no CSRF token for the resubscriptions", "error", err)
		}
		if led || err != nil {
			return nil
		}
		c.mu.Lock() // another fetch ran: is its token the session's?
		held := c.token != "" && c.sid == sid
		c.mu.Unlock()
		if held {
			return nil
		}
	}
}

// handshaking runs as dial makes a handshake: it notes the session cookie the handshake carries,
// and keeps it as the live connection's once the handshake succeeded.
func (c *csrf) handshaking(a *attempt) func() {
	sid := cookieValue(a.handshakeHeader(), c.s.sessionCookieName())
	return func() { c.s.connSID.Store(&sid) }
}

// held returns the token held for the session the live connection's handshake carried, or "". It
// is called with s.mu held (replays, as a connection is installed): it reads no state under s.mu
// and calls no user code.
func (c *csrf) held() string {
	p := c.s.connSID.Load()
	if p == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sid != *p {
		return ""
	}
	return c.token
}

// session returns the session cookie the socket's requests carry: the live connection's, else the
// one the next handshake will carry (the jar's).
func (c *csrf) session() (sid string, connected bool) {
	s := c.s
	if s.State() == StateConnected {
		if p := s.connSID.Load(); p != nil {
			return *p, true
		}
	}
	return s.jarSessionID(), false
}

// fetch gets a token over HTTP: GET /csrfToken, else the page.
func (c *csrf) fetch(ctx context.Context) (string, error) {
	s := c.s
	ctx, cancel := context.WithTimeout(ctx, s.opts.connectTimeout)
	defer cancel()
	var tried []string
	if !c.noRoute.Load() {
		tok, status, err := c.fromRoute(ctx)
		switch {
		case err != nil:
			return "", err
		case tok != "":
			return tok, nil
		case status == http.StatusNotFound:
			c.noRoute.Store(true)
		}
		tried = append(tried, fmt.Sprintf("GET /csrfToken answered %d without a token", status))
	}
	page := s.opts.csrfPage
	if page == "" {
		page = DefaultCSRFPage
	}
	tok, what, err := c.fromPage(ctx, page)
	if err != nil {
		return "", err
	}
	if tok != "" {
		return tok, nil
	}
	tried = append(tried, what)
	return "", fmt.Errorf("%w: %s. Is CSRF protection on (sails.config.security.csrf)? A Sails app gives the token through the route 'GET /csrfToken': {action: 'security/grant-csrf-token'}, or in a page whose layout calls exposeLocalsToBrowser() (name that page with WithCSRFPage)",
		ErrCSRF, strings.Join(tried, "; "))
}

// get sends GET path over HTTP with the socket's jar and initial headers.
func (c *csrf) httpGet(ctx context.Context, path, accept string) (*http.Response, error) {
	s := c.s
	ref, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("%w: CSRF page %q: %w", ErrCSRF, path, err)
	}
	u := (&url.URL{Scheme: s.httpURL().Scheme, Host: s.url.host}).ResolveReference(ref)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %w", ErrCSRF, path, err)
	}
	req.Header = s.opts.initialHeaders.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Accept", accept)
	resp, err := s.jarClient().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: GET %s: %w", ErrCSRF, path, ctx.Err())
		}
		return nil, fmt.Errorf("%w: GET %s: %w %s: %w", ErrCSRF, path, ErrUnreachable, u.Host, err)
	}
	return resp, nil
}

// fromRoute asks GET /csrfToken; tok is "" when it answers no token.
func (c *csrf) fromRoute(ctx context.Context) (tok string, status int, err error) {
	resp, err := c.httpGet(ctx, "/csrfToken", "application/json")
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", resp.StatusCode, nil
	}
	var v struct {
		CSRF string `json:"_csrf"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", resp.StatusCode, nil
	}
	return v.CSRF, resp.StatusCode, nil
}

// fromPage reads the token from a page; when there is none, what says what the page was.
func (c *csrf) fromPage(ctx context.Context, path string) (tok, what string, err error) {
	resp, err := c.httpGet(ctx, path, "text/html")
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxCSRFPage))
	if tok := tokenInPage(body); tok != "" {
		return tok, "", nil
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "" {
		ct = "no content type"
	}
	return "", fmt.Sprintf("GET %s answered %d (%s) with no window.SAILS_LOCALS._csrf nor _csrf input", resp.Request.URL.RequestURI(), resp.StatusCode, ct), nil
}

var (
	// localsCSRF finds the _csrf of window.SAILS_LOCALS as Sails' exposeLocalsToBrowser writes it:
	// `_csrf: unescape('…')`, or `_csrf: '…'` with dontUnescapeOnClient.
	localsCSRF = regexp.MustCompile(`\b_csrf\s*:\s*(?:unescape\(\s*)?('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")`)
	// inputCSRF finds <input type="hidden" name="_csrf" value="…"> (either attribute order).
	inputCSRF = regexp.MustCompile(`(?i)<input\b[^>]*\bname\s*=\s*["']_csrf["'][^>]*\bvalue\s*=\s*["']([^"']*)["']|<input\b[^>]*\bvalue\s*=\s*["']([^"']*)["'][^>]*\bname\s*=\s*["']_csrf["']`)
)

// tokenInPage returns the CSRF token of an HTML page ("" if none).
func tokenInPage(page []byte) string {
	if i := strings.Index(string(page), "SAILS_LOCALS"); i >= 0 {
		if m := localsCSRF.FindSubmatch(page[i:]); m != nil {
			if s, ok := jsString(string(m[1])); ok && s != "" {
				return html.UnescapeString(s)
			}
		}
	}
	if m := inputCSRF.FindSubmatch(page); m != nil {
		v := string(m[1])
		if v == "" {
			v = string(m[2])
		}
		return html.UnescapeString(v)
	}
	return ""
}

// jsString decodes a quoted JavaScript string literal (the escapes a JSON encoder or Sails' rttc
// writes).
func jsString(lit string) (string, bool) {
	if len(lit) < 2 {
		return "", false
	}
	body := lit[1 : len(lit)-1]
	if !strings.Contains(body, `\`) {
		return body, true
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		ch := body[i]
		if ch != '\\' {
			b.WriteByte(ch)
			continue
		}
		i++
		if i >= len(body) {
			return "", false
		}
		switch e := body[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '0':
			b.WriteByte(0)
		case 'x', 'u':
			n := 2
			if e == 'u' {
				n = 4
			}
			if i+1+n > len(body) {
				return "", false
			}
			r, err := strconv.ParseUint(body[i+1:i+1+n], 16, 32)
			if err != nil {
				return "", false
			}
			b.WriteRune(rune(r))
			i += n
		default: // \' \" \\ \/ and any other escaped character stand for themselves
			b.WriteByte(e)
		}
	}
	return b.String(), true
}
