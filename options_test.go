package sailsio

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

func TestNewURL(t *testing.T) {
	tests := []struct {
		in, ws, http string
		opts         []Option
	}{
		{"http://127.0.0.1:1337", "ws://127.0.0.1:1337/socket.io/?__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=go&__sails_io_sdk_language=go&EIO=3&transport=websocket", "http://127.0.0.1:1337/socket.io/", nil},
		{"https://example.com/", "wss://example.com/socket.io/?__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=go&__sails_io_sdk_language=go&EIO=4&transport=websocket", "https://example.com/socket.io/", []Option{WithProtocol(EIO4)}},
		{"ws://h:1/?a=1", "ws://h:1/io/?a=1&b=2&__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=go&__sails_io_sdk_language=go&EIO=3&transport=websocket", "http://h:1/io/", []Option{WithPath("/io"), WithQuery(url.Values{"b": {"2"}})}},
		{"WSS://h", "wss://h/socket.io/?__sails_io_sdk_version=0.11.0-rc1&__sails_io_sdk_platform=bot&__sails_io_sdk_language=golang&EIO=3&transport=websocket", "https://h/socket.io/", []Option{WithSDKVersion("0.11.0-rc1"), WithSDKPlatform("bot", "golang")}},
	}
	for _, tt := range tests {
		s, err := New(tt.in, tt.opts...)
		if err != nil {
			t.Errorf("New(%q): %v", tt.in, err)
			continue
		}
		if s.wsURL() != tt.ws || s.httpURL().String() != tt.http {
			t.Errorf("New(%q):\n got %s %s\nwant %s %s", tt.in, s.wsURL(), s.httpURL(), tt.ws, tt.http)
		}
	}
}

func TestNewRefusesBadInput(t *testing.T) {
	tests := []struct {
		url  string
		opts []Option
	}{
		{"", nil},
		{"ftp://host", nil},
		{"http://", nil},
		{"http://user:pw@host", nil},
		{"http://host/admin", nil},
		{"http://host/?EIO=4", nil},
		{"http://h", []Option{WithProtocol(5)}},
		{"http://h", []Option{WithPath("socket.io")}},
		{"http://h", []Option{WithPath("/a\r\nb")}},
		{"http://h", []Option{WithQuery(url.Values{"__sails_io_sdk_version": {"1"}})}},
		{"http://h", []Option{WithSDKVersion("banana")}},
		{"http://h", []Option{WithSDKVersion("0.9.0")}},
		{"http://h", []Option{WithSDKVersion("1.2")}},
		{"http://h", []Option{WithSDKVersion("01.2.3")}},
		{"http://h", []Option{WithSDKVersion("1.2.3-")}},
		{"http://h", []Option{WithSDKVersion("1.2.3 ")}},
		{"http://h", []Option{WithSDKPlatform("", "go")}},
		{"http://h", []Option{WithReconnectionAttempts(-1)}},
		{"http://h", []Option{WithReconnectionDelay(2*time.Second, time.Second)}},
		{"http://h", []Option{WithReconnectionDelay(0, time.Second)}},
		{"http://h", []Option{WithConnectTimeout(0)}},
		{"http://h", []Option{WithRequestTimeout(-time.Second)}},
		{"http://h", []Option{WithQueueLimit(-1)}},
		{"http://h", []Option{WithMaxMessageSize(0)}},
		{"http://h", []Option{WithHeaders(map[string]string{"x-a": "1\r\nx-b: 2"})}},
		{"http://h", []Option{WithHeaders(map[string]string{"x-a\n": "1"})}},
		{"http://h", []Option{WithHeaders(map[string]string{"": "1"})}},
		{"http://h", []Option{WithInitialConnectionHeaders(http.Header{"Cookie": {"a=1\r\nEvil: 1"}})}},
	}
	for _, tt := range tests {
		s, err := New(tt.url, tt.opts...)
		if err == nil || s != nil {
			t.Errorf("New(%q, ...) = %v, nil; want an error", tt.url, s)
			continue
		}
		if !errors.Is(err, ErrInvalidOption) {
			t.Errorf("New(%q, ...) error %v does not wrap ErrInvalidOption", tt.url, err)
		}
	}
}

func TestOptionsDoNotShareState(t *testing.T) {
	h := map[string]string{"x-a": "1"}
	opt := WithHeaders(h)
	a, err := New("http://h", opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New("http://h", opt)
	if err != nil {
		t.Fatal(err)
	}
	h["x-a"] = "changed"
	a.SetHeaders(map[string]string{"x-b": "2"})
	if d := cmp.Diff(map[string]string{"x-a": "1"}, b.Headers()); d != "" {
		t.Errorf("b's headers changed (-want +got):\n%s", d)
	}
	got := a.Headers()
	got["x-c"] = "3"
	if d := cmp.Diff(map[string]string{"x-b": "2"}, a.Headers()); d != "" {
		t.Errorf("Headers() is not a copy (-want +got):\n%s", d)
	}
}

func TestMergeHeaders(t *testing.T) {
	got, err := mergeHeaders(map[string]string{"X-Global": "g", "X-Both": "global"}, map[string]string{"x-both": "request", "Authorization": "Bearer t"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"x-global": "g", "x-both": "request", "authorization": "Bearer t"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("mergeHeaders (-want +got):\n%s", d)
	}
	for _, bad := range []map[string]string{{"a": "x\ny"}, {"a\r": "x"}, {"a": "x\x00"}, {"": "x"}, {"a:b": "x"}} {
		if _, err := mergeHeaders(nil, bad); !errors.Is(err, ErrInvalidHeader) {
			t.Errorf("mergeHeaders(%q) = %v, want ErrInvalidHeader", bad, err)
		}
		if _, err := mergeHeaders(bad, nil); !errors.Is(err, ErrInvalidHeader) {
			t.Errorf("mergeHeaders(global %q) = %v, want ErrInvalidHeader", bad, err)
		}
	}
}

func TestNewRequestPayload(t *testing.T) {
	s, err := New("http://h", WithHeaders(map[string]string{"x-global": "g", "x-both": "global"}))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.newRequest(RequestOptions{Method: "POST", URL: "/echo/", Data: map[string]int{"a": 1}, Headers: map[string]string{"X-Both": "request"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `["post",{"method":"post","headers":{"x-both":"request","x-global":"g"},"data":{"a":1},"url":"/echo/"}]`
	if string(r.payload[frameHeadroom:]) != want {
		t.Errorf("payload\n got %s\nwant %s", r.payload[frameHeadroom:], want)
	}
	r, err = s.newRequest(RequestOptions{URL: "/hello"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `["get",{"method":"get","headers":{"x-both":"global","x-global":"g"},"data":{},"url":"/hello"}]`; string(r.payload[frameHeadroom:]) != want {
		t.Errorf("payload\n got %s\nwant %s", r.payload[frameHeadroom:], want)
	}
	for _, bad := range []RequestOptions{{Method: "GET2", URL: "/"}, {URL: ""}, {URL: "/", Data: make(chan int)}, {URL: "/", Data: json.RawMessage("{")}} {
		if _, err := s.newRequest(bad); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("newRequest(%+v) = %v, want ErrInvalidRequest", bad, err)
		}
	}
}

// TestSailsSocketSizeClass: an idle socket's memory is mostly its SailsSocket; with the allocator's
// 8-byte header (objects over 512 bytes that hold pointers) it must fit the 896-byte size class, or
// every socket costs 128 bytes more (the idle-memory budget of issue 19).
func TestSailsSocketSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(SailsSocket{}); size+8 > 896 {
		t.Errorf("SailsSocket is %d bytes: with its 8-byte header it no longer fits the 896-byte size class (group small fields, or move rarely used ones out)", size)
	}
}
