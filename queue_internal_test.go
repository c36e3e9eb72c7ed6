package sailsio

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestQueueLetsGoOfPayloads: a request that leaves the queue because its ctx ended, and a request
// on the wire, hold no payload; the queue is bounded in bytes too.
func TestQueueLetsGoOfPayloads(t *testing.T) {
	s, err := New("http://127.0.0.1:1", WithQueueBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	big := json.RawMessage(`"` + strings.Repeat("x", 600<<10) + `"`)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { _, err := s.PostContext(ctx, "/a", big); res <- err }()
	waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.queue.n == 1 })
	s.mu.Lock()
	r := s.queue.entries[0]
	if s.queue.bytes < 600<<10 {
		t.Errorf("queued bytes = %d with a 600 KiB request waiting", s.queue.bytes)
	}
	s.mu.Unlock()
	if _, err := s.PostContext(ctx5(t), "/b", big); !errors.Is(err, ErrQueueFull) {
		t.Errorf("a second 600 KiB request with a 1 MiB byte bound = %v, want ErrQueueFull", err)
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request = %v", err)
	}
	s.mu.Lock()
	if r.payload != nil || s.queue.bytes != 0 || s.queue.n != 0 {
		t.Errorf("after cancel: payload held %v, queued bytes %d, queued %d", r.payload != nil, s.queue.bytes, s.queue.n)
	}
	s.mu.Unlock()

	// On the wire: the request keeps no payload while it waits for its ack.
	s2, c := connectFake(t, newFake(t, nil), EIO3)
	r2, err := s2.newRequest(RequestOptions{Method: "post", URL: "/c", Data: big})
	if err != nil {
		t.Fatal(err)
	}
	r2.cb = func(json.RawMessage, *JWRes) {}
	r2.startTimer()
	s2.submit(r2)
	c.recv()
	s2.mu.Lock()
	if r2.payload != nil || r2.slot.sess == nil {
		t.Errorf("in flight: payload held %v, session %v", r2.payload != nil, r2.slot.sess)
	}
	s2.mu.Unlock()
}
