package engine

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio/internal/testkit"
)

// fakeSink is a Writer's peer: it records the batches written and can hold a write until released.
type fakeSink struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	batches  [][]string
	entered  chan struct{} // a Write started
	gate     chan struct{} // when non-nil, each Write waits for a value
	err      error         // what Write returns
	failed   chan error
	finished chan struct{}
}

func newFakeSink() *fakeSink {
	return &fakeSink{entered: make(chan struct{}, 100), failed: make(chan error, 10), finished: make(chan struct{}, 10)}
}

func (f *fakeSink) writer() *Writer[string] {
	w := new(Writer[string])
	w.Init(f, &f.wg)
	return w
}

func (f *fakeSink) WriteBatch(batch []string) error {
	f.entered <- struct{}{}
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	f.batches = append(f.batches, slices.Clone(batch))
	f.mu.Unlock()
	return f.err
}

func (f *fakeSink) WriteFailed(err error) { f.failed <- err }

func (f *fakeSink) WriteFinished() { f.finished <- struct{}{} }

func (f *fakeSink) written() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Concat(f.batches...)
}

// idle waits until no writer goroutine runs.
func (f *fakeSink) idle(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(testkit.Short):
		t.Fatal("the writer goroutine did not end")
	}
}

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(testkit.Short):
		t.Fatalf("no %s within %v", what, testkit.Short)
		panic("unreachable")
	}
}

// TestWriterBatches: the frames queued while a batch is written make the next batch, in order, and
// the writer goroutine ends once nothing waits.
func TestWriterBatches(t *testing.T) {
	f := newFakeSink()
	f.gate = make(chan struct{})
	w := f.writer()
	w.Push("0")
	recv(t, f.entered, "write")
	var want []string
	for i := 1; i < 100; i++ {
		w.Push(strconv.Itoa(i))
		want = append(want, strconv.Itoa(i))
	}
	f.gate <- struct{}{}
	recv(t, f.entered, "second write")
	f.gate <- struct{}{}
	f.idle(t)
	if len(f.batches) != 2 || !slices.Equal(f.batches[1], want) {
		t.Fatalf("batches %v, want [0] then 1..99 in one batch", f.batches)
	}
	// The goroutine comes back for new frames.
	w.Push("100")
	recv(t, f.entered, "write after idle")
	f.gate <- struct{}{}
	f.idle(t)
	if got := f.written(); len(got) != 101 || got[100] != "100" {
		t.Fatalf("written %v", got)
	}
}

// TestWriterPause: a paused writer writes nothing; Take hands out what waits; Resume writes the rest.
func TestWriterPause(t *testing.T) {
	f := newFakeSink()
	w := f.writer()
	w.Pause()
	w.Push("a", "b")
	f.idle(t) // no goroutine was started
	if frames, last := w.Take(); !slices.Equal(frames, []string{"a", "b"}) || last {
		t.Fatalf("Take = %v, %v", frames, last)
	}
	w.Push("c")
	w.Push("d")
	f.idle(t)
	if got := f.written(); len(got) != 0 {
		t.Fatalf("a paused writer wrote %v", got)
	}
	w.Resume()
	recv(t, f.entered, "write after Resume")
	f.idle(t)
	if got := f.written(); !slices.Equal(got, []string{"c", "d"}) {
		t.Fatalf("written %v, want [c d]", got)
	}
}

// TestWriterFinish: Finish queues the last frames, refuses any later, and Finished follows their
// write, once.
func TestWriterFinish(t *testing.T) {
	f := newFakeSink()
	f.gate = make(chan struct{})
	w := f.writer()
	w.Push("a")
	recv(t, f.entered, "write")
	if !w.Finish("bye") || w.Push("late") || w.Finish("again") || !w.Closed() {
		t.Fatal("Finish accepted, or a frame after it was")
	}
	f.gate <- struct{}{}
	recv(t, f.entered, "second write")
	f.gate <- struct{}{}
	recv(t, f.finished, "Finished")
	f.idle(t)
	if got := f.written(); !slices.Equal(got, []string{"a", "bye"}) {
		t.Fatalf("written %v", got)
	}
	if len(f.finished) != 0 {
		t.Fatal("Finished called twice")
	}
}

// TestWriterFinishPaused: a paused writer's last frames go to Take, which reports them as the last;
// Finished is then never called, not even after Resume.
func TestWriterFinishPaused(t *testing.T) {
	f := newFakeSink()
	w := f.writer()
	w.Pause()
	w.Push("a")
	w.Finish()
	if frames, last := w.Take(); !slices.Equal(frames, []string{"a"}) || !last {
		t.Fatalf("Take = %v, %v; want [a], true", frames, last)
	}
	w.Resume()
	f.idle(t)
	if len(f.finished) != 0 || len(f.written()) != 0 {
		t.Fatal("the writer ran after Take took the last frames")
	}
	// Resumed before anything was taken, the writer writes the last frames and finishes.
	f2 := newFakeSink()
	w2 := f2.writer()
	w2.Pause()
	w2.Finish("x")
	w2.Resume()
	recv(t, f2.finished, "Finished")
	f2.idle(t)
	if got := f2.written(); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("written %v", got)
	}
}

// TestWriterFailed: a failed write stops the writer and is reported once; Stop before the failure
// silences it.
func TestWriterFailed(t *testing.T) {
	boom := errors.New("boom")
	f := newFakeSink()
	f.err = boom
	w := f.writer()
	w.Push("a")
	if err := recv(t, f.failed, "Failed"); !errors.Is(err, boom) {
		t.Fatalf("Failed(%v)", err)
	}
	f.idle(t)
	if w.Push("b") || !w.Closed() {
		t.Fatal("a failed writer accepted a frame")
	}

	f2 := newFakeSink()
	f2.err = boom
	f2.gate = make(chan struct{})
	w2 := f2.writer()
	w2.Push("a")
	recv(t, f2.entered, "write")
	w2.Push("b")
	w2.Stop()
	f2.gate <- struct{}{}
	f2.idle(t)
	if len(f2.failed) != 0 || len(f2.finished) != 0 {
		t.Fatal("Failed or Finished called after Stop")
	}
	if got := f2.written(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("written %v: Stop must drop what waits", got)
	}
}

// nowSink is a fakeSink that can also write without waiting; complete is what WriteBatchNow reports.
type nowSink struct {
	*fakeSink
	mu       sync.Mutex
	now      [][]string
	complete bool
	err      error
}

func (n *nowSink) WriteBatchNow(batch []string) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.now = append(n.now, slices.Clone(batch))
	return n.complete, n.err
}

func (n *nowSink) nowBatches() [][]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.now)
}

func newNowSinkWriter(complete bool) (*nowSink, *Writer[string]) {
	s := &nowSink{fakeSink: newFakeSink(), complete: complete}
	w := new(Writer[string])
	w.Init(s, &s.wg)
	return s, w
}

// TestWriterPushNow: an idle writer lets the caller write its frame itself, with no goroutine;
// while a write is under way the frame is queued for the writer goroutine, in order.
func TestWriterPushNow(t *testing.T) {
	s, w := newNowSinkWriter(true)
	ok, mine := w.PushNow("a")
	if !ok || !mine {
		t.Fatalf("PushNow on an idle writer = %v, %v; want true, true", ok, mine)
	}
	// While the caller is the writer, others queue; WriteNow then leaves them to a goroutine.
	s.gate = make(chan struct{})
	if ok, mine := w.PushNow("b"); !ok || mine {
		t.Fatalf("PushNow while a write is claimed = %v, %v; want true, false", ok, mine)
	}
	w.WriteNow()
	if got := s.nowBatches(); len(got) != 0 {
		t.Fatalf("WriteNow wrote %v while another frame was queued behind it; want it left to the goroutine", got)
	}
	recv(t, s.entered, "goroutine write")
	close(s.gate)
	s.idle(t)
	if got := s.written(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("written %v, want [a b]", got)
	}
	// Idle again: the caller writes.
	s.gate = nil
	if _, mine := w.PushNow("c"); !mine {
		t.Fatal("PushNow on an idle writer did not make the caller the writer")
	}
	w.WriteNow()
	s.idle(t)
	if got := s.nowBatches(); !slices.Equal(slices.Concat(got...), []string{"c"}) {
		t.Fatalf("written without waiting %v, want [c]", got)
	}
	// Paused: queued, written on Resume.
	w.Pause()
	if _, mine := w.PushNow("d"); mine {
		t.Fatal("PushNow on a paused writer made the caller the writer")
	}
	w.Resume()
	s.idle(t)
	if got := s.written(); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Fatalf("written %v, want [a b d]", got)
	}
}

// TestWriterWriteNowBacklog: when the connection does not take a frame at once, a writer goroutine
// writes the rest (an empty batch) before anything else, and the caller does not wait for it.
func TestWriterWriteNowBacklog(t *testing.T) {
	s, w := newNowSinkWriter(false)
	s.gate = make(chan struct{})
	w.PushNow("a")
	w.WriteNow() // returns although the goroutine's write is held by the gate
	recv(t, s.entered, "backlog write")
	if ok, mine := w.PushNow("b"); !ok || mine {
		t.Fatalf("PushNow during the backlog write = %v, %v; want true, false", ok, mine)
	}
	s.gate <- struct{}{}
	s.gate <- struct{}{}
	s.idle(t)
	s.mu.Lock()
	batches := slices.Clone(s.batches)
	s.mu.Unlock()
	if len(batches) != 2 || len(batches[0]) != 0 || !slices.Equal(batches[1], []string{"b"}) {
		t.Fatalf("goroutine batches %q, want an empty one (the backlog) then [b]", batches)
	}
}

// TestWriterWriteNowFails: a failed write without waiting stops the writer and tells the sink once.
func TestWriterWriteNowFails(t *testing.T) {
	s, w := newNowSinkWriter(true)
	s.err = errors.New("broken")
	w.PushNow("a")
	w.WriteNow()
	if err := recv(t, s.failed, "WriteFailed"); err != s.err {
		t.Fatalf("WriteFailed(%v), want %v", err, s.err)
	}
	if ok, _ := w.PushNow("b"); ok {
		t.Fatal("PushNow after a failed write queued a frame")
	}
	s.idle(t)
}

// TestWriterWriteNowFinish: Finish while the caller holds the write: the frames go out, then
// WriteFinished, from a goroutine.
func TestWriterWriteNowFinish(t *testing.T) {
	s, w := newNowSinkWriter(true)
	w.PushNow("a")
	w.Finish("bye")
	w.WriteNow()
	recv(t, s.finished, "WriteFinished")
	s.idle(t)
	if got := s.written(); !slices.Equal(got, []string{"a", "bye"}) {
		t.Fatalf("written %v, want [a bye]", got)
	}
}
