package sailsio

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
)

// dispatcher is the socket's callback goroutine: it runs the functions posted to it (request
// callbacks, event handlers, log records) one at a time, in the order they were posted. The
// goroutine exists only while there is work: an idle or closed socket leaves none behind. Nothing
// in the SDK ever waits for it without a bound (see Disconnect and Shutdown in life.go).
type dispatcher struct {
	track *tracker // counts the goroutine among the socket's

	mu      sync.Mutex
	queue   []func()
	spare   []func()
	running bool          // a goroutine runs (or is about to run) the queue
	idleCh  chan struct{} // closed when that goroutine ends; made on demand
}

func (d *dispatcher) post(f func()) {
	d.mu.Lock()
	d.queue = append(d.queue, f)
	if !d.running {
		d.running = true
		d.track.goroutine(d.run)
	}
	d.mu.Unlock()
}

// busy reports whether callbacks run or wait to run now.
func (d *dispatcher) busy() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

// idle returns a channel closed once the queue is empty and the goroutine has ended (nil when it
// is already so).
func (d *dispatcher) idle() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running {
		return nil
	}
	if d.idleCh == nil {
		d.idleCh = make(chan struct{})
	}
	return d.idleCh
}

func (d *dispatcher) run() {
	for {
		d.mu.Lock()
		if len(d.queue) == 0 {
			d.running = false
			if d.idleCh != nil {
				close(d.idleCh)
				d.idleCh = nil
			}
			d.mu.Unlock()
			return
		}
		batch := d.queue
		d.queue, d.spare = d.spare[:0], nil
		d.mu.Unlock()
		for i, f := range batch {
			f()
			batch[i] = nil
		}
		d.mu.Lock()
		if d.spare == nil && cap(batch) <= 4096 {
			d.spare = batch[:0]
		}
		d.mu.Unlock()
	}
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
	t.mu.Lock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
	t.mu.Unlock()
	go func() {
		defer t.done()
		f()
	}()
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
	defer func() {
		if r := recover(); r != nil {
			l := s.opts.logger
			if l == nil {
				l = slog.Default()
			}
			l.Error("sailsio: callback panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	f()
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
