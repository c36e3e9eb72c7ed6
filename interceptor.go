package sailsio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// Invoker sends a virtual request and returns its outcome, as Do does: the last link of an
// interceptor chain, or the next interceptor.
type Invoker func(ctx context.Context, req *RequestOptions) (*JWRes, error)

// Interceptor wraps every virtual request, callback and context forms alike (the shape of grpc-go's
// UnaryClientInterceptor). It may change req (Headers, OmitHeaders, URL, Data, Method) before it
// calls next, call next again (a retry), observe or replace the result, or answer without calling
// next at all. req is the interceptor chain's own copy: changing it, its Headers map or its
// OmitHeaders slice never changes the caller's RequestOptions.
//
// For the callback forms (Request, Get, Post ...), the chain runs on a goroutine of its own, with a
// context that ends when the socket is closed; the callback gets what the chain returned, on the
// callback goroutine, exactly once. Callback-form requests still reach the server in the order they
// were made: next waits until every callback-form request made earlier has been sent (or has ended).
// An interceptor that blocks before calling next therefore holds back the callback-form requests
// made after its own (and one that waits for the callback of such a request waits forever). Do and
// its forms take no turn: the caller's own requests are in order already.
//
// An interceptor runs on the caller's goroutine for Do (and its forms) and never under a lock of the
// SDK, so it may call any method of the socket, Do included (a Do made from an interceptor goes
// through the chain too). A panic in an interceptor of a callback-form request is logged and ends
// that request with an error wrapping ErrInterceptor.
type Interceptor func(ctx context.Context, req *RequestOptions, next Invoker) (*JWRes, error)

// ErrInterceptor is wrapped by the error of a callback-form request whose interceptor panicked.
var ErrInterceptor = errors.New("sailsio: interceptor panicked")

// WithInterceptors adds interceptors to every virtual request of the socket. The first given is the
// outermost: it sees the request first and the result last. Several WithInterceptors add up, in
// order. Without interceptors a request costs no goroutine and no copy of its options.
func WithInterceptors(i ...Interceptor) Option {
	return func(o *options) error {
		for n, ic := range i {
			if ic == nil {
				return invalid("interceptor %d of WithInterceptors is nil", n)
			}
		}
		o.interceptors = append(o.interceptors, i...)
		return nil
	}
}

// buildChain returns the socket's interceptor chain over base, or nil when there are none. The
// SDK's own interceptors (WithCSRF) come after the user's, so that the user's see each retry
// they make as one call.
func buildChain(user, sdk []Interceptor, base Invoker) Invoker {
	all := append(slices.Clip(user), sdk...)
	if len(all) == 0 {
		return nil
	}
	next := base
	for i := len(all) - 1; i >= 0; i-- {
		ic, n := all[i], next
		next = func(ctx context.Context, req *RequestOptions) (*JWRes, error) { return ic(ctx, req, n) }
	}
	return next
}

// clone copies what an interceptor may change in place.
func (o RequestOptions) clone() RequestOptions {
	o.Headers = maps.Clone(o.Headers)
	o.OmitHeaders = slices.Clone(o.OmitHeaders)
	return o
}

// turn keeps requests that go through the interceptor chain in the order they were made: each
// request sends only after the one made before it has sent or ended (send order is what Sails
// answers in, and what io.socket users count on).
type turn struct {
	prev <-chan struct{} // closed when the request made before this one has sent or ended
	mine chan struct{}   // closed when this one has sent or ended
	once sync.Once
}

// turns hands out turns in call order.
type turns struct {
	mu   sync.Mutex
	last chan struct{}
}

func (ts *turns) take() *turn {
	t := &turn{mine: make(chan struct{})}
	ts.mu.Lock()
	t.prev, ts.last = ts.last, t.mine
	ts.mu.Unlock()
	return t
}

// settled reports whether every turn taken so far has passed: a request made now may go without
// a turn and still be in call order.
func (ts *turns) settled() bool {
	ts.mu.Lock()
	last := ts.last
	ts.mu.Unlock()
	if last == nil {
		return true
	}
	select {
	case <-last:
		return true
	default:
		return false
	}
}

// passed marks the request as sent: the next one may go.
func (t *turn) passed() { t.once.Do(func() { close(t.mine) }) }

// ended marks the request as over without (another) send: the next one may go once this one's
// predecessor has.
func (t *turn) ended() {
	select {
	case <-t.prev:
		t.passed()
	default:
		if t.prev == nil {
			t.passed()
			return
		}
		go func() {
			<-t.prev
			t.passed()
		}()
	}
}

// wait waits for this request's turn to send.
func (t *turn) wait(ctx context.Context) error {
	if t.prev == nil {
		return nil
	}
	select {
	case <-t.prev:
		return nil
	default:
	}
	select {
	case <-t.prev:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sailsio: %w", ctx.Err())
	}
}

type turnKey struct{}

// invoke runs a Do through the interceptor chain (s.chain is not nil). A Do takes no turn: its
// caller waits for it, so the caller's own requests are in order already, and an interceptor may
// call Do without waiting for its own request's turn.
func (s *SailsSocket) invoke(ctx context.Context, opts RequestOptions) (*JWRes, error) {
	o := opts.clone()
	return s.chain(ctx, &o)
}

// transmit is the chain's last link: it waits for the request's turn, then sends it as Do does.
func (s *SailsSocket) transmit(ctx context.Context, req *RequestOptions) (*JWRes, error) {
	if t, ok := ctx.Value(turnKey{}).(*turn); ok {
		if err := t.wait(ctx); err != nil {
			if closedContextDone(ctx) {
				return nil, ErrClosed
			}
			return nil, err
		}
		r, err := s.newRequest(*req)
		if err != nil {
			t.passed()
			return nil, err
		}
		return s.await(ctx, r, t.passed)
	}
	r, err := s.newRequest(*req)
	if err != nil {
		return nil, err
	}
	return s.await(ctx, r, nil)
}

// bypassChain reports whether a callback-form request may skip the chain: the only interceptor is
// WithCSRF's, which has nothing to do for a safe method, and no earlier request waits for its turn.
// It spares the goroutine of the chain to the GETs of a WithCSRF socket.
func (s *SailsSocket) bypassChain(method string) bool {
	return len(s.opts.interceptors) == 0 && !isUnsafe(method) && s.turns.settled()
}

// requestIntercepted is Request through the interceptor chain: on a goroutine of its own, with a
// context that ends when the socket is closed.
func (s *SailsSocket) requestIntercepted(opts RequestOptions, cb Callback) {
	t := s.turns.take()
	o := opts.clone()
	s.track.goroutine(func() {
		defer t.ended()
		jwr, err := s.runChain(context.WithValue(closedContext{s.closed}, turnKey{}, t), &o)
		if cb == nil {
			return
		}
		if jwr == nil {
			jwr = failedResponse(err)
		}
		s.disp.post(func() { s.call(func() { cb(jwr.Body, jwr) }) })
	})
}

// runChain runs the chain, turning an interceptor's panic into an error and a log line.
func (s *SailsSocket) runChain(ctx context.Context, req *RequestOptions) (jwr *JWRes, err error) {
	defer func() {
		if r := recover(); r != nil {
			l := s.opts.logger
			if l == nil {
				l = slog.Default()
			}
			l.Error("sailsio: interceptor panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			jwr, err = nil, fmt.Errorf("%w: %v", ErrInterceptor, r)
		}
	}()
	return s.chain(ctx, req)
}

// closedContext is a context that ends when the socket is closed: the context of the interceptor
// chain of a callback-form request.
type closedContext struct{ closed <-chan struct{} }

func (closedContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c closedContext) Done() <-chan struct{}     { return c.closed }
func (c closedContext) Value(key any) any {
	if key == (closedKey{}) {
		return c
	}
	return nil
}
func (c closedContext) Err() error {
	select {
	case <-c.closed:
		return context.Canceled
	default:
		return nil
	}
}

// closedContextDone reports whether ctx ended because the socket was closed.
func closedContextDone(ctx context.Context) bool {
	_, ok := ctx.Value(closedKey{}).(closedContext)
	return ok && ctx.Err() != nil
}

type closedKey struct{}
