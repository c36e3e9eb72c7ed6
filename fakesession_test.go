package sailsio

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio/internal/engine"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

// fakeSession is a session (life.go) that a test drives: it records what Life sends, answers
// acks, reports events and its end, and can be made to hang in close or wait. It lets Life be
// tested without a network.
type fakeSession struct {
	sid string
	tr  Transport

	mu       sync.Mutex
	ev       sessionEvents
	nextID   int64
	pending  map[int64]engine.Acker
	sent     []string // the EVENT data of each request, in send order
	now      []bool   // for each, whether its caller offered to write it (send's now)
	mine     bool     // send lets such a caller write its frame (writeNow)
	sock     *SailsSocket
	wroteNow []bool        // for each writeNow, whether the socket's mu was free
	sentCh   chan struct{} // if non-nil, told of each send (buffered by the test)
	closed   bool
	ended    bool          // ended by itself (end)
	closeGap chan struct{} // if non-nil, close and wait block until it is closed
}

func newFakeSession(sid string) *fakeSession {
	return &fakeSession{sid: sid, tr: TransportWebSocket, pending: map[int64]engine.Acker{}}
}

func (f *fakeSession) start(ev sessionEvents) {
	f.mu.Lock()
	f.ev = ev
	f.mu.Unlock()
}

func (f *fakeSession) id() string           { return f.sid }
func (f *fakeSession) transport() Transport { return f.tr }

func (f *fakeSession) send(payload []byte, a engine.Acker, now bool) (int64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.ended {
		return 0, false, engine.ErrClosed
	}
	id := f.nextID
	f.nextID++
	f.pending[id] = a
	f.sent = append(f.sent, string(payload[engine.Headroom:]))
	f.now = append(f.now, now)
	if f.sentCh != nil {
		f.sentCh <- struct{}{}
	}
	return id, now && f.mine, nil
}

// writeNow records that the caller wrote its frame, and whether it held no lock of the socket.
func (f *fakeSession) writeNow() {
	unlocked := f.sock != nil && f.sock.mu.TryLock()
	if unlocked {
		f.sock.mu.Unlock()
	}
	f.mu.Lock()
	f.wroteNow = append(f.wroteNow, unlocked)
	f.mu.Unlock()
}

func (f *fakeSession) forget(id int64) {
	f.mu.Lock()
	delete(f.pending, id)
	f.mu.Unlock()
}

func (f *fakeSession) failPending(err error) {
	f.mu.Lock()
	pending := f.pending
	f.pending = map[int64]engine.Acker{}
	f.mu.Unlock()
	ids := make([]int64, 0, len(pending))
	for id := range pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		pending[id].Fail(err)
	}
}

func (f *fakeSession) close(grace time.Duration, cut <-chan struct{}) {
	f.mu.Lock()
	f.closed = true
	gap := f.closeGap
	f.mu.Unlock()
	if gap != nil {
		<-gap
	}
}

func (f *fakeSession) wait() {
	f.mu.Lock()
	gap := f.closeGap
	f.mu.Unlock()
	if gap != nil {
		<-gap
	}
}

// sentURLs returns the URL of each request sent so far.
func (f *fakeSession) sentURLs(t testing.TB) []string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	urls := make([]string, len(f.sent))
	for i, data := range f.sent {
		var ev []json.RawMessage
		var req struct {
			URL string `json:"url"`
		}
		if json.Unmarshal([]byte(data), &ev) != nil || len(ev) != 2 || json.Unmarshal(ev[1], &req) != nil {
			t.Fatalf("request %d is not a Sails virtual request: %s", i, data)
		}
		urls[i] = req.URL
	}
	return urls
}

// answer acks the request with id with status and body, as the session's reader would.
func (f *fakeSession) answer(t testing.TB, id int64, status int, body string) {
	t.Helper()
	f.mu.Lock()
	a := f.pending[id]
	delete(f.pending, id)
	f.mu.Unlock()
	if a == nil {
		t.Fatalf("no request %d pending", id)
	}
	if err := a.Ack(fmt.Appendf(nil, `[{"body":%s,"headers":{},"statusCode":%d}]`, body, status)); err != nil {
		t.Fatal(err)
	}
}

// event reports a server event, as the session's reader would.
func (f *fakeSession) event(name string, data string) {
	f.mu.Lock()
	ev := f.ev
	f.mu.Unlock()
	ev.event(name, json.RawMessage(data))
}

// end reports that the session ended by itself.
func (f *fakeSession) end(reason string, err error) {
	f.mu.Lock()
	f.ended = true
	ev := f.ev
	f.mu.Unlock()
	ev.lost(reason, err)
}

// fakeDialer hands Life the sessions a test queues, one per connection attempt; an attempt with
// none queued fails.
type fakeDialer struct {
	mu       sync.Mutex
	next     []*fakeSession
	attempts int
	dialed   chan *fakeSession
}

func (d *fakeDialer) push(sess ...*fakeSession) {
	d.mu.Lock()
	d.next = append(d.next, sess...)
	d.mu.Unlock()
}

func (d *fakeDialer) dial(ctx, parent context.Context) (session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts++
	if len(d.next) == 0 {
		return nil, fmt.Errorf("%w fake: no session for attempt %d", ErrUnreachable, d.attempts)
	}
	sess := d.next[0]
	d.next = d.next[1:]
	if d.dialed != nil {
		d.dialed <- sess
	}
	return sess, nil
}

// newLifeSocket returns a socket whose connections are the fake sessions of d.
func newLifeSocket(t *testing.T, opts ...Option) (*SailsSocket, *fakeDialer) {
	t.Helper()
	s, err := New("http://127.0.0.1:1", opts...)
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDialer{dialed: make(chan *fakeSession, 16)}
	s.dialSession = d.dial
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Wait)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, d
}

// trace records, in the order the callback goroutine ran them, the events and request callbacks
// of a socket, and signals each record.
type trace struct {
	mu     sync.Mutex
	list   []string
	notify chan struct{}
}

func newTrace(s *SailsSocket, events ...string) *trace {
	tr := &trace{notify: make(chan struct{}, 1)}
	for _, name := range events {
		s.On(name, func(data json.RawMessage) { tr.add(name + " " + string(data)) })
	}
	return tr
}

func (tr *trace) add(line string) {
	tr.mu.Lock()
	tr.list = append(tr.list, line)
	tr.mu.Unlock()
	select {
	case tr.notify <- struct{}{}:
	default:
	}
}

// cb returns a request callback that records "name status error".
func (tr *trace) cb(name string) Callback {
	return func(body json.RawMessage, jwr *JWRes) {
		line := fmt.Sprintf("%s %d %s", name, jwr.StatusCode, body)
		if jwr.StatusCode == 0 {
			line = fmt.Sprintf("%s 0 %v", name, jwr.Error)
		}
		tr.add(line)
	}
}

// waitLen waits until n records are there and returns them.
func (tr *trace) waitLen(t testing.TB, n int) []string {
	t.Helper()
	deadline := time.NewTimer(testkit.Wait)
	defer deadline.Stop()
	for {
		tr.mu.Lock()
		if len(tr.list) >= n {
			got := slices.Clone(tr.list)
			tr.mu.Unlock()
			return got
		}
		tr.mu.Unlock()
		select {
		case <-tr.notify:
		case <-deadline.C:
			tr.mu.Lock()
			defer tr.mu.Unlock()
			t.Fatalf("%d records within %v, want %d: %q", len(tr.list), testkit.Wait, n, tr.list)
			return nil
		}
	}
}
