package sailsio

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A waker is how Do's goroutine waits for its response without costing a thread wake-up
// (docs/architecture.md, "Do waits in the poller"): the goroutine waits in the runtime's network
// poller on an eventfd, as a bare client waits on its socket, and the reader that completes the
// request writes to that eventfd. The thread that runs the reader then runs the waiting goroutine
// itself once the reader waits again, where a channel send would have woken a second thread to
// run it. A waker serves one request at a time; wakers are pooled, and a dropped one closes its
// descriptor when it is collected (os.File).
type waker struct {
	wakerFD
	// set is stored, after res and before the wake-up, by the goroutine that completes the
	// request: the wait reads the eventfd only once it is set, and a wait that fails (it cannot,
	// short of a descriptor closed under it) falls back to watching it.
	set atomic.Bool
	res result
}

// wakers recycles wakers; Get returns a nil *waker when none may be made (maxWakers exist, or
// no descriptor could be made): Do then waits on a channel.
var wakers = sync.Pool{New: func() any {
	if wakersMade.Add(1) > maxWakers {
		wakersMade.Add(-1)
		return (*waker)(nil)
	}
	fd, ok := newWakerFD()
	if !ok {
		wakersMade.Add(-1)
		return (*waker)(nil)
	}
	w := &waker{wakerFD: fd}
	runtime.AddCleanup(w, func(int) { wakersMade.Add(-1) }, 0) // its os.File closes the descriptor
	return w
}}

// maxWakers bounds the descriptors the wakers of the process take, however many sockets wait: a
// waker spares a thread wake-up only while processors idle, and the descriptors a program may
// open are better left to its connections.
const maxWakers = 64

// wakersMade counts the wakers that exist (in use, pooled, or dropped and not yet collected).
var wakersMade atomic.Int32

// post delivers the outcome to the waiting goroutine; called once per use.
func (w *waker) post(res result) {
	w.res = res
	w.set.Store(true)
	w.wake()
}

// await waits for post (or for ctx to end, which aborts r and so posts its error) and returns the
// outcome, putting w back in the pool when it can be used again.
func (w *waker) await(ctx context.Context, r *request) result {
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { r.abort(fmt.Errorf("sailsio: %w", ctx.Err())) })
	}
	ok := w.wait(&w.set)
	if stop != nil {
		stop()
	}
	if !ok {
		for !w.set.Load() {
			time.Sleep(time.Millisecond)
		}
	}
	res := w.res
	w.res = result{}
	w.set.Store(false)
	if ok {
		wakers.Put(w)
	}
	return res
}
