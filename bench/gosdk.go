package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sailsio-go/sailsio"
)

// roundResult is what one round of one client measured. The JSON names are those bench/js/client.js
// prints, so both sides decode into the same type. Times are in microseconds, sizes in bytes; a
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
	ConnectWallUs float64   `json:"connectWallUs"`
	ConnectCPUUs  float64   `json:"connectCpuUs"`
	RSSSockets    int64     `json:"rssSockets"`
	MaxRSS        int64     `json:"maxRss"`
	Errors        int       `json:"errors"`
	FirstError    string    `json:"firstError"`
}

// workload is the request and the sizes of the phases, the same for both clients.
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

// goRound runs the phases of bench/js/client.js with this SDK, in this process.
func goRound(ctx context.Context, url string, w workload) (*roundResult, error) {
	res := &roundResult{Client: "sailsio (Go, " + runtime.Version() + ")", RSSStart: currentRSS()}
	connect := func(ctx context.Context) (*sailsio.SailsSocket, error) {
		return sailsio.Connect(ctx, url, sailsio.WithReconnection(false))
	}
	s, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Disconnect()
	req := sailsio.RequestOptions{Method: "get", URL: w.path}
	do := func() error {
		jwr, err := s.Do(ctx, req)
		if err != nil {
			return err
		}
		if jwr.StatusCode != 200 {
			if res.Errors == 0 {
				res.FirstError = fmt.Sprintf("status %d: %.200s", jwr.StatusCode, jwr.Body)
			}
			res.Errors++
		}
		return nil
	}
	for i := 0; i < w.warmup; i++ {
		if err := do(); err != nil {
			return nil, err
		}
	}
	runtime.GC()

	// Sequential: one request at a time.
	res.SeqLatUs = make([]float64, w.seq)
	cpu0, t0 := cpuTime(), time.Now()
	for i := range res.SeqLatUs {
		ti := time.Now()
		if err := do(); err != nil {
			return nil, err
		}
		res.SeqLatUs[i] = micros(time.Since(ti))
	}
	res.SeqWallUs = micros(time.Since(t0))
	res.SeqCPUUs = cpuMicros(cpu0)

	// inflight goroutines share the socket until par requests were sent.
	var (
		next     atomic.Int64
		errOnce  sync.Once
		firstErr error
		statuses atomic.Int64
		wg       sync.WaitGroup
	)
	cpu0, t0 = cpuTime(), time.Now()
	for g := 0; g < min(w.inflight, w.par); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(w.par) {
				jwr, err := s.Do(ctx, req)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				if jwr.StatusCode != 200 {
					statuses.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res.ParWallUs = micros(time.Since(t0))
	res.ParCPUUs = cpuMicros(cpu0)
	res.Errors += int(statuses.Load())
	if firstErr != nil {
		return nil, firstErr
	}
	res.RSSOneSocket = currentRSS()

	// Connect w.sockets more sockets at once.
	if w.sockets > 0 {
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
