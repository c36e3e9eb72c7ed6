package mockserver

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// CSRF, as Sails' security hook does it with sails.config.security.csrf on (docs/protocol.md#csrf):
// a secret per session (req.session.csrfSecret), tokens derived from it, and every POST, PUT,
// PATCH and DELETE, over HTTP and over sockets alike, refused 403 without a valid token.

// csrfSecretKey is the session key of the CSRF secret, as in Sails (req.session.csrfSecret).
const csrfSecretKey = "csrfSecret"

// CSRFTokenPath is the path of the route WithCSRFTokenRoute binds, the one the Sails
// documentation suggests for the security/grant-csrf-token action.
const CSRFTokenPath = "/csrfToken"

// csrfSocketRefusal is the error Sails' grant-csrf-token action answers a socket with (400, in
// development).
const csrfSocketRefusal = "Error: Cannot access CSRF token via socket request.  Instead, send an HTTP request (i.e. XHR) to this endpoint."

// WithCSRF imitates sails.config.security.csrf = true (what `sails new` with the Web App template
// generates). Every request, over HTTP or a socket, first gets a CSRF secret in its session
// (Session key "csrfSecret", as req.session.csrfSecret in Sails) if it has none; then a POST,
// PUT, PATCH or DELETE must carry a token made from that secret, else it is refused with 403
// "Forbidden" before any route or policy runs, whatever the path (Sails' res.forbidden('CSRF
// mismatch') sends the status text only). The token is read, as Sails (csurf) reads it, from the
// first of: the body's _csrf, the query's _csrf, and the headers csrf-token, xsrf-token,
// x-csrf-token, x-xsrf-token. GET, HEAD and OPTIONS pass without one.
//
// Tokens come from Request.CSRFToken (over HTTP only, as res.locals._csrf), from the page of
// Request.ExposeLocalsToBrowser, from a default page at "/" (a GET or HEAD of "/" that no route
// handles gets an HTML page exposing the token as window.SAILS_LOCALS._csrf, as the Web App
// template's homepage does), and from GET /csrfToken with WithCSRFTokenRoute. A token belongs to
// its session: a socket whose handshake carried another session cookie, or none, or one a restart
// lost (each of its requests then has a fresh session), is refused.
func WithCSRF() Option {
	return func(c *config) { c.csrf = true }
}

// WithCSRFTokenRoute binds GET /csrfToken (CSRFTokenPath) to the equivalent of Sails'
// security/grant-csrf-token action, as an app does with
// 'GET /csrfToken': {action: 'security/grant-csrf-token'} in config/routes.js (the Web App
// template has no such route): over HTTP it answers {"_csrf": token} with the session's token (""
// without WithCSRF, as Sails); over a socket it refuses with 400 and the body "Error: Cannot
// access CSRF token via socket request.  Instead, send an HTTP request (i.e. XHR) to this
// endpoint." (Sails in development; the text without Node's stack). A route given to Handle for
// the same path comes first.
func WithCSRFTokenRoute() Option {
	return func(c *config) { c.csrfTokenRoute = true }
}

// csrfSafe reports whether a verb passes the CSRF check without a token.
func csrfSafe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// csrfSecret returns the CSRF secret of the request's session, creating it if the session has
// none (as csurf does on every request, whatever the verb).
func (r *Request) csrfSecret() string {
	r.Session.mu.Lock()
	defer r.Session.mu.Unlock()
	if v, ok := r.Session.data[csrfSecretKey].(string); ok && v != "" {
		return v
	}
	var b [18]byte
	_, _ = rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	r.Session.data[csrfSecretKey] = v
	return v
}

// csrfTokenChars are the characters of a token's salt.
const csrfTokenChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newCSRFToken makes a token for secret, shaped as the csrf package's: an 8-character salt, "-",
// and the unpadded URL-safe base64 of SHA-1(salt + "-" + secret).
func newCSRFToken(secret string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	salt := make([]byte, len(b))
	for i, c := range b {
		salt[i] = csrfTokenChars[int(c)%len(csrfTokenChars)]
	}
	return csrfTokenFor(secret, string(salt))
}

func csrfTokenFor(secret, salt string) string {
	sum := sha1.Sum([]byte(salt + "-" + secret))
	return salt + "-" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// validCSRFToken reports whether token was made from secret.
func validCSRFToken(secret, token string) bool {
	salt, _, ok := strings.Cut(token, "-")
	if !ok || secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(csrfTokenFor(secret, salt)), []byte(token)) == 1
}

// sentCSRFToken returns the token a request carries where csurf looks for it: the first truthy
// value of body._csrf, query._csrf and the headers csrf-token, xsrf-token, x-csrf-token,
// x-xsrf-token. A value that is not a single string (a number, an array) is chosen all the
// same and matches nothing, as in csurf.
func (r *Request) sentCSRFToken() (string, bool) {
	if raw, ok := r.bodyObject()["_csrf"]; ok && jsTruthy(raw) {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, true
		}
		return "", false
	}
	if vs := r.Query["_csrf"]; len(vs) > 0 && (len(vs) > 1 || vs[0] != "") {
		if len(vs) > 1 {
			return "", false
		}
		return vs[0], true
	}
	for _, h := range []string{"csrf-token", "xsrf-token", "x-csrf-token", "x-xsrf-token"} {
		if v := r.Headers.Get(h); v != "" {
			return v, true
		}
	}
	return "", false
}

// jsTruthy reports whether a JSON value is truthy in JavaScript.
func jsTruthy(raw json.RawMessage) bool {
	switch s := strings.TrimSpace(string(raw)); {
	case s == "", s == "null", s == "false", s == `""`:
		return false
	case wire.FirstByte(raw) == '-' || wire.FirstByte(raw) >= '0' && wire.FirstByte(raw) <= '9':
		f, err := strconv.ParseFloat(s, 64)
		return err != nil || f != 0
	}
	return true
}

// checkCSRF runs Sails' CSRF middleware on a request: it gives the session a secret and, for an
// unsafe verb without a valid token, answers 403 and reports false.
func (s *Server) checkCSRF(req *Request, res *Response) bool {
	secret := req.csrfSecret()
	if csrfSafe(req.Method) {
		return true
	}
	if tok, ok := req.sentCSRFToken(); ok && validCSRFToken(secret, tok) {
		return true
	}
	res.Forbidden("CSRF mismatch")
	return false
}

// CSRFToken returns a CSRF token of the request's session, like res.locals._csrf in Sails: with
// WithCSRF, over HTTP, a token (each call may return another one; all stay valid as long as the
// session does); "" over a socket (Sails does not set the local for virtual requests) or without
// WithCSRF.
func (r *Request) CSRFToken() string {
	if r.srv == nil || !r.srv.cfg.csrf || r.IsSocket || r.Session == nil {
		return ""
	}
	return newCSRFToken(r.csrfSecret())
}

// ExposeLocalsToBrowser returns the HTML script element that Sails' exposeLocalsToBrowser() view
// helper writes into a page: it sets window.SAILS_LOCALS to the request's CSRF token (as _csrf,
// first, when CSRFToken is not "") and to locals (in the order of their names; a local named
// _csrf replaces the token). Strings are written as Sails writes them, HTML entities escaped
// and unescaped again by a small function in the script, so the token reads
// `window.SAILS_LOCALS = { _csrf: unescape('<token>'),`; other values as JSON (where Sails writes
// JavaScript literals, `{ id: 1, name: 'x' }`: the same values once evaluated). The unescaping
// function is the mock's own, not Sails' minified one.
func (r *Request) ExposeLocalsToBrowser(locals map[string]any) string {
	names := make([]string, 0, len(locals)+1)
	values := make(map[string]any, len(locals)+1)
	if _, given := locals["_csrf"]; !given {
		if tok := r.CSRFToken(); tok != "" {
			names = append(names, "_csrf")
			values["_csrf"] = tok
		}
	}
	rest := make([]string, 0, len(locals))
	for k := range locals {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		names = append(names, k)
		values[k] = locals[k]
	}
	var b strings.Builder
	b.WriteString(`<script type="text/javascript"> (function (){  var unescape = `)
	b.WriteString(unescapeEntitiesJS)
	b.WriteString(`; window.SAILS_LOCALS = { `)
	for _, k := range names {
		b.WriteString(jsKey(k))
		b.WriteString(": unescape(")
		b.WriteString(jsValue(values[k]))
		b.WriteString("),")
	}
	b.WriteString(` };  })(); </script>`)
	return b.String()
}

// unescapeEntitiesJS undoes, in the browser, the HTML entities ExposeLocalsToBrowser escapes.
const unescapeEntitiesJS = `function unescapeEntities(v){var m={'&amp;':'&','&lt;':'<','&gt;':'>','&quot;':'"','&#39;':"'",'&#96;':'` + "`" + `'};` +
	`if(typeof v==='string'){return v.replace(/&(?:amp|lt|gt|quot|#39|#96);/g,function(e){return m[e];});}` +
	`if(Array.isArray(v)){return v.map(unescapeEntities);}` +
	`if(v&&typeof v==='object'){Object.keys(v).forEach(function(k){v[k]=unescapeEntities(v[k]);});}return v;}`

// htmlEntities escapes what Sails' exposeLocalsToBrowser escapes in strings.
var htmlEntities = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;", "`", "&#96;")

// jsKey writes an object key: as is when it is an identifier, else as a JSON string.
func jsKey(k string) string {
	ident := k != ""
	for i, c := range k {
		if !(c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			ident = false
		}
	}
	if ident {
		return k
	}
	b, _ := json.Marshal(k) // escapes <, > and &, so no "</script>" can appear
	return string(b)
}

// jsValue writes a local's value as a JavaScript expression: a string in single quotes, HTML
// entities escaped; anything else as JSON with the strings inside escaped the same way.
func jsValue(v any) string {
	if s, ok := v.(string); ok {
		return jsString(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	var generic any
	if json.Unmarshal(b, &generic) != nil {
		return "null"
	}
	out, err := json.Marshal(escapeDeep(generic))
	if err != nil {
		return "null"
	}
	return string(out)
}

// escapeDeep escapes the HTML entities of every string in a decoded JSON value.
func escapeDeep(v any) any {
	switch x := v.(type) {
	case string:
		return htmlEntities.Replace(x)
	case []any:
		for i := range x {
			x[i] = escapeDeep(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = escapeDeep(x[k])
		}
	}
	return v
}

// jsString writes s, HTML entities escaped, as a single-quoted JavaScript string.
func jsString(s string) string {
	s = htmlEntities.Replace(s)
	var b strings.Builder
	b.WriteByte('\'')
	for _, c := range s {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c < 0x20 || c == 0x2028 || c == 0x2029 || c == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// csrfPage is the default page WithCSRF serves at "/": a minimal layout around the
// exposeLocalsToBrowser script.
func csrfPage(req *Request) string {
	return "<!DOCTYPE html>\n<html>\n  <head>\n    <title>mockserver</title>\n    <meta charset=\"utf-8\">\n  </head>\n  <body>\n    " +
		req.ExposeLocalsToBrowser(nil) + "\n  </body>\n</html>\n"
}

// builtinCSRFRoute answers the requests the CSRF options serve when no route matched: the default
// page at "/" (WithCSRF) and GET /csrfToken (WithCSRFTokenRoute). It reports whether it answered.
func (s *Server) builtinCSRFRoute(req *Request, res *Response) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	path := strings.TrimSuffix(req.Path, "/")
	switch {
	case s.cfg.csrfTokenRoute && strings.EqualFold(path, CSRFTokenPath):
		if req.IsSocket {
			res.BadRequest(csrfSocketRefusal)
			return true
		}
		res.JSON(map[string]string{"_csrf": req.CSRFToken()})
		return true
	case s.cfg.csrf && path == "":
		res.Send(csrfPage(req))
		return true
	}
	return false
}
