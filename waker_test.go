package sailsio

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestDoWaker: a Do alone on its socket waits on a waker (Linux: an eventfd in the poller, so the
// reader's thread runs it with no second thread woken); with another Do already waiting it waits on
// a channel. Either way each gets its own response, a cancelled wait leaves nothing behind for the
// next Do of the recycled waker (a late response, a stray wake-up), and Disconnect ends a wait.
func TestDoWaker(t *testing.T) {
	var mu sync.Mutex
	var kinds []bool
	awaitHook = func(w bool) { mu.Lock(); kinds = append(kinds, w); mu.Unlock() }
	t.Cleanup(func() { awaitHook = nil })
	took := func() []bool { mu.Lock(); defer mu.Unlock(); k := kinds; kinds = nil; return k }
	onLinux := runtime.GOOS == "linux"

	s, c := connectFake(t, newFake(t, nil), EIO4, WithReconnection(false))
	type out struct {
		body string
		err  error
	}
	do := func(ctx context.Context, url string) chan out {
		ch := make(chan out, 1)
		go func() {
			jwr, err := s.Do(ctx, RequestOptions{URL: url})
			if jwr != nil {
				ch <- out{string(jwr.Body), err}
				return
			}
			ch <- out{"", err}
		}()
		return ch
	}
	ack := func(id int, body string) { c.send(fmt.Sprintf(`43%d[{"body":%q,"statusCode":200}]`, id, body)) }

	// Alone, with a context that never ends and with one that can.
	for i, ctx := range []context.Context{context.Background(), ctx5(t)} {
		res := do(ctx, "/alone")
		if got := c.recv(); !strings.HasPrefix(got, fmt.Sprintf(`42%d["get"`, i)) {
			t.Fatalf("frame %q", got)
		}
		ack(i, fmt.Sprint("alone", i))
		if r := <-res; r.err != nil || r.body != fmt.Sprintf(`"alone%d"`, i) {
			t.Fatalf("lone Do %d = %q, %v", i, r.body, r.err)
		}
		if k := took(); len(k) != 1 || k[0] != onLinux {
			t.Fatalf("lone Do %d waited on a waker: %v, want [%v]", i, k, onLinux)
		}
	}

	// Two at once: the first waits on the waker, the second on a channel; answered in reverse.
	first := do(ctx5(t), "/first")
	c.recv()
	second := do(ctx5(t), "/second")
	c.recv()
	ack(3, "second")
	ack(2, "first")
	if r := <-first; r.body != `"first"` {
		t.Errorf("first = %q, %v", r.body, r.err)
	}
	if r := <-second; r.body != `"second"` {
		t.Errorf("second = %q, %v", r.body, r.err)
	}
	if k := took(); len(k) != 2 || k[0] != onLinux || k[1] {
		t.Errorf("two Do at once waited on a waker: %v, want [%v false]", k, onLinux)
	}

	// Cancelled, then answered late: the next Do (the same waker, recycled) gets its own response.
	for i := 4; i < 24; i += 2 {
		ctx, cancel := context.WithCancel(context.Background())
		res := do(ctx, "/cancelled")
		c.recv()
		cancel()
		if r := <-res; !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled Do = %q, %v; want context.Canceled", r.body, r.err)
		}
		next := do(ctx5(t), "/next")
		c.recv()
		ack(i, "late")
		ack(i+1, "next")
		if r := <-next; r.err != nil || r.body != `"next"` {
			t.Fatalf("Do after a cancelled one = %q, %v; want its own response", r.body, r.err)
		}
	}
	if k := took(); len(k) != 20 || k[0] != onLinux || k[19] != onLinux {
		t.Errorf("cancelled and next Do waited on a waker: %v", k)
	}

	// Disconnect ends the lone wait.
	res := do(ctx5(t), "/closing")
	c.recv()
	s.Disconnect()
	if r := <-res; !errors.Is(r.err, ErrClosed) {
		t.Errorf("Do during Disconnect = %v, want ErrClosed", r.err)
	}
}

// TestWakersBounded: however many Do wait alone at once (one per socket), the process makes at most
// maxWakers wakers (descriptors); the others wait on channels.
func TestWakersBounded(t *testing.T) {
	var got []*waker
	for range maxWakers + 8 {
		if w := getWaker(); w != nil {
			got = append(got, w)
		}
	}
	for _, w := range got {
		putWaker(w, false)
	}
	if len(got) > maxWakers {
		t.Errorf("%d wakers at once, want at most %d", len(got), maxWakers)
	}
	if runtime.GOOS == "linux" && len(got) != maxWakers {
		t.Errorf("%d wakers at once on Linux, want %d", len(got), maxWakers)
	}
	if n := wakersInUse.Load(); n != 0 {
		t.Errorf("%d wakers in use once all were given back", n)
	}
}
