package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio/internal/sailsproto"
	"github.com/sailsio-go/sailsio/internal/wire"
)

// ParseErrorCode is the code of the error object a Sails server acks instead of a JWR when it
// cannot parse a virtual request.
const ParseErrorCode = sailsproto.ParseErrorCode

func newParseError(details string) []byte { return sailsproto.NewParseError(details).JSON() }

// crashDetails is what checkVirtual returns when the request would crash a real Sails server.
const crashDetails = "\x00crash"

// checkVirtual returns the details of the parse error a virtual request gets, or "".
func checkVirtual(hs *handshake, msg []byte, obj map[string]json.RawMessage) string {
	u, ok := obj["url"]
	if !ok || isFalsy(u) {
		return "No url provided in request: " + formatS(msg)
	}
	if wire.FirstByte(u) != '"' {
		return "Invalid url provided: " + formatS(u)
	}
	if errors.Is(hs.versionErr, sailsproto.ErrInvalidSDKVersion) {
		return crashDetails
	}
	if !hs.versionOK {
		return sailsproto.VersionDetails(hs.version)
	}
	return ""
}

// handleVirtual serves one virtual request (see order.go): it returns when the request's
// handler returned, or earlier if the handler called yield first.
func (s *Server) handleVirtual(c *conn, v virtualMsg, yield func()) {
	if !s.waitUnpaused(c.ctx) {
		return
	}
	obj := decodeObject(v.msg)
	details := checkVirtual(c.hs, v.msg, obj)
	if details == crashDetails {
		s.crash(fmt.Errorf("TypeError: Invalid Version: %s", c.hs.version))
		return
	}
	if details != "" {
		perr := newParseError(details)
		s.answer(c, func() {
			if v.ackID == wire.NoID {
				c.send(outFrame{typ: websocket.TextMessage, data: wire.AppendMessage(nil, wire.Packet{
					Type: wire.Event, ID: wire.NoID, Data: wire.AppendEventData(nil, "sails:parseError", perr),
				})})
				return
			}
			c.send(outFrame{typ: websocket.TextMessage, data: wire.AppendMessage(nil, wire.Packet{
				Type: wire.Ack, ID: v.ackID, Data: append(append([]byte{'['}, perr...), ']'),
			})})
		})
		return
	}
	req := c.newRequest(v.verb, obj)
	s.dispatchInline(req, yield, func(res *result) {
		if v.ackID == wire.NoID {
			return // "it's ok to NOT include a callback": the response is dropped
		}
		s.answer(c, func() { c.send(res.ackFrames(v.ackID, c.eio)...) })
	})
}

// answer sends an answer on c: at once, or after the delay of SetDelay and once the server is
// not paused, from another goroutine so that the socket's next request is not held up.
func (s *Server) answer(c *conn, send func()) {
	s.mu.Lock()
	wait := s.faults.delay > 0 || s.faults.paused
	s.mu.Unlock()
	if !wait {
		send()
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if s.beforeAnswer(c.ctx) {
			send()
		}
	}()
}

// newRequest builds the request of a virtual request the way receive-incoming-sails-io-msg.js
// does (docs/protocol.md#how-sails-reads-a-virtual-request).
func (c *conn) newRequest(verb string, obj map[string]json.RawMessage) *Request {
	rawURL := decodeString(obj["url"])
	path, rawQuery := splitURL(rawURL)
	query, _ := url.ParseQuery(rawQuery)
	if query == nil {
		query = url.Values{}
	}
	h := virtualHeaders(obj["headers"])
	// _.defaults({host: sails.config.host, cookie}, msg.headers): the handshake's cookie wins over
	// a per-request one; host stays the per-request one, if any (sails.config.host is unset, and
	// the handshake's Host header is not used).
	h.Set("Cookie", c.hs.cookie)
	// origin is always forced to the handshake's.
	h.Del("Origin")
	if c.hs.origin != "" {
		h.Set("Origin", c.hs.origin)
	}
	proto := "ws"
	if c.hs.tls {
		proto = "wss"
	}
	sess := c.hs.session
	if sess == nil {
		sess = throwaway()
	}
	contentLength := int64(-1)
	if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		contentLength = n
	}
	return c.srv.newRequest(c.ctx, requestInit{
		contentLength: contentLength,
		method:        strings.ToUpper(verb),
		url:           rawURL,
		path:          path,
		query:         query,
		body:          virtualBody(obj["data"], obj["params"]),
		headers:       h,
		session:       sess,
		isSocket:      true,
		socketID:      c.id,
		ip:            c.hs.ip,
		protocol:      proto,
	})
}

// splitURL returns the path (url.parse(url).pathname || '/') and raw query of a virtual URL.
func splitURL(u string) (string, string) {
	u, _, _ = strings.Cut(u, "#")
	if strings.Contains(u, "://") {
		if pu, err := url.Parse(u); err == nil {
			p := pu.EscapedPath()
			if p == "" {
				p = "/"
			}
			return p, pu.RawQuery
		}
	}
	p, q, _ := strings.Cut(u, "?")
	if p == "" {
		p = "/"
	}
	return p, q
}

// virtualBody is `_.isArray(data) ? data : _.extend({}, params, data)`.
func virtualBody(data, params json.RawMessage) json.RawMessage {
	if wire.FirstByte(data) == '[' {
		return append(json.RawMessage(nil), data...)
	}
	dataObj := wire.FirstByte(data) == '{'
	paramsObj := wire.FirstByte(params) == '{'
	switch {
	case dataObj && !paramsObj:
		return compactJSON(data)
	case paramsObj && !dataObj:
		return compactJSON(params)
	case !dataObj && !paramsObj:
		return json.RawMessage("{}")
	}
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(params, &m)
	var d map[string]json.RawMessage
	_ = json.Unmarshal(data, &d)
	for k, v := range d {
		m[k] = v
	}
	b, err := marshalJSON(m)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return json.RawMessage("{}")
	}
	return buf.Bytes()
}

// virtualHeaders turns the virtual headers object into an http.Header (names lower-cased first,
// then canonicalized; non-string values as their JSON text; null dropped).
func virtualHeaders(raw json.RawMessage) http.Header {
	h := http.Header{}
	if wire.FirstByte(raw) != '{' {
		return h
	}
	m := decodeObject(raw)
	for k, v := range m {
		if wire.FirstByte(v) == 'n' { // null
			continue
		}
		val := string(v)
		if wire.FirstByte(v) == '"' {
			val = decodeString(v)
		}
		h[http.CanonicalHeaderKey(strings.ToLower(k))] = []string{val}
	}
	return h
}

// isFalsy reports whether a JSON value is falsy in JavaScript.
func isFalsy(v json.RawMessage) bool {
	switch wire.FirstByte(v) {
	case 'n', 'f', 0:
		return true
	case '"':
		return len(bytes.TrimSpace(v)) == 2
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
		return err == nil && f == 0
	}
	return false
}

// marshalJSON is json.Marshal without HTML escaping (JSON.stringify does not escape <, >, &).
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// formatS approximates Node's util.format('%s', v) for a JSON value: strings as they are,
// numbers and booleans as text, objects and arrays through util.inspect with depth 0 (on one line).
func formatS(raw []byte) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "undefined"
	}
	if wire.FirstByte(raw) == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return string(raw)
	}
	out, err := inspectValue(dec, tok, 0)
	if err != nil {
		return string(raw)
	}
	return out
}

var identRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

func jsQuote(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}

func inspectValue(dec *json.Decoder, tok json.Token, level int) (string, error) {
	switch t := tok.(type) {
	case json.Delim:
		open, close, collapsed := "{", "}", "[Object]"
		if t == '[' {
			open, close, collapsed = "[", "]", "[Array]"
		}
		if !dec.More() {
			_, err := dec.Token()
			return open + close, err
		}
		if level > 0 {
			for depth := 1; depth > 0; {
				tok, err := dec.Token()
				if err != nil {
					return "", err
				}
				if d, ok := tok.(json.Delim); ok {
					if d == '{' || d == '[' {
						depth++
					} else {
						depth--
					}
				}
			}
			return collapsed, nil
		}
		var parts []string
		for dec.More() {
			prefix := ""
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return "", err
				}
				key, _ := k.(string)
				if identRE.MatchString(key) {
					prefix = key + ": "
				} else {
					prefix = jsQuote(key) + ": "
				}
			}
			v, err := dec.Token()
			if err != nil {
				return "", err
			}
			s, err := inspectValue(dec, v, level+1)
			if err != nil {
				return "", err
			}
			parts = append(parts, prefix+s)
		}
		if _, err := dec.Token(); err != nil {
			return "", err
		}
		return open + " " + strings.Join(parts, ", ") + " " + close, nil
	case string:
		return jsQuote(t), nil
	case json.Number:
		return t.String(), nil
	case bool:
		return strconv.FormatBool(t), nil
	case nil:
		return "null", nil
	}
	return fmt.Sprint(tok), nil
}

// decodeObject returns the members of a JSON object (nil if raw is not one). Objects with plain
// ASCII keys are split without reflection, their values aliasing raw; raw comes from a decoded
// packet, so it is valid JSON.
func decodeObject(raw []byte) map[string]json.RawMessage {
	i := wire.SkipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil
	}
	m := make(map[string]json.RawMessage, 4)
	i = wire.SkipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return m
	}
	for {
		key, j, ok := wire.SimpleString(raw, i)
		if !ok {
			break
		}
		i = wire.SkipSpace(raw, j)
		if i >= len(raw) || raw[i] != ':' {
			break
		}
		start := wire.SkipSpace(raw, i+1)
		end := wire.SkipValue(raw, start)
		if end < 0 || end == start {
			break
		}
		m[string(key)] = raw[start:end:end]
		i = wire.SkipSpace(raw, end)
		if i < len(raw) && raw[i] == '}' {
			return m
		}
		if i >= len(raw) || raw[i] != ',' {
			break
		}
		i = wire.SkipSpace(raw, i+1)
	}
	m = nil // not the simple shape: let encoding/json do it
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// decodeString returns the value of a JSON string ("" for anything else).
func decodeString(raw []byte) string {
	if s, end, ok := wire.SimpleString(raw, wire.SkipSpace(raw, 0)); ok && wire.SkipSpace(raw, end) == len(raw) {
		return string(s)
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}
