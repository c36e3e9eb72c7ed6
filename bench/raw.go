package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// rawPhaseLimit bounds the raw baseline.
const rawPhaseLimit = 2 * time.Minute

// inprocResult is one line of the "inproc" section: a sequential and an in-flight phase on one
// socket, with both ends in this process.
type inprocResult struct {
	name     string
	lat      []float64 // sequential round trips, µs
	seqCPUUs float64   // CPU per sequential round trip (client and server), µs; <0: n/a
	parN     int
	parWall  time.Duration
	parCPUUs float64 // CPU per in-flight round trip (client and server), µs; <0: n/a
}

// rawBaseline measures bare gorilla/websocket round trips of frame against a tiny echo server in
// this process: the physical limit of one WebSocket on this machine.
func rawBaseline(ctx context.Context, frame []byte, warmup, seqN, parN, inflight int) (*inprocResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	up := websocket.Upgrader{}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				mt, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				if err := c.WriteMessage(mt, msg); err != nil {
					return
				}
			}
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, _, err := websocket.DefaultDialer.DialContext(dctx, "ws://"+ln.Addr().String()+"/", nil)
	cancel()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// Bound the whole run: a stuck read fails instead of hanging.
	dl := time.Now().Add(rawPhaseLimit)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.SetReadDeadline(dl)
	c.SetWriteDeadline(dl)
	roundTrip := func() error {
		if err := c.WriteMessage(websocket.TextMessage, frame); err != nil {
			return err
		}
		_, msg, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if len(msg) != len(frame) {
			return fmt.Errorf("echo of %d bytes, sent %d", len(msg), len(frame))
		}
		return nil
	}
	for i := 0; i < warmup; i++ {
		if err := roundTrip(); err != nil {
			return nil, err
		}
	}
	res := &inprocResult{name: "raw gorilla/websocket echo", lat: make([]float64, seqN), parN: parN}
	cpu0 := cpuTime()
	for i := range res.lat {
		t := time.Now()
		if err := roundTrip(); err != nil {
			return nil, err
		}
		res.lat[i] = micros(time.Since(t))
	}
	res.seqCPUUs = perOp(cpuMicros(cpu0), seqN)

	// inflight frames outstanding: the writer takes a credit per frame, the reader returns it.
	credits := make(chan struct{}, inflight)
	readErr := make(chan error, 1)
	cpu0, t0 := cpuTime(), time.Now()
	go func() {
		for i := 0; i < parN; i++ {
			if _, _, err := c.ReadMessage(); err != nil {
				readErr <- err
				return
			}
			<-credits
		}
		readErr <- nil
	}()
	var writeErr error
	for i := 0; i < parN && writeErr == nil; i++ {
		select {
		case credits <- struct{}{}:
			writeErr = c.WriteMessage(websocket.TextMessage, frame)
		case err := <-readErr:
			writeErr = errors.Join(errors.New("reader stopped early"), err)
		}
	}
	if writeErr != nil {
		c.Close()
		return nil, writeErr
	}
	if err := <-readErr; err != nil {
		return nil, err
	}
	res.parWall = time.Since(t0)
	res.parCPUUs = perOp(cpuMicros(cpu0), parN)
	return res, nil
}

// perOp divides a CPU total by n, keeping "n/a" (negative) as is.
func perOp(totalUs float64, n int) float64 {
	if totalUs < 0 || n <= 0 {
		return -1
	}
	return totalUs / float64(n)
}

// inprocWithSDK runs the sequential and in-flight phases of the Go SDK against the in-process
// mockserver answering the same tiny JSON as the real route.
func inprocWithSDK(ctx context.Context, url string, w workload) (*inprocResult, error) {
	w.sockets = 0
	r, err := goRound(ctx, url, w, styleDo)
	if err != nil {
		return nil, err
	}
	if r.Errors > 0 {
		return nil, fmt.Errorf("%d requests failed, first: %s", r.Errors, r.FirstError)
	}
	return &inprocResult{
		name:     "Go SDK Do <-> mockserver",
		lat:      r.SeqLatUs,
		seqCPUUs: perOp(r.SeqCPUUs, w.seq),
		parN:     w.par,
		parWall:  time.Duration(r.ParWallUs * float64(time.Microsecond)),
		parCPUUs: perOp(r.ParCPUUs, w.par),
	}, nil
}
