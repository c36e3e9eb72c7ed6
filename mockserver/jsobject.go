package mockserver

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// jsObject is a JSON object that keeps its keys in JavaScript's order: integer-like keys first,
// ascending, then the other keys in the order they were first set. Values are compact JSON.
type jsObject struct {
	keys []string
	vals map[string]json.RawMessage
}

func newJSObject() *jsObject { return &jsObject{vals: map[string]json.RawMessage{}} }

// isArrayIndex reports whether k is a canonical array index, a key JavaScript orders first.
func isArrayIndex(k string) bool {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return false
	}
	n, err := strconv.ParseUint(k, 10, 64)
	return err == nil && n < 1<<32-1
}

func (o *jsObject) has(k string) bool {
	_, ok := o.vals[k]
	return ok
}

func (o *jsObject) get(k string) (json.RawMessage, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// set sets k to v (compact JSON), keeping k's place if it is there.
func (o *jsObject) set(k string, v json.RawMessage) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *jsObject) del(k string) {
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	for i, x := range o.keys {
		if x == k {
			o.keys = append(o.keys[:i:i], o.keys[i+1:]...)
			break
		}
	}
}

// order returns the keys in JavaScript's enumeration order.
func (o *jsObject) order() []string {
	var ints, rest []string
	for _, k := range o.keys {
		if isArrayIndex(k) {
			ints = append(ints, k)
		} else {
			rest = append(rest, k)
		}
	}
	if len(ints) == 0 {
		return rest
	}
	for i := 1; i < len(ints); i++ {
		for j := i; j > 0; j-- {
			a, _ := strconv.ParseUint(ints[j-1], 10, 64)
			b, _ := strconv.ParseUint(ints[j], 10, 64)
			if a <= b {
				break
			}
			ints[j-1], ints[j] = ints[j], ints[j-1]
		}
	}
	return append(ints, rest...)
}

func (o *jsObject) clone() *jsObject {
	c := &jsObject{keys: append([]string(nil), o.keys...), vals: make(map[string]json.RawMessage, len(o.vals))}
	for k, v := range o.vals {
		c.vals[k] = v
	}
	return c
}

// MarshalJSON encodes the object with its keys in order.
func (o *jsObject) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, k := range o.order() {
		if i > 0 {
			b = append(b, ',')
		}
		kb, err := marshalJSON(k)
		if err != nil {
			return nil, err
		}
		b = append(b, kb...)
		b = append(b, ':')
		b = append(b, o.vals[k]...)
	}
	return append(b, '}'), nil
}

// parseJSObject decodes a JSON object keeping its keys' order (nil if raw is not an object).
func parseJSObject(raw []byte) *jsObject {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	o := newJSObject()
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		o.set(kt.(string), compactJSON(v))
	}
	return o
}

// mustJSON encodes v as compact JSON without HTML escaping (null if it cannot be encoded).
func mustJSON(v any) json.RawMessage {
	b, err := marshalJSON(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
