package mockserver

import "sync/atomic"

// Virtual requests of one socket reach their handlers in arrival order, as in Node, where
// sails-hook-sockets handles a socket's messages one after the other and an action's synchronous
// part runs before the next message is looked at. Here a socket's requests wait in a queue; the
// next one starts when the current one's handler yields its turn:
//
//   - it returns (whether or not it answered: an answer sent later from another goroutine does
//     not hold up the next request), or
//   - it calls Request.Context, the Go counterpart of a Node action's first await: it is about to
//     wait for something (a timer, a channel, I/O bound to the request), or
//   - the response timeout answers it for it.
//
// A goroutine drains the queue and runs fast handlers inline; when a handler yields while it is
// still running, a fresh goroutine takes over the queue and the old one ends with its handler.

// virtualMsg is one virtual request as received.
type virtualMsg struct {
	verb  string
	msg   []byte
	ackID int64
}

// enqueue queues a virtual request and starts draining the queue if nobody is.
func (c *conn) enqueue(v virtualMsg) {
	c.vmu.Lock()
	c.vq = append(c.vq, v)
	start := !c.vbusy
	c.vbusy = true
	c.vmu.Unlock()
	if start {
		c.srv.wg.Add(1)
		c.srv.spawn(c.drain)
	}
}

// drain serves queued requests in order until the queue is empty, the connection is gone, or a
// handler yields its turn while still running (a new drain then goes on with the queue).
func (c *conn) drain() {
	defer c.srv.wg.Done()
	for {
		c.vmu.Lock()
		if len(c.vq) == 0 || c.ctx.Err() != nil {
			c.vq = nil
			c.vbusy = false
			c.vmu.Unlock()
			return
		}
		v := c.vq[0]
		c.vq[0] = virtualMsg{}
		c.vq = c.vq[1:]
		c.vmu.Unlock()
		var passed atomic.Bool // the turn has gone to the next request
		yield := func() {
			if passed.CompareAndSwap(false, true) {
				c.srv.wg.Add(1)
				c.srv.spawn(c.drain)
			}
		}
		c.srv.handleVirtual(c, v, yield)
		if !passed.CompareAndSwap(false, true) {
			return // the handler yielded: another drain has the queue
		}
	}
}
