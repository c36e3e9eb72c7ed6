package sailsio

import (
	"encoding/json"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestPanicIsLoggedByDefault: without WithLogger, a callback's panic goes to slog.Default.
func TestPanicIsLoggedByDefault(t *testing.T) {
	var buf syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	s, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	s.Request(RequestOptions{Method: "bogus", URL: "/x"}, func(json.RawMessage, *JWRes) { panic("boom") })
	if err := s.Shutdown(ctx5(t)); err != nil { // waits for the callback
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "boom") {
		t.Errorf("the panic left no trace; default log: %q", buf.String())
	}
}

// newTestDispatcher returns a dispatcher as New sets one up, with done as the socket's closed
// channel, lingering for linger.
func newTestDispatcher(linger time.Duration) (*dispatcher, chan struct{}) {
	done := make(chan struct{})
	return &dispatcher{track: &tracker{}, done: done, lingerMs: int32(linger / time.Millisecond)}, done
}

// TestDispatcherLingers: after its work, the callback goroutine waits for more (it is idle, not
// busy, meanwhile), runs what is posted then, in order, and ends at once when the socket closes.
func TestDispatcherLingers(t *testing.T) {
	d, done := newTestDispatcher(time.Hour)
	ran := make(chan int, 100)
	for i := range 3 {
		d.post(func() { ran <- i })
	}
	for want := range 3 {
		if got := <-ran; got != want {
			t.Fatalf("job %d ran as number %d", got, want)
		}
	}
	waitUntil(d.idle(), ctx5(t).Done())
	if d.busy() {
		t.Fatal("busy after every job ran")
	}
	d.mu.Lock()
	running := d.running
	d.mu.Unlock()
	if !running {
		t.Fatal("the goroutine ended although it lingers for an hour")
	}
	// Posted while it lingers: woken, in order, one goroutine all along.
	for i := range 50 {
		d.post(func() { ran <- 100 + i })
	}
	for want := range 50 {
		if got := <-ran; got != 100+want {
			t.Fatalf("job %d ran as number %d", got, 100+want)
		}
	}
	d.track.mu.Lock()
	n := d.track.n
	d.track.mu.Unlock()
	if n != 1 {
		t.Errorf("%d goroutines counted, want 1", n)
	}
	close(done)
	if err := d.track.wait(ctx5(t)); err != nil { // the hour-long linger ends with the socket
		t.Fatalf("the lingering goroutine outlived the socket: %v", err)
	}
	// A closed socket's dispatcher still runs what is posted, then ends.
	d.post(func() { ran <- -1 })
	if got := <-ran; got != -1 {
		t.Fatalf("ran %d", got)
	}
	if err := d.track.wait(ctx5(t)); err != nil {
		t.Fatal(err)
	}
}

// TestDispatcherLingerEnds: without work, the goroutine ends after lingerFor and keeps no queue; the
// next post starts another.
func TestDispatcherLingerEnds(t *testing.T) {
	d, _ := newTestDispatcher(time.Millisecond)
	ran := make(chan struct{}, 1)
	for range 3 {
		d.post(func() { ran <- struct{}{} })
		<-ran
		if err := d.track.wait(ctx5(t)); err != nil {
			t.Fatal(err)
		}
		d.mu.Lock()
		if d.running || d.working || d.lingering || d.queue.head != nil || d.spare != nil || d.wake != nil {
			t.Errorf("after the linger: running %v working %v lingering %v queue %v spare %v wake %v",
				d.running, d.working, d.lingering, d.queue.head, d.spare, d.wake)
		}
		d.mu.Unlock()
	}
}

// TestDispatcherStaleWake: a wake left over from a post whose job an earlier batch took does not
// end the linger nor lose a job.
func TestDispatcherStaleWake(t *testing.T) {
	d, done := newTestDispatcher(time.Hour)
	defer func() {
		close(done)
		if err := d.track.wait(ctx5(t)); err != nil {
			t.Error(err)
		}
	}()
	ran := make(chan int, 10)
	d.post(func() { ran <- 0 })
	<-ran
	waitUntil(d.idle(), ctx5(t).Done())
	d.mu.Lock()
	for !d.lingering { // the goroutine is about to linger: wait until it does
		d.mu.Unlock()
		runtime.Gosched()
		d.mu.Lock()
	}
	d.wake <- struct{}{} // a stale wake: nothing queued
	d.mu.Unlock()
	d.post(func() { ran <- 1 })
	if got := <-ran; got != 1 {
		t.Fatalf("ran %d", got)
	}
	d.mu.Lock()
	running := d.running
	d.mu.Unlock()
	if !running {
		t.Error("the stale wake ended the linger")
	}
}

// handoffFunc is a handoffer whose handoff calls f.
type handoffFunc func() bool

func (f handoffFunc) handoff() bool { return f() }

// TestDispatcherNudge: a Do that begins to wait during an inline run (a handler calling Do on the
// session's reader) has the watchdog set for that run at nudgeFor rather than a period later, and
// the reading is handed over while the run still blocks; outside an inline run, a nudge sets nothing
// (a lone Do costs no timer).
func TestDispatcherNudge(t *testing.T) {
	d, done := newTestDispatcher(time.Hour)
	defer close(done)
	d.nudge()
	d.mu.Lock()
	armed := d.watching || d.watchdog != nil
	d.mu.Unlock()
	if armed {
		t.Fatal("a nudge outside an inline run set the watchdog")
	}
	handedOff := make(chan struct{})
	h := handoffFunc(func() bool { close(handedOff); return true })
	var set bool
	j := job{f: func() {
		d.nudge() // as Do does from inside the handler
		d.mu.Lock()
		set = d.watching && d.watchRuns == d.inlineRuns && d.watchdog != nil
		d.mu.Unlock()
		<-handedOff // blocks until the watchdog hands the reading over, as the Do's answer would
	}}
	if !d.runInline(&j, h) {
		t.Fatal("runInline ran nothing on an idle dispatcher")
	}
	if !set {
		t.Error("a nudge during an inline run did not set the watchdog for that run")
	}
	d.track.mu.Lock()
	n := d.track.n
	d.track.mu.Unlock()
	if n != 0 {
		t.Errorf("tracker counts %d goroutines after the handed-off run finished, want 0", n)
	}
}
