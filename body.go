package sailsio

import (
	"bytes"
	"crypto/rand"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// A request's Data is encoded once, straight into its frame (newRequest), and its size is checked
// against the server's maxPayload before the bulk of it is encoded.
//
// encoding/json builds its output in a buffer of its own (grown as it goes, and pooled afterwards)
// and Marshal returns a copy of it: a 70 MB string cost one copy to escape it, one to grow the
// buffer, one for Marshal's result and one into the frame. Here the strings and byte slices of
// bigPiece bytes or more are taken out of the value before encoding/json sees it: a walk of the
// value builds a shallow copy in which each of them is replaced by a short placeholder (the copy
// shares everything else with the original; only the containers on the path to a big value are
// copied, with the same types), encoding/json marshals that copy (small), and the frame is
// assembled from its output, with each big value escaped (or base64-encoded) in the place of its
// placeholder, into a buffer of the exact size. So encoding/json's rules (struct tags, Marshalers,
// map key order, escaping) decide everything but the big values, which are written as it would
// write them (appendJSONString, base64 for []byte); the frame is byte for byte what marshalling the
// original gives (body_test.go checks it).
//
// The walk also sums a lower bound of the encoded size (lowerBound): the length of every string,
// []byte (as base64) and map key it reaches where encoding/json surely writes it. When the server's
// maxPayload is known, a body whose lower bound is over it is refused before encoding/json runs,
// and one whose big values alone exceed it is refused before they are escaped.

// bigPiece is the size from which a string or []byte is written straight into the frame.
const bigPiece = 4 << 10

// maxWalkDepth bounds the walk (a value may be cyclic; encoding/json reports the cycle).
const maxWalkDepth = 64

// pieceNonce makes the placeholders of this process impossible to guess: a placeholder is a
// string or []byte no user value holds.
var pieceNonce = func() [12]byte {
	var b [12]byte
	rand.Read(b[:])
	return b
}()

var (
	// strPrefix starts every string placeholder.
	strPrefix = "\x00sailsio:" + hex.EncodeToString(pieceNonce[:]) + ":"
	// strMarker starts the encoding of every string placeholder: "\u0000sailsio:<nonce>:
	strMarker = `"\u0000sailsio:` + hex.EncodeToString(pieceNonce[:]) + `:`
	// binMarker starts the encoding of every []byte placeholder: the base64 of the nonce (12
	// bytes: 16 characters, whatever follows).
	binMarker = `"` + base64.StdEncoding.EncodeToString(pieceNonce[:])
)

// piece is a big string or []byte of Data, written into the frame in place of its placeholder.
type piece struct {
	s     string
	b     []byte
	isBin bool
}

// minLen is a lower bound of the piece's encoded size: what it is without any escape.
func (p *piece) minLen() int64 {
	if p.isBin {
		return int64(base64.StdEncoding.EncodedLen(len(p.b))) + 2
	}
	return int64(len(p.s)) + 2
}

// exactLen is the piece's encoded size.
func (p *piece) exactLen() int64 {
	if p.isBin {
		return p.minLen()
	}
	return jsonStringLen(p.s)
}

func (p *piece) appendTo(dst []byte) []byte {
	if p.isBin {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, p.b)
		return append(dst, '"')
	}
	return appendJSONString(dst, p.s)
}

// span is where a placeholder sits in the marshalled data.
type span struct {
	at, end int
	piece   int
}

// encodedData is a request's Data ready to be written into its frame.
type encodedData struct {
	json   []byte // the data as JSON, with placeholders (or as it goes, without pieces)
	pieces []piece
	spans  []span // in order
	// size is the data's encoded size: exact once measure has run, a lower bound before.
	size  int64
	exact bool
}

var emptyObject = []byte("{}")

// dataTooLarge is what prepareData returns when Data is over its limit.
type dataTooLarge struct {
	size  int64 // the data's encoded size, or a lower bound of it
	exact bool
}

func (e *dataTooLarge) Error() string { return "data too large" }

// prepareData marshals d with its big strings and []byte left out, and checks its size against
// limit (0: none) as soon as a lower bound exceeds it, so that a body over the limit is refused
// without being encoded. It returns *dataTooLarge when d's encoding is over limit, and an
// ErrInvalidRequest error when d cannot be encoded.
func prepareData(d any, limit int64) (encodedData, error) {
	switch d := d.(type) {
	case nil:
		return encodedData{json: emptyObject, size: 2, exact: true}, nil
	case json.RawMessage: // as is: it is checked, not compacted
		if limit > 0 && int64(len(d)) > limit {
			return encodedData{}, &dataTooLarge{size: int64(len(d)), exact: true}
		}
		if !json.Valid(d) {
			return encodedData{}, errorf(ErrInvalidRequest, "Data is a json.RawMessage holding invalid JSON")
		}
		return encodedData{json: d, size: int64(len(d)), exact: true}, nil
	}
	w := walker{}
	v, _ := w.anyValue(d, 0, true)
	if limit > 0 && w.lowerBound > limit {
		return encodedData{}, &dataTooLarge{size: w.lowerBound}
	}
	out, err := json.Marshal(v)
	if err != nil {
		return encodedData{}, fmt.Errorf("%w: cannot encode Data: %w", ErrInvalidRequest, err)
	}
	e := encodedData{json: out, pieces: w.pieces}
	if len(w.pieces) > 0 {
		e.spans = findPlaceholders(out, w.pieces)
	}
	e.size = int64(len(out))
	for _, s := range e.spans {
		e.size += e.pieces[s.piece].minLen() - int64(s.end-s.at)
	}
	if limit > 0 && e.size > limit {
		return encodedData{}, &dataTooLarge{size: e.size}
	}
	e.measure()
	if limit > 0 && e.size > limit {
		return encodedData{}, &dataTooLarge{size: e.size, exact: true}
	}
	return e, nil
}

// measure makes size exact (it scans the big strings for what needs escaping).
func (e *encodedData) measure() {
	if e.exact {
		return
	}
	e.size = int64(len(e.json))
	for _, s := range e.spans {
		e.size += e.pieces[s.piece].exactLen() - int64(s.end-s.at)
	}
	e.exact = true
}

// appendTo appends the data's JSON to dst, which has room for it (size bytes).
func (e *encodedData) appendTo(dst []byte) []byte {
	at := 0
	for _, s := range e.spans {
		dst = append(dst, e.json[at:s.at]...)
		dst = e.pieces[s.piece].appendTo(dst)
		at = s.end
	}
	return append(dst, e.json[at:]...)
}

// bytes returns the data's JSON in a buffer of its own size.
func (e *encodedData) bytes() []byte {
	if len(e.spans) == 0 {
		return e.json
	}
	e.measure()
	return e.appendTo(make([]byte, 0, e.size))
}

// findPlaceholders returns where the placeholders of pieces sit in out, in order. A placeholder
// may be missing (its value was not written: a field tagged "-", a conflict of names).
func findPlaceholders(out []byte, pieces []piece) []span {
	var spans []span
	var hasBin bool
	for i := range pieces {
		hasBin = hasBin || pieces[i].isBin
	}
	for _, marker := range []string{strMarker, binMarker} {
		if marker == binMarker && !hasBin {
			break
		}
		n0 := len(spans)
		for at := 0; ; {
			i := bytes.Index(out[at:], []byte(marker))
			if i < 0 {
				break
			}
			start := at + i
			end := bytes.IndexByte(out[start+1:], '"')
			if end < 0 {
				break
			}
			end += start + 2 // past the closing quote
			if k, ok := placeholderIndex(out[start:end], marker == binMarker); ok && k < len(pieces) && pieces[k].isBin == (marker == binMarker) {
				spans = append(spans, span{at: start, end: end, piece: k})
			}
			at = end
		}
		if n0 > 0 && len(spans) > n0 {
			mergeSpans(spans, n0)
		}
	}
	return spans
}

// mergeSpans sorts spans, whose two runs [0, mid) and [mid, len) are each sorted.
func mergeSpans(spans []span, mid int) {
	a := append([]span(nil), spans[:mid]...)
	b := spans[mid:]
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if a[i].at < b[j].at {
			spans[k] = a[i]
			i++
		} else {
			spans[k] = b[j]
			j++
		}
		k++
	}
	for ; i < len(a); i++ {
		spans[k] = a[i]
		k++
	}
	// the rest of b is in place
}

// placeholderIndex parses the encoding of a placeholder (its quotes included).
func placeholderIndex(enc []byte, bin bool) (int, bool) {
	if bin {
		raw, err := base64.StdEncoding.DecodeString(string(enc[1 : len(enc)-1]))
		if err != nil || len(raw) != len(pieceNonce)+binDigits || !bytes.Equal(raw[:len(pieceNonce)], pieceNonce[:]) {
			return 0, false
		}
		k, err := strconv.Atoi(string(raw[len(pieceNonce):]))
		return k, err == nil && k >= 0
	}
	digits, ok := bytes.CutSuffix(enc[len(strMarker):], []byte(`\u0000"`))
	if !ok || len(digits) == 0 || len(digits) > 9 {
		return 0, false
	}
	k := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		k = k*10 + int(c-'0')
	}
	return k, true
}

// binDigits is the digits of a []byte placeholder's index (a multiple of 3: the nonce's base64
// stays a prefix of the placeholder's).
const binDigits = 9

// walker walks Data (prepareData).
type walker struct {
	pieces     []piece
	lowerBound int64 // of the encoded size
}

// placeString returns the placeholder of s, a new piece.
func (w *walker) placeString(s string) string {
	k := len(w.pieces)
	w.pieces = append(w.pieces, piece{s: s})
	return strPrefix + strconv.Itoa(k) + "\x00"
}

// placeBytes returns the placeholder of b, a new piece.
func (w *walker) placeBytes(b []byte) []byte {
	k := len(w.pieces)
	w.pieces = append(w.pieces, piece{b: b, isBin: true})
	ph := make([]byte, 0, len(pieceNonce)+binDigits)
	ph = append(ph, pieceNonce[:]...)
	return fmt.Appendf(ph, "%0*d", binDigits, k)
}

// anyValue walks a dynamic value: it returns x, or (changed) a copy of it with placeholders.
// sure: encoding/json writes x (it counts in the lower bound).
func (w *walker) anyValue(x any, depth int, sure bool) (any, bool) {
	// Unchanged, x itself is returned: boxing a string or slice again would allocate.
	switch y := x.(type) {
	case nil, bool, float64, int, json.Number, json.RawMessage:
		return x, false
	case string:
		if sure {
			w.lowerBound += int64(len(y))
		}
		if len(y) >= bigPiece {
			return w.placeString(y), true
		}
		return x, false
	case map[string]any:
		if depth >= maxWalkDepth || y == nil {
			return x, false
		}
		var cp map[string]any
		for k, v := range y {
			if sure {
				w.lowerBound += int64(len(k))
			}
			if nv, changed := w.anyValue(v, depth+1, sure); changed {
				if cp == nil {
					cp = make(map[string]any, len(y))
					for k2, v2 := range y {
						cp[k2] = v2
					}
				}
				cp[k] = nv
			}
		}
		if cp == nil {
			return x, false
		}
		return cp, true
	case []any:
		if depth >= maxWalkDepth {
			return x, false
		}
		var cp []any
		for i, v := range y {
			if nv, changed := w.anyValue(v, depth+1, sure); changed {
				if cp == nil {
					cp = append([]any(nil), y...)
				}
				cp[i] = nv
			}
		}
		if cp == nil {
			return x, false
		}
		return cp, true
	}
	if nv, changed := w.value(reflect.ValueOf(x), depth, sure); changed {
		return nv.Interface(), true
	}
	return x, false
}

// value walks v: it returns v, or (changed) a copy of v of the same type with placeholders. v
// never comes through an unexported field, so it can be copied and set.
func (w *walker) value(v reflect.Value, depth int, sure bool) (reflect.Value, bool) {
	t := v.Type()
	if t == stringType { // the most common leaf: no lookup
		return w.str(v, sure)
	}
	return w.typed(v, infoOf(t), depth, sure)
}

// typed is value with v's typeInfo.
func (w *walker) typed(v reflect.Value, ti *typeInfo, depth int, sure bool) (reflect.Value, bool) {
	if ti.skip || depth >= maxWalkDepth {
		return v, false
	}
	switch v.Kind() {
	case reflect.String:
		return w.str(v, sure)
	case reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		if x, changed := w.anyValue(v.Elem().Interface(), depth+1, sure); changed {
			nv := reflect.New(v.Type()).Elem()
			nv.Set(reflect.ValueOf(x))
			return nv, true
		}
	case reflect.Pointer:
		if v.IsNil() {
			return v, false
		}
		if e, changed := w.typed(v.Elem(), ti.elem, depth+1, sure); changed {
			p := reflect.New(v.Type().Elem())
			p.Elem().Set(e)
			return p, true
		}
	case reflect.Slice:
		if v.IsNil() {
			return v, false
		}
		if ti.bytes {
			n := v.Len()
			if sure {
				w.lowerBound += int64(base64.StdEncoding.EncodedLen(n))
			}
			if n >= bigPiece {
				nv := reflect.New(v.Type()).Elem()
				nv.SetBytes(w.placeBytes(v.Bytes()))
				return nv, true
			}
			return v, false
		}
		var cp reflect.Value
		for i, n := 0, v.Len(); i < n; i++ {
			if e, changed := w.typed(v.Index(i), ti.elem, depth+1, sure); changed {
				if !cp.IsValid() {
					cp = reflect.MakeSlice(v.Type(), n, n)
					reflect.Copy(cp, v)
				}
				cp.Index(i).Set(e)
			}
		}
		if cp.IsValid() {
			return cp, true
		}
	case reflect.Array:
		var cp reflect.Value
		for i, n := 0, v.Len(); i < n; i++ {
			if e, changed := w.typed(v.Index(i), ti.elem, depth+1, sure); changed {
				if !cp.IsValid() {
					cp = reflect.New(v.Type()).Elem()
					cp.Set(v)
				}
				cp.Index(i).Set(e)
			}
		}
		if cp.IsValid() {
			return cp, true
		}
	case reflect.Map:
		if v.IsNil() {
			return v, false
		}
		stringKeys := v.Type().Key().Kind() == reflect.String
		type change struct{ k, v reflect.Value }
		var changes []change
		it := v.MapRange()
		for it.Next() {
			if sure && stringKeys {
				w.lowerBound += int64(it.Key().Len())
			}
			if e, changed := w.typed(it.Value(), ti.elem, depth+1, sure); changed {
				changes = append(changes, change{it.Key(), e})
			}
		}
		if len(changes) > 0 {
			cp := reflect.MakeMapWithSize(v.Type(), v.Len())
			it.Reset(v)
			for it.Next() {
				cp.SetMapIndex(it.Key(), it.Value())
			}
			for _, c := range changes {
				cp.SetMapIndex(c.k, c.v)
			}
			return cp, true
		}
	case reflect.Struct:
		var cp reflect.Value
		for _, f := range ti.fields {
			if e, changed := w.typed(v.Field(f.index), f.info, depth+1, sure && f.sure); changed {
				if !cp.IsValid() {
					cp = reflect.New(v.Type()).Elem()
					cp.Set(v)
				}
				cp.Field(f.index).Set(e)
			}
		}
		if cp.IsValid() {
			return cp, true
		}
	}
	return v, false
}

// str walks a string (of a type without methods).
func (w *walker) str(v reflect.Value, sure bool) (reflect.Value, bool) {
	s := v.String()
	if sure {
		w.lowerBound += int64(len(s))
	}
	if len(s) >= bigPiece {
		return reflect.ValueOf(w.placeString(s)).Convert(v.Type()), true
	}
	return v, false
}

var stringType = reflect.TypeFor[string]()

// typeInfo is what the walk needs to know of a type. The typeInfos of a type and of the types in
// it are linked (elem, fields), so the walk looks a type up only where the static type ends (at
// the top, and in an interface).
type typeInfo struct {
	// skip: nothing to do in a value of the type: it holds no string nor []byte (a number, a
	// struct of numbers ...), or encoding/json writes it with a method (MarshalJSON, MarshalText)
	// or under a rule the walk does not follow.
	skip   bool
	bytes  bool        // a []byte, written as base64
	elem   *typeInfo   // of a pointer's, slice's, array's or map's elements
	fields []fieldInfo // of a struct
}

// fieldInfo is a struct field the walk goes into.
type fieldInfo struct {
	index int
	// sure: encoding/json writes the field whenever it is not empty (it counts in the lower bound).
	sure bool
	info *typeInfo
}

var typeInfos sync.Map // reflect.Type -> *typeInfo, complete (never changed once stored)

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func infoOf(t reflect.Type) *typeInfo {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo)
	}
	b := infoBuilder{}
	ti := b.build(t)
	for typ, x := range b.built {
		typeInfos.LoadOrStore(typ, x)
	}
	return ti
}

// hasMethod reports whether encoding/json may write a value of type t with a method of its own.
func hasMethod(t reflect.Type) bool {
	for _, m := range []reflect.Type{marshalerType, textMarshalerType} {
		if t.Implements(m) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(m)) {
			return true
		}
	}
	return false
}

// infoBuilder computes the typeInfo of a type and of the types in it, stored once complete.
type infoBuilder struct {
	built map[reflect.Type]*typeInfo
}

func (b *infoBuilder) build(t reflect.Type) *typeInfo {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo)
	}
	if ti, ok := b.built[t]; ok {
		// Done, or under way (a recursive type): then its skip is still false, which is safe.
		return ti
	}
	if b.built == nil {
		b.built = map[reflect.Type]*typeInfo{}
	}
	ti := &typeInfo{}
	b.built[t] = ti
	if hasMethod(t) {
		ti.skip = true
		return ti
	}
	switch t.Kind() {
	case reflect.String:
		// A string with methods (an IsZero for omitzero, a json.Number) is left alone.
		ti.skip = t.NumMethod() != 0 || reflect.PointerTo(t).NumMethod() != 0
	case reflect.Interface:
	case reflect.Slice, reflect.Array, reflect.Pointer, reflect.Map:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			if p := reflect.PointerTo(t.Elem()); !p.Implements(marshalerType) && !p.Implements(textMarshalerType) {
				ti.bytes = true // base64
				ti.skip = t.NumMethod() != 0 || reflect.PointerTo(t).NumMethod() != 0
				break
			}
		}
		ti.elem = b.build(t.Elem())
		ti.skip = ti.elem.skip
	case reflect.Struct:
		for _, f := range structFields(t) {
			if f.info = b.build(t.Field(f.index).Type); !f.info.skip {
				ti.fields = append(ti.fields, f)
			}
		}
		ti.skip = len(ti.fields) == 0
	default:
		ti.skip = true
	}
	return ti
}

// structFields lists the fields of struct type t the walk goes into: the exported ones (embedded
// structs included) that encoding/json may write, and not with the option ",string" (a placeholder
// would be quoted twice). A field is sure when encoding/json writes it whenever it is not empty:
// not embedded, not omitzero with an IsZero method of its own, and no other field of t may take its
// name (encoding/json drops fields whose names collide; the walk does not follow its rules of
// precedence, so any field that could share a name is not sure).
func structFields(t reflect.Type) []fieldInfo {
	type cand struct {
		index int
		names []string // the names it may be written under
		sure  bool
	}
	var cands []cand
	count := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if ft.Name() == "" && ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		c := cand{index: i}
		// An untagged embedded struct has no name: its fields go one level down, behind every
		// field of t. Any other field may be written under its Go name or its tag's.
		if !(sf.Anonymous && name == "" && ft.Kind() == reflect.Struct) {
			c.names = append(c.names, sf.Name)
			if name != "" && name != sf.Name {
				c.names = append(c.names, name)
			}
			for _, n := range c.names {
				count[n]++
			}
		}
		if !sf.IsExported() || hasOption(opts, "string") {
			continue
		}
		c.sure = !sf.Anonymous && !(hasOption(opts, "omitzero") && hasIsZero(sf.Type))
		cands = append(cands, c)
	}
	out := make([]fieldInfo, 0, len(cands))
	for _, c := range cands {
		sure := c.sure
		for _, n := range c.names {
			sure = sure && count[n] == 1
		}
		out = append(out, fieldInfo{index: c.index, sure: sure})
	}
	return out
}

var isZeroerType = reflect.TypeFor[interface{ IsZero() bool }]()

// hasIsZero reports whether omitzero asks t's IsZero method.
func hasIsZero(t reflect.Type) bool {
	return t.Implements(isZeroerType) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(isZeroerType))
}

func hasOption(opts, o string) bool {
	for opts != "" {
		var cur string
		cur, opts, _ = strings.Cut(opts, ",")
		if cur == o {
			return true
		}
	}
	return false
}

// jsonEscapes is the encoded size of each ASCII byte in a JSON string as encoding/json writes it
// (with its HTML escaping): 1 if it goes as is, 2 for \" \\ \b \f \n \r \t, 6 for \u00XX.
var jsonEscapes = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
			t[c] = 2
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			t[c] = 6
		default:
			t[c] = 1
		}
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// plainRun returns the index of the first byte of s at or after i that does not go as is into a
// JSON string (an ASCII byte to escape, or the start of a multi-byte rune), or len(s). It looks at
// eight bytes at a time: large bodies are mostly plain text.
func plainRun(s string, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// With no byte at or over 0x80, (x - ones) & ^x & highs is not 0 exactly when a byte of x is
		// 0, and (w - ones*0x20) & ^w & highs exactly when a byte of w is below 0x20.
		q, b, lt, gt, amp := w^(ones*'"'), w^(ones*'\\'), w^(ones*'<'), w^(ones*'>'), w^(ones*'&')
		special := w | (w-ones*0x20)&^w
		special |= (q-ones)&^q | (b-ones)&^b | (lt-ones)&^lt | (gt-ones)&^gt | (amp-ones)&^amp
		special &= highs
		if special != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || jsonEscapes[c] != 1 {
			return i
		}
	}
	return i
}

// jsonStringLen is the size of s encoded as a JSON string (quotes included) by appendJSONString.
func jsonStringLen(s string) int64 {
	n := int64(len(s)) + 2
	for i := plainRun(s, 0); i < len(s); i = plainRun(s, i) {
		if c := s[i]; c < utf8.RuneSelf {
			n += int64(jsonEscapes[c]) - 1
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 5 // \ufffd
		case r == '\u2028' || r == '\u2029':
			n += 3 // 3 bytes as \u2028
		}
		i += size
	}
	return n
}

// appendJSONString appends s as a JSON string, as encoding/json writes it: HTML-sensitive
// characters (<, >, &) and U+2028, U+2029 as \u escapes, invalid UTF-8 as \ufffd.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] goes as is
	for i := plainRun(s, 0); i < len(s); i = plainRun(s, i) {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
