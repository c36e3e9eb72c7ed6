package wire

import (
	"testing"
)

// benchAckFrame is the largest ack of the v3 transcript (a JWR for GET /echo).
var benchAckFrame = []byte(`431[{"body":{"method":"GET","url":"/echo?x=1","path":"/echo","params":{"x":"1"},"body":{},"query":{"x":"1"},"headers":{"cookie":"sails.sid=s%3AsfyDHnUzlGNRKVev6Gd5drQCxCKtVqjb.LfQroGS6O1ldGopLMEuFYag6CB4MX1LNNJTBuYzJUpY","x-custom":"hello"},"isSocket":true},"headers":{"x-harness-echo":"1"},"statusCode":200}]`)

// benchEventFrame is the server push of the v3 transcript.
var benchEventFrame = []byte(`42["chat",{"room":"demo","text":"hi from Q","from":"XHWx_9dqoI-384sVAAAB"}]`)

var (
	sinkPacket Packet
	sinkArgs   int
	sinkBytes  []byte
)

// BenchmarkDecodeAckFrame decodes an ack frame down to its arguments: Engine.IO, Socket.IO, SplitAck.
func BenchmarkDecodeAckFrame(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchAckFrame)))
	for b.Loop() {
		_, payload, err := DecodeEngine(benchAckFrame)
		if err != nil {
			b.Fatal(err)
		}
		p, err := DecodePacket(payload)
		if err != nil || p.Type != Ack || p.ID != 1 {
			b.Fatal(p, err)
		}
		args, err := SplitAck(p.Data)
		if err != nil {
			b.Fatal(err)
		}
		sinkPacket, sinkArgs = p, len(args)
	}
}

// BenchmarkDecodeAckPacket is the codec part alone: Engine.IO and Socket.IO headers plus JSON validation.
func BenchmarkDecodeAckPacket(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchAckFrame)))
	for b.Loop() {
		_, payload, _ := DecodeEngine(benchAckFrame)
		p, err := DecodePacket(payload)
		if err != nil {
			b.Fatal(err)
		}
		sinkPacket = p
	}
}

// BenchmarkDecodeEventFrame decodes a pushed event down to its name and arguments.
func BenchmarkDecodeEventFrame(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEventFrame)))
	for b.Loop() {
		_, payload, err := DecodeEngine(benchEventFrame)
		if err != nil {
			b.Fatal(err)
		}
		p, err := DecodePacket(payload)
		if err != nil || p.Type != Event {
			b.Fatal(p, err)
		}
		name, args, err := SplitEvent(p.Data)
		if err != nil || name != "chat" {
			b.Fatal(name, err)
		}
		sinkPacket, sinkArgs = p, len(args)
	}
}

// BenchmarkDecodeEventFrameSession decodes a pushed event as the client's session does: the packet
// without validating the event's data (DecodePacketUnchecked), then SplitEventFirst, which does.
func BenchmarkDecodeEventFrameSession(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEventFrame)))
	for b.Loop() {
		_, payload, err := DecodeEngine(benchEventFrame)
		if err != nil {
			b.Fatal(err)
		}
		p, err := DecodePacketUnchecked(payload)
		if err != nil || p.Type != Event {
			b.Fatal(p, err)
		}
		name, arg, err := SplitEventFirst(p.Data)
		if err != nil || name != "chat" {
			b.Fatal(name, err)
		}
		sinkPacket, sinkBytes = p, arg
	}
}

// BenchmarkEncodeRequestFrame builds a request frame (420["post",{...}]) into reused buffers, as the
// client's send path does.
func BenchmarkEncodeRequestFrame(b *testing.B) {
	ctx := []byte(`{"method":"post","headers":{},"data":{},"url":"/rooms/demo/join"}`)
	want := `4217["post",{"method":"post","headers":{},"data":{},"url":"/rooms/demo/join"}]`
	var data, frame []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(want)))
	for b.Loop() {
		data = AppendEventData(data[:0], "post", ctx)
		frame = AppendMessage(frame[:0], Packet{Type: Event, Namespace: "/", ID: 17, Data: data})
	}
	if string(frame) != want {
		b.Fatalf("frame = %s, want %s", frame, want)
	}
	sinkBytes = frame
}
