package sailsio

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The ack payloads below are the literal ones captured from real Sails (docs/protocol.md#jwr-responses
// and #parse-errors).
func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		status  int
		body    string
		headers http.Header
		errType string // "", "status"
	}{
		{"ok", `{"body":{"joined":"demo","id":"igbVCdyNdRSmw8TEAAAA"},"headers":{},"statusCode":200}`, 200, `{"joined":"demo","id":"igbVCdyNdRSmw8TEAAAA"}`, http.Header{}, ""},
		{"custom header", `{"body":{"x":1},"headers":{"x-harness-echo":"1"},"statusCode":200}`, 200, `{"x":1}`, http.Header{"X-Harness-Echo": {"1"}}, ""},
		{"forbidden", `{"body":{"error":"nope"},"headers":{},"statusCode":403}`, 403, `{"error":"nope"}`, http.Header{}, "status"},
		{"not found", `{"body":"Not Found","headers":{},"statusCode":404}`, 404, `"Not Found"`, http.Header{}, "status"},
		{"options without body", `{"headers":{"allow":"DELETE, GET, HEAD, PATCH, POST, PUT","content-length":35,"content-type":"text/plain","x-content-type-options":"nosniff"},"statusCode":200}`, 200, `null`,
			http.Header{"Allow": {"DELETE, GET, HEAD, PATCH, POST, PUT"}, "Content-Length": {"35"}, "Content-Type": {"text/plain"}, "X-Content-Type-Options": {"nosniff"}}, ""},
		{"redirect is success", `{"body":"Redirecting to /hello","headers":{"content-type":"text/html","Location":"/hello","location":"/hello"},"statusCode":302}`, 302, `"Redirecting to /hello"`,
			http.Header{"Content-Type": {"text/html"}, "Location": {"/hello"}}, ""},
		{"no status means 200", `{"body":"plain text"}`, 200, `"plain text"`, http.Header{}, ""},
		{"status 0 is an error", `{"body":null,"statusCode":0}`, 0, `null`, http.Header{}, "status"},
		{"199 is an error", `{"statusCode":199}`, 199, `null`, http.Header{}, "status"},
		{"399 is not", `{"statusCode":399}`, 399, `null`, http.Header{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jwr, err := decodeResponse(json.RawMessage(tt.in))
			if err != nil {
				t.Fatalf("decodeResponse: %v", err)
			}
			if jwr.StatusCode != tt.status || string(jwr.Body) != tt.body {
				t.Errorf("got status %d body %s, want %d %s", jwr.StatusCode, jwr.Body, tt.status, tt.body)
			}
			if d := cmp.Diff(tt.headers, jwr.Headers); d != "" {
				t.Errorf("headers (-want +got):\n%s", d)
			}
			var se *StatusError
			switch tt.errType {
			case "":
				if jwr.Error != nil {
					t.Errorf("Error = %v, want nil", jwr.Error)
				}
			case "status":
				if !errors.As(jwr.Error, &se) || se.StatusCode != tt.status || string(se.Body) != tt.body {
					t.Errorf("Error = %#v, want *StatusError{%d}", jwr.Error, tt.status)
				}
				if !strings.Contains(jwr.Error.Error(), "sailsio:") {
					t.Errorf("error %q lacks the package prefix", jwr.Error)
				}
			}
		})
	}
}

func TestDecodeResponseParseError(t *testing.T) {
	in := `{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","name":"Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):","status":400,"message":"Failed to parse incoming socket.io request.","stack":"...","details":"This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using (0.9.0)."}`
	jwr, err := decodeResponse(json.RawMessage(in))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *ParseError", err)
	}
	want := &ParseError{Code: "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ", Message: "Failed to parse incoming socket.io request.", Status: 400,
		Details: "This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using (0.9.0)."}
	if d := cmp.Diff(want, pe); d != "" {
		t.Errorf("ParseError (-want +got):\n%s", d)
	}
	if jwr == nil || jwr.StatusCode != 400 || !errors.As(jwr.Error, &pe) {
		t.Errorf("jwr = %v, want status 400 carrying the parse error", jwr)
	}
}

func TestDecodeResponseMalformed(t *testing.T) {
	for _, in := range []string{`"text"`, `[]`, `{"statusCode":2.5}`, `{"statusCode":-1}`, `{"headers":[1]}`, `{`, ``} {
		jwr, err := decodeResponse(json.RawMessage(in))
		if !errors.Is(err, ErrBadResponse) || jwr != nil {
			t.Errorf("decodeResponse(%q) = %v, %v; want nil, ErrBadResponse", in, jwr, err)
		}
	}
}

func TestJWResStringAndDecode(t *testing.T) {
	jwr, err := decodeResponse(json.RawMessage(`{"body":{"n":3},"headers":{"x-a":"1"},"statusCode":201}`))
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ N int }
	if err := jwr.Decode(&v); err != nil || v.N != 3 {
		t.Errorf("Decode = %v, %+v", err, v)
	}
	if got, want := jwr.String(), `[ResponseFromSails] -- Status: 201 -- Headers: {X-A: 1} -- Body: {"n":3}`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestStatusErrorExcerpt(t *testing.T) {
	e := &StatusError{StatusCode: 500, Body: json.RawMessage(`"` + strings.Repeat("é", 200) + `"`)}
	msg := e.Error()
	if !strings.HasPrefix(msg, "sailsio: server responded with status 500: ") || len(msg) > 220 || !strings.HasSuffix(msg, "...") {
		t.Errorf("Error() = %q", msg)
	}
	if !json.Valid([]byte(strings.TrimSuffix(msg[len("sailsio: server responded with status 500: "):], "...") + `"`)) {
		t.Errorf("excerpt cut a UTF-8 sequence: %q", msg)
	}
}

// FuzzDecodeAck feeds arbitrary ACK payloads to the response decoder: it must never panic, and
// must return either a JWRes or an error wrapping ErrBadResponse or a *ParseError.
func FuzzDecodeAck(f *testing.F) {
	for _, seed := range []string{
		`[{"body":{"joined":"demo","id":"igbVCdyNdRSmw8TEAAAA"},"headers":{},"statusCode":200}]`,
		`[{"headers":{"allow":"GET","content-length":35},"statusCode":200}]`,
		`[{"body":"Redirecting to /hello","headers":{"content-type":"text/html","Location":"/hello","location":"/hello"},"statusCode":302}]`,
		`[{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","status":400,"message":"Failed","details":"x"}]`,
		`[]`, `[null]`, `["x"]`, `[{"statusCode":1e99}]`, `[{"headers":{"a":[1,"b",null,{"c":1}]}}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		jwr, err := decodeAck(data)
		var pe *ParseError
		switch {
		case err == nil:
			if jwr == nil || jwr.Body == nil || jwr.Headers == nil {
				t.Fatalf("nil parts in %#v", jwr)
			}
			if (jwr.StatusCode < 200 || jwr.StatusCode >= 400) != (jwr.Error != nil) {
				t.Fatalf("status %d with Error %v", jwr.StatusCode, jwr.Error)
			}
			_ = jwr.String()
		case errors.As(err, &pe):
			if jwr == nil || jwr.StatusCode != 400 {
				t.Fatalf("parse error without its JWRes: %v", jwr)
			}
		case errors.Is(err, ErrBadResponse):
			if jwr != nil {
				t.Fatalf("bad response with a JWRes: %v", jwr)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzFastAck checks the fast ack decoder against the general one: whenever it accepts a payload,
// the result must be what json.Unmarshal-based decoding gives.
func FuzzFastAck(f *testing.F) {
	for _, seed := range []string{
		`[{"body":{"joined":"demo","id":"igbVCdyNdRSmw8TEAAAA"},"headers":{},"statusCode":200}]`,
		`[{"headers":{"allow":"DELETE, GET","content-length":35},"statusCode":200}]`,
		`[{"body":"Redirecting to /hello","headers":{"content-type":"text/html","Location":"/hello","location":"/hello"},"statusCode":302}]`,
		` [ { "statusCode" : 404 , "body" : "Not Found" } ] `, `[{}]`, `[{"body":[1,{"a":"b\"]"}]}]`,
		`[{"body":tru}]`, `[{"statusCode":2000}]`, `[{"statusCode":20.5}]`, `[{"body":1}, 2]`, `[{"body":"\u0041"}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := fastAck(data)
		if !ok {
			return
		}
		var arr [1]wireResponse
		if err := json.Unmarshal(data, &arr); err != nil {
			t.Fatalf("fastAck accepted %q, which json rejects: %v", data, err)
		}
		slow, err := arr[0].response()
		if err != nil {
			t.Fatalf("fastAck accepted %q, the general decoder says %v", data, err)
		}
		if !bytes.Equal(compact(t, fast.Body), compact(t, slow.Body)) || fast.StatusCode != slow.StatusCode ||
			!cmp.Equal(fast.Headers, slow.Headers, sortValues) || (fast.Error == nil) != (slow.Error == nil) {
			t.Fatalf("%q:\nfast %v\nslow %v", data, fast, slow)
		}
	})
}

// sortValues compares header values as sets: the general decoder's order follows a map's.
var sortValues = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func compact(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return buf.Bytes()
}
