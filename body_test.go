package sailsio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio/internal/wire"
)

// The encoding of a request's Data (body.go): the frame is byte for byte what encoding/json gives,
// a body over the server's maxPayload is refused before it is encoded, and the size estimates are
// lower bounds.

// refFrame is the payload newRequest built before body.go: the data marshalled by encoding/json
// (nil as {}, a json.RawMessage as is) between the method, the headers and the URL.
func refFrame(t *testing.T, method, headers string, data any, url string) []byte {
	t.Helper()
	var d []byte
	switch v := data.(type) {
	case nil:
		d = []byte("{}")
	case json.RawMessage:
		d = v
	default:
		var err error
		if d, err = json.Marshal(v); err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
	}
	var b []byte
	b = append(b, `["`+method+`",{"method":"`+method+`","headers":`+headers+`,"data":`...)
	b = append(b, d...)
	b = append(b, `,"url":`...)
	b = wire.AppendJSONString(b, url)
	return append(b, "}]"...)
}

// big returns a string of n bytes made of unit repeated (cut to n bytes: it may end inside a rune).
func big(unit string, n int) string { return strings.Repeat(unit, n/len(unit)+1)[:n] }

type bodyText string

type bodyBytes []byte

type bodyInner struct {
	Note string `json:"note"`
	Raw  []byte `json:"raw,omitempty"`
}

type bodyStruct struct {
	Blob     string            `json:"blob"`
	Named    bodyText          `json:"named"`
	Bin      []byte            `json:"bin"`
	NamedBin bodyBytes         `json:"namedBin"`
	Ptr      *bodyInner        `json:"ptr"`
	Any      any               `json:"any"`
	List     []string          `json:"list"`
	Arr      [2]string         `json:"arr"`
	Map      map[string]string `json:"map"`
	Quoted   string            `json:"quoted,string"`
	Skipped  string            `json:"-"`
	Empty    string            `json:"empty,omitempty"`
	Number   int               `json:"number"`
	private  string
	bodyInner
}

// bodyMarshaler marshals itself: the walk leaves it (and what it holds) to encoding/json.
type bodyMarshaler struct{ S string }

func (m bodyMarshaler) MarshalJSON() ([]byte, error) { return json.Marshal(len(m.S)) }

type bodyStringer struct{ S string }

func (s bodyStringer) String() string { return "stringer" }

type bodyTextMarshaler struct{ S string }

func (m *bodyTextMarshaler) MarshalText() ([]byte, error) { return []byte("text:" + m.S[:3]), nil }

// bodyZero's IsZero says a string of 'z' is zero: omitzero leaves it out.
type bodyZero string

func (z bodyZero) IsZero() bool { return strings.Trim(string(z), "z") == "" }

type bodyConflict struct {
	A string `json:"B"`
	B string
	C string
	D string   `json:"C"`
	E bodyZero `json:"e,omitzero"`
	F string   `json:"F,omitzero"`
}

type bodyEmbedA struct{ Name string }
type bodyEmbedB struct{ Name string }
type bodyEmbedded struct {
	bodyEmbedA
	*bodyEmbedB
	Other string
}

// BodyPart is embedded in bodyOuter: its field is written, but the walk is not sure of it.
type BodyPart struct{ Text string }

type bodyOuter struct{ BodyPart }

// bodyTree is a recursive type.
type bodyTree struct {
	Label string      `json:"label"`
	Kids  []*bodyTree `json:"kids,omitempty"`
	Ints  []int       `json:"ints,omitempty"`
}

type bodyCycle struct {
	S    string
	Next *bodyCycle
}

func bodyValues() map[string]any {
	k := 4 << 10 // bigPiece
	tricky := big("a\"b\\c\nd<e>f&g\x01h\u2028i\u2029j\xffk é 𝄞 \x7f", 3*k+7)
	cut := big("é", k+1) // ends in the middle of a rune
	cyc := &bodyCycle{S: big("c", k)}
	cyc.Next = &bodyCycle{S: "small", Next: &bodyCycle{S: big("d", k+1)}}
	return map[string]any{
		"nil":            nil,
		"raw":            json.RawMessage(`{ "a" : [1, 2] }`),
		"raw big":        json.RawMessage(`"` + big("r", 3*k) + `"`),
		"string":         "small",
		"big string":     big("x", 5*k),
		"tricky string":  tricky,
		"cut rune":       cut,
		"number":         3.5,
		"map":            map[string]any{"blob": big("x", 2*k), "n": 1, "s": "small", "nested": map[string]any{"deep": []any{tricky, 1, nil, big("y", k)}}},
		"map of strings": map[string]string{"a": big("a", k), "b": "b", "c": big("c", 2*k)},
		"slice":          []any{big("1", k), "2", []string{big("3", k), "4"}},
		"struct": bodyStruct{
			Blob: big("b", 2*k), Named: bodyText(big("n", k)), Bin: []byte(big("\x00\xff", 3*k+1)), NamedBin: bodyBytes(big("q", k)),
			Ptr: &bodyInner{Note: tricky, Raw: []byte(big("r", k))}, Any: map[string]any{"in": big("i", k)},
			List: []string{big("l", k), ""}, Arr: [2]string{"a", big("A", k)}, Map: map[string]string{"m": big("m", k)},
			Quoted: big("q", k), Skipped: big("s", k), Number: 7, private: big("p", k), bodyInner: bodyInner{Note: big("e", k)},
		},
		"struct pointer": &bodyStruct{Blob: big("p", k), Ptr: &bodyInner{}},
		"marshalers":     map[string]any{"m": bodyMarshaler{big("m", k)}, "tm": &bodyTextMarshaler{big("t", k)}, "t": time.Unix(0, 0).UTC()},
		"conflicts":      bodyConflict{A: big("a", k), B: big("b", k), C: big("c", k), D: big("d", k), E: bodyZero(big("z", k)), F: big("f", k)},
		"embedded":       bodyEmbedded{bodyEmbedA{big("a", k)}, &bodyEmbedB{big("b", k)}, big("o", k)},
		"promoted":       &bodyOuter{BodyPart{big("p", k)}},
		"recursive":      &bodyTree{Label: "root", Kids: []*bodyTree{{Label: big("a", k)}, {Label: "b", Ints: []int{1}, Kids: []*bodyTree{{Label: big("c", k)}}}}},
		"marshaler field": struct {
			M json.Marshaler `json:"m"`
			S fmt.Stringer   `json:"s"`
		}{M: bodyMarshaler{big("m", k)}, S: bodyStringer{big("s", k)}},
		"int keys":        map[int]string{1: big("1", k), 2: "2"},
		"pointer chain":   cyc,
		"top-level bytes": []byte(big("b", 2*k)),
		"json.Number":     json.Number("12.5"),
		"empty big":       map[string]any{"e": "", "b": []byte{}},
	}
}

// bodySpans is how many big values of some bodyValues are written straight into the frame.
var bodySpans = map[string]int{
	"big string": 1, "tricky string": 1, "cut rune": 1, "raw big": 0, "marshalers": 0, "top-level bytes": 1,
	"map": 3, "map of strings": 2, "slice": 2, "promoted": 1, "pointer chain": 2, "recursive": 2,
	"marshaler field": 1, "int keys": 1,
	// Blob, Named, Bin, NamedBin, Ptr.Note, Ptr.Raw, Any["in"], List[0], Arr[1], Map["m"]; not Quoted
	// (",string"), nor Skipped ("-"), nor the unexported embedded bodyInner's Note.
	"struct": 10,
	// A, B, C, D, F are walked; B and C are not written (A and D, tagged, take their names).
	"conflicts": 3,
}

// TestNewRequestFrameBytes: the frame of every kind of Data is the one encoding/json gives, with
// big strings and []byte written straight into it, and sized exactly.
func TestNewRequestFrameBytes(t *testing.T) {
	s, err := New("http://h", WithHeaders(map[string]string{"x-global": "g"}))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range bodyValues() {
		t.Run(name, func(t *testing.T) {
			for _, url := range []string{"/size", "/q?a=1&b=<2>"} {
				r, err := s.newRequest(RequestOptions{Method: "POST", URL: url, Data: data})
				if err != nil {
					t.Fatal(err)
				}
				want := refFrame(t, "post", `{"x-global":"g"}`, data, url)
				if got := r.payload[frameHeadroom:]; !bytes.Equal(got, want) {
					t.Fatalf("frame differs from encoding/json's at byte %d:\n got %.300q\nwant %.300q", firstDiff(got, want), got, want)
				}
				if len(r.payload) != cap(r.payload) {
					t.Errorf("frame of %d bytes in a buffer of %d: want it sized exactly", len(r.payload), cap(r.payload))
				}
			}
			if want, ok := bodySpans[name]; ok {
				e, err := prepareData(data, 0)
				if err != nil || len(e.spans) != want {
					t.Errorf("%d big values written straight into the frame (%v), want %d", len(e.spans), err, want)
				}
			}
			d, err := encodeData(data)
			if want := refFrame(t, "", "", data, ""); err != nil || !bytes.Contains(want, d) {
				t.Errorf("encodeData = %.100q, %v; want the data of %.100q", d, err, want)
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestNewRequestDataErrors: Data encoding/json refuses is refused the same way.
func TestNewRequestDataErrors(t *testing.T) {
	s, err := New("http://h")
	if err != nil {
		t.Fatal(err)
	}
	cyclic := map[string]any{"blob": big("x", 5000)}
	cyclic["self"] = cyclic
	for name, data := range map[string]any{
		"chan": make(chan int), "NaN": math.NaN(), "cycle": cyclic, "big and NaN": map[string]any{"b": big("x", 5000), "n": math.Inf(1)},
		"invalid raw": json.RawMessage("{"),
	} {
		_, err := s.newRequest(RequestOptions{Method: "post", URL: "/", Data: data})
		if !errors.Is(err, ErrInvalidRequest) || !strings.HasPrefix(err.Error(), "sailsio: ") {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, err)
		}
		if _, jerr := json.Marshal(data); name != "invalid raw" && (jerr == nil || !strings.Contains(err.Error(), jerr.Error())) {
			t.Errorf("%s: %v, want encoding/json's error %v", name, err, jerr)
		}
	}
}

// probe is a json.Marshaler that counts its calls.
type probe struct{ calls *int }

func (p probe) MarshalJSON() ([]byte, error) { *p.calls++; return []byte("1"), nil }

// TestNewRequestOverMaxPayload: with the server's maxPayload known, a body over it fails with
// ErrMessageTooLarge, naming the sizes and the fix, without being encoded: encoding/json does not
// run when a lower bound of the size is over the limit, and the big strings are not escaped (nor
// copied) when they alone are.
func TestNewRequestOverMaxPayload(t *testing.T) {
	s, err := New("http://h")
	if err != nil {
		t.Fatal(err)
	}
	const max = 1 << 20
	s.maxPayload.Store(max)
	blob := big("x", 8<<20)
	check := func(t *testing.T, err error, exact bool) {
		t.Helper()
		if !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("error %v, want ErrMessageTooLarge", err)
		}
		msg := err.Error()
		for _, want := range []string{"sailsio: ", "POST /size", fmt.Sprint(max), "maxHttpBufferSize"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not name %q", msg, want)
			}
		}
		if least := strings.Contains(msg, "at least"); least == exact {
			t.Errorf("error %q: exact size %v", msg, exact)
		}
	}
	allocated := func(f func()) uint64 {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		f()
		runtime.ReadMemStats(&m1)
		return m1.TotalAlloc - m0.TotalAlloc
	}

	t.Run("lower bound", func(t *testing.T) {
		calls := 0
		var err error
		n := allocated(func() {
			_, err = s.newRequest(RequestOptions{Method: "post", URL: "/size", Data: map[string]any{"blob": blob, "probe": probe{&calls}}})
		})
		check(t, err, false)
		if calls != 0 {
			t.Errorf("encoding/json ran (MarshalJSON called %d times) on a body whose size was known to be over the limit", calls)
		}
		if n > 1<<20 {
			t.Errorf("refusing a body of %d bytes allocated %d bytes", len(blob), n)
		}
	})
	t.Run("many small strings", func(t *testing.T) {
		calls := 0
		list := make([]any, 0, 2000)
		for range 2000 {
			list = append(list, big("s", 1000))
		}
		_, err := s.newRequest(RequestOptions{Method: "post", URL: "/size", Data: map[string]any{"list": list, "probe": probe{&calls}}})
		check(t, err, false)
		if calls != 0 {
			t.Errorf("encoding/json ran on a body whose size was known to be over the limit")
		}
	})
	t.Run("not sure of the field", func(t *testing.T) {
		// A promoted field: the walk does not count it, encoding/json marshals the body with a
		// placeholder, and the size is known before the string is escaped.
		var err error
		n := allocated(func() {
			_, err = s.newRequest(RequestOptions{Method: "post", URL: "/size", Data: bodyOuter{BodyPart{blob}}})
		})
		check(t, err, false)
		if n > 1<<20 {
			t.Errorf("refusing a body of %d bytes allocated %d bytes", len(blob), n)
		}
	})
	t.Run("escapes", func(t *testing.T) {
		// Under the limit unescaped, over it escaped: the exact size is measured, not encoded.
		var err error
		data := map[string]string{"b": big("<", max/2)}
		n := allocated(func() {
			_, err = s.newRequest(RequestOptions{Method: "post", URL: "/size", Data: data})
		})
		check(t, err, true)
		if n > max/4 {
			t.Errorf("refusing a body of %d bytes allocated %d bytes", max/2, n)
		}
	})
	t.Run("raw", func(t *testing.T) {
		_, err := s.newRequest(RequestOptions{Method: "post", URL: "/size", Data: json.RawMessage(`"` + blob + `"`)})
		check(t, err, true)
	})
	t.Run("under the limit", func(t *testing.T) {
		data := map[string]any{"blob": big("x", max-200)}
		r, err := s.newRequest(RequestOptions{Method: "post", URL: "/size", Data: data})
		if err != nil {
			t.Fatal(err)
		}
		if want := refFrame(t, "post", "{}", data, "/size"); !bytes.Equal(r.payload[frameHeadroom:], want) {
			t.Errorf("frame differs from encoding/json's")
		}
	})
	t.Run("no limit known", func(t *testing.T) {
		s2, err := New("http://h")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s2.newRequest(RequestOptions{Method: "post", URL: "/size", Data: map[string]any{"blob": blob}}); err != nil {
			t.Errorf("without a maxPayload: %v", err)
		}
	})
}

// TestLowerBound: the walk's lower bound never exceeds the encoded size, for every test value and
// with each value placed where the walk counts it and where it does not.
func TestLowerBound(t *testing.T) {
	for name, v := range bodyValues() {
		for _, wrap := range []any{v, []any{v}, map[string]any{"k": v}, &struct{ V any }{v}, struct {
			V any `json:"v,omitempty"`
		}{v}} {
			checkLowerBound(t, name, wrap)
		}
	}
}

func checkLowerBound(t *testing.T, name string, v any) {
	t.Helper()
	if _, raw := v.(json.RawMessage); raw || v == nil {
		return // Data's own rules: {} and as is (TestNewRequestFrameBytes)
	}
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var w walker
	w.anyValue(v, 0, true)
	if w.lowerBound > int64(len(want)) {
		t.Errorf("%s (%T): lower bound %d over the encoded size %d", name, v, w.lowerBound, len(want))
	}
	e, err := prepareData(v, 0)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if got := e.bytes(); !bytes.Equal(got, want) || e.size != int64(len(want)) {
		t.Errorf("%s (%T): encoded %d bytes (size %d), differs from encoding/json's %d at %d", name, v, len(got), e.size, len(want), firstDiff(got, want))
	}
}

// TestJSONStringEveryByte: every byte value, at every place of an eight-byte word (plainRun looks
// at eight bytes at a time), is written and measured as encoding/json writes it.
func TestJSONStringEveryByte(t *testing.T) {
	for c := range 256 {
		for at := range 20 {
			b := []byte(strings.Repeat("p", 24))
			b[at] = byte(c)
			for _, s := range []string{string(b), string(b) + "é", string(b[:at+1])} {
				want, _ := json.Marshal(s)
				if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
					t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
				}
				if n := jsonStringLen(s); n != int64(len(want)) {
					t.Fatalf("jsonStringLen(%q) = %d, want %d", s, n, len(want))
				}
			}
		}
	}
}

// FuzzJSONString: a string is written as encoding/json writes it, its size is measured exactly,
// and its length plus quotes is a lower bound.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c\nd<e>f&g\x01h", "\u2028\u2029", "\xff\xfe", "é𝄞", "\x7f\x00\x1f", "\xed\xa0\x80", "\xef\xbf\xbd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		got := appendJSONString([]byte("prefix"), s)
		if !bytes.Equal(got[len("prefix"):], want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got[len("prefix"):], want)
		}
		if n := jsonStringLen(s); n != int64(len(want)) {
			t.Fatalf("jsonStringLen(%q) = %d, want %d", s, n, len(want))
		}
		p := piece{s: s}
		if p.minLen() > int64(len(want)) {
			t.Fatalf("minLen(%q) = %d over %d", s, p.minLen(), len(want))
		}
	})
}

// FuzzEncodeData: a value built from the fuzzer's bytes (maps, slices, structs, strings big and
// small, []byte, numbers) encodes as encoding/json encodes it, and the walk's lower bound is not
// over its size.
func FuzzEncodeData(f *testing.F) {
	f.Add([]byte("\x05\x01abc\x03\x08\x02xy"), uint16(5000))
	f.Add([]byte("\x06\x07\x05\x01<&>\x09\x04"), uint16(4096))
	f.Add([]byte("\x0a\x0b\x0c\x01\xff\xfe\x02"), uint16(9000))
	f.Fuzz(func(t *testing.T, prog []byte, n uint16) {
		b := &valueBuilder{prog: prog, n: int(n) % 20000}
		v := b.value(0)
		checkLowerBound(t, fmt.Sprintf("%x/%d", prog, n), v)
	})
}

// valueBuilder builds a value from a fuzzer's bytes.
type valueBuilder struct {
	prog []byte
	n    int // the size of a big string
}

func (b *valueBuilder) next() byte {
	if len(b.prog) == 0 {
		return 0
	}
	c := b.prog[0]
	b.prog = b.prog[1:]
	return c
}

func (b *valueBuilder) text() string {
	n := int(b.next() % 8)
	s := make([]byte, 0, n)
	for range n {
		s = append(s, b.next())
	}
	return string(s)
}

func (b *valueBuilder) value(depth int) any {
	if depth > 6 {
		return nil
	}
	switch b.next() % 14 {
	case 0:
		return nil
	case 1:
		return b.text()
	case 2:
		return big(b.text()+"x", b.n) // big (from 4 KiB), from a unit with escapes or invalid UTF-8
	case 3:
		return []byte(big(b.text()+"y", b.n))
	case 4:
		return float64(b.next()) / 3
	case 5:
		m := map[string]any{}
		for range int(b.next() % 4) {
			m[b.text()] = b.value(depth + 1)
		}
		return m
	case 6:
		var l []any
		for range int(b.next() % 4) {
			l = append(l, b.value(depth+1))
		}
		return l
	case 7:
		return bodyInner{Note: big(b.text()+"n", b.n), Raw: []byte(b.text())}
	case 8:
		return &bodyConflict{A: big("a", b.n), C: b.text(), D: big(b.text()+"d", b.n), E: bodyZero(big(b.text()+"z", b.n)), F: b.text()}
	case 9:
		return bodyEmbedded{bodyEmbedA{big(b.text()+"e", b.n)}, nil, b.text()}
	case 10:
		return map[string]string{b.text(): big(b.text()+"s", b.n), b.text(): b.text()}
	case 11:
		return bodyText(big(b.text()+"t", b.n))
	case 12:
		return struct {
			A any               `json:"a,omitempty"`
			B []any             `json:"b"`
			C map[string]any    `json:",omitzero"`
			D *string           `json:"d"`
			E bodyMarshaler     `json:"e"`
			F map[bodyText]any  `json:"f"`
			G [1]any            `json:"g"`
			H map[int]bodyBytes `json:"h"`
		}{A: b.value(depth + 1), B: []any{b.value(depth + 1)}, C: map[string]any{"c": b.value(depth + 1)}, E: bodyMarshaler{b.text()},
			F: map[bodyText]any{bodyText(b.text()): b.value(depth + 1)}, G: [1]any{b.value(depth + 1)}, H: map[int]bodyBytes{1: bodyBytes(big("h", b.n))}}
	default:
		return json.RawMessage(`[1, "` + strings.Repeat("r", b.n) + `"]`)
	}
}

// TestMaxPayloadRemembered: the socket keeps the maxPayload of its last open packet, so a request
// made while it reconnects is refused at once instead of waiting in the queue.
func TestMaxPayloadRemembered(t *testing.T) {
	s, c, connected := startFake(t, newFake(t, nil), WithReconnectionDelay(time.Hour, time.Hour))
	c.open(EIO3, "sid", 25000, 60000, 200)
	if err := connected(); err != nil {
		t.Fatal(err)
	}
	body := map[string]string{"a": big("y", 300)}
	_, err := s.PostContext(ctx5(t), "/x", body)
	if !errors.Is(err, ErrMessageTooLarge) || !strings.Contains(err.Error(), "maxHttpBufferSize") {
		t.Fatalf("oversized request = %v, want ErrMessageTooLarge naming maxHttpBufferSize", err)
	}
	c.ws.Close()
	waitFor(t, func() bool { return s.State() == StateReconnecting })
	if _, err := s.PostContext(ctx5(t), "/x", body); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized request while reconnecting = %v, want ErrMessageTooLarge", err)
	}
	s.mu.Lock()
	queued := s.queue.n
	s.mu.Unlock()
	if queued != 0 {
		t.Errorf("%d requests queued", queued)
	}
}

// TestNewRequestConcurrentTypes: goroutines encoding values of a type the walk has not seen yet
// build and share its typeInfo (run with -race).
func TestNewRequestConcurrentTypes(t *testing.T) {
	type node struct {
		Text string  `json:"text"`
		Next *node   `json:"next"`
		More []*node `json:"more"`
	}
	s, err := New("http://h")
	if err != nil {
		t.Fatal(err)
	}
	data := &node{Text: big("a", 5000), Next: &node{Text: "b", More: []*node{{Text: big("c", 5000)}}}}
	want := refFrame(t, "post", "{}", data, "/x")
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			r, err := s.newRequest(RequestOptions{Method: "post", URL: "/x", Data: data})
			if err == nil && !bytes.Equal(r.payload[frameHeadroom:], want) {
				err = errors.New("frame differs from encoding/json's")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
