package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Worker processes (load --workers K): a process may hold only as many sockets as its open-file hard
// limit allows (and a machine may refuse to raise it), so the parent runs K copies of itself, each
// with 1/K of the sockets and of the arrival rate, and merges their reports (histograms included,
// exchanged in HdrHistogram's compressed encoding). The parent keeps them in step over their stdin
// and stdout: each reports "ramped" once its sockets arrived and waits for "hold", so every worker
// holds the same interval; each reports "held" after its memory snapshot and waits for "close",
// so the parent samples the servers while every socket is still open. Then each prints its report
// as JSON.

// workerArgs strips the parent-only flags from the load arguments.
func workerArgs(args []string) []string {
	var out []string
	skipValue := map[string]bool{"workers": true, "out": true, "progress": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		if a == "--" || !strings.HasPrefix(a, "-") {
			out = append(out, a)
			continue
		}
		base, _, hasValue := strings.Cut(name, "=")
		if base == "json" {
			continue
		}
		if skipValue[base] {
			if !hasValue {
				i++
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

// worker is one child process.
type worker struct {
	i     int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	rest  chan []byte // the JSON report, once "held" was answered
	errb  *strings.Builder
	mu    sync.Mutex
}

// runWorkers runs the load in k worker processes and merges their reports.
func runWorkers(ctx context.Context, e *env, args []string, k int, lr *loadRun) (*report, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, exitWith(exitOther, err)
	}
	base := workerArgs(args)
	serverBefore := lr.serverStats(ctx)
	var workers []*worker
	defer func() {
		for _, w := range workers {
			if w.cmd.ProcessState == nil {
				_ = w.cmd.Process.Kill()
				_ = w.cmd.Wait()
			}
		}
	}()
	start := time.Now()
	for i := range k {
		wargs := append([]string{"load"}, base...)
		wargs = append(wargs, "--json", "--progress", "off", "--worker", fmt.Sprintf("%d/%d", i, k), "--run-id", lr.runID)
		cmd := exec.Command(exe, wargs...)
		w := &worker{i: i, cmd: cmd, lines: make(chan string, 4), rest: make(chan []byte, 1), errb: &strings.Builder{}}
		cmd.Stderr = lockedStringWriter{w}
		if w.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, exitWith(exitOther, err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, exitWith(exitOther, err)
		}
		if err := cmd.Start(); err != nil {
			return nil, exitWith(exitOther, err)
		}
		workers = append(workers, w)
		go w.read(stdout)
	}
	stop := context.AfterFunc(ctx, func() {
		for _, w := range workers {
			_ = w.cmd.Process.Signal(os.Interrupt)
		}
	})
	defer stop()
	await := func(stage string) {
		for _, w := range workers {
			select {
			case l, ok := <-w.lines:
				if ok && l != stage {
					lr.logf("worker %d: %q, want %q", w.i, l, stage)
				}
			case <-time.After(24 * time.Hour):
			}
		}
	}
	tell := func(word string) {
		for _, w := range workers {
			_, _ = io.WriteString(w.stdin, word+"\n")
		}
	}
	await("ramped")
	lr.logf("%d workers ramped after %.1fs; holding for %v", k, time.Since(start).Seconds(), lr.sc.Duration)
	tell("hold")
	await("held")
	serverAfter := lr.serverStats(context.WithoutCancel(ctx))
	tell("close")
	var reps []*report
	for _, w := range workers {
		b := <-w.rest
		_ = w.cmd.Wait()
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			w.mu.Lock()
			msg := w.errb.String()
			w.mu.Unlock()
			return nil, exitWith(exitOther, fmt.Errorf("worker %d: no report (%v): %s", w.i, err, msg))
		}
		reps = append(reps, &r)
	}
	rep := mergeReports(reps)
	rep.Targets = lr.targets
	rep.Scenario = lr.scenarioOut() // the whole run's, not one worker's share
	rep.Memory.Server = serverSide(serverBefore, serverAfter)
	rep.heartbeats()
	return rep, nil
}

type lockedStringWriter struct{ w *worker }

func (l lockedStringWriter) Write(b []byte) (int, error) {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	if l.w.errb.Len() < 64<<10 {
		l.w.errb.Write(b)
	}
	return len(b), nil
}

// read passes the stage lines on, then the rest of stdout (the report).
func (w *worker) read(r io.Reader) {
	br := bufio.NewReader(r)
	for range 2 {
		l, err := br.ReadString('\n')
		if err != nil {
			close(w.lines)
			w.rest <- nil
			return
		}
		w.lines <- strings.TrimSpace(l)
	}
	close(w.lines)
	b, _ := io.ReadAll(br)
	w.rest <- b
}

// workerBarrier is the child's side: report stage on stdout, then wait for the parent's word.
func workerBarrier(stdout io.Writer, stdin io.Reader) func(context.Context, string) {
	br := bufio.NewReader(stdin)
	return func(ctx context.Context, stage string) {
		fmt.Fprintln(stdout, stage)
		got := make(chan struct{})
		go func() {
			_, _ = br.ReadString('\n')
			close(got)
		}()
		select {
		case <-got:
		case <-ctx.Done():
		}
	}
}

// parseWorker parses --worker "i/k".
func parseWorker(s string) (i, k int, err error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	k, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || k < 1 || i < 0 || i >= k {
		return 0, 0, usageErrorf("--worker %q: want i/k", s)
	}
	return i, k, nil
}

// share is worker i's part of n spread over k.
func share(n, i, k int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

// mergeReports sums the workers' reports: counts add up, histograms merge, memory per socket is
// weighted by each worker's sockets, the ramp is the slowest worker's.
func mergeReports(reps []*report) *report {
	out := &report{Workers: len(reps), Events: map[string]int64{}}
	connect, all := newHist(), newHist()
	routes := map[routeKey]*routeAcc{}
	var fan *fanoutOut
	fanHist := newHist()
	var cliWeighted memSide
	for _, r := range reps {
		if out.Started.IsZero() || r.Started.Before(out.Started) {
			out.Started = r.Started
		}
		out.ElapsedS = max(out.ElapsedS, r.ElapsedS)
		out.HoldS = max(out.HoldS, r.HoldS)
		out.Scenario = r.Scenario
		s := &out.Sockets
		s.Target += r.Sockets.Target
		s.Connected += r.Sockets.Connected
		s.Peak += r.Sockets.Peak
		s.AtEnd += r.Sockets.AtEnd
		s.Failed += r.Sockets.Failed
		s.Drops += r.Sockets.Drops
		s.DropsInHold += r.Sockets.DropsInHold
		s.Reconnections += r.Sockets.Reconnections
		s.RampS = max(s.RampS, r.Sockets.RampS)
		for kind, n := range r.Sockets.FailedBy {
			if s.FailedBy == nil {
				s.FailedBy = map[string]int64{}
			}
			s.FailedBy[kind] += n
		}
		mergeEncoded(connect, r.ConnectHist)
		mergeEncoded(all, r.AllHist)
		for _, q := range r.Requests {
			key := routeKey{q.Route, q.Status, q.Error}
			acc := routes[key]
			if acc == nil {
				acc = &routeAcc{h: newHist()}
				routes[key] = acc
			}
			acc.rps += q.RPS
			mergeEncoded(acc.h, q.Hist)
		}
		out.RPS += r.RPS
		for n, c := range r.Events {
			out.Events[n] += c
		}
		if r.Fanout != nil {
			if fan == nil {
				fan = &fanoutOut{Event: r.Fanout.Event}
			}
			fan.Stamped += r.Fanout.Stamped
			fan.Deliveries += r.Fanout.Deliveries
			mergeEncoded(fanHist, r.Fanout.Hist)
		}
		c := r.Memory.Client
		n := float64(c.Sockets)
		cliWeighted.Sockets += c.Sockets
		cliWeighted.Goroutines += c.Goroutines
		cliWeighted.HeapInuse += c.HeapInuse
		cliWeighted.StackInuse += c.StackInuse
		cliWeighted.RSS += c.RSS
		cliWeighted.HeapPerSocket += c.HeapPerSocket * n
		cliWeighted.StackPerSocket += c.StackPerSocket * n
		cliWeighted.RSSPerSocket += c.RSSPerSocket * n
		cliWeighted.GoroutinesPerSocket += c.GoroutinesPerSocket * n
		out.CPU.UserS += r.CPU.UserS
		out.CPU.SysS += r.CPU.SysS
		out.Limits = r.Limits
	}
	if n := float64(cliWeighted.Sockets); n > 0 {
		cliWeighted.HeapPerSocket /= n
		cliWeighted.StackPerSocket /= n
		cliWeighted.RSSPerSocket /= n
		cliWeighted.GoroutinesPerSocket /= n
		cliWeighted.GoPerSocket = cliWeighted.HeapPerSocket + cliWeighted.StackPerSocket
	}
	cliWeighted.Processes = len(reps)
	out.Memory.Client = cliWeighted
	out.Memory.Note = fmt.Sprintf("client figures summed over %d worker processes; they include the load generator's own bookkeeping per socket (about 100 bytes)", len(reps))
	if out.Sockets.RampS > 0 {
		out.Sockets.ConnectRate = float64(out.Sockets.Connected) / out.Sockets.RampS
	}
	out.Connect = summarize(connect)
	out.RequestsAll = summarize(all)
	for k, acc := range routes {
		out.Requests = append(out.Requests, routeOut{Route: k.Route, Status: k.Status, Error: k.Error, RPS: acc.rps, Latency: summarize(acc.h)})
	}
	sortRoutes(out.Requests)
	if fan != nil {
		fan.Latency = summarize(fanHist)
		out.Fanout = fan
	}
	if out.RequestsAll.Count > 0 {
		out.CPU.PerRequestUS = (out.CPU.UserS + out.CPU.SysS) * 1e6 / float64(out.RequestsAll.Count)
	}
	return out
}

type routeAcc struct {
	h   *hdrHist
	rps float64
}
