package sailsio

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio/internal/testkit"
)

// TestTinyRequestTimeout races a request's timer against its completion (run with -race).
func TestTinyRequestTimeout(t *testing.T) {
	s, c := connectFake(t, newFake(t, nil), EIO3, WithRequestTimeout(time.Nanosecond))
	go func() { // answer whatever arrives
		for i := 0; ; i++ {
			c.ws.SetReadDeadline(time.Now().Add(testkit.Short))
			_, b, err := c.ws.ReadMessage()
			if err != nil {
				return
			}
			if id, ok := strings.CutPrefix(string(b), "42"); ok {
				id = id[:strings.IndexByte(id, '[')]
				c.ws.WriteMessage(1, []byte("43"+id+`[{"statusCode":200}]`))
			}
		}
	}()
	var calls atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		s.Get("/x", nil, func(_ json.RawMessage, jwr *JWRes) {
			calls.Add(1)
			if jwr.StatusCode != 200 && !errors.Is(jwr.Error, ErrTimeout) {
				t.Errorf("got %v", jwr)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if calls.Load() != 200 {
		t.Errorf("%d callbacks for 200 requests", calls.Load())
	}
}

func TestRequestURLAndHeaderChecks(t *testing.T) {
	s, c := connectFake(t, newFake(t, nil), EIO3, WithHeaders(map[string]string{"Authorization": "a", "x-keep": "k"}))
	s.Request(RequestOptions{URL: "pet", OmitHeaders: []string{"authorization"}}, nil)
	got := c.recv()
	if !strings.Contains(got, `"url":"/pet"`) || strings.Contains(got, "authorization") || !strings.Contains(got, `"x-keep":"k"`) {
		t.Errorf("frame %s: want url /pet, no authorization, x-keep", got)
	}
	for _, bad := range []RequestOptions{
		{URL: "http://host/pet"},
		{URL: "/x", Headers: map[string]string{"x bad": "v"}},
		{URL: "/x", Headers: map[string]string{"x-ok": "a\r\nb"}},
	} {
		if _, err := s.Do(ctx5(t), bad); !errors.Is(err, ErrInvalidRequest) && !errors.Is(err, ErrInvalidHeader) {
			t.Errorf("Do(%+v) = %v, want ErrInvalidRequest or ErrInvalidHeader", bad, err)
		}
	}
	for _, opt := range []Option{
		WithHeaders(map[string]string{"bad name": "v"}),
		WithHeaders(map[string]string{"x": "a\nb"}),
		WithInitialConnectionHeaders(http.Header{"Bad Name": {"v"}}),
		WithInitialConnectionHeaders(http.Header{"X": {"a\r\nb"}}),
	} {
		if _, err := New("http://127.0.0.1:1", opt); !errors.Is(err, ErrInvalidHeader) || !errors.Is(err, ErrInvalidOption) {
			t.Errorf("New with a bad header = %v, want ErrInvalidOption and ErrInvalidHeader", err)
		}
	}
}

func TestResubscribeOnClosedSocket(t *testing.T) {
	s, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	s.Disconnect()
	got := make(chan *JWRes, 2)
	s.Resubscribe(RequestOptions{URL: "/x"}, func(_ json.RawMessage, jwr *JWRes) { got <- jwr })
	select {
	case jwr := <-got:
		if !errors.Is(jwr.Error, ErrClosed) {
			t.Errorf("Resubscribe on a closed socket: %v, want ErrClosed", jwr.Error)
		}
	case <-time.After(testkit.Short):
		t.Fatal("Resubscribe on a closed socket never called back")
	}
}
