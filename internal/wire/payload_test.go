package wire

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestDecodePayloadEIO3(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []PayloadPacket
	}{
		{`95:0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":60000,"maxPayload":1}2:40`, []PayloadPacket{
			{Data: []byte(`0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":60000,"maxPayload":1}`)}, {Data: []byte("40")}}},
		{"1:6", []PayloadPacket{{Data: []byte("6")}}},
		{"0:1:6", []PayloadPacket{{Data: []byte("6")}}},
		// "€" is 3 bytes but one UTF-16 unit; "😀" 4 bytes, two units: the classic bug.
		{`12:42["€","😀"]1:3`, []PayloadPacket{{Data: []byte(`42["€","😀"]`)}, {Data: []byte("3")}}},
		{"6:b4AQID1:6", []PayloadPacket{{Data: []byte{1, 2, 3}, Binary: true}, {Data: []byte("6")}}},
	} {
		got, err := DecodePayload(3, []byte(tc.body), nil)
		if err != nil {
			t.Fatalf("DecodePayload(3, %q): %v", tc.body, err)
		}
		if d := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("DecodePayload(3, %q) (-want +got):\n%s", tc.body, d)
		}
		if len(got) == 0 {
			return
		}
		if enc := AppendPayload(nil, 3, got); !bytes.Equal(enc, []byte(tc.body)) && tc.body != "0:1:6" {
			t.Errorf("AppendPayload = %q, want %q", enc, tc.body)
		}
	}
	for _, bad := range []string{"", ":", "1:", "2:4", "x:4", "1:9", "3:b4", "1:😀", "5:b4AQ!!", "99999999999:4", "1:41:"} {
		if _, err := DecodePayload(3, []byte(bad), nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodePayload(3, %q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestDecodePayloadEIO4(t *testing.T) {
	got, err := DecodePayload(4, []byte("40{\"sid\":\"x\"}\x1e2\x1ebAQID\x1e42[\"€\"]"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []PayloadPacket{{Data: []byte(`40{"sid":"x"}`)}, {Data: []byte("2")}, {Data: []byte{1, 2, 3}, Binary: true}, {Data: []byte(`42["€"]`)}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if enc := AppendPayload(nil, 4, got); string(enc) != "40{\"sid\":\"x\"}\x1e2\x1ebAQID\x1e42[\"€\"]" {
		t.Errorf("AppendPayload = %q", enc)
	}
	for _, bad := range []string{"", "\x1e", "2\x1e", "9", "b!!", "4\x1e\x1e4"} {
		if _, err := DecodePayload(4, []byte(bad), nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodePayload(4, %q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestPayloadSize(t *testing.T) {
	ps := []PayloadPacket{{Data: []byte(`42["😀"]`)}, {Data: []byte{0, 1, 2, 3, 4}, Binary: true}, {Data: []byte("2")}}
	for _, eio := range []int{3, 4} {
		n := 0
		for i, p := range ps {
			n = PayloadSize(eio, n, p)
			if enc := AppendPayload(nil, eio, ps[:i+1]); len(enc) != n {
				t.Errorf("EIO%d: PayloadSize after %d packets = %d, encoded %d bytes", eio, i+1, n, len(enc))
			}
		}
	}
}

// refDecode3 is a reference EIO3 decoder that works the way engine.io-parser 2 does: on the
// payload as a string of UTF-16 code units.
func refDecode3(body []byte) ([]string, bool) {
	if len(body) == 0 {
		return nil, false
	}
	units := utf16.Encode([]rune(string(body)))
	var out []string
	length := ""
	for i := 0; i < len(units); i++ {
		c := units[i]
		if c != ':' {
			if c < '0' || c > '9' {
				return nil, false
			}
			length += string(rune(c))
			continue
		}
		if length == "" || len(length) > 10 {
			return nil, false
		}
		n, _ := strconv.Atoi(length)
		if i+1+n > len(units) {
			return nil, false
		}
		msg := units[i+1 : i+1+n]
		if n > 0 && utf16.IsSurrogate(rune(msg[n-1])) && (n < 2 || !utf16.IsSurrogate(rune(msg[n-2])) || msg[n-1] < 0xdc00) {
			return nil, false // the packet would end inside a surrogate pair
		}
		if n > 0 {
			out = append(out, string(utf16.Decode(msg)))
		}
		i += n
		length = ""
	}
	if length != "" {
		return nil, false
	}
	return out, true
}

func FuzzDecodePayloadEIO3(f *testing.F) {
	for _, s := range []string{"1:6", `12:42["€","😀"]1:3`, "6:b4AQID1:6", "0:", "2:40", "1:41:2", "3:😀"} {
		f.Add([]byte(s))
	}
	for _, fr := range seedFrames(f) {
		f.Add(AppendPayload(nil, 3, []PayloadPacket{{Data: fr}}))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzInput {
			return
		}
		got, err := DecodePayload(3, body, nil)
		if err != nil {
			requireMalformed(t, "DecodePayload(3)", body, err)
		}
		checkPayloadAlloc(t, body, got)
		if !utf8.Valid(body) {
			return
		}
		ref, ok := refDecode3(body)
		if ok {
			// the reference only frames; the packets must also be valid engine packets
			for _, r := range ref {
				if _, perr := decodePayloadPacket(3, []byte(r)); perr != nil {
					ok = false
				}
			}
		}
		if ok != (err == nil) {
			t.Fatalf("DecodePayload(3, %q): err %v, reference ok %v", body, err, ok)
		}
		if !ok {
			return
		}
		if len(ref) != len(got) {
			t.Fatalf("DecodePayload(3, %q): %d packets, reference %d", body, len(got), len(ref))
		}
		for i, p := range got {
			if !p.Binary && string(p.Data) != ref[i] {
				t.Fatalf("DecodePayload(3, %q): packet %d %q, reference %q", body, i, p.Data, ref[i])
			}
		}
		if len(got) == 0 {
			return
		}
		if enc := AppendPayload(nil, 3, got); !bytes.Equal(mustDecode(t, 3, enc), mustDecode(t, 3, AppendPayload(nil, 3, mustDecodeP(t, 3, enc)))) {
			t.Fatalf("re-encoding is not stable for %q", body)
		}
	})
}

func FuzzDecodePayloadEIO4(f *testing.F) {
	for _, s := range []string{"6", "40{\"sid\":\"x\"}\x1e2\x1ebAQID", "b", "4\x1e", "42[\"😀\"]"} {
		f.Add([]byte(s))
	}
	for _, fr := range seedFrames(f) {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzInput {
			return
		}
		got, err := DecodePayload(4, body, nil)
		if err != nil {
			requireMalformed(t, "DecodePayload(4)", body, err)
		}
		checkPayloadAlloc(t, body, got)
		// reference: split on the separator, each part a valid packet
		parts := bytes.Split(body, []byte{RecordSeparator})
		ok := len(body) > 0
		var ref []PayloadPacket
		for _, p := range parts {
			pp, perr := decodePayloadPacket(4, p)
			if perr != nil {
				ok = false
				break
			}
			ref = append(ref, pp)
		}
		if ok != (err == nil) {
			t.Fatalf("DecodePayload(4, %q): err %v, reference ok %v", body, err, ok)
		}
		if !ok {
			return
		}
		if d := cmp.Diff(ref, got, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("DecodePayload(4, %q) (-ref +got):\n%s", body, d)
		}
		// round trip
		again, err := DecodePayload(4, AppendPayload(nil, 4, got), nil)
		if err != nil {
			t.Fatalf("re-decoding %q: %v", body, err)
		}
		if d := cmp.Diff(got, again, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("round trip of %q (-first +again):\n%s", body, d)
		}
	})
}

// FuzzPayloadRoundTrip encodes arbitrary packets and decodes them back, for both versions.
func FuzzPayloadRoundTrip(f *testing.F) {
	f.Add([]byte(`42["€"]`), []byte{1, 2}, []byte("2"))
	f.Fuzz(func(t *testing.T, a, bin, c []byte) {
		if len(a)+len(bin)+len(c) > maxFuzzInput || len(a) == 0 || len(c) == 0 {
			return
		}
		if !utf8.Valid(a) || !utf8.Valid(c) || bytes.IndexByte(a, RecordSeparator) >= 0 || bytes.IndexByte(c, RecordSeparator) >= 0 {
			return
		}
		a = append([]byte{'4'}, a...)
		c = append([]byte{'4'}, c...)
		in := []PayloadPacket{{Data: a}, {Data: bin, Binary: true}, {Data: c}}
		for _, eio := range []int{3, 4} {
			got, err := DecodePayload(eio, AppendPayload(nil, eio, in), nil)
			if err != nil {
				t.Fatalf("EIO%d: %v", eio, err)
			}
			if d := cmp.Diff(in, got, cmpopts.EquateEmpty()); d != "" {
				t.Fatalf("EIO%d round trip (-in +got):\n%s", eio, d)
			}
		}
	})
}

func mustDecodeP(t *testing.T, eio int, b []byte) []PayloadPacket {
	t.Helper()
	ps, err := DecodePayload(eio, b, nil)
	if err != nil {
		t.Fatalf("decoding our own encoding %q: %v", b, err)
	}
	return ps
}

func mustDecode(t *testing.T, eio int, b []byte) []byte {
	return AppendPayload(nil, eio, mustDecodeP(t, eio, b))
}

// checkPayloadAlloc checks the decoder's bound: no more packets than half the body's bytes, and
// binary data no larger than the body.
func checkPayloadAlloc(t *testing.T, body []byte, got []PayloadPacket) {
	t.Helper()
	if len(got) > (len(body)+1)/2 {
		t.Fatalf("%d packets from %d bytes", len(got), len(body))
	}
	n := 0
	for _, p := range got {
		if p.Binary {
			n += cap(p.Data)
		}
	}
	if n > len(body) {
		t.Fatalf("%d bytes of binary data from %d bytes", n, len(body))
	}
}

func TestDecodePayloadAllocs(t *testing.T) {
	body := []byte(`12:42["€","😀"]1:31:6`)
	dst := make([]PayloadPacket, 0, 8)
	if n := testing.AllocsPerRun(100, func() { _, _ = DecodePayload(3, body, dst[:0]) }); n != 0 {
		t.Errorf("EIO3 text payload: %v allocations, want 0", n)
	}
}
