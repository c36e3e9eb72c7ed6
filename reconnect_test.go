package sailsio

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// TestBackOffNeverCalledConcurrently: lost connections and Reconnect calls overlapping never make
// two reconnection loops, so the user's BackOff is never called from two goroutines at once, and no
// reconnecting event follows a connect without a disconnect between them.
func TestBackOffNeverCalledConcurrently(t *testing.T) {
	f := newFake(t, nil)
	stop := make(chan struct{})
	served := make(chan struct{})
	defer func() { close(stop); <-served }()
	go func() { // the server: accept every connection, open it, and drop it at once
		defer close(served)
		for {
			select {
			case c := <-f.conns:
				c.open(EIO3, "s", 25000, 60000, 0)
				c.ws.Close()
			case <-stop:
				return
			}
		}
	}()
	bo := &exclusiveBackOff{}
	s, err := New(f.URL, WithReconnectionBackOff(bo))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seq []string
	for _, ev := range []string{EventConnect, EventDisconnect, EventReconnecting} {
		s.On(ev, func(json.RawMessage) { mu.Lock(); seq = append(seq, ev); mu.Unlock() })
	}
	s.Connect(ctx5(t)) // may see the drop before or after it returns
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				s.Reconnect(ctx)
				cancel()
			}
		}()
	}
	wg.Wait()
	waitFor(t, func() bool { return bo.calls.Load() >= 20 }) // the loop runs on: every connection is dropped
	s.Disconnect()
	if n := bo.overlaps.Load(); n > 0 {
		t.Errorf("the BackOff was called concurrently %d times", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(seq); i++ {
		if seq[i] == EventReconnecting && seq[i-1] == EventConnect {
			t.Fatalf("reconnecting right after connect at %d: %v", i, seq[max(0, i-5):i+1])
		}
	}
}

// exclusiveBackOff records calls that overlap.
type exclusiveBackOff struct {
	in, overlaps, calls atomic.Int32
}

func TestBackOffServesOneSocket(t *testing.T) {
	opt := WithReconnectionBackOff(&exclusiveBackOff{})
	if _, err := New("http://127.0.0.1:1", opt); err != nil {
		t.Fatal(err)
	}
	if _, err := New("http://127.0.0.1:1", opt); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("a second socket with the same BackOff = %v, want ErrInvalidOption", err)
	}
	mk := WithReconnectionBackOffFunc(func() backoff.BackOff { return &exclusiveBackOff{} })
	for i := 0; i < 2; i++ {
		if _, err := New("http://127.0.0.1:1", mk); err != nil {
			t.Fatal(err)
		}
	}
}

type callingBackOff struct {
	s     *atomic.Pointer[SailsSocket]
	calls atomic.Int32
}

// funcBackOff is a BackOff that runs f on every NextBackOff.
type funcBackOff struct{ f func() }

func (b *callingBackOff) NextBackOff() time.Duration {
	b.calls.Add(1)
	if s := b.s.Load(); s != nil {
		_ = s.State()
	}
	return time.Millisecond
}

func (b *callingBackOff) Reset() {
	if s := b.s.Load(); s != nil {
		_ = s.IsConnecting()
	}
}

func (b *exclusiveBackOff) NextBackOff() time.Duration {
	if b.in.Add(1) > 1 {
		b.overlaps.Add(1)
	}
	b.calls.Add(1)
	time.Sleep(time.Millisecond) // widen the window an overlapping call would fall into
	b.in.Add(-1)
	return time.Millisecond
}

func (b *exclusiveBackOff) Reset() {}

func (b funcBackOff) NextBackOff() time.Duration { b.f(); return time.Millisecond }
func (b funcBackOff) Reset()                     {}
