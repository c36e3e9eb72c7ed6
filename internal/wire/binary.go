package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// ReplacePlaceholders returns data with every binary placeholder {"_placeholder":true,"num":i}
// replaced by attachment i encoded as a JSON base64 string (which json.Unmarshal decodes into a
// []byte). Placeholders may be nested at any depth. A placeholder whose num is out of range is an
// error, and so is a placeholder that reuses an attachment (socket.io never does; allowing it would
// let a small packet expand into many copies of a large attachment). Data without placeholders is
// returned unchanged.
func ReplacePlaceholders(data []byte, attachments [][]byte) ([]byte, error) {
	if !bytes.Contains(data, []byte(`"_placeholder"`)) {
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: binary payload: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: binary payload: data after the JSON value", ErrMalformed)
	}
	v, err := replace(v, attachments, make([]bool, len(attachments)), 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

const maxDepth = 1000

func replace(v any, atts [][]byte, used []bool, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: binary payload nested too deeply", ErrMalformed)
	}
	switch x := v.(type) {
	case map[string]any:
		if ph, ok := x["_placeholder"].(bool); ok && ph {
			n, ok := x["num"].(json.Number)
			if !ok {
				return nil, fmt.Errorf("%w: placeholder without num", ErrMalformed)
			}
			i, err := n.Int64()
			if err != nil || i < 0 || i >= int64(len(atts)) {
				return nil, fmt.Errorf("%w: placeholder num %s out of range (%d attachments)", ErrMalformed, n, len(atts))
			}
			if used[i] {
				return nil, fmt.Errorf("%w: placeholder num %d used twice", ErrMalformed, i)
			}
			used[i] = true
			return atts[i], nil
		}
		for k, e := range x {
			r, err := replace(e, atts, used, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	case []any:
		for i, e := range x {
			r, err := replace(e, atts, used, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	}
	return v, nil
}
