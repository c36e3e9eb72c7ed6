package mockserver

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestOrderBurst: 200 POSTs sent back to back on one socket reach their handler in arrival order,
// in every mode (the old server ran each on its own goroutine and most came out of place).
func TestOrderBurst(t *testing.T) {
	const n = 200
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := NewT(t, WithProtocol(m.server))
			var mu sync.Mutex
			var seen []int
			s.Handle("POST /seq", func(req *Request, res *Response) {
				k, _ := strconv.Atoi(req.Param("n"))
				mu.Lock()
				seen = append(seen, k)
				mu.Unlock()
				res.JSON(k)
			})
			c, _ := connect(t, s, m.eio, nil)
			for i := 0; i < n; i++ {
				c.send(`42` + itoa(i) + `["post",{"method":"post","headers":{},"data":{"n":` + itoa(i) + `},"url":"/seq"}]`)
			}
			for i := 0; i < n; i++ {
				c.nextText() // every ack, whatever its order
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != n {
				t.Fatalf("%d requests handled, want %d", len(seen), n)
			}
			out := 0
			for i, k := range seen {
				if k != i {
					out++
				}
			}
			if out > 0 {
				t.Errorf("%d of %d requests reached the handler out of place: %v", out, n, seen)
			}
		})
	}
}

// TestOrderAsyncDoesNotHold: a handler that answers later from another goroutine, or that waits on
// its request's context, does not hold up the socket's next request; one that blocks in its body
// without either does (until it returns), like synchronous code in a Node action.
func TestOrderAsyncDoesNotHold(t *testing.T) {
	s := NewT(t)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	s.Handle("GET /later", func(req *Request, res *Response) {
		go func() {
			<-release
			res.Send("later")
		}()
	})
	s.Handle("GET /wait", func(req *Request, res *Response) {
		select {
		case <-release:
			res.Send("waited")
		case <-req.Context().Done():
		}
	})
	entered := make(chan string, 4)
	s.Handle("GET /block", func(req *Request, res *Response) {
		entered <- "block"
		<-release
		res.Send("blocked")
	})
	s.Handle("GET /next", func(req *Request, res *Response) {
		entered <- "next"
		res.Send("next")
	})
	c, _ := connect(t, s, 3, nil)
	c.send(`420["get",{"url":"/later"}]`)
	c.send(`421["get",{"url":"/wait"}]`)
	c.send(`422["get",{"url":"/next"}]`)
	c.expect(`432[{"body":"next","headers":{},"statusCode":200}]`)
	if got := <-entered; got != "next" {
		t.Fatalf("entered %q", got)
	}
	c.send(`423["get",{"url":"/block"}]`)
	c.send(`424["get",{"url":"/next"}]`)
	if got := <-entered; got != "block" {
		t.Fatalf("entered %q first, want block", got)
	}
	select {
	case got := <-entered:
		t.Fatalf("%q started while /block was still running", got)
	case <-time.After(100 * time.Millisecond): // nothing may happen: no signal to wait for
	}
	once.Do(func() { close(release) })
	got := map[string]bool{}
	for i := 0; i < 4; i++ {
		got[c.nextText()] = true
	}
	for _, want := range []string{
		`430[{"body":"later","headers":{},"statusCode":200}]`,
		`431[{"body":"waited","headers":{},"statusCode":200}]`,
		`433[{"body":"blocked","headers":{},"statusCode":200}]`,
		`434[{"body":"next","headers":{},"statusCode":200}]`,
	} {
		if !got[want] {
			t.Errorf("missing %s in %v", want, got)
		}
	}
	if e := <-entered; e != "next" {
		t.Errorf("entered %q", e)
	}
}
