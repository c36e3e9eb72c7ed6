package sailsio

import (
	"context"
	"fmt"
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

// getWaker returns a waker, or nil when none may be had (maxWakers are in use, or no descriptor
// could be made): Do then waits on a channel. putWaker gives it back.
func getWaker() *waker {
	if wakersInUse.Add(1) > maxWakers {
		wakersInUse.Add(-1)
		return nil
	}
	w := wakers.Get().(*waker)
	if w == nil {
		wakersInUse.Add(-1)
	}
	return w
}

// putWaker gives back a waker of getWaker; broken (its wait failed), it is dropped, not reused.
func putWaker(w *waker, broken bool) {
	if !broken {
		wakers.Put(w)
	}
	wakersInUse.Add(-1)
}

// wakers recycles wakers (a nil *waker when no eventfd could be made). A waker the pool drops
// closes its descriptor when it is collected (its os.File does).
var wakers = sync.Pool{New: func() any {
	fd, ok := newWakerFD()
	if !ok {
		return (*waker)(nil)
	}
	return &waker{wakerFD: fd}
}}

// maxWakers bounds the wakers in use in the process, however many sockets wait: a waker spares a
// thread wake-up only while processors idle, and the descriptors a program may open are better
// left to its connections. (The pool keeps at most those, plus the ones it dropped until they are
// collected.)
const maxWakers = 64

// wakersInUse counts the wakers that getWaker gave and putWaker did not take back yet.
var wakersInUse atomic.Int32

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
	putWaker(w, !ok)
	return res
}
