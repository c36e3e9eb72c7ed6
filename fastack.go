package sailsio

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// fastAck decodes the usual shape of an ACK payload,
//
//	[{"body":<any>,"headers":{"name":"value"|number,...},"statusCode":<int>}]
//
// (keys in any order, each optional), without reflection and with few allocations. It returns
// ok == false for any other shape (a parse error object, escaped keys, extra arguments ...), and the
// caller then falls back to decodeAck, which handles everything. The body is copied: data may be a
// reused read buffer.
func fastAck(data []byte) (jwr *JWRes, ok bool) {
	i := wire.SkipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, false
	}
	i = wire.SkipSpace(data, i+1)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	var (
		body    []byte
		headers http.Header
		status  = 200
	)
	i = wire.SkipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			key, j, ok := wire.SimpleString(data, i)
			if !ok {
				return nil, false
			}
			i = wire.SkipSpace(data, j)
			if i >= len(data) || data[i] != ':' {
				return nil, false
			}
			i = wire.SkipSpace(data, i+1)
			switch string(key) {
			case "body":
				end := wire.SkipValue(data, i)
				if end < 0 {
					return nil, false
				}
				body = data[i:end]
				i = end
			case "statusCode":
				n, end := 0, i
				for end < len(data) && data[end] >= '0' && data[end] <= '9' && end-i < 3 {
					n = n*10 + int(data[end]-'0')
					end++
				}
				if end == i || end-i > 1 && data[i] == '0' || end < len(data) && (data[end] >= '0' && data[end] <= '9' || data[end] == '.' || data[end] == 'e' || data[end] == 'E') {
					return nil, false
				}
				status, i = n, end
			case "headers":
				var end int
				if headers, end = simpleHeaders(data, i); end < 0 {
					return nil, false
				}
				i = end
			default:
				return nil, false
			}
			i = wire.SkipSpace(data, i)
			if i >= len(data) {
				return nil, false
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return nil, false
			}
			i = wire.SkipSpace(data, i+1)
		}
	}
	i = wire.SkipSpace(data, i)
	if i >= len(data) || data[i] != ']' || wire.SkipSpace(data, i+1) != len(data) {
		return nil, false
	}
	if body == nil {
		body = jsonNull
	} else if !json.Valid(body) {
		return nil, false
	} else {
		body = bytes.Clone(body)
	}
	if headers == nil {
		headers = http.Header{}
	}
	r := &JWRes{Body: body, Headers: headers, StatusCode: status}
	if status < 200 || status >= 400 {
		r.Error = &StatusError{StatusCode: status, Body: body}
	}
	return r, true
}

// simpleHeaders reads an object whose values are simple strings or unsigned integers, as Sails sends
// response headers. It returns -1 for anything else.
func simpleHeaders(b []byte, i int) (http.Header, int) {
	if i >= len(b) || b[i] != '{' {
		return nil, -1
	}
	h := http.Header{}
	i = wire.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return h, i + 1
	}
	var seen [][]byte
	for {
		key, j, ok := wire.SimpleString(b, i)
		if !ok {
			return nil, -1
		}
		for _, k := range seen {
			if bytes.Equal(k, key) { // a repeated key: the general decoder keeps the last one
				return nil, -1
			}
		}
		seen = append(seen, key)
		i = wire.SkipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, -1
		}
		i = wire.SkipSpace(b, i+1)
		var val []byte
		if i < len(b) && b[i] == '"' {
			if val, i, ok = wire.SimpleString(b, i); !ok {
				return nil, -1
			}
		} else {
			j := i
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if j == i || j-i > 1 && b[i] == '0' || j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
				return nil, -1
			}
			val, i = b[i:j], j
		}
		k := http.CanonicalHeaderKey(string(key))
		v := string(val)
		if !containsValue(h[k], v) {
			h[k] = append(h[k], v)
		}
		i = wire.SkipSpace(b, i)
		if i >= len(b) {
			return nil, -1
		}
		if b[i] == '}' {
			return h, i + 1
		}
		if b[i] != ',' {
			return nil, -1
		}
		i = wire.SkipSpace(b, i+1)
	}
}

func containsValue(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}
