package sailsio

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// JWRes is a JSON WebSocket Response: what Sails answers to a virtual request (sails.io.js' JWR).
type JWRes struct {
	Body       json.RawMessage // the response body as sent; `null` when the server sent none
	Headers    http.Header     // response headers, canonical keys
	StatusCode int             // 200 when the server sent none; 0 when no response arrived
	Error      error           // non-nil when StatusCode < 200 or >= 400 (mirrors jwres.error), or when no response arrived
}

var jsonNull = json.RawMessage("null")

// Decode unmarshals the body into v (encoding/json rules).
func (r *JWRes) Decode(v any) error {
	return json.Unmarshal(r.Body, v)
}

// String returns a short human-readable summary, like sails.io.js' jwres.toString().
func (r *JWRes) String() string {
	var b strings.Builder
	b.WriteString("[ResponseFromSails] -- Status: ")
	b.WriteString(strconv.Itoa(r.StatusCode))
	b.WriteString(" -- Headers: ")
	keys := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + ": " + strings.Join(r.Headers[k], ", "))
	}
	b.WriteString("} -- Body: ")
	b.WriteString(truncate(string(r.Body), 500))
	if r.Error != nil && r.StatusCode == 0 {
		b.WriteString(" -- Error: " + r.Error.Error())
	}
	return b.String()
}

// failedResponse is the JWRes of a request that got no response.
func failedResponse(err error) *JWRes {
	return &JWRes{Body: jsonNull, Headers: http.Header{}, Error: err}
}

// wireResponse is an ack payload: a JWR, or the error object of a parse error.
type wireResponse struct {
	Body       json.RawMessage            `json:"body"`
	Headers    map[string]json.RawMessage `json:"headers"`
	StatusCode *json.Number               `json:"statusCode"`
	// Parse errors (no statusCode):
	Code    string          `json:"code"`
	Status  json.RawMessage `json:"status"`
	Message string          `json:"message"`
	Details any             `json:"details"`
}

const parseErrorPrefix = "SAILS:HOOK:SOCKETS:"

// decodeAck turns an ACK payload (a JSON array whose first element is the response) into a JWRes,
// in one decoding pass. See decodeResponse for the results.
func decodeAck(data []byte) (*JWRes, error) {
	if jwr, ok := fastAck(data); ok {
		return jwr, nil
	}
	var arr [1]wireResponse
	if err := json.Unmarshal(data, &arr); err != nil {
		return nil, errorf(ErrBadResponse, "ack payload: %v", err)
	}
	if wire.FirstByte(bytes.TrimLeft(bytes.TrimSpace(data), "[")) == ']' {
		return nil, errorf(ErrBadResponse, "ack carries no response")
	}
	return arr[0].response()
}

// decodeResponse turns the first argument of an ack into a JWRes. It returns a *ParseError (with a
// JWRes of status 400) when the server answered a parse error, and an error wrapping ErrBadResponse
// (with a nil JWRes) when the payload is not a response at all.
func decodeResponse(arg json.RawMessage) (*JWRes, error) {
	var w wireResponse
	if err := json.Unmarshal(arg, &w); err != nil {
		return nil, errorf(ErrBadResponse, "%v", err)
	}
	return w.response()
}

func (w *wireResponse) response() (*JWRes, error) {
	if w.StatusCode == nil && strings.HasPrefix(w.Code, parseErrorPrefix) {
		pe := &ParseError{Code: w.Code, Message: w.Message, Status: 400, Details: w.Details}
		if n, err := strconv.Atoi(string(bytes.TrimSpace(w.Status))); err == nil && n > 0 {
			pe.Status = n
		}
		return &JWRes{Body: jsonNull, Headers: http.Header{}, StatusCode: 400, Error: pe}, pe
	}
	r := &JWRes{Body: w.Body, StatusCode: 200, Headers: make(http.Header, len(w.Headers))}
	if len(r.Body) == 0 {
		r.Body = jsonNull
	}
	if w.StatusCode != nil {
		code, err := w.StatusCode.Int64()
		if err != nil || code < 0 || code > 999 {
			return nil, errorf(ErrBadResponse, "status code %s is not an HTTP status", w.StatusCode.String())
		}
		r.StatusCode = int(code)
	}
	for k, raw := range w.Headers {
		addHeaderValue(r.Headers, http.CanonicalHeaderKey(k), raw)
	}
	if r.StatusCode < 200 || r.StatusCode >= 400 {
		r.Error = &StatusError{StatusCode: r.StatusCode, Body: r.Body}
	}
	return r, nil
}

// addHeaderValue adds a JSON header value (string, number, boolean or array of them) without
// duplicating a value already present under the same canonical name.
func addHeaderValue(h http.Header, key string, raw json.RawMessage) {
	var vals []string
	switch wire.FirstByte(raw) {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			vals = []string{s}
		}
	case '[':
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) == nil {
			for _, e := range arr {
				addHeaderValue(h, key, e)
			}
		}
		return
	case 'n', 0:
		return
	default:
		vals = []string{string(bytes.TrimSpace(raw))}
	}
	for _, v := range vals {
		if !containsValue(h[key], v) {
			h[key] = append(h[key], v)
		}
	}
}
