package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// protocolFrame is a literal text frame quoted in docs/protocol.md with the packet it decodes to.
type protocolFrame struct {
	frame string
	want  Packet
}

func pkt(t PacketType, ns string, id int64, atts int, data string) Packet {
	p := Packet{Type: t, Namespace: ns, ID: id, Attachments: atts}
	if data != "" {
		p.Data = []byte(data)
	}
	return p
}

// protocolFrames are the message frames quoted in docs/protocol.md. Where the document
// abbreviates a payload with "..." inside JSON, the frame is completed into valid JSON.
var protocolFrames = []protocolFrame{
	// #virtual-requests
	{`420["get",{"method":"get","headers":{"x-global":"g","x-both":"global"},"data":{"q":1},"url":"/hello"}]`,
		pkt(Event, "/", 0, 0, `["get",{"method":"get","headers":{"x-global":"g","x-both":"global"},"data":{"q":1},"url":"/hello"}]`)},
	{`421["post",{"method":"post","headers":{"x-both":"request","x-global":"g"},"data":{"a":1},"url":"/echo/"}]`,
		pkt(Event, "/", 1, 0, `["post",{"method":"post","headers":{"x-both":"request","x-global":"g"},"data":{"a":1},"url":"/echo/"}]`)},
	{`423["delete",{"method":"delete","headers":{"x-global":"g","x-both":"global"},"data":{"z":1},"url":"/nonexistent"}]`,
		pkt(Event, "/", 3, 0, `["delete",{"method":"delete","headers":{"x-global":"g","x-both":"global"},"data":{"z":1},"url":"/nonexistent"}]`)},
	// #jwr-responses
	{`430[{"body":{"hello":"world"},"headers":{},"statusCode":200}]`,
		pkt(Ack, "/", 0, 0, `[{"body":{"hello":"world"},"headers":{},"statusCode":200}]`)},
	{`431[{"body":{"error":"nope"},"headers":{},"statusCode":403}]`,
		pkt(Ack, "/", 1, 0, `[{"body":{"error":"nope"},"headers":{},"statusCode":403}]`)},
	{`432[{"body":"Not Found","headers":{},"statusCode":404}]`,
		pkt(Ack, "/", 2, 0, `[{"body":"Not Found","headers":{},"statusCode":404}]`)},
	{`433[{"body":"Error: boom\n    at GET /servererror ...","headers":{},"statusCode":500}]`,
		pkt(Ack, "/", 3, 0, `[{"body":"Error: boom\n    at GET /servererror ...","headers":{},"statusCode":500}]`)},
	{`434[{"body":"plain text","headers":{},"statusCode":200}]`,
		pkt(Ack, "/", 4, 0, `[{"body":"plain text","headers":{},"statusCode":200}]`)},
	{`4311[{"headers":{"allow":"DELETE, GET, HEAD, PATCH, POST, PUT","content-length":35,"content-type":"text/plain","x-content-type-options":"nosniff"},"statusCode":200}]`,
		pkt(Ack, "/", 11, 0, `[{"headers":{"allow":"DELETE, GET, HEAD, PATCH, POST, PUT","content-length":35,"content-type":"text/plain","x-content-type-options":"nosniff"},"statusCode":200}]`)},
	{`431[{"body":"Redirecting to /hello","headers":{"content-type":"text/html","Location":"/hello","location":"/hello"},"statusCode":302}]`,
		pkt(Ack, "/", 1, 0, `[{"body":"Redirecting to /hello","headers":{"content-type":"text/html","Location":"/hello","location":"/hello"},"statusCode":302}]`)},
	{`430[{"body":{"ok":true},"headers":{"x-foo":"bar"},"statusCode":201}]`,
		pkt(Ack, "/", 0, 0, `[{"body":{"ok":true},"headers":{"x-foo":"bar"},"statusCode":201}]`)},
	// #parse-errors
	{`430[{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","name":"Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):","status":400,"message":"Failed to parse incoming socket.io request.","stack":"...","details":"This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using (0.9.0). Please see https://sailsjs.com/documentation/upgrading/to-v-0-11 ..."}]`,
		pkt(Ack, "/", 0, 0, `[{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","name":"Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):","status":400,"message":"Failed to parse incoming socket.io request.","stack":"...","details":"This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using (0.9.0). Please see https://sailsjs.com/documentation/upgrading/to-v-0-11 ..."}]`)},
	{`42["sails:parseError",{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","status":400}]`,
		pkt(Event, "/", NoID, 0, `["sails:parseError",{"code":"SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ","status":400}]`)},
	// #server-pushes
	{`42["chat",{"msg":"hi"}]`, pkt(Event, "/", NoID, 0, `["chat",{"msg":"hi"}]`)},
	{`42["message",{"defaultEvent":true}]`, pkt(Event, "/", NoID, 0, `["message",{"defaultEvent":true}]`)},
	{`42["news",{"x":1}]`, pkt(Event, "/", NoID, 0, `["news",{"x":1}]`)},
	{`42["user",{"verb":"created","data":{"id":1,"name":"alice"},"id":1}]`,
		pkt(Event, "/", NoID, 0, `["user",{"verb":"created","data":{"id":1,"name":"alice"},"id":1}]`)},
	{`42["user",{"verb":"updated","data":{"name":"bob","id":1},"id":1,"previous":{"id":1,"name":"alice"}}]`,
		pkt(Event, "/", NoID, 0, `["user",{"verb":"updated","data":{"name":"bob","id":1},"id":1,"previous":{"id":1,"name":"alice"}}]`)},
	{`42["user",{"verb":"destroyed","id":1,"previous":{"id":1,"name":"bob"}}]`,
		pkt(Event, "/", NoID, 0, `["user",{"verb":"destroyed","id":1,"previous":{"id":1,"name":"bob"}}]`)},
	{`42["user",{"id":1,"verb":"addedTo","attribute":"pets","addedId":2,"added":{"id":2}}]`,
		pkt(Event, "/", NoID, 0, `["user",{"id":1,"verb":"addedTo","attribute":"pets","addedId":2,"added":{"id":2}}]`)},
	{`42["user",{"id":1,"verb":"removedFrom","attribute":"pets","removedId":2}]`,
		pkt(Event, "/", NoID, 0, `["user",{"id":1,"verb":"removedFrom","attribute":"pets","removedId":2}]`)},
	{`451-["bin",{"file":{"_placeholder":true,"num":0}}]`,
		pkt(BinaryEvent, "/", NoID, 1, `["bin",{"file":{"_placeholder":true,"num":0}}]`)},
	// #binary-attachments
	{`451-0["post",{"url":"/echo","data":{"file":{"_placeholder":true,"num":0}}}]`,
		pkt(BinaryEvent, "/", 0, 1, `["post",{"url":"/echo","data":{"file":{"_placeholder":true,"num":0}}}]`)},
	{`461-0[{"body":{"_placeholder":true,"num":0},"headers":{},"statusCode":200}]`,
		pkt(BinaryAck, "/", 0, 1, `[{"body":{"_placeholder":true,"num":0},"headers":{},"statusCode":200}]`)},
	// #captured-sessions, #namespace-connect, #socketio-packets, #eio3-vs-eio4
	{`40`, pkt(Connect, "/", NoID, 0, "")},
	{`41`, pkt(Disconnect, "/", NoID, 0, "")},
	{`40{"sid":"LbdI_nW7xGQs7Z6jAAAA"}`, pkt(Connect, "/", NoID, 0, `{"sid":"LbdI_nW7xGQs7Z6jAAAA"}`)},
	{`40{"token":"abc"}`, pkt(Connect, "/", NoID, 0, `{"token":"abc"}`)},
	{`420["get",{"method":"get","headers":{},"data":{"a":1},"url":"/hello?x=2"}]`,
		pkt(Event, "/", 0, 0, `["get",{"method":"get","headers":{},"data":{"a":1},"url":"/hello?x=2"}]`)},
	{`40/nope,`, pkt(Connect, "/nope", NoID, 0, "")},
	{`44/nope,{"message":"Invalid namespace"}`, pkt(ConnectError, "/nope", NoID, 0, `{"message":"Invalid namespace"}`)},
	{`44/nope,"Invalid namespace"`, pkt(ConnectError, "/nope", NoID, 0, `"Invalid namespace"`)},
	{`40/admin?token=1,`, pkt(Connect, "/admin?token=1", NoID, 0, "")},
	{`40/admin,{"token":"1"}`, pkt(Connect, "/admin", NoID, 0, `{"token":"1"}`)},
	{`44"Not authorized"`, pkt(ConnectError, "/", NoID, 0, `"Not authorized"`)},
	{`44{"message":"Not authorized"}`, pkt(ConnectError, "/", NoID, 0, `{"message":"Not authorized"}`)},
}

// protocolEngineFrames are the non-message Engine.IO frames of docs/protocol.md (#engineio-packets,
// #upgrade-from-polling, #open-packet).
var protocolEngineFrames = []struct {
	frame   string
	typ     EngineType
	payload string
}{
	{`2`, EnginePing, ""},
	{`3`, EnginePong, ""},
	{`2probe`, EnginePing, "probe"},
	{`3probe`, EnginePong, "probe"},
	{`5`, EngineUpgrade, ""},
	{`6`, EngineNoop, ""},
	{`1`, EngineClose, ""},
	{`0{"sid":"xP7yWobn7xgOw7kUAAAB","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":100000000}`, EngineOpen,
		`{"sid":"xP7yWobn7xgOw7kUAAAB","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":100000000}`},
}

// protocolOpens are the open packets quoted in docs/protocol.md#open-packet.
var protocolOpens = []struct {
	frame string
	want  Open
}{
	{`0{"sid":"xP7yWobn7xgOw7kUAAAB","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":100000000}`,
		Open{SID: "xP7yWobn7xgOw7kUAAAB", Upgrades: []string{}, PingInterval: 25000, PingTimeout: 60000, MaxPayload: 100000000}},
	{`0{"sid":"Lit6R6Fyxa2e8FnqAAAA","upgrades":[],"pingInterval":25000,"pingTimeout":60000}`,
		Open{SID: "Lit6R6Fyxa2e8FnqAAAA", Upgrades: []string{}, PingInterval: 25000, PingTimeout: 60000}},
	{`0{"sid":"3oI4fBiGdfbw779FAAAA","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":100000000}`,
		Open{SID: "3oI4fBiGdfbw779FAAAA", Upgrades: []string{}, PingInterval: 25000, PingTimeout: 60000, MaxPayload: 100000000}},
}

func TestProtocolFrames(t *testing.T) {
	for _, tc := range protocolFrames {
		t.Run(tc.frame, func(t *testing.T) {
			et, payload, err := DecodeEngine([]byte(tc.frame))
			if err != nil || et != EngineMessage {
				t.Fatalf("DecodeEngine = %v, %v; want message", et, err)
			}
			p, err := DecodePacket(payload)
			if err != nil {
				t.Fatalf("DecodePacket(%q): %v", payload, err)
			}
			if diff := cmp.Diff(tc.want, p); diff != "" {
				t.Errorf("DecodePacket (-want +got):\n%s", diff)
			}
			if got := AppendMessage(nil, p); string(got) != tc.frame {
				t.Errorf("AppendMessage = %q, want %q", got, tc.frame)
			}
			if got := AppendPacket(nil, tc.want); string(got) != tc.frame[1:] {
				t.Errorf("AppendPacket(want) = %q, want %q", got, tc.frame[1:])
			}
		})
	}
}

func TestProtocolEngineFrames(t *testing.T) {
	for _, tc := range protocolEngineFrames {
		et, payload, err := DecodeEngine([]byte(tc.frame))
		if err != nil {
			t.Errorf("DecodeEngine(%q): %v", tc.frame, err)
			continue
		}
		if et != tc.typ || string(payload) != tc.payload {
			t.Errorf("DecodeEngine(%q) = %v %q, want %v %q", tc.frame, et, payload, tc.typ, tc.payload)
		}
	}
}

func TestProtocolOpens(t *testing.T) {
	for _, tc := range protocolOpens {
		et, payload, err := DecodeEngine([]byte(tc.frame))
		if err != nil || et != EngineOpen {
			t.Fatalf("DecodeEngine(%q) = %v, %v", tc.frame, et, err)
		}
		o, err := DecodeOpen(payload)
		if err != nil {
			t.Fatalf("DecodeOpen(%q): %v", payload, err)
		}
		if diff := cmp.Diff(tc.want, o); diff != "" {
			t.Errorf("DecodeOpen(%q) (-want +got):\n%s", payload, diff)
		}
		if got := AppendOpen(nil, o); string(got) != tc.frame {
			t.Errorf("AppendOpen = %q, want %q", got, tc.frame)
		}
	}
}

func TestDecodeOpenValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Open
	}{
		{`{"sid":"a","pingInterval":1,"pingTimeout":86400000}`, Open{SID: "a", PingInterval: 1, PingTimeout: 86400000}},
		{`{"sid":"a","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":0}`,
			Open{SID: "a", Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000}},
		{` {"sid":"a","pingInterval":2,"pingTimeout":3,"unknown":{"x":[1]}} `, Open{SID: "a", PingInterval: 2, PingTimeout: 3}},
	} {
		o, err := DecodeOpen([]byte(tc.in))
		if err != nil {
			t.Errorf("DecodeOpen(%s): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, o); diff != "" {
			t.Errorf("DecodeOpen(%s) (-want +got):\n%s", tc.in, diff)
		}
	}
	o := Open{SID: "s", PingInterval: 25000, PingTimeout: 60000}
	if got, want := string(AppendOpen([]byte("x"), o)), `x0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":60000}`; got != want {
		t.Errorf("AppendOpen = %s, want %s", got, want)
	}
}

func TestDecodeOpenMalformed(t *testing.T) {
	for _, in := range []string{
		``,
		`null`,
		`[]`,
		`"sid"`,
		`{`,
		`{"sid":"a","pingInterval":25000,"pingTimeout":60000}x`,
		`{}`,
		`{"pingInterval":25000,"pingTimeout":60000}`,              // no sid
		`{"sid":"","pingInterval":25000,"pingTimeout":60000}`,     // empty sid
		`{"sid":null,"pingInterval":25000,"pingTimeout":60000}`,   // null sid
		`{"sid":1,"pingInterval":25000,"pingTimeout":60000}`,      // sid not a string
		`{"sid":"a","pingTimeout":60000}`,                         // no pingInterval
		`{"sid":"a","pingInterval":25000}`,                        // no pingTimeout
		`{"sid":"a","pingInterval":0,"pingTimeout":60000}`,        // zero
		`{"sid":"a","pingInterval":25000,"pingTimeout":0}`,        // zero
		`{"sid":"a","pingInterval":-1,"pingTimeout":60000}`,       // negative
		`{"sid":"a","pingInterval":25000,"pingTimeout":-25000}`,   // negative
		`{"sid":"a","pingInterval":86400001,"pingTimeout":60000}`, // > 24 h
		`{"sid":"a","pingInterval":25000,"pingTimeout":1e12}`,     // absurd (and not an integer literal)
		`{"sid":"a","pingInterval":9223372036854775807,"pingTimeout":60000}`,
		`{"sid":"a","pingInterval":9223372036854775808,"pingTimeout":60000}`, // overflows int64
		`{"sid":"a","pingInterval":-9223372036854775808,"pingTimeout":60000}`,
		`{"sid":"a","pingInterval":25000.5,"pingTimeout":60000}`,
		`{"sid":"a","pingInterval":"25000","pingTimeout":60000}`,
		`{"sid":"a","pingInterval":25000,"pingTimeout":60000,"maxPayload":-1}`,
		`{"sid":"a","upgrades":"websocket","pingInterval":25000,"pingTimeout":60000}`,
	} {
		o, err := DecodeOpen([]byte(in))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeOpen(%s) = %+v, %v; want an error wrapping ErrMalformed", in, o, err)
			continue
		}
		if diff := cmp.Diff(Open{}, o); diff != "" {
			t.Errorf("DecodeOpen(%s) returned a non-zero Open on error: %s", in, diff)
		}
	}
}

func TestDecodeEngineMalformed(t *testing.T) {
	for _, in := range []string{"", "7", "9", "/", "a", "\x00", "\x04", " 4", "\xff"} {
		if et, _, err := DecodeEngine([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeEngine(%q) = %v, %v; want ErrMalformed", in, et, err)
		}
	}
}

func TestEngineTypeString(t *testing.T) {
	got := []string{}
	for c := byte('0'); c <= '7'; c++ {
		got = append(got, EngineType(c).String())
	}
	want := []string{"open", "close", "ping", "pong", "message", "upgrade", "noop", `engine('7')`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EngineType.String (-want +got):\n%s", diff)
	}
}

func TestPacketTypeString(t *testing.T) {
	got := []string{}
	for typ := PacketType(0); typ <= 7; typ++ {
		got = append(got, typ.String())
	}
	want := []string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK", "PacketType(7)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PacketType.String (-want +got):\n%s", diff)
	}
}

func TestDecodePacketValidEdges(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Packet
		enc  string // canonical re-encoding; "" means the same as in
	}{
		{`2999999999999999["a"]`, pkt(Event, "/", 999999999999999, 0, `["a"]`), ""}, // 15 digits
		{`2000000000000007["a"]`, pkt(Event, "/", 7, 0, `["a"]`), `27["a"]`},
		{`510-["a"]`, pkt(BinaryEvent, "/", NoID, 10, `["a"]`), ""},
		{`50-["a"]`, pkt(BinaryEvent, "/", NoID, 0, `["a"]`), ""},
		{`505-["a"]`, pkt(BinaryEvent, "/", NoID, 5, `["a"]`), `55-["a"]`},
		{`62-/admin,12[1]`, pkt(BinaryAck, "/admin", 12, 2, `[1]`), ""},
		{`2/chat,["a"]`, pkt(Event, "/chat", NoID, 0, `["a"]`), ""},
		{`2/chat,5["a"]`, pkt(Event, "/chat", 5, 0, `["a"]`), ""},
		{`2/,["a"]`, pkt(Event, "/", NoID, 0, `["a"]`), `2["a"]`},
		{`0`, pkt(Connect, "/", NoID, 0, ""), ""},
		{`0/admin`, pkt(Connect, "/admin", NoID, 0, ""), `0/admin,`},
		{`1/admin,`, pkt(Disconnect, "/admin", NoID, 0, ""), ""},
		{`2[]`, pkt(Event, "/", NoID, 0, `[]`), ""}, // the codec accepts it; SplitEvent rejects it
		{`30[]`, pkt(Ack, "/", 0, 0, `[]`), ""},
		{`2["a",{"b":[1,2,{"c":null}]},"\u00e9"]`, pkt(Event, "/", NoID, 0, `["a",{"b":[1,2,{"c":null}]},"\u00e9"]`), ""},
	} {
		p, err := DecodePacket([]byte(tc.in))
		if err != nil {
			t.Errorf("DecodePacket(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, p); diff != "" {
			t.Errorf("DecodePacket(%q) (-want +got):\n%s", tc.in, diff)
		}
		enc := tc.enc
		if enc == "" {
			enc = tc.in
		}
		if got := AppendPacket(nil, p); string(got) != enc {
			t.Errorf("AppendPacket(DecodePacket(%q)) = %q, want %q", tc.in, got, enc)
		}
	}
}

func TestDecodePacketMalformed(t *testing.T) {
	for _, in := range []string{
		``,
		`7`, `9`, `a`, `-`, `/`, "\x00", ` 2["a"]`, // unknown type
		`1{}`, `1"x"`, `1[]`, `1 `, `1/admin,{}`, `13[1]`, // DISCONNECT with a payload
		`3[]`, `3["x"]`, `3/admin,[1]`, `61-[1]`, `60-[]`, // ACK without an id
		`31`, `31{}`, `31"x"`, `61-0{}`, // ACK payload not an array
		`2`, `21`, `2/admin,`, `2{"a":1}`, `2"get"`, `2null`, `25`, // EVENT payload not an array
		`51-`, `51-{}`,
		`0[]`, `0"x"`, `0null`, `01`, // CONNECT payload not an object (01 has id 1 and no data: see below)
		`4`, `4[1]`, `41`, `4null`, `4/nope,`, `4/nope,[]`, // CONNECT_ERROR payload
		`2["a"`, `2["a",]`, `2[1,2}`, `0{`, `4{"message":}`, `30[1,]`, `2["a"]x`, `2["\x"]`, // invalid JSON
		"2[\"a\xff\x00\"]",                                                     // control character inside a string
		`511-["a"]`, `599-["a"]`, `5100-["a"]`, `5123456789012345678901-["a"]`, // too many attachments
		`5-["a"]`, `5["a"]`, `51["a"]`, `51`, `5x-["a"]`, `6-0[1]`, // no valid attachment count
		`21234567890123456["a"]`, `299999999999999999999["a"]`, `39999999999999999999999999[1]`, // ack id too long
		`2/admin,1234567890123456789["a"]`,
	} {
		p, err := DecodePacket([]byte(in))
		if in == `01` {
			// A CONNECT with an ack id and no data is accepted by the codec (ids are type-agnostic).
			if err != nil || p.ID != 1 {
				t.Errorf("DecodePacket(%q) = %+v, %v", in, p, err)
			}
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodePacket(%q) = %+v, %v; want an error wrapping ErrMalformed", in, p, err)
		}
	}
}

func TestAppendPacket(t *testing.T) {
	for _, tc := range []struct {
		p    Packet
		want string
	}{
		{Packet{Type: Connect, ID: NoID}, `0`},
		{Packet{Type: Connect, Namespace: "/", ID: NoID}, `0`},
		{Packet{Type: Connect, Namespace: "/admin", ID: NoID, Data: []byte(`{"token":"1"}`)}, `0/admin,{"token":"1"}`},
		{Packet{Type: Disconnect, Namespace: "/", ID: NoID}, `1`},
		{Packet{Type: Event, ID: 0, Data: []byte(`["get"]`)}, `20["get"]`},
		{Packet{Type: Ack, ID: 123456789012345, Data: []byte(`[]`)}, `3123456789012345[]`},
		{Packet{Type: BinaryEvent, ID: NoID, Attachments: 1, Data: []byte(`["bin",{"_placeholder":true,"num":0}]`)}, `51-["bin",{"_placeholder":true,"num":0}]`},
		{Packet{Type: BinaryAck, ID: 0, Attachments: 10, Namespace: "/x", Data: []byte(`[1]`)}, `610-/x,0[1]`},
		{Packet{Type: ConnectError, ID: NoID, Data: []byte(`"no"`)}, `4"no"`},
	} {
		if got := string(AppendPacket(nil, tc.p)); got != tc.want {
			t.Errorf("AppendPacket(%+v) = %q, want %q", tc.p, got, tc.want)
		}
		if got := string(AppendMessage([]byte("pre"), tc.p)); got != "pre4"+tc.want {
			t.Errorf("AppendMessage(%+v) = %q, want %q", tc.p, got, "pre4"+tc.want)
		}
	}
}

func TestAppendEventData(t *testing.T) {
	for _, tc := range []struct {
		name string
		arg  string // "" means nil
		want string // "" means: only check that it decodes back
	}{
		{"get", `{"method":"get","url":"/x"}`, `["get",{"method":"get","url":"/x"}]`},
		{"ping", "", `["ping"]`},
		{"", "", `[""]`},
		{"a b/c:d", `1`, `["a b/c:d",1]`},
		{`quo"te`, `null`, `["quo\"te",null]`},
		{`back\slash`, "", `["back\\slash"]`},
		{"new\nline\ttab\x00nul", "", `["new\nline\ttab\u0000nul"]`},
		{"<script>&", "", `["\u003cscript\u003e\u0026"]`},
		{"é€😀", "", `["é€😀"]`},
		{"\u2028\u2029", "", `["\u2028\u2029"]`},
		{"\x7f", "", ""},
		{"\x1f", "", `["\u001f"]`},
	} {
		var arg []byte
		if tc.arg != "" {
			arg = []byte(tc.arg)
		}
		got := AppendEventData([]byte("x"), tc.name, arg)
		if got[0] != 'x' {
			t.Fatalf("AppendEventData overwrote dst: %q", got)
		}
		got = got[1:]
		if tc.want != "" && string(got) != tc.want {
			t.Errorf("AppendEventData(%q, %s) = %s, want %s", tc.name, tc.arg, got, tc.want)
		}
		if !json.Valid(got) {
			t.Errorf("AppendEventData(%q) = %q is not valid JSON", tc.name, got)
			continue
		}
		name, args, err := SplitEvent(got)
		if err != nil {
			t.Errorf("SplitEvent(%s): %v", got, err)
			continue
		}
		if name != tc.name {
			t.Errorf("SplitEvent(AppendEventData(%q)) name = %q", tc.name, name)
		}
		if wantN := map[bool]int{true: 0, false: 1}[arg == nil]; len(args) != wantN {
			t.Errorf("SplitEvent(%s) args = %q, want %d", got, args, wantN)
		} else if arg != nil && string(args[0]) != tc.arg {
			t.Errorf("SplitEvent(%s) arg = %s, want %s", got, args[0], tc.arg)
		}
	}
	// Invalid UTF-8 in a name is replaced (as encoding/json does), never copied raw.
	got := AppendEventData(nil, "a\xffb", nil)
	if !utf8.Valid(got) || !json.Valid(got) {
		t.Errorf("AppendEventData with invalid UTF-8 = %q", got)
	}
	if name, _, err := SplitEvent(got); err != nil || name != "a\uFFFDb" {
		t.Errorf("SplitEvent(%q) = %q, %v", got, name, err)
	}
}

func TestSplitEvent(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name string
		args []string
	}{
		{`["a"]`, "a", []string{}},
		{`["get",{"url":"/x"}]`, "get", []string{`{"url":"/x"}`}},
		{`[ "chat" , 1 , "two" , [3] , {"4":4} , null ]`, "chat", []string{`1`, `"two"`, `[3]`, `{"4":4}`, `null`}},
		{`["\u0061\n"]`, "a\n", []string{}},
	} {
		name, args, err := SplitEvent([]byte(tc.in))
		if err != nil {
			t.Errorf("SplitEvent(%s): %v", tc.in, err)
			continue
		}
		got := []string{}
		for _, a := range args {
			got = append(got, string(a))
		}
		if name != tc.name {
			t.Errorf("SplitEvent(%s) name = %q, want %q", tc.in, name, tc.name)
		}
		if diff := cmp.Diff(tc.args, got); diff != "" {
			t.Errorf("SplitEvent(%s) args (-want +got):\n%s", tc.in, diff)
		}
	}
	for _, in := range []string{``, `[]`, `null`, `{}`, `"a"`, `[1]`, `[null]`, `[null,1]`, `[{}]`, `[["a"]]`, `[true]`, `["a"`, `["a"]x`, `["a",]`} {
		if name, args, err := SplitEvent([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("SplitEvent(%s) = %q, %q, %v; want ErrMalformed", in, name, args, err)
		}
	}
}

func TestSplitAck(t *testing.T) {
	for _, tc := range []struct {
		in   string
		args []string
	}{
		{`[]`, []string{}},
		{`[{"statusCode":200}]`, []string{`{"statusCode":200}`}},
		{`[1,"a",null,[]]`, []string{`1`, `"a"`, `null`, `[]`}},
	} {
		args, err := SplitAck([]byte(tc.in))
		if err != nil {
			t.Errorf("SplitAck(%s): %v", tc.in, err)
			continue
		}
		got := []string{}
		for _, a := range args {
			got = append(got, string(a))
		}
		if diff := cmp.Diff(tc.args, got); diff != "" {
			t.Errorf("SplitAck(%s) (-want +got):\n%s", tc.in, diff)
		}
	}
	for _, in := range []string{``, `null`, `{}`, `"a"`, `1`, `[`, `[1,]`, `[1]x`} {
		if args, err := SplitAck([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("SplitAck(%s) = %q, %v; want ErrMalformed", in, args, err)
		}
	}
}

func TestBinaryFrames(t *testing.T) {
	for _, tc := range []struct {
		eio   int
		frame []byte
		want  []byte
		err   bool
	}{
		{3, []byte{0x04, 1, 2, 3}, []byte{1, 2, 3}, false},
		{3, []byte{0x04}, []byte{}, false},
		{3, []byte{1, 2, 3}, nil, true},
		{3, []byte{}, nil, true},
		{3, nil, nil, true},
		{3, []byte{'4', 1}, nil, true}, // the ASCII digit is not the binary prefix
		{4, []byte{1, 2, 3}, []byte{1, 2, 3}, false},
		{4, []byte{0x04, 1, 2, 3}, []byte{0x04, 1, 2, 3}, false}, // EIO4 keeps every byte
		{4, []byte{}, []byte{}, false},
	} {
		got, err := DecodeBinaryFrame(tc.eio, tc.frame)
		if tc.err {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("DecodeBinaryFrame(%d, % x) = % x, %v; want ErrMalformed", tc.eio, tc.frame, got, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("DecodeBinaryFrame(%d, % x) = % x, %v; want % x", tc.eio, tc.frame, got, err, tc.want)
			continue
		}
		if enc := AppendBinaryFrame(nil, tc.eio, got); !bytes.Equal(enc, tc.frame) {
			t.Errorf("AppendBinaryFrame(%d, % x) = % x, want % x", tc.eio, got, enc, tc.frame)
		}
	}
	if got := AppendBinaryFrame([]byte{9}, 3, []byte{1}); !bytes.Equal(got, []byte{9, 0x04, 1}) {
		t.Errorf("AppendBinaryFrame(EIO3) = % x", got)
	}
	if got := AppendBinaryFrame([]byte{9}, 4, []byte{1}); !bytes.Equal(got, []byte{9, 1}) {
		t.Errorf("AppendBinaryFrame(EIO4) = % x", got)
	}
}

// TestBinaryAckReassembly decodes the BINARY_ACK of docs/protocol.md#binary-attachments with its
// attachment frame for both EIO versions.
func TestBinaryAckReassembly(t *testing.T) {
	for _, tc := range []struct {
		eio    int
		binary []byte
	}{
		{3, []byte{0x04, 1, 2, 3}},
		{4, []byte{1, 2, 3}},
	} {
		_, payload, err := DecodeEngine([]byte(`461-0[{"body":{"_placeholder":true,"num":0},"headers":{},"statusCode":200}]`))
		if err != nil {
			t.Fatal(err)
		}
		p, err := DecodePacket(payload)
		if err != nil {
			t.Fatal(err)
		}
		if p.Type != BinaryAck || p.ID != 0 || p.Attachments != 1 {
			t.Fatalf("decoded %+v", p)
		}
		att, err := DecodeBinaryFrame(tc.eio, tc.binary)
		if err != nil {
			t.Fatal(err)
		}
		data, err := ReplacePlaceholders(p.Data, [][]byte{att})
		if err != nil {
			t.Fatalf("ReplacePlaceholders: %v", err)
		}
		args, err := SplitAck(data)
		if err != nil || len(args) != 1 {
			t.Fatalf("SplitAck(%s) = %q, %v", data, args, err)
		}
		var jwr struct {
			Body       []byte            `json:"body"`
			Headers    map[string]string `json:"headers"`
			StatusCode int               `json:"statusCode"`
		}
		if err := json.Unmarshal(args[0], &jwr); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(jwr.Body, []byte{1, 2, 3}) || jwr.StatusCode != 200 {
			t.Errorf("EIO%d: body % x status %d", tc.eio, jwr.Body, jwr.StatusCode)
		}
	}
}

func TestReplacePlaceholders(t *testing.T) {
	a0, a1, a2 := []byte{0, 1, 2, 0xff}, []byte("hello"), []byte{}
	atts := [][]byte{a0, a1, a2}

	t.Run("nested", func(t *testing.T) {
		in := `["bin",{"a":[1,{"b":{"_placeholder":true,"num":1}}],"c":{"_placeholder":true,"num":0},"d":{"e":{"f":[[{"_placeholder":true,"num":2}]]}},"n":12345678901234567890}]`
		out, err := ReplacePlaceholders([]byte(in), atts)
		if err != nil {
			t.Fatal(err)
		}
		name, args, err := SplitEvent(out)
		if err != nil || name != "bin" || len(args) != 1 {
			t.Fatalf("SplitEvent(%s) = %q, %q, %v", out, name, args, err)
		}
		var v struct {
			A []json.RawMessage `json:"a"`
			C []byte            `json:"c"`
			D struct {
				E struct {
					F [][][]byte `json:"f"`
				} `json:"e"`
			} `json:"d"`
			N json.Number `json:"n"`
		}
		if err := json.Unmarshal(args[0], &v); err != nil {
			t.Fatalf("Unmarshal(%s): %v", args[0], err)
		}
		var b struct {
			B []byte `json:"b"`
		}
		if len(v.A) != 2 || json.Unmarshal(v.A[1], &b) != nil {
			t.Fatalf("a = %q", v.A)
		}
		if !bytes.Equal(v.C, a0) || !bytes.Equal(b.B, a1) || len(v.D.E.F) != 1 || len(v.D.E.F[0]) != 1 || v.D.E.F[0][0] == nil || len(v.D.E.F[0][0]) != 0 {
			t.Errorf("decoded c=% x b=%q f=%q", v.C, b.B, v.D.E.F)
		}
		// Large numbers survive unchanged (no float64 round trip).
		if v.N != "12345678901234567890" {
			t.Errorf("n = %s", v.N)
		}
		if strings.Contains(string(out), "_placeholder") {
			t.Errorf("placeholder left in %s", out)
		}
	})

	t.Run("top level and extra keys", func(t *testing.T) {
		out, err := ReplacePlaceholders([]byte(`{"_placeholder":true,"num":1,"extra":"x"}`), atts)
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		if err := json.Unmarshal(out, &b); err != nil || !bytes.Equal(b, a1) {
			t.Errorf("ReplacePlaceholders = %s (% x, %v)", out, b, err)
		}
	})

	t.Run("not a placeholder", func(t *testing.T) {
		for _, in := range []string{
			`[{"_placeholder":false,"num":0}]`,
			`[{"_placeholder":"true","num":0}]`,
			`[{"_placeholder":1,"num":0}]`,
			`["_placeholder"]`,
		} {
			out, err := ReplacePlaceholders([]byte(in), atts)
			if err != nil {
				t.Errorf("ReplacePlaceholders(%s): %v", in, err)
				continue
			}
			var want, got any
			_ = json.Unmarshal([]byte(in), &want)
			if err := json.Unmarshal(out, &got); err != nil {
				t.Errorf("ReplacePlaceholders(%s) = %s: %v", in, out, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ReplacePlaceholders(%s) changed the value (-want +got):\n%s", in, diff)
			}
		}
	})

	t.Run("no placeholders", func(t *testing.T) {
		for _, in := range []string{
			`[{"body":{"a":1},"headers":{},"statusCode":200}]`,
			`["x", {"b" : 2,"a":1}, "<&>", 1.50]`, // would be reformatted by a decode/encode round trip
			`not json at all`,                     // no placeholder: returned as is, not validated
			``,
		} {
			data := []byte(in)
			out, err := ReplacePlaceholders(data, atts)
			if err != nil {
				t.Errorf("ReplacePlaceholders(%s): %v", in, err)
				continue
			}
			if !bytes.Equal(out, data) {
				t.Errorf("ReplacePlaceholders(%s) = %s, want unchanged", in, out)
			}
			if len(data) > 0 && &out[0] != &data[0] {
				t.Errorf("ReplacePlaceholders(%s) copied the input", in)
			}
		}
		if out, err := ReplacePlaceholders([]byte(`[1]`), nil); err != nil || string(out) != `[1]` {
			t.Errorf("ReplacePlaceholders without attachments = %s, %v", out, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			in   string
			atts [][]byte
		}{
			{`[{"_placeholder":true,"num":3}]`, atts}, // out of range
			{`[{"_placeholder":true,"num":0}]`, nil},
			{`[{"_placeholder":true,"num":-1}]`, atts},
			{`[{"_placeholder":true,"num":1.5}]`, atts},
			{`[{"_placeholder":true,"num":1e0}]`, atts},
			{`[{"_placeholder":true,"num":99999999999999999999999}]`, atts},
			{`[{"_placeholder":true,"num":"0"}]`, atts},
			{`[{"_placeholder":true,"num":null}]`, atts},
			{`[{"_placeholder":true}]`, atts},
			{`{"a":{"b":[{"_placeholder":true,"num":9}]}}`, atts}, // nested out of range
			{`[{"_placeholder":true,"num":0}`, atts},              // invalid JSON
			{`{"_placeholder":true,"num":0,}`, atts},
			{`[{"_placeholder":true,"num":0}]]`, atts}, // data after the value
			{`[{"_placeholder":true,"num":0}] [1]`, atts},
			{`[{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]`, atts}, // attachment used twice
			{strings.Repeat("[", 1100) + `{"_placeholder":true,"num":0}` + strings.Repeat("]", 1100), atts},
			{strings.Repeat(`{"a":`, 1100) + `{"_placeholder":true,"num":0}` + strings.Repeat("}", 1100), atts},
			{strings.Repeat("[", 20000) + `"_placeholder"` + strings.Repeat("]", 20000), atts}, // deeper than encoding/json allows
		} {
			out, err := ReplacePlaceholders([]byte(tc.in), tc.atts)
			if !errors.Is(err, ErrMalformed) {
				in := tc.in
				if len(in) > 80 {
					in = in[:80] + "..."
				}
				t.Errorf("ReplacePlaceholders(%s) = %.80s, %v; want ErrMalformed", in, out, err)
			}
		}
	})

	t.Run("depth limit", func(t *testing.T) {
		// Exactly at the limit works; the placeholder is at depth maxDepth.
		in := strings.Repeat("[", maxDepth) + `{"_placeholder":true,"num":1}` + strings.Repeat("]", maxDepth)
		out, err := ReplacePlaceholders([]byte(in), atts)
		if err != nil {
			t.Fatalf("ReplacePlaceholders at depth %d: %v", maxDepth, err)
		}
		if want := strings.Repeat("[", maxDepth) + `"aGVsbG8="` + strings.Repeat("]", maxDepth); string(out) != want {
			t.Errorf("ReplacePlaceholders at depth %d = %.40s...", maxDepth, out)
		}
	})
}

// TestReplacePlaceholdersAmplification: each placeholder must reference a distinct attachment, so
// the output is bounded by the input plus the base64 size of the attachments. A packet that repeats
// one placeholder must not turn a 30-byte reference into a copy of a large attachment each time.
func TestReplacePlaceholdersAmplification(t *testing.T) {
	att := bytes.Repeat([]byte{0xab}, 64<<10)
	ph := `{"_placeholder":true,"num":0}`
	in := "[" + strings.Repeat(ph+",", 999) + ph + "]" // 30 KB referencing 64 KB 1000 times: ~87 MB if copied
	out, err := ReplacePlaceholders([]byte(in), [][]byte{att})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("ReplacePlaceholders with 1000 references to one attachment = %d bytes, %v; want ErrMalformed", len(out), err)
	}
}

// TestDecodePacketAckUnchecked: only an ACK's JSON is left unchecked; every other check stays.
func TestDecodePacketAckUnchecked(t *testing.T) {
	for _, tc := range []struct {
		in            string
		checked, lazy bool // whether each decoder accepts it
	}{
		{`30[{"body":1}]`, true, true},
		{`30[{"body":`, false, true},
		{`3[{}]`, false, false},         // no ack id
		{`30{"body":1}`, false, false},  // not an array
		{`2["x",`, false, false},        // an event is still checked
		{`61-0[{"body":`, false, false}, // and so is a binary ack
	} {
		_, err := DecodePacket([]byte(tc.in))
		if (err == nil) != tc.checked {
			t.Errorf("DecodePacket(%q) = %v", tc.in, err)
		}
		_, err = DecodePacketAckUnchecked([]byte(tc.in))
		if (err == nil) != tc.lazy {
			t.Errorf("DecodePacketAckUnchecked(%q) = %v", tc.in, err)
		}
	}
}

// TestValidValueNesting: ValidValue allows encoding/json's nesting limit and no more.
func TestValidValueNesting(t *testing.T) {
	for _, depth := range []int{1, 64, 65, maxNesting, maxNesting + 1} {
		for _, open := range []string{"[", `{"k":`} {
			close := "]"
			if open != "[" {
				close = "}"
			}
			s := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(close, depth))
			end := ValidValue(s, 0)
			if got, want := end == len(s), json.Valid(s); got != want || want != (depth <= maxNesting) {
				t.Errorf("depth %d of %q: ValidValue %d (valid %v), json.Valid %v", depth, open, end, got, want)
			}
		}
	}
}

// TestSplitEventFirstReuse: an event named as the previous one costs one allocation, its argument.
func TestSplitEventFirstReuse(t *testing.T) {
	data := []byte(`["tick",{"i":1}]`)
	prev := "tick"
	var name string
	if n := testing.AllocsPerRun(100, func() { name, _, _ = SplitEventFirstReuse(data, prev) }); n != 1 || name != "tick" {
		t.Errorf("%v allocations, name %q; want 1 and tick", n, name)
	}
	if n := testing.AllocsPerRun(100, func() { name, _, _ = SplitEventFirstReuse(data, "tock") }); n != 2 || name != "tick" {
		t.Errorf("another name: %v allocations, name %q; want 2 and tick", n, name)
	}
}
