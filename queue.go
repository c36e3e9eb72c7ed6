package sailsio

import "fmt"

// requestQueue holds the requests that wait for a connection, in call order, bounded by a count
// (WithQueueLimit) and by the bytes of their payloads (WithQueueBytes). It belongs to Life and is
// guarded by the socket's mu. A request taken out early (its context or timeout ended) only leaves
// the counts at once; its entry is dropped at the next compaction or take, so removal is O(1).
type requestQueue struct {
	entries  []*request
	n        int   // live entries
	bytes    int64 // their payloads
	maxN     int
	maxBytes int64
}

// push appends r, or returns an error wrapping ErrQueueFull when a bound would be passed.
func (q *requestQueue) push(r *request) error {
	n := r.size()
	switch {
	case q.n >= q.maxN:
		return fmt.Errorf("%w: %d requests wait already (WithQueueLimit)", ErrQueueFull, q.n)
	case q.bytes+n > q.maxBytes:
		return fmt.Errorf("%w: %d bytes wait already, %d more would pass WithQueueBytes(%d)", ErrQueueFull, q.bytes, n, q.maxBytes)
	}
	q.compact()
	r.slot.queued = true
	q.entries = append(q.entries, r)
	q.n++
	q.bytes += n
	return nil
}

// remove takes r out of the queue's counts; its entry is dropped later.
func (q *requestQueue) remove(r *request) {
	r.slot.queued = false
	q.n--
	q.bytes -= r.size()
}

// compact drops removed entries once they make up most of the queue.
func (q *requestQueue) compact() {
	if len(q.entries) < 2*q.n+32 {
		return
	}
	live := q.entries[:0]
	for _, r := range q.entries {
		if r.slot.queued {
			live = append(live, r)
		}
	}
	clear(q.entries[len(live):])
	q.entries = live
}

// take empties the queue and returns its live requests in order.
func (q *requestQueue) take() []*request {
	live := q.entries[:0]
	for _, r := range q.entries {
		if r.slot.queued {
			r.slot.queued = false
			live = append(live, r)
		}
	}
	clear(q.entries[len(live):])
	q.entries, q.n, q.bytes = nil, 0, 0
	return live
}
