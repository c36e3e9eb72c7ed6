package mockserver

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// Request is what a handler sees of a request, virtual (over a socket) or plain HTTP, like a
// Sails req. Handlers may read its fields freely but should not modify them.
type Request struct {
	ID       string            // unique per request
	Method   string            // upper-case verb, e.g. "GET"
	URL      string            // path and raw query as sent, e.g. "/user/3?x=1"
	Path     string            // "/user/3" (still escaped, as Express' req.path)
	Params   map[string]string // route params; a wildcard's match is Params["0"]
	Query    url.Values        // the query of URL
	Body     json.RawMessage   // the JSON body; `{}` when none was sent
	Headers  http.Header       // over sockets: the virtual headers plus handshake origin and cookie
	Cookies  map[string]string // from the Cookie header (over sockets: the handshake's)
	Session  *Session          // per session cookie, in memory, safe for concurrent use
	IsSocket bool              // the request came over a socket
	SocketID string            // "" over HTTP
	IP       string            // the client's address (over sockets: the handshake's)
	Protocol string            // "http", "https", "ws" or "wss"

	ctx   context.Context
	yield func() // virtual requests: lets the socket's next request start (order.go)

	route         string    // the matched route address
	time          time.Time // when the request arrived
	contentLength int64
	srv           *Server
}

// Context returns the request's context. It is done once the request has been answered (or
// timed out), when its socket disconnects or its HTTP client goes away, and when the server
// closes. A handler that waits for something should also wait for it.
//
// Calling Context also tells the server that the handler is about to wait, like the first await
// of a Node action: the next virtual request of the same socket may then start (see the package
// documentation on ordering).
func (r *Request) Context() context.Context {
	if r.yield != nil {
		r.yield()
	}
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// requestInit carries what newRequest needs.
type requestInit struct {
	method, url, path string
	query             url.Values
	body              json.RawMessage
	headers           http.Header
	session           *Session
	isSocket          bool
	socketID          string
	ip, protocol      string
	contentLength     int64 // -1: unknown
}

func (s *Server) newRequest(ctx context.Context, in requestInit) *Request {
	cookies := map[string]string{}
	for _, c := range parseCookies(strings.Join(in.headers.Values("Cookie"), "; ")) {
		if _, dup := cookies[c.Name]; !dup {
			cookies[c.Name] = c.Value
		}
	}
	return &Request{
		ID:       "req" + strconv.FormatUint(s.reqSeq.Add(1), 10),
		Method:   in.method,
		URL:      in.url,
		Path:     in.path,
		Params:   map[string]string{},
		Query:    in.query,
		Body:     in.body,
		Headers:  in.headers,
		Cookies:  cookies,
		Session:  in.session,
		IsSocket: in.isSocket,
		SocketID: in.socketID,
		IP:       in.ip,
		Protocol: in.protocol,
		ctx:      ctx,

		time:          time.Now(),
		contentLength: in.contentLength,
		srv:           s,
	}
}

// Get returns the request header field, case-insensitively; "Referer" and "Referrer" are
// interchangeable, as in Express' req.get.
func (r *Request) Get(field string) string {
	switch strings.ToLower(field) {
	case "referer", "referrer":
		if v := r.Headers.Get("Referrer"); v != "" {
			return v
		}
		return r.Headers.Get("Referer")
	}
	return r.Headers.Get(field)
}

// Header is an alias of Get.
func (r *Request) Header(field string) string { return r.Get(field) }

// bodyObject decodes Body when it is a JSON object.
func (r *Request) bodyObject() map[string]json.RawMessage {
	if wire.FirstByte(r.Body) != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(r.Body, &m) != nil {
		return nil
	}
	return m
}

// Param returns the named parameter like Sails' req.param: route params first, then the body
// (a non-string body value as its JSON text; null counts as absent), then the query. When the
// parameter is nowhere, it returns def[0], or "".
func (r *Request) Param(name string, def ...string) string {
	if v, ok := r.Params[name]; ok {
		return v
	}
	if v, ok := r.bodyObject()[name]; ok && wire.FirstByte(v) != 'n' {
		if wire.FirstByte(v) == '"' {
			var s string
			if json.Unmarshal(v, &s) == nil {
				return s
			}
		}
		return string(compactJSON(v))
	}
	if vs, ok := r.Query[name]; ok && len(vs) > 0 {
		return vs[0]
	}
	if len(def) > 0 {
		return def[0]
	}
	return ""
}

// AllParams returns every parameter like Sails' req.allParams(): the query (a repeated key as a
// []string), then the body's keys (decoded as by encoding/json), then the route params on top.
func (r *Request) AllParams() map[string]any {
	all := map[string]any{}
	for k, vs := range r.Query {
		if len(vs) == 1 {
			all[k] = vs[0]
		} else {
			all[k] = append([]string(nil), vs...)
		}
	}
	for k, raw := range r.bodyObject() {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			all[k] = v
		}
	}
	for k, v := range r.Params {
		all[k] = v
	}
	return all
}

// normalizeType expands the short forms type-is accepts ("json", "html", "urlencoded", ...).
func normalizeType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	switch t {
	case "urlencoded":
		return "application/x-www-form-urlencoded"
	case "multipart":
		return "multipart/*"
	}
	if strings.HasPrefix(t, "+") {
		return "*/*" + t
	}
	if strings.Contains(t, "/") {
		return t
	}
	if mt := mime.TypeByExtension("." + t); mt != "" {
		mt, _, _ = mime.ParseMediaType(mt)
		return mt
	}
	switch t {
	case "json":
		return "application/json"
	case "html":
		return "text/html"
	case "text":
		return "text/plain"
	}
	return t
}

// mimeMatch matches a media type against a pattern with "*" wildcards and "+suffix" patterns.
func mimeMatch(pattern, actual string) bool {
	pt, ps, ok1 := strings.Cut(pattern, "/")
	at, as, ok2 := strings.Cut(actual, "/")
	if !ok1 || !ok2 {
		return false
	}
	if pt != "*" && pt != at {
		return false
	}
	if strings.HasPrefix(ps, "*+") {
		return strings.HasSuffix(as, ps[1:])
	}
	return ps == "*" || ps == as
}

// Is reports whether the request's Content-Type matches mimeType, like Express' req.is: full
// types ("application/json"), wildcards ("application/*") and short forms ("json", "html",
// "urlencoded"). A virtual request without a content-type header counts as application/json
// (its body always is JSON); a plain HTTP request without one matches nothing.
func (r *Request) Is(mimeType string) bool {
	ct := r.Headers.Get("Content-Type")
	if ct == "" {
		if !r.IsSocket {
			return false
		}
		ct = "application/json"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mimeMatch(normalizeType(mimeType), mt)
}

// Accepts reports whether the request's Accept header accepts mimeType (same forms as Is). A
// request without an Accept header accepts everything; q=0 refuses.
func (r *Request) Accepts(mimeType string) bool {
	accept := strings.Join(r.Headers.Values("Accept"), ",")
	if strings.TrimSpace(accept) == "" {
		return true
	}
	want := normalizeType(mimeType)
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f <= 0 {
				continue
			}
		}
		if mimeMatch(mt, want) || mimeMatch(want, mt) {
			return true
		}
	}
	return false
}

// Route returns the address of the route that matched the request, as given to Handle (e.g.
// "GET /user/:id"; a Model's routes read "GET /pet/:id" and so on), like restify's
// req.getRoute(). It is "" for a request no route matched (the 404, the automatic OPTIONS
// answer, /__getcookie).
func (r *Request) Route() string { return r.route }

// Href returns the path and query as sent, like restify's req.href() (the URL field).
func (r *Request) Href() string { return r.URL }

// UserAgent returns the User-Agent header (over sockets: a virtual user-agent header, if the
// client sent one).
func (r *Request) UserAgent() string { return r.Headers.Get("User-Agent") }

// ContentType returns the media type of the Content-Type header, lower-cased and without
// parameters, or "application/octet-stream" when none was sent, like restify's
// req.getContentType(). Virtual requests carry no Content-Type unless the client sent one as a
// virtual header.
func (r *Request) ContentType() string {
	ct := strings.TrimSpace(r.Headers.Get("Content-Type"))
	if ct == "" {
		return "application/octet-stream"
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	return strings.ToLower(ct)
}

// ContentLength returns the length of the request body as the client declared it (the HTTP
// Content-Length, or a virtual content-length header), or -1 when it is unknown.
func (r *Request) ContentLength() int64 { return r.contentLength }

// AcceptsEncoding reports whether the Accept-Encoding header accepts the content coding enc
// ("gzip", "br", "identity"...), like restify's req.acceptsEncoding: a coding listed with a
// non-zero q, or "*"; "identity" is accepted unless refused (q=0) and also when the header is
// missing, which accepts nothing else.
func (r *Request) AcceptsEncoding(enc string) bool {
	enc = strings.ToLower(strings.TrimSpace(enc))
	header := strings.Join(r.Headers.Values("Accept-Encoding"), ",")
	star, identity := -1.0, -1.0
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch name {
		case enc:
			return q > 0
		case "*":
			star = q
		case "identity":
			identity = q
		}
	}
	if star >= 0 {
		return star > 0
	}
	return enc == "identity" && identity != 0
}

// IsSecure reports whether the request came over TLS (protocol "https" or "wss").
func (r *Request) IsSecure() bool { return r.Protocol == "https" || r.Protocol == "wss" }

// Time returns when the request arrived (restify's req.time(), EdgerOS' and Sails' request
// timestamps).
func (r *Request) Time() time.Time { return r.time }

// App returns the server the request belongs to, like req.app (sails, in a Sails action).
func (r *Request) App() *Server { return r.srv }
