package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sailsio-go/sailsio"
)

// roundResult is what one round of one client measured. The JSON names are those bench/js/client.js
// prints, so every client decodes into the same type. Times are in microseconds, sizes in bytes; a
// negative CPU time or size means "not available on this system".
type roundResult struct {
	Client        string    `json:"client"`
	Node          string    `json:"node,omitempty"`
	RSSStart      int64     `json:"rssStart"`
	SeqLatUs      []float64 `json:"seqLatUs"`
	SeqWallUs     float64   `json:"seqWallUs"`
	SeqCPUUs      float64   `json:"seqCpuUs"`
	ParWallUs     float64   `json:"parWallUs"`
	ParCPUUs      float64   `json:"parCpuUs"`
	RSSOneSocket  int64     `json:"rssOneSocket"`
	Sockets       int       `json:"sockets"` // sockets connected in the connect phase (0: no connect phase)
	ConnectWallUs float64   `json:"connectWallUs"`
	ConnectCPUUs  float64   `json:"connectCpuUs"`
	RSSSockets    int64     `json:"rssSockets"`
	MaxRSS        int64     `json:"maxRss"`
	Errors        int       `json:"errors"`
	FirstError    string    `json:"firstError"`
}

// workload is the request and the sizes of the phases, the same for every client.
type workload struct {
	path     string // GET path
	warmup   int
	seq      int
	par      int
	inflight int
	sockets  int // 0: no connect phase
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// cpuMicros is the CPU time since start in microseconds, or -1 when unavailable.
func cpuMicros(start time.Duration) float64 {
	now := cpuTime()
	if now < 0 || start < 0 {
		return -1
	}
	return micros(now - start)
}

// goStyle is how the Go SDK issues requests.
type goStyle int

const (
	// styleDo: Do(ctx, RequestOptions) from goroutines; 64 goroutines share the socket in flight.
	styleDo goStyle = iota
	// styleCallback: Get(url, nil, cb), as in sails.io.js; each next request is issued from the
	// previous one's callback, sequentially and in flight alike.
	styleCallback
)

// goRound runs the phases of bench/js/client.js with this SDK, in this process: warmup, sequential,
// in flight, then (if w.sockets > 0) connecting w.sockets more sockets at once. Nothing forces a
// garbage collection: the JS clients do not either.
func goRound(ctx context.Context, url string, w workload, style goStyle, opts ...sailsio.Option) (*roundResult, error) {
	name := "sailsio Do"
	if style == styleCallback {
		name = "sailsio Get(url, data, cb)"
	}
	res := &roundResult{Client: name + " (Go, " + runtime.Version() + ")", RSSStart: currentRSS()}
	opts = append([]sailsio.Option{sailsio.WithReconnection(false)}, opts...)
	connect := func(ctx context.Context) (*sailsio.SailsSocket, error) {
		return sailsio.Connect(ctx, url, opts...)
	}
	s, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Disconnect()

	var rec statusRecorder
	seq := func(n int, lat []float64) error {
		if style == styleCallback {
			return callbackSequential(ctx, s, w.path, n, lat, &rec)
		}
		return doSequential(ctx, s, w.path, n, lat, &rec)
	}
	if err := seq(w.warmup, nil); err != nil {
		return nil, err
	}

	// Sequential: one request at a time.
	res.SeqLatUs = make([]float64, w.seq)
	cpu0, t0 := cpuTime(), time.Now()
	if err := seq(w.seq, res.SeqLatUs); err != nil {
		return nil, err
	}
	res.SeqWallUs = micros(time.Since(t0))
	res.SeqCPUUs = cpuMicros(cpu0)

	// In flight: w.inflight requests outstanding until w.par were answered.
	cpu0, t0 = cpuTime(), time.Now()
	if style == styleCallback {
		err = callbackInFlight(ctx, s, w.path, w.par, w.inflight, &rec)
	} else {
		err = doInFlight(ctx, s, w.path, w.par, w.inflight, &rec)
	}
	if err != nil {
		return nil, err
	}
	res.ParWallUs = micros(time.Since(t0))
	res.ParCPUUs = cpuMicros(cpu0)
	res.Errors, res.FirstError = rec.result()
	res.RSSOneSocket = currentRSS()

	// Connect w.sockets more sockets at once.
	if w.sockets > 0 {
		var wg sync.WaitGroup
		socks := make([]*sailsio.SailsSocket, w.sockets)
		errs := make([]error, w.sockets)
		cpu0, t0 = cpuTime(), time.Now()
		for i := range socks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				socks[i], errs[i] = connect(ctx)
			}()
		}
		wg.Wait()
		res.Sockets = w.sockets
		res.ConnectWallUs = micros(time.Since(t0))
		res.ConnectCPUUs = cpuMicros(cpu0)
		res.RSSSockets = currentRSS()
		var connErr error
		for i, c := range socks {
			if c != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.Disconnect()
				}()
			} else if connErr == nil {
				connErr = errs[i]
			}
		}
		wg.Wait()
		if connErr != nil {
			return nil, fmt.Errorf("connecting %d sockets: %w", w.sockets, connErr)
		}
	}
	res.MaxRSS = maxRSS()
	return res, nil
}

// statusRecorder counts answers other than 200 and keeps the first one.
type statusRecorder struct {
	mu    sync.Mutex
	n     int
	first string
}

func (r *statusRecorder) check(jwr *sailsio.JWRes) {
	if jwr.StatusCode == 200 {
		return
	}
	r.mu.Lock()
	if r.n == 0 {
		r.first = fmt.Sprintf("status %d: %.200s", jwr.StatusCode, jwr.Body)
	}
	r.n++
	r.mu.Unlock()
}

func (r *statusRecorder) result() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, r.first
}

// doSequential sends n GET requests with Do, one at a time; lat (nil, or of length n) receives each
// latency in µs.
func doSequential(ctx context.Context, s *sailsio.SailsSocket, path string, n int, lat []float64, rec *statusRecorder) error {
	req := sailsio.RequestOptions{Method: "get", URL: path}
	for i := 0; i < n; i++ {
		t := time.Now()
		jwr, err := s.Do(ctx, req)
		if err != nil {
			return err
		}
		if lat != nil {
			lat[i] = micros(time.Since(t))
		}
		rec.check(jwr)
	}
	return nil
}

// doInFlight sends total GET requests with Do from inflight goroutines sharing the socket.
func doInFlight(ctx context.Context, s *sailsio.SailsSocket, path string, total, inflight int, rec *statusRecorder) error {
	req := sailsio.RequestOptions{Method: "get", URL: path}
	var (
		next     atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for g := 0; g < min(inflight, total); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(total) {
				jwr, err := s.Do(ctx, req)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				rec.check(jwr)
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// callbackSequential sends n GET requests with Get(url, nil, cb), each from the previous one's
// callback, as bench/js/client.js does; lat (nil, or of length n) receives each latency in µs.
func callbackSequential(ctx context.Context, s *sailsio.SailsSocket, path string, n int, lat []float64, rec *statusRecorder) error {
	if n == 0 {
		return nil
	}
	done := make(chan error, 1)
	// i and t0 are used by the first call here and then only by the callbacks, which run one at a
	// time on the socket's callback goroutine, each after the request the previous one issued.
	var (
		i  int
		t0 time.Time
		cb sailsio.Callback
	)
	cb = func(_ json.RawMessage, jwr *sailsio.JWRes) {
		if jwr.StatusCode == 0 {
			done <- fmt.Errorf("no response: %w", jwr.Error)
			return
		}
		if lat != nil {
			lat[i] = micros(time.Since(t0))
		}
		rec.check(jwr)
		if i++; i == n {
			done <- nil
			return
		}
		t0 = time.Now()
		s.Get(path, nil, cb)
	}
	t0 = time.Now()
	s.Get(path, nil, cb)
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// callbackInFlight sends total GET requests with Get(url, nil, cb), inflight at a time: it starts
// inflight requests, and each callback issues the next one, as bench/js/client.js does.
func callbackInFlight(ctx context.Context, s *sailsio.SailsSocket, path string, total, inflight int, rec *statusRecorder) error {
	k := min(inflight, total)
	if k <= 0 {
		return nil
	}
	done := make(chan error, 1)
	var (
		sent, answered atomic.Int64
		failed         atomic.Bool
		cb             sailsio.Callback
	)
	cb = func(_ json.RawMessage, jwr *sailsio.JWRes) {
		if failed.Load() {
			return
		}
		if jwr.StatusCode == 0 {
			failed.Store(true)
			done <- fmt.Errorf("no response: %w", jwr.Error)
			return
		}
		rec.check(jwr)
		if sent.Add(1) <= int64(total) {
			s.Get(path, nil, cb)
		}
		if answered.Add(1) == int64(total) {
			done <- nil
		}
	}
	sent.Store(int64(k))
	for j := 0; j < k; j++ {
		s.Get(path, nil, cb)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
