package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// maxFuzzInput bounds the inputs the fuzz targets look at, so that no target's memory use depends
// on how large an input the fuzzing engine generates. Every code path of the codec is reachable
// with far smaller inputs (the largest seed is under 500 bytes; the ReplacePlaceholders depth
// limit needs about 2 KB), and large interesting inputs make the engine's minimization very slow.
const maxFuzzInput = 4 << 10

// seedFrames returns every text frame of the transcripts and every literal frame of docs/protocol.md,
// as complete Engine.IO frames.
func seedFrames(f *testing.F) [][]byte {
	var out [][]byte
	for _, fr := range loadTranscripts(f) {
		out = append(out, fr.Frame)
	}
	for _, pf := range protocolFrames {
		out = append(out, []byte(pf.frame))
	}
	for _, ef := range protocolEngineFrames {
		out = append(out, []byte(ef.frame))
	}
	for _, of := range protocolOpens {
		out = append(out, []byte(of.frame))
	}
	return out
}

// seedPayloads returns the payloads (frame minus the Engine.IO type) of the seed frames of type t.
func seedPayloads(f *testing.F, t EngineType) [][]byte {
	var out [][]byte
	for _, fr := range seedFrames(f) {
		if et, p, err := DecodeEngine(fr); err == nil && et == t {
			out = append(out, p)
		}
	}
	return out
}

// seedData returns the JSON data of every seed Socket.IO packet.
func seedData(f *testing.F) [][]byte {
	var out [][]byte
	for _, p := range seedPayloads(f, EngineMessage) {
		if pk, err := DecodePacket(p); err == nil && pk.Data != nil {
			out = append(out, pk.Data)
		}
	}
	return out
}

func requireMalformed(t *testing.T, what string, in []byte, err error) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("%s(%q): error %v does not wrap ErrMalformed", what, in, err)
	}
}

func FuzzDecodeEngine(f *testing.F) {
	for _, fr := range seedFrames(f) {
		f.Add(fr)
	}
	for _, s := range []string{"", "7", "\x04", "4"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > maxFuzzInput {
			return
		}
		et, payload, err := DecodeEngine(frame)
		if err != nil {
			requireMalformed(t, "DecodeEngine", frame, err)
			return
		}
		if et < EngineOpen || et > EngineNoop {
			t.Fatalf("DecodeEngine(%q) returned type %v", frame, et)
		}
		if got := append([]byte{byte(et)}, payload...); !bytes.Equal(got, frame) {
			t.Fatalf("DecodeEngine(%q) = %v %q: does not reassemble", frame, et, payload)
		}
		if len(payload) > 0 && &payload[0] != &frame[1] {
			t.Fatalf("DecodeEngine(%q): payload does not alias the frame", frame)
		}
	})
}

func FuzzDecodePacket(f *testing.F) {
	for _, p := range seedPayloads(f, EngineMessage) {
		f.Add(p)
	}
	for _, s := range []string{
		"", "2[]", "1{}", "3[]", "511-[]", "21234567890123456[]", `2/admin,5["a"]`, `0/admin`,
		`62-/x,3[{"_placeholder":true,"num":1}]`, `2 ["a"]`, `4"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		p, err := DecodePacket(data)
		if err != nil {
			requireMalformed(t, "DecodePacket", data, err)
			return
		}
		// Invariants of a decoded packet.
		if p.Type > BinaryAck {
			t.Fatalf("DecodePacket(%q): type %d", data, p.Type)
		}
		if len(p.Namespace) == 0 || p.Namespace[0] != '/' || bytes.IndexByte([]byte(p.Namespace), ',') >= 0 {
			t.Fatalf("DecodePacket(%q): namespace %q", data, p.Namespace)
		}
		if p.ID != NoID && (p.ID < 0 || p.ID > 999999999999999) {
			t.Fatalf("DecodePacket(%q): id %d", data, p.ID)
		}
		binary := p.Type == BinaryEvent || p.Type == BinaryAck
		if p.Attachments < 0 || p.Attachments > maxAttachments || (!binary && p.Attachments != 0) {
			t.Fatalf("DecodePacket(%q): %d attachments for %v", data, p.Attachments, p.Type)
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("DecodePacket(%q): invalid JSON data %q", data, p.Data)
		}
		if len(p.Data) > 0 && !bytes.HasSuffix(data, p.Data) {
			t.Fatalf("DecodePacket(%q): data %q is not the tail of the input", data, p.Data)
		}

		// Round trip: the encoding of the packet decodes to an equal packet, and is canonical.
		enc := AppendPacket(nil, p)
		p2, err := DecodePacket(enc)
		if err != nil {
			t.Fatalf("DecodePacket(%q) = %+v, re-encoded as %q which fails to decode: %v", data, p, enc, err)
		}
		if diff := cmp.Diff(p, p2); diff != "" {
			t.Fatalf("DecodePacket(%q) re-encoded as %q decodes differently (-first +second):\n%s", data, enc, diff)
		}
		if enc2 := AppendPacket(nil, p2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %q then %q", enc, enc2)
		}
		if len(enc) > len(data)+1 { // +1: "0/admin" re-encodes as "0/admin,"
			t.Fatalf("re-encoding %q grew to %q", data, enc)
		}

		// The same through a whole Engine.IO message frame.
		et, payload, err := DecodeEngine(AppendMessage(nil, p))
		if err != nil || et != EngineMessage || !bytes.Equal(payload, enc) {
			t.Fatalf("AppendMessage(%+v) decodes to %v %q %v", p, et, payload, err)
		}

		// Payload helpers must not panic on any decoded packet, and must agree with the codec.
		switch p.Type {
		case Event, BinaryEvent:
			if _, _, err := SplitEvent(p.Data); err != nil {
				requireMalformed(t, "SplitEvent", p.Data, err)
			}
		case Ack, BinaryAck:
			if _, err := SplitAck(p.Data); err != nil {
				t.Fatalf("SplitAck(%q) of a decoded %v: %v", p.Data, p.Type, err)
			}
		}
	})
}

func FuzzDecodeOpen(f *testing.F) {
	for _, p := range seedPayloads(f, EngineOpen) {
		f.Add(p)
	}
	for _, s := range []string{
		`{}`, `null`, `{"sid":"a","pingInterval":1,"pingTimeout":86400000}`,
		`{"sid":"a","pingInterval":86400001,"pingTimeout":1}`, `{"sid":"a","pingInterval":-1,"pingTimeout":1}`,
		`{"SID":"a","PINGINTERVAL":5,"pingtimeout":5,"upgrades":["websocket"],"maxPayload":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) > maxFuzzInput {
			return
		}
		o, err := DecodeOpen(payload)
		if err != nil {
			requireMalformed(t, "DecodeOpen", payload, err)
			if !cmp.Equal(o, Open{}) {
				t.Fatalf("DecodeOpen(%q) returned %+v with error %v", payload, o, err)
			}
			return
		}
		if o.SID == "" {
			t.Fatalf("DecodeOpen(%q): empty sid", payload)
		}
		for _, d := range []struct {
			ms  int64
			dur interface{ Milliseconds() int64 }
		}{{o.PingInterval, o.PingIntervalDuration()}, {o.PingTimeout, o.PingTimeoutDuration()}} {
			if d.ms < 1 || d.ms > 86400000 || d.dur.Milliseconds() != d.ms {
				t.Fatalf("DecodeOpen(%q): interval %d ms out of range", payload, d.ms)
			}
		}
		if o.PingIntervalDuration() < MinInterval || o.PingIntervalDuration() > MaxInterval ||
			o.PingTimeoutDuration() < MinInterval || o.PingTimeoutDuration() > MaxInterval {
			t.Fatalf("DecodeOpen(%q) = %+v: durations out of range", payload, o)
		}
		if o.MaxPayload < 0 {
			t.Fatalf("DecodeOpen(%q): maxPayload %d", payload, o.MaxPayload)
		}
		// Round trip through AppendOpen and a whole frame.
		frame := AppendOpen(nil, o)
		et, p2, err := DecodeEngine(frame)
		if err != nil || et != EngineOpen {
			t.Fatalf("AppendOpen(%+v) = %q: %v %v", o, frame, et, err)
		}
		o2, err := DecodeOpen(p2)
		if err != nil {
			t.Fatalf("AppendOpen(%+v) = %q does not decode: %v", o, frame, err)
		}
		if diff := cmp.Diff(o, o2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("open round trip via %q (-first +second):\n%s", frame, diff)
		}
	})
}

func FuzzSplitEvent(f *testing.F) {
	for _, d := range seedData(f) {
		f.Add(d)
	}
	for _, s := range []string{`[]`, `[null]`, `["a"]`, `[1]`, `["\u00e9\ud83d\ude00",1,2]`, `["<&>"]`, "[\"a\xffb\"]", `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		name, args, err := SplitEvent(data)
		if err != nil {
			requireMalformed(t, "SplitEvent", data, err)
		} else {
			if !json.Valid(data) {
				t.Fatalf("SplitEvent accepted invalid JSON %q", data)
			}
			if !utf8.ValidString(name) {
				t.Fatalf("SplitEvent(%q): name %q is not valid UTF-8", data, name)
			}
			var generic []any
			if err := json.Unmarshal(data, &generic); err != nil || len(generic) == 0 || generic[0] != any(name) {
				t.Fatalf("SplitEvent(%q) = %q, but the first element is %#v (%v)", data, name, generic, err)
			}
			for _, a := range args {
				if !json.Valid(a) {
					t.Fatalf("SplitEvent(%q): arg %q is not valid JSON", data, a)
				}
			}
			// Rebuild the event with AppendEventData: it must split into the same name and args.
			var arg []byte
			if len(args) > 0 {
				raw := make([][]byte, len(args))
				for i, a := range args {
					raw[i] = a
				}
				arg = bytes.Join(raw, []byte{','})
			}
			enc := AppendEventData(nil, name, arg)
			name2, args2, err := SplitEvent(enc)
			if err != nil {
				t.Fatalf("SplitEvent(AppendEventData(%q)) = %q: %v", name, enc, err)
			}
			if name2 != name || !cmp.Equal(args, args2, cmpopts.EquateEmpty()) {
				t.Fatalf("event round trip %q -> %q: name %q/%q args %q/%q", data, enc, name, name2, args, args2)
			}
			if _, err := SplitAck(data); err != nil {
				t.Fatalf("SplitAck(%q) fails on a valid event payload: %v", data, err)
			}
		}
		if _, err := SplitAck(data); err != nil {
			requireMalformed(t, "SplitAck", data, err)
		} else if FirstByte(data) != '[' {
			t.Fatalf("SplitAck(%q) accepted a payload that is not an array", data)
		}

		// The input as an event name: AppendEventData must always produce valid JSON that splits
		// back to the name (after encoding/json's replacement of invalid UTF-8).
		s := string(data)
		enc := AppendEventData(nil, s, nil)
		if !json.Valid(enc) || !utf8.Valid(enc) {
			t.Fatalf("AppendEventData(%q) = %q is not valid JSON", s, enc)
		}
		got, rest, err := SplitEvent(enc)
		if err != nil || len(rest) != 0 {
			t.Fatalf("SplitEvent(AppendEventData(%q)) = %q %q %v", s, got, rest, err)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("AppendEventData(%q) round trips to %q", s, got)
		}
	})
}

// fuzzAttachments are the attachments FuzzReplacePlaceholders works with: one large enough that
// repeating its placeholder would amplify the output.
var fuzzAttachments = [][]byte{{1, 2, 3}, {}, bytes.Repeat([]byte{0xfe}, 1024), []byte("hello")}

func FuzzReplacePlaceholders(f *testing.F) {
	for _, d := range seedData(f) {
		f.Add(d)
	}
	for _, s := range []string{
		`[{"_placeholder":true,"num":0},{"_placeholder":true,"num":2}]`,
		`["bin",{"a":[{"_placeholder":true,"num":3}],"b":{"c":{"_placeholder":true,"num":1}}}]`,
		`{"_placeholder":true,"num":2}`,
		`[{"_placeholder":true,"num":4}]`,
		`[{"_placeholder":false,"num":0},"<&>\u2028",1e400]`,
		`[{"\u005fplaceholder":true,"num":0},{"_placeholder":true,"num":1}]`,
		`[{"_placeholder":true,"num":0}]]`,
		`[{"_placeholder":true,"num":2},{"_placeholder":true,"num":2}]`, // reuse of the large attachment
	} {
		f.Add([]byte(s))
	}
	var attBound int
	for _, a := range fuzzAttachments {
		attBound += base64.StdEncoding.EncodedLen(len(a)) + 2
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		in := bytes.Clone(data)
		out, err := ReplacePlaceholders(data, fuzzAttachments)
		if !bytes.Equal(in, data) {
			t.Fatalf("ReplacePlaceholders modified its input")
		}
		if err != nil {
			requireMalformed(t, "ReplacePlaceholders", data, err)
			return
		}
		if !bytes.Contains(data, []byte(`"_placeholder"`)) {
			if !bytes.Equal(out, data) {
				t.Fatalf("ReplacePlaceholders(%q) = %q; want it unchanged", data, out)
			}
			return
		}
		// The input was decoded: it must have been one valid JSON value, and the output is
		// re-encoded JSON without any live placeholder.
		if !json.Valid(data) {
			t.Fatalf("ReplacePlaceholders accepted invalid JSON %q", data)
		}
		if !json.Valid(out) {
			t.Fatalf("ReplacePlaceholders(%q) = %q: invalid JSON", data, out)
		}
		if livePlaceholder(t, out) {
			t.Fatalf("ReplacePlaceholders(%q) = %q: placeholder left", data, out)
		}
		// Memory bound: re-encoding can at most escape each input byte into 6 bytes (\u003c), plus
		// each attachment once as a base64 string.
		if bound := 6*len(data) + attBound; len(out) > bound {
			t.Fatalf("ReplacePlaceholders(%q): %d output bytes exceed the bound %d", data, len(out), bound)
		}
	})
}

// livePlaceholder reports whether the JSON data still holds an object with "_placeholder": true.
func livePlaceholder(t *testing.T, data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			if x["_placeholder"] == true {
				return true
			}
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

func FuzzDecodeBinaryFrame(f *testing.F) {
	for _, fr := range seedFrames(f) {
		f.Add(true, fr)
		f.Add(false, fr)
		f.Add(true, AppendBinaryFrame(nil, 3, fr))
	}
	for _, b := range [][]byte{{}, {0x04}, {0x04, 1, 2, 3}, {1, 2, 3}, {'4', 0}} {
		f.Add(true, b)
		f.Add(false, b)
	}
	f.Fuzz(func(t *testing.T, eio3 bool, frame []byte) {
		if len(frame) > maxFuzzInput {
			return
		}
		eio := 4
		if eio3 {
			eio = 3
		}
		data, err := DecodeBinaryFrame(eio, frame)
		if err != nil {
			requireMalformed(t, "DecodeBinaryFrame", frame, err)
			if !eio3 || (len(frame) > 0 && frame[0] == BinaryPrefixEIO3) {
				t.Fatalf("DecodeBinaryFrame(%d, % x) rejected a valid frame: %v", eio, frame, err)
			}
			return
		}
		if eio3 && (len(frame) == 0 || frame[0] != BinaryPrefixEIO3) {
			t.Fatalf("DecodeBinaryFrame(3, % x) accepted a frame without the prefix", frame)
		}
		if enc := AppendBinaryFrame(nil, eio, data); !bytes.Equal(enc, frame) {
			t.Fatalf("DecodeBinaryFrame(%d, % x) = % x re-encodes as % x", eio, frame, data, enc)
		}
		// A decoded attachment is usable as a placeholder target.
		out, err := ReplacePlaceholders([]byte(`[{"_placeholder":true,"num":0}]`), [][]byte{data})
		if err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		if err := json.Unmarshal(out, &got); err != nil || len(got) != 1 || !bytes.Equal(got[0], data) {
			t.Fatalf("attachment % x came back as %q (%v)", data, out, err)
		}
	})
}

// FuzzSplitSimpleEvent checks SplitEvent's fast path against encoding/json: whenever it accepts a
// payload, json.Unmarshal must accept it too and give the same name and argument.
func FuzzSplitSimpleEvent(f *testing.F) {
	for _, s := range []string{`["get",{"method":"get","headers":{},"data":{},"url":"/x"}]`, `[ "chat" , "hi" ]`,
		`["a",1,]`, `["a",[1,2]`, `["a","\"]"]`, `["a",tru]`, `["a",{}] x`, `["\u0041",1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		name, arg, ok := splitSimpleEvent(data)
		if !ok {
			return
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(data, &arr); err != nil || len(arr) != 2 {
			t.Fatalf("fast path accepted %q; json says %v (%d elements)", data, err, len(arr))
		}
		var want string
		if err := json.Unmarshal(arr[0], &want); err != nil || want != name || !bytes.Equal(bytes.TrimSpace(arr[1]), arg) {
			t.Fatalf("%q: fast %q %q, json %q %q", data, name, arg, want, arr[1])
		}
	})
}

// FuzzValidValue checks ValidValue against json.Valid: a value followed by nothing but space is
// valid exactly when json.Valid says so.
func FuzzValidValue(f *testing.F) {
	for _, d := range seedData(f) {
		f.Add(d)
	}
	for _, s := range []string{
		``, ` `, `0`, `-0`, `01`, `-`, `1.`, `1.5e`, `1e+5`, `1E-05`, `.5`, `+1`, `tru`, `true`, `nul`, `falsey`,
		`""`, `"\u00e9\ud83d"`, `"\u12"`, `"\x"`, "\"a\x01\"", "\"\xff\"", `"\/\b\f\n\r\t"`,
		`[]`, `[ ]`, `[1,]`, `[,1]`, `[1 2]`, `{}`, `{ }`, `{"a":1,}`, `{"a" : [ {} , [] ] }`, `{1:2}`, `{"a"}`,
		`{"a":}`, `[[[[]]]]`, `[[[]]`, `[]]`, ` {"i":123,"text":"xxx"} `, "[\n1\t,\r2 ]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		start := SkipSpace(data, 0)
		end := ValidValue(data, start)
		got := end >= 0 && SkipSpace(data, end) == len(data)
		if want := json.Valid(data); got != want {
			t.Fatalf("ValidValue(%q) = %d (valid %v), json.Valid = %v", data, end, got, want)
		}
		if end >= 0 && (end <= start || !json.Valid(data[start:end])) {
			t.Fatalf("ValidValue(%q) = %d: %q is not a valid value", data, end, data[start:max(start, end)])
		}
	})
}

// FuzzDecodePacketUnchecked: DecodePacketUnchecked decodes what DecodePacket decodes, the same way;
// it accepts more only for an ACK's or an EVENT's data that is not JSON, and SplitEventFirst (which
// the session calls next) refuses such an EVENT.
func FuzzDecodePacketUnchecked(f *testing.F) {
	for _, p := range seedPayloads(f, EngineMessage) {
		f.Add(p)
	}
	for _, s := range []string{`2["a",{]`, `2["a"`, `3[}`, `21["a",tru]`, `2/x,["a",1]`, `51-["a",{]`, `2{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		want, werr := DecodePacket(data)
		got, err := DecodePacketUnchecked(data)
		switch {
		case werr == nil:
			if err != nil || !cmp.Equal(got, want) {
				t.Fatalf("DecodePacketUnchecked(%q) = %+v, %v; DecodePacket: %+v", data, got, err, want)
			}
		case err == nil:
			if (got.Type != Ack && got.Type != Event) || json.Valid(got.Data) {
				t.Fatalf("DecodePacketUnchecked(%q) = %+v; DecodePacket: %v", data, got, werr)
			}
			if got.Type == Event {
				if _, _, err := SplitEventFirst(got.Data); err == nil {
					t.Fatalf("SplitEventFirst accepted the invalid data of %q", data)
				} else {
					requireMalformed(t, "SplitEventFirst", got.Data, err)
				}
			}
		default:
			requireMalformed(t, "DecodePacketUnchecked", data, err)
		}
		if err == nil && got.Type == Event {
			name, arg, err := SplitEventFirst(got.Data)
			wname, wargs, werr := SplitEvent(got.Data)
			if (err == nil) != (werr == nil) || name != wname || (len(wargs) > 0) != (arg != nil) || len(wargs) > 0 && !bytes.Equal(arg, wargs[0]) {
				t.Fatalf("SplitEventFirst(%q) = %q %q %v; SplitEvent: %q %q %v", got.Data, name, arg, err, wname, wargs, werr)
			}
			for _, prev := range []string{"", name, "other"} {
				rname, rarg, rerr := SplitEventFirstReuse(got.Data, prev)
				if rname != name || !bytes.Equal(rarg, arg) || (rerr == nil) != (err == nil) {
					t.Fatalf("SplitEventFirstReuse(%q, %q) = %q %q %v; SplitEventFirst: %q %q %v", got.Data, prev, rname, rarg, rerr, name, arg, err)
				}
			}
		}
	})
}
