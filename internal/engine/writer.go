package engine

import (
	"runtime"
	"sync"
)

// Writer is the batching writer of one connection, shared by the client's session and the
// mockserver. Any goroutine queues frames; one writer goroutine, started when frames wait and ended
// when none do, writes them in batches: the frames queued while a batch is written make the next
// one, and the sink's WriteBatch writes a batch with as few system calls as it can (one, over a
// BatchConn). Frames are written in the order they were queued, none twice, and none is dropped
// unless the writer is stopped or a write fails.
//
// A writer can be paused (frames wait; the writer goroutine ends after its batch in progress), for
// an upgrade, or for a transport whose frames another goroutine takes (Take: a polling GET). It
// closes in one of two ways: Finish queues the last frames and calls the sink's WriteFinished once
// they are written; Stop drops what waits.
//
// A Writer is a field of its connection, set up with Init and never copied.
type Writer[F any] struct {
	sink  WriterSink[F]
	group *sync.WaitGroup

	mu      sync.Mutex
	out     []F
	spare   []F // the slice of the last batch written, reused for the next
	running bool
	paused  bool
	backlog bool // a write without waiting left bytes that a writer goroutine must write
	nowN    int  // the frames queued by the PushNow whose caller is the writer
	state   writerState
}

type writerState uint8

const (
	writerOpen      writerState = iota
	writerFinishing             // Finish was called: the frames waiting are the last
	writerStopped               // Stop was called, a write failed, or the last frames are written
)

// NowSink is a WriterSink that can also write a batch without waiting (a WebSocket), so that the
// goroutine that queues a frame can write it itself (PushNow, WriteNow).
type NowSink[F any] interface {
	WriterSink[F]
	// WriteBatchNow writes a batch without waiting. complete false: the connection did not take
	// everything at once, and the next WriteBatch (of any batch, even empty) writes the rest first.
	WriteBatchNow(batch []F) (complete bool, err error)
}

// WriterSink is where a Writer writes. Its methods are called on the writer goroutine, one call at
// a time, without the Writer's lock held: they may call the Writer's methods.
type WriterSink[F any] interface {
	// WriteBatch writes a batch of frames, in order. An error stops the writer.
	WriteBatch(batch []F) error
	// WriteFailed learns the error of WriteBatch (unless Stop was called first).
	WriteFailed(err error)
	// WriteFinished is called once the frames queued up to Finish are written: the connection can
	// say goodbye and close.
	WriteFinished()
}

// Init sets the writer up, not paused and with no goroutine until frames are queued. group counts
// the writer goroutine while it runs, so that its owner can wait for it (after Stop, or once
// WriteFinished was called).
func (w *Writer[F]) Init(sink WriterSink[F], group *sync.WaitGroup) {
	w.sink, w.group = sink, group
}

// Push queues frames, in order, and makes sure a writer goroutine runs unless the writer is paused.
// It queues nothing and reports false once Finish or Stop was called.
func (w *Writer[F]) Push(frames ...F) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writerOpen {
		return false
	}
	w.out = append(w.out, frames...)
	w.startLocked()
	return true
}

// PushNow is Push for a caller that can write the frames itself: when no writer goroutine runs,
// the writer is not paused and nothing else waits, it queues them and reports mine, and the caller
// becomes the writer: it must call WriteNow next, holding no lock, instead of a goroutine being
// started. The sink must be a NowSink. ok is false as for Push.
func (w *Writer[F]) PushNow(frames ...F) (ok, mine bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writerOpen {
		return false, false
	}
	if w.running || w.paused || w.backlog || len(w.out) > 0 {
		w.out = append(w.out, frames...)
		w.startLocked()
		return true, false
	}
	w.out = append(w.out, frames...)
	w.running, w.nowN = true, len(frames)
	w.group.Add(1)
	return true, true
}

// WriteNow writes, on the caller's goroutine and without waiting for the connection, what PushNow
// queued. Whatever is left — bytes the connection did not take at once, frames queued meanwhile, a
// Finish — goes to a writer goroutine, so the caller never waits for the peer.
func (w *Writer[F]) WriteNow() {
	defer w.group.Done()
	w.mu.Lock()
	if w.state == writerStopped || len(w.out) != w.nowN {
		// Stopped, or other frames were queued meanwhile (they may be large): the goroutine writes.
		w.running = false
		w.startLocked()
		w.mu.Unlock()
		return
	}
	batch := w.out
	w.out, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	complete, err := w.sink.(NowSink[F]).WriteBatchNow(batch)
	clear(batch)
	w.mu.Lock()
	if err != nil {
		w.failLocked(err) // unlocks
		return
	}
	if w.spare == nil && w.state != writerStopped {
		w.spare = batch[:0]
	}
	w.backlog = !complete
	w.running = false
	w.startLocked()
	w.mu.Unlock()
}

// failLocked stops the writer after a failed write and tells the sink, unless Stop came first.
// w.mu is held; it is released.
func (w *Writer[F]) failLocked(err error) {
	failed := w.state != writerStopped
	w.state = writerStopped
	w.out, w.spare = nil, nil
	w.running = false
	w.mu.Unlock()
	if failed {
		w.sink.WriteFailed(err)
	}
}

// Finish queues the last frames: nothing is accepted afterwards, and once everything queued is
// written, WriteFinished is called and the writer goroutine ends. A paused writer stays paused: what
// waits goes out on Resume, or to Take. It reports false if Finish or Stop was called before.
func (w *Writer[F]) Finish(frames ...F) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writerOpen {
		return false
	}
	w.out = append(w.out, frames...)
	w.state = writerFinishing
	w.startLocked()
	return true
}

// Stop drops the frames that wait and accepts no more. A batch being written is finished (the
// caller usually cuts the connection, which makes it fail fast); neither WriteFailed nor
// WriteFinished is called after Stop.
func (w *Writer[F]) Stop() {
	w.mu.Lock()
	w.state = writerStopped
	w.out, w.spare = nil, nil
	w.mu.Unlock()
}

// Pause makes frames wait: the writer goroutine ends after the batch it is writing, and none starts
// until Resume.
func (w *Writer[F]) Pause() {
	w.mu.Lock()
	w.paused = true
	w.mu.Unlock()
}

// Resume undoes Pause: a writer goroutine starts if frames wait, or if Finish waits for
// WriteFinished.
func (w *Writer[F]) Resume() {
	w.mu.Lock()
	w.paused = false
	w.startLocked()
	w.mu.Unlock()
}

// Take removes and returns the frames that wait, for a paused writer whose frames another goroutine
// writes (a polling response). last reports that they are the last ones (Finish was called): the
// taker says goodbye itself, and the writer is stopped (WriteFinished will not be called).
func (w *Writer[F]) Take() (frames []F, last bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == writerStopped {
		return nil, false
	}
	frames, w.out = w.out, nil
	if w.state == writerFinishing {
		w.state = writerStopped
		return frames, true
	}
	return frames, false
}

// Closed reports whether the writer accepts no more frames: Finish or Stop was called, or a write
// failed.
func (w *Writer[F]) Closed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state != writerOpen
}

// startLocked starts a writer goroutine if one is needed and none runs. w.mu is held.
func (w *Writer[F]) startLocked() {
	if w.running || w.paused || w.state == writerStopped || (len(w.out) == 0 && !w.backlog && w.state != writerFinishing) {
		return
	}
	w.running = true
	w.group.Add(1)
	go w.run()
}

// run writes batches until nothing waits.
func (w *Writer[F]) run() {
	defer w.group.Done()
	runtime.Gosched() // let the other frames of a burst join this batch
	for {
		w.mu.Lock()
		if w.state == writerStopped || w.paused || (len(w.out) == 0 && !w.backlog) {
			finished := w.state == writerFinishing && !w.paused && len(w.out) == 0
			if finished {
				w.state = writerStopped
			}
			w.running = false
			w.mu.Unlock()
			if finished {
				w.sink.WriteFinished()
			}
			return
		}
		batch := w.out
		w.out, w.spare, w.backlog = w.spare[:0], nil, false // an empty batch writes the backlog
		w.mu.Unlock()
		err := w.sink.WriteBatch(batch)
		clear(batch) // the frames are written: do not keep them alive
		w.mu.Lock()
		if err != nil {
			w.failLocked(err) // unlocks
			return
		}
		if w.spare == nil && w.state != writerStopped {
			w.spare = batch[:0]
		}
		w.mu.Unlock()
	}
}
