package sailsio

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// dispatcher is the socket's callback goroutine: it runs the jobs posted to it (request callbacks,
// event handlers, log records) one at a time, in the order they were posted. The goroutine exists
// only while there is work, and lingers for a moment after it (lingerFor), so that a socket that
// keeps getting callbacks does not start a goroutine, and grow its stack, for each: an idle or closed
// socket leaves none behind. Nothing in the SDK ever waits for it without a bound (see Disconnect
// and Shutdown in life.go).
//
// A server event that arrives while no callback runs or waits does not wake that goroutine: the
// session's reader runs the handlers itself (runInline), the callback goroutine for that time, so
// that a socket receiving events costs no thread wake-up per event. A watchdog keeps the connection
// from waiting for user code: handlers that run for inlineFor to twice that get the reading handed
// over to a new reader goroutine, and the old one finishes as the callback goroutine. The watchdog
// is a timer that runs every inlineFor while inline runs happen, and stops when none did since it
// last ran: arming a timer per event would cost a thread wake-up again, and so does each run of it
// (a goroutine), hence a period of a few milliseconds. A handler that calls Do (GetContext ...)
// waits for an answer only a reader can read: Do, seeing an inline run under way, has the watchdog
// look after nudgeFor instead (nudge).
type dispatcher struct {
	track *tracker        // counts the goroutine among the socket's
	done  <-chan struct{} // closed when the socket is closed for good: no more lingering

	mu      sync.Mutex
	queue   jobQueue
	spare   *jobBlock     // an empty block kept for the queue while the goroutine lives
	wake    chan struct{} // wakes the lingering goroutine (buffered, 1)
	idleCh  chan struct{} // closed when the work is done; made on demand
	handoff handoffer     // the reader's session, while inline

	watchdog   *time.Timer // runs overdue every inlineFor while inline runs happen
	inlineRuns uint32      // inline runs begun so far (wrapping; only compared for equality)
	watchRuns  uint32      // inlineRuns when the watchdog last looked (or was armed)
	// lingerMs replaces lingerFor, in milliseconds, when it is not zero (tests).
	lingerMs int32

	// The flags together: a SailsSocket, which holds the dispatcher, stays in its size class.
	running   bool // a goroutine exists: it runs the queue, or lingers
	working   bool // callbacks run or wait to run
	lingering bool // the goroutine waits for work on wake
	inline    bool // a session's reader runs the callbacks (runInline)
	handedOff bool // the watchdog handed the reading over: that goroutine is the socket's now
	watching  bool // the watchdog's timer is armed

	// waiting counts the Do calls of the socket that wait for their response: the only one waits
	// on a waker (waker.go). Here, it fills the room the flags leave.
	waiting atomic.Int32
}

// inlineFor is the watchdog's period: callbacks that run on a session's reader for that long to
// twice that get its reading handed over to a new goroutine. A handler that blocks holds the
// connection up that long at most (one that calls Do, nudgeFor), and a stream of events or of
// callback-form requests costs a timer run (a goroutine, a thread wake-up) per period.
const inlineFor = 5 * time.Millisecond

// nudgeFor is how soon the watchdog looks when a Do begins to wait during an inline run (nudge): if
// that run is still under way then, the Do was likely called by it, and the reading is handed over.
const nudgeFor = 100 * time.Microsecond

// handoffer is a session whose reader can hand its reading over while it is in an event handler
// (engine.Session.Handoff).
type handoffer interface {
	handoff() bool
}

// lingerFor is how long the callback goroutine waits for more work before it ends.
const lingerFor = 10 * time.Millisecond

// job is one unit of the callback goroutine's work: a function, or a server event's handlers (ev
// set), which need no closure of their own.
type job struct {
	f     func()
	ev    *SailsSocket
	name  string
	data  json.RawMessage
	anys  []*anyListener
	ls    []*listener
	hooks func() // LifecycleHooks.OnServerEvent, or nil
}

// jobBlockLen is the number of jobs in a block of the queue.
const jobBlockLen = 32

// jobBlock is a block of the dispatcher's queue. The queue is a list of blocks, so that a backlog
// of any length (a burst of events, faster than their handlers) grows without copying the jobs
// queued so far and without large allocations.
type jobBlock struct {
	jobs [jobBlockLen]job
	n    int
	next *jobBlock
}

var jobBlocks = sync.Pool{New: func() any { return new(jobBlock) }}

// jobQueue is a list of blocks of jobs, in the order they were posted.
type jobQueue struct{ head, tail *jobBlock }

// push appends j, taking a new block from spare (then nil) or the pool when the last one is full.
func (q *jobQueue) push(j job, spare **jobBlock) {
	if q.tail == nil || q.tail.n == jobBlockLen {
		b := *spare
		if b != nil {
			*spare = nil
		} else {
			b = jobBlocks.Get().(*jobBlock)
		}
		if q.tail == nil {
			q.head = b
		} else {
			q.tail.next = b
		}
		q.tail = b
	}
	q.tail.jobs[q.tail.n] = j
	q.tail.n++
}

func (d *dispatcher) post(f func()) { d.postJob(job{f: f}) }

func (d *dispatcher) postJob(j job) {
	d.mu.Lock()
	d.queue.push(j, &d.spare)
	d.working = true
	switch {
	case d.inline: // the reader running the callbacks runs it
	case !d.running:
		d.running = true
		d.track.goroutine(d.run)
	case d.lingering:
		d.lingering = false
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	d.mu.Unlock()
}

// busy reports whether callbacks run or wait to run now.
func (d *dispatcher) busy() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.working
}

// idle returns a channel closed once the queue is empty and no callback runs (nil when it is
// already so).
func (d *dispatcher) idle() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.working {
		return nil
	}
	if d.idleCh == nil {
		d.idleCh = make(chan struct{})
	}
	return d.idleCh
}

func (d *dispatcher) run() {
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	d.mu.Lock()
	if d.wake == nil {
		d.wake = make(chan struct{}, 1)
	}
	for {
		d.drain()
		d.finishWork()
		if !d.waitForWork(&linger) {
			d.running = false
			if d.spare != nil { // an idle socket keeps no block, nor a wake channel
				jobBlocks.Put(d.spare)
				d.spare = nil
			}
			d.wake = nil
			d.mu.Unlock()
			return
		}
	}
}

// drain runs the queued jobs until none is left, d.mu held (and released while they run).
func (d *dispatcher) drain() {
	for d.queue.head != nil {
		batch := d.queue.head
		d.queue = jobQueue{}
		d.mu.Unlock()
		var free *jobBlock // the first block of the batch, kept as the spare
		for b := batch; b != nil; {
			for i := range b.n {
				b.jobs[i].run()
				b.jobs[i] = job{}
			}
			next := b.next
			b.n, b.next = 0, nil
			if free == nil {
				free = b
			} else {
				jobBlocks.Put(b)
			}
			b = next
		}
		d.mu.Lock()
		if d.spare == nil {
			d.spare = free
		} else {
			jobBlocks.Put(free)
		}
	}
}

// finishWork records that no callback runs or waits, d.mu held.
func (d *dispatcher) finishWork() {
	d.working = false
	if d.idleCh != nil {
		close(d.idleCh)
		d.idleCh = nil
	}
}

// runInline runs j on the calling goroutine, a reader of the session h in its Handler.Event, when
// no callback runs or waits, then the jobs posted meanwhile, and reports true. Callbacks running or
// waiting: it runs nothing and reports false (j is to be posted, after them). The watchdog hands the
// reading over (h.handoff) once the jobs have run for inlineFor; the calling goroutine then finishes
// them as the socket's callback goroutine.
func (d *dispatcher) runInline(j *job, h handoffer) bool {
	d.mu.Lock()
	if d.working {
		d.mu.Unlock()
		return false
	}
	d.working, d.inline, d.handoff = true, true, h
	d.inlineRuns++
	if !d.watching {
		d.watch(inlineFor)
	}
	d.mu.Unlock()
	j.run()
	d.mu.Lock()
	d.drain()
	handedOff := d.handedOff
	d.inline, d.handoff, d.handedOff = false, nil, false
	d.finishWork()
	d.mu.Unlock()
	if handedOff {
		d.track.done()
	}
	return true
}

// nudge is called by Do as it begins to wait: during an inline run — a handler that calls Do, which
// waits for an answer that only a reader can read, or another goroutine's Do — the watchdog looks
// after nudgeFor, and hands the reading over if that run is still under way.
func (d *dispatcher) nudge() {
	d.mu.Lock()
	if d.inline && !d.handedOff {
		d.watch(nudgeFor)
	}
	d.mu.Unlock()
}

// watch sets the watchdog to look at the current inline run after a while. d.mu is held.
func (d *dispatcher) watch(after time.Duration) {
	d.watching, d.watchRuns = true, d.inlineRuns
	if d.watchdog == nil {
		d.watchdog = time.AfterFunc(after, d.overdue)
	} else {
		d.watchdog.Reset(after)
	}
}

// overdue is the watchdog's run, every inlineFor while inline runs happen. An inline run that was
// under way when it last looked (or was armed) still is: it hands the reading over.
func (d *dispatcher) overdue() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inline && !d.handedOff && d.inlineRuns == d.watchRuns && d.handoff.handoff() {
		d.handedOff = true
		d.track.add() // the reader's goroutine is the socket's from now on
	}
	if d.inline || d.inlineRuns != d.watchRuns {
		d.watchRuns = d.inlineRuns
		d.watchdog.Reset(inlineFor)
		return
	}
	d.watching = false
}

// waitForWork lingers, d.mu held (and released while waiting), until a job is posted or lingerFor
// passed or the socket is closed; it reports whether there is work.
func (d *dispatcher) waitForWork(linger **time.Timer) bool {
	for {
		select {
		case <-d.done:
			return d.queue.head != nil && !d.inline
		default:
		}
		d.lingering = true
		wait := lingerFor
		if d.lingerMs != 0 {
			wait = time.Duration(d.lingerMs) * time.Millisecond
		}
		d.mu.Unlock()
		if *linger == nil {
			*linger = time.NewTimer(wait)
		} else {
			(*linger).Reset(wait)
		}
		timedOut := false
		select {
		case <-d.wake:
		case <-(*linger).C:
			timedOut = true
		case <-d.done:
		}
		d.mu.Lock()
		if d.queue.head != nil && !d.inline {
			return true // lingering was cleared by the post
		}
		d.lingering = false
		if timedOut {
			return false
		}
		// A stale wake (from a post whose job an earlier batch took), or the socket closed: look again.
	}
}

// run runs the job on the callback goroutine.
func (j *job) run() {
	if j.ev != nil {
		j.ev.runEvent(j)
		return
	}
	j.f()
}

// tracker counts the goroutines a socket started (its life owner, its callback goroutine, the
// goroutines that close its sessions, the calls of a BackOff policy), so that Shutdown can wait
// until none remains without parking a goroutine of its own.
type tracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while n is 0
}

// goroutine runs f on a new goroutine counted by t.
func (t *tracker) goroutine(f func()) {
	t.add()
	go func() {
		defer t.done()
		f()
	}()
}

// add counts a goroutine that runs already (it calls done when it ends).
func (t *tracker) add() {
	t.mu.Lock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
	t.mu.Unlock()
}

func (t *tracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 {
		close(t.idle)
		t.idle = nil
	}
	t.mu.Unlock()
}

// wait returns nil once no counted goroutine runs, or ctx.Err() when ctx ends first.
func (t *tracker) wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		idle := t.idle
		t.mu.Unlock()
		if idle == nil {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// call runs user code, turning a panic into a log line so that the other callbacks still run. Without
// WithLogger the panic goes to slog.Default (as net/http logs a handler's panic to the standard
// logger): a panic never vanishes without a trace.
func (s *SailsSocket) call(f func()) {
	defer s.recoverCallback()
	f()
}

// recoverCallback is call's deferred part: deferred by a function that runs user code.
func (s *SailsSocket) recoverCallback() {
	if r := recover(); r != nil {
		l := s.opts.logger
		if l == nil {
			l = slog.Default()
		}
		l.Error("sailsio: callback panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
}

// logf logs through the callback goroutine, in order with the callbacks, so that a logger's
// handler never runs under a lock of the SDK nor on a goroutine that the SDK waits for: it may call
// any method of the socket. Without WithLogger it does nothing.
func (s *SailsSocket) logf(level slog.Level, msg string, args ...any) {
	if s.opts.logger == nil {
		return
	}
	s.disp.post(func() { s.call(func() { s.log.Log(context.Background(), level, msg, args...) }) })
}
