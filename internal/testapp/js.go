package testapp

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/sailsio-go/sailsio/mockserver"
)

// What the actions of the JavaScript apps get from the language: req.param, Number, truthiness,
// String, JSON.stringify, and objects that keep their keys in order.

// paramAny is req.param(name) of Sails: route params, then the body (any JSON value but null),
// then the query; ok is false when the parameter is nowhere (undefined).
func paramAny(req *mockserver.Request, name string) (any, bool) {
	if v, ok := req.Params[name]; ok {
		return v, true
	}
	var body map[string]json.RawMessage
	if json.Unmarshal(req.Body, &body) == nil {
		if raw, ok := body[name]; ok && string(raw) != "null" {
			var v any
			if json.Unmarshal(raw, &v) == nil {
				return v, true
			}
		}
	}
	if vs, ok := req.Query[name]; ok && len(vs) > 0 {
		return vs[0], true
	}
	return nil, false
}

// jsNumber is JavaScript's Number(s) for the strings this app sees (not hex or octal forms).
func jsNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.ContainsAny(s, "xXpP_") || strings.EqualFold(strings.TrimLeft(s, "+-"), "inf") ||
		strings.EqualFold(strings.TrimLeft(s, "+-"), "infinity") || strings.EqualFold(s, "nan") {
		return 0, false
	}
	return f, true
}

// numberParam is the helper of HarnessController.js: the param as a non-negative finite number,
// floored and capped, or def.
func numberParam(req *mockserver.Request, name string, def, max int) int {
	raw, ok := paramAny(req, name)
	if !ok {
		return def
	}
	var n float64
	switch v := raw.(type) {
	case float64:
		n = v
	case string:
		if v == "" {
			return def
		}
		f, ok := jsNumber(v)
		if !ok {
			return def
		}
		n = f
	case bool:
		if v {
			n = 1
		}
	default:
		return def
	}
	if math.IsNaN(n) || math.IsInf(n, 0) || n < 0 {
		return def
	}
	return int(math.Min(math.Floor(n), float64(max)))
}

// jsTruthy reports whether a decoded JSON value is truthy in JavaScript.
func jsTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0 && !math.IsNaN(x)
	}
	return true
}

// jsString is String(v) for the JSON values this app sees.
func jsString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// jsonLength is JSON.stringify(body).length: the length in UTF-16 code units of the compact JSON
// (strings written the way JSON.stringify writes them). The body is compact JSON already; only one
// with escapes is re-encoded (JSON.stringify escapes less than most encoders).
func jsonLength(body json.RawMessage) int {
	if len(bytes.TrimSpace(body)) == 0 {
		return len("null")
	}
	s := string(body)
	if bytes.IndexByte(body, '\\') >= 0 {
		var v any
		if json.Unmarshal(body, &v) != nil {
			return 0
		}
		b, _ := Marshal(v)
		// encoding/json escapes U+2028 and U+2029, JSON.stringify does not.
		s = strings.NewReplacer(`\u2028`, "\u2028", `\u2029`, "\u2029").Replace(string(b))
	}
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// Object is a JSON object that keeps its keys in order, as JavaScript objects do (it does not move
// integer-like keys first, as JavaScript would: the apps have none).
type Object []Field

// Field is one key and value of an [Object]. It is an unnamed struct type, so that literals such as
// Object{{"a", 1}} need no field names in other packages either (go vet accepts them).
type Field = struct {
	Key   string
	Value any
}

// MarshalJSON writes the fields in order, without escaping <, > and & (as JSON.stringify).
func (o Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := Marshal(p.Key)
		if err != nil {
			return nil, err
		}
		v, err := Marshal(p.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Marshal is json.Marshal without HTML escaping, as JSON.stringify writes JSON.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}
