package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sailsio-go/sailsio"
)

const loadExamples = `  sailsio load http://127.0.0.1:1337 --sockets 1000 --rate 200 --duration 1m \
      --request '3:GET /echo' --request '1:POST /rooms/lobby/say {"text":"{{stamp}}"}' \
      --subscribe 'POST /rooms/lobby/join' --fanout chat --think 500ms --out report.json
  sailsio load http://127.0.0.1:1337 --scenario chat.yaml
  sailsio mock --quiet --shards 5 > mock.urls &        # idle sockets against five mock ports
  until [ -s mock.urls ]; do sleep 0.1; done             # (the mock runs until stopped: see mock --help)
  sailsio load $(cat mock.urls) --sockets 100000 --rate 3000 --duration 70s; kill $!

Several URLs spread the sockets round-robin: each server port has its own ephemeral-port range
(about 28,000 sockets per destination on Linux), so 100,000 sockets need 4 or more (mock --shards).
Variables in paths, bodies and headers: {{socket}} (index), {{sid}} (socket id), {{n}} (the socket's
request count), {{rand}}, {{stamp}} (a token for fan-out latency), and the scenario's vars.
A scenario file has the flags' fields (sockets, rate, ramp, duration, think, headers, vars, subscribe,
requests: [{weight, request, headers}], events, fanout, concurrency); see docs/cli.md.`

func runLoad(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "load", "sailsio load URL [URL...] [flags | --scenario FILE] [--out report.json]", loadExamples)
	var cf connFlags
	cf.register(fs, true)
	sc := &scenario{}
	scenarioFile := fs.String("scenario", "", "read the run from `FILE` (YAML or JSON); flags given explicitly win")
	fs.IntVar(&sc.Sockets, "sockets", 10, "`N` sockets to open")
	fs.Float64Var(&sc.Rate, "rate", 0, "arrivals per second (0: as fast as --concurrency allows)")
	fs.DurationVar(&sc.Ramp, "ramp", 0, "grow the arrival rate linearly from 0 to --rate over `DURATION`")
	fs.DurationVar(&sc.Duration, "duration", 10*time.Second, "hold every socket this long once all arrived")
	fs.DurationVar(&sc.Think, "think", time.Second, "each socket's pause between two requests")
	fs.IntVar(&sc.Concurrency, "concurrency", 256, "connection attempts in flight at most")
	var reqs, subs, events listFlag
	fs.Var(&reqs, "request", "a request of the mix, `'[WEIGHT:]VERB /path [JSON]'` (repeatable)")
	fs.Var(&subs, "subscribe", "a request `'VERB /path [JSON]'` each socket sends on connection and after every reconnection (repeatable)")
	fs.Var(&events, "event", "count server events `NAME` (repeatable)")
	fs.StringVar(&sc.Fanout, "fanout", "", "measure fan-out latency to `EVENT`: from a request whose body holds {{stamp}} to the event on other sockets")
	out := fs.String("out", "", "write the report as JSON to `FILE`")
	jsonOut := fs.Bool("json", false, "print the report as JSON on stdout instead of text")
	progress := fs.String("progress", "auto", "live progress on stderr: auto (on a terminal), on, off")
	workers := fs.Int("workers", 1, "run the load in `K` processes (each holds 1/K of the sockets: a process may only open as many files as its hard limit allows)")
	workerOf := fs.String("worker", "", "internal: this process is worker i/k of a --workers run")
	runID := fs.String("run-id", "", "internal: the run's id, shared by its workers")
	pos, err := parseFlags(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageErrorf("want URL [URL...]")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flagT) { set[f.Name] = true })
	if *scenarioFile != "" {
		fileSc := &scenario{}
		if err := loadScenario(*scenarioFile, fileSc); err != nil {
			return usageErrorf("--scenario: %v", err)
		}
		mergeScenario(fileSc, sc, set)
		sc = fileSc
	}
	for _, r := range reqs {
		sc.Requests = append(sc.Requests, parseWeighted(r))
	}
	sc.Subscribe = append(sc.Subscribe, subs...)
	sc.Events = append(sc.Events, events...)
	if err := sc.validate(); err != nil {
		return usageErrorf("%v", err)
	}
	if *workers < 1 || *workers > 256 {
		return usageErrorf("--workers %d: want 1..256", *workers)
	}
	widx := 0
	if *workerOf != "" {
		i, k, err := parseWorker(*workerOf)
		if err != nil {
			return err
		}
		widx = i
		sc.Sockets = share(sc.Sockets, i, k)
		sc.Rate /= float64(k)
		sc.Concurrency = max(1, sc.Concurrency/k)
		pos = append(pos[i%len(pos):], pos[:i%len(pos)]...) // each worker starts on another target
		if sc.Sockets == 0 {
			return usageErrorf("--worker %s: no socket left for this worker", *workerOf)
		}
	}
	switch *progress {
	case "auto", "on", "off":
	default:
		return usageErrorf("--progress %q: want auto, on or off", *progress)
	}
	headers, err := headerMap(cf.headers)
	if err != nil {
		return usageErrorf("-H: %v", err)
	}
	if *workerOf == "" { // the parent of a --workers run warns, its workers do not repeat it
		warnHandshakeOnly(e.stderr, "-H", headers)
		warnHandshakeOnly(e.stderr, "scenario header", sc.Headers)
		for _, r := range sc.Requests {
			warnHandshakeOnly(e.stderr, "scenario request header", r.Headers)
		}
	}
	for k, v := range sc.Headers {
		headers[strings.ToLower(k)] = v
	}
	var setups []*clientSetup
	for _, u := range pos {
		cs, err := cf.setup(u)
		if err != nil {
			return err
		}
		if err := cs.prepare(ctx); err != nil {
			return err
		}
		setups = append(setups, cs)
	}
	lr := newLoadRun(sc, pos, setups, headers, cf)
	lr.eio = cf.eio
	lr.showProgress = *progress == "on" || *progress == "auto" && e.stderrTTY
	lr.stderr = e.stderr
	lr.worker = widx
	if *runID != "" {
		lr.runID = *runID
	}
	var rep *report
	switch {
	case *workers > 1:
		lr.showProgress = false
		rep, err = runWorkers(ctx, e, args, *workers, lr)
		if err != nil {
			return err
		}
	case *workerOf != "":
		lr.barrier = workerBarrier(e.stdout, e.stdin)
		rep = lr.run(ctx)
	default:
		rep = lr.run(ctx)
	}
	for _, cs := range setups {
		saveJar(e, cs)
	}
	if *jsonOut {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(e.stdout, string(b))
	} else {
		rep.writeText(e.stdout)
	}
	if *out != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return exitWith(exitOther, fmt.Errorf("--out: %w", err))
		}
	}
	if rep.Sockets.Connected == 0 {
		return exitWith(exitNoConn, errors.New("no socket connected"))
	}
	return nil
}

// mergeScenario lets flags given explicitly override the file's values.
func mergeScenario(file, flags *scenario, set map[string]bool) {
	if set["sockets"] || file.Sockets == 0 {
		file.Sockets = flags.Sockets
	}
	if set["rate"] {
		file.Rate = flags.Rate
	}
	if set["ramp"] {
		file.Ramp = flags.Ramp
	}
	if set["duration"] || file.Duration == 0 {
		file.Duration = flags.Duration
	}
	if set["think"] || file.Think == 0 {
		file.Think = flags.Think
	}
	if set["concurrency"] || file.Concurrency == 0 {
		file.Concurrency = flags.Concurrency
	}
	if set["fanout"] {
		file.Fanout = flags.Fanout
	}
}

// loadRun is the state of one load run.
type loadRun struct {
	sc           *scenario
	targets      []string
	setups       []*clientSetup
	opts         [][]sailsio.Option
	runID        string
	stderr       interface{ Write([]byte) (int, error) }
	showProgress bool
	eio          int

	weights []int // cumulative

	connected, peak, failed, drops, dropsInHold, reconns atomic.Int64
	totalReqs, totalErrs, intervalReqs, intervalErrs     atomic.Int64
	stamped, deliveries                                  atomic.Int64
	holding, stopping                                    atomic.Bool
	warnedFD, warnedPorts                                atomic.Bool

	connectHist lockedHist
	allHist     lockedHist
	interval    lockedHist
	fanout      *shardedHist
	worker      int // this process's worker index (0 without --workers)
	// barrier, in a worker process, reports a stage to the parent and waits for its go-ahead.
	barrier func(ctx context.Context, stage string)

	mu       sync.Mutex
	routes   map[routeKey]*lockedHist
	failedBy map[string]int64
	events   map[string]*atomic.Int64
	socks    []*loadSocket

	// counting: the sockets connecting, each with a channel the first connection closes.
	counting sync.Map // *sailsio.SailsSocket -> chan struct{}
}

// loadSocket is one socket of the run and its request loop (a timer, not a goroutine).
type loadSocket struct {
	lr    *loadRun
	i     int
	s     *sailsio.SailsSocket
	n     int64
	timer *time.Timer
}

func newLoadRun(sc *scenario, targets []string, setups []*clientSetup, headers map[string]string, cf connFlags) *loadRun {
	lr := &loadRun{
		sc: sc, targets: targets, setups: setups,
		runID:  strconv.FormatInt(time.Now().UnixNano()%1e9, 36),
		routes: map[routeKey]*lockedHist{}, failedBy: map[string]int64{}, events: map[string]*atomic.Int64{},
	}
	lr.connectHist.h, lr.allHist.h, lr.interval.h = newHist(), newHist(), newHist()
	if sc.Fanout != "" {
		lr.fanout = newShardedHist()
	}
	for _, ev := range uniq(append(append([]string{}, sc.Events...), sc.Fanout)) {
		if ev != "" {
			lr.events[ev] = new(atomic.Int64)
		}
	}
	total := 0
	for _, r := range sc.Requests {
		total += r.Weight
		lr.weights = append(lr.weights, total)
	}
	for _, cs := range setups {
		o := append([]sailsio.Option{}, cs.opts...)
		if len(headers) > 0 {
			o = append(o, sailsio.WithHeaders(headers))
		}
		if cf.timeout > 0 {
			o = append(o, sailsio.WithRequestTimeout(cf.timeout))
		}
		o = append(o, sailsio.WithReconnectionDelay(time.Second, 10*time.Second), sailsio.WithLifecycleHooks(lr.hooks()))
		lr.opts = append(lr.opts, o)
	}
	return lr
}

// hooks count connections, drops and reconnections. One set serves every socket: a socket's own
// bookkeeping is its loadSocket, not handlers of its own (the run measures memory per socket).
func (lr *loadRun) hooks() sailsio.LifecycleHooks {
	return sailsio.LifecycleHooks{
		OnConnect: func(s *sailsio.SailsSocket, _ sailsio.Transport) {
			n := lr.connected.Add(1)
			for {
				p := lr.peak.Load()
				if n <= p || lr.peak.CompareAndSwap(p, n) {
					break
				}
			}
			if c, ok := lr.counting.LoadAndDelete(s); ok {
				close(c.(chan struct{}))
			}
		},
		OnDisconnect: func(*sailsio.SailsSocket, string, error) {
			lr.connected.Add(-1)
			if !lr.stopping.Load() {
				lr.drops.Add(1)
				if lr.holding.Load() {
					lr.dropsInHold.Add(1)
				}
			}
		},
		OnReconnect: func(*sailsio.SailsSocket, int) { lr.reconns.Add(1) },
	}
}

func (lr *loadRun) logf(format string, a ...any) {
	if lr.showProgress {
		fmt.Fprint(lr.stderr, "\r\x1b[K")
	}
	fmt.Fprintf(lr.stderr, "sailsio load: "+format+"\n", a...)
}

// run opens the sockets at the scenario's arrival rate, holds them for its duration with the request
// mix going, then closes them and returns the report.
func (lr *loadRun) run(ctx context.Context) *report {
	rep := &report{Targets: lr.targets, Started: time.Now().UTC()}
	rep.Limits = limitsOut{OpenFiles: raiseFileLimit(), EphemeralPorts: ephemeralPorts()}
	need := uint64(lr.sc.Sockets) + 256
	if rep.Limits.OpenFiles != 0 && rep.Limits.OpenFiles < need {
		lr.logf("warning: the open-file limit is %d, fewer than the %d sockets need; expect \"out of file descriptors\"", rep.Limits.OpenFiles, lr.sc.Sockets)
	}
	if p := rep.Limits.EphemeralPorts; p > 0 && lr.sc.Sockets > p*len(lr.targets)*9/10 {
		lr.logf("warning: %d sockets over %d destination(s) with %d ephemeral ports each; expect \"out of ephemeral ports\" (give more URLs, e.g. mock --shards)", lr.sc.Sockets, len(lr.targets), p)
	}
	user0, sys0 := cpuTimes()
	runtime.GC()
	clientBefore := readProcStats()
	var serverBefore, serverAfter map[int]procStats
	if lr.barrier == nil {
		serverBefore = lr.serverStats(ctx)
	}

	start := time.Now()
	stopProgress := lr.startProgress()
	lr.arrive(ctx, start)
	rampDone := time.Since(start)
	rep.Sockets.RampS = rampDone.Seconds()
	if n := lr.connected.Load(); rampDone > 0 {
		rep.Sockets.ConnectRate = float64(n) / rampDone.Seconds()
	}
	failed := ""
	if n := lr.failed.Load(); n > 0 {
		failed = fmt.Sprintf(" (%d failed)", n)
	}
	lr.logf("%d of %d sockets connected%s after %.1fs; holding for %v", lr.connected.Load(), lr.sc.Sockets, failed, rampDone.Seconds(), lr.sc.Duration)
	if lr.barrier != nil {
		lr.barrier(ctx, "ramped")
	}

	// Hold.
	holdStart := time.Now()
	lr.holding.Store(true)
	select {
	case <-ctx.Done():
	case <-time.After(lr.sc.Duration):
	}
	lr.holding.Store(false)
	hold := time.Since(holdStart)
	rep.HoldS = hold.Seconds()
	rep.Sockets.AtEnd = lr.connected.Load()

	// Snapshots before anything closes.
	runtime.GC()
	runtime.GC()
	clientAfter := readProcStats()
	user1, sys1 := cpuTimes()
	if lr.barrier == nil {
		serverAfter = lr.serverStats(context.WithoutCancel(ctx))
	} else {
		lr.barrier(ctx, "held")
	}

	lr.stopping.Store(true)
	stopProgress()
	lr.closeAll()
	rep.ElapsedS = time.Since(start).Seconds()

	sc := lr.sc
	rep.Scenario = lr.scenarioOut()
	rep.Sockets.Target = sc.Sockets
	rep.Sockets.Connected = lr.peak.Load()
	rep.Sockets.Peak = lr.peak.Load()
	rep.Sockets.Failed = lr.failed.Load()
	rep.Sockets.Drops = lr.drops.Load()
	rep.Sockets.DropsInHold = lr.dropsInHold.Load()
	rep.Sockets.Reconnections = lr.reconns.Load()
	lr.mu.Lock()
	if len(lr.failedBy) > 0 {
		rep.Sockets.FailedBy = lr.failedBy
	}
	lr.mu.Unlock()
	rep.Connect = summarize(lr.connectHist.h)

	// Requests per route and status.
	lr.mu.Lock()
	for k, h := range lr.routes {
		s := summarize(h.h)
		ro := routeOut{Route: k.Route, Status: k.Status, Error: k.Error, RPS: float64(s.Count) / max(hold.Seconds()+rampDone.Seconds(), 1e-9), Latency: s}
		if lr.barrier != nil {
			ro.Hist = encodeHist(h.h)
		}
		rep.Requests = append(rep.Requests, ro)
	}
	lr.mu.Unlock()
	sortRoutes(rep.Requests)
	rep.RequestsAll = summarize(lr.allHist.h)
	rep.RPS = float64(rep.RequestsAll.Count) / max(hold.Seconds()+rampDone.Seconds(), 1e-9)
	rep.Events = map[string]int64{}
	for n, c := range lr.events {
		rep.Events[n] = c.Load()
	}
	if lr.fanout != nil {
		fh := lr.fanout.merged()
		rep.Fanout = &fanoutOut{Event: sc.Fanout, Stamped: lr.stamped.Load(), Deliveries: lr.deliveries.Load(), Latency: summarize(fh)}
		if lr.barrier != nil {
			rep.Fanout.Hist = encodeHist(fh)
		}
	}
	if lr.barrier != nil {
		rep.ConnectHist, rep.AllHist = encodeHist(lr.connectHist.h), encodeHist(lr.allHist.h)
	}

	// Memory: per socket connected at the snapshot.
	rep.Memory.Client = memSideOf(clientBefore, clientAfter, rep.Sockets.AtEnd)
	rep.Memory.Note = "client figures include the load generator's own bookkeeping per socket (about 100 bytes)"
	rep.Memory.Server = serverSide(serverBefore, serverAfter)
	rep.heartbeats()
	rep.CPU = cpuOut{UserS: user1 - user0, SysS: sys1 - sys0}
	if rep.RequestsAll.Count > 0 {
		rep.CPU.PerRequestUS = (rep.CPU.UserS + rep.CPU.SysS) * 1e6 / float64(rep.RequestsAll.Count)
	}
	return rep
}

// scenarioOut describes the run's scenario in the report.
func (lr *loadRun) scenarioOut() scenarioOut {
	sc := lr.sc
	out := scenarioOut{Sockets: sc.Sockets, Rate: sc.Rate, RampS: sc.Ramp.Seconds(), HoldS: sc.Duration.Seconds(), ThinkS: sc.Think.Seconds(), EIO: lr.eio}
	for _, r := range sc.Requests {
		out.Requests = append(out.Requests, fmt.Sprintf("%d:%s", r.Weight, r.Request))
	}
	return out
}

// serverStats asks each target for GET /__sailsio/stats (sailsio mock answers it); the answers are
// keyed by process (shards of one mock process answer the same process figures with their own
// socket counts). Empty when no target answers.
func (lr *loadRun) serverStats(ctx context.Context) map[int]procStats {
	out := map[int]procStats{}
	for _, cs := range lr.setups {
		base, err := httpBase(cs.url)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		req, _ := http.NewRequestWithContext(cctx, http.MethodGet, base.JoinPath("/__sailsio/stats").String(), nil)
		resp, err := cs.httpClient().Do(req)
		if err != nil {
			cancel()
			continue
		}
		var st procStats
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		cancel()
		if err != nil || resp.StatusCode != http.StatusOK || st.Pid == 0 {
			continue
		}
		if prev, ok := out[st.Pid]; ok {
			prev.Sockets += st.Sockets
			out[st.Pid] = prev
		} else {
			out[st.Pid] = st
		}
	}
	return out
}

// serverSide sums the server processes' figures (after minus before, per process) into one memSide.
func serverSide(before, after map[int]procStats) *memSide {
	if len(after) == 0 {
		return nil
	}
	var b, a procStats
	for pid, st := range after {
		a.Sockets += st.Sockets
		a.Goroutines += st.Goroutines
		a.HeapInuse += st.HeapInuse
		a.StackInuse += st.StackInuse
		a.RSS += st.RSS
		a.PingIntervalMS = st.PingIntervalMS
		if pre, ok := before[pid]; ok {
			b.Goroutines += pre.Goroutines
			b.HeapInuse += pre.HeapInuse
			b.StackInuse += pre.StackInuse
			b.RSS += pre.RSS
		}
	}
	m := memSideOf(b, a, int64(a.Sockets))
	m.Processes = len(after)
	return &m
}

// arrive opens the sockets at the scenario's pace and returns when every attempt has ended.
func (lr *loadRun) arrive(ctx context.Context, start time.Time) {
	sem := make(chan struct{}, lr.sc.Concurrency)
	var wg sync.WaitGroup
	for i := 0; i < lr.sc.Sockets; i++ {
		for lr.sc.arrivalsBy(time.Since(start)) <= i {
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case sem <- struct{}{}:
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			lr.open(ctx, i)
		}(i)
	}
	wg.Wait()
}

// open connects socket i and starts its subscriptions and request loop.
func (lr *loadRun) open(ctx context.Context, i int) {
	t := i % len(lr.setups)
	ls := &loadSocket{lr: lr, i: i}
	s, err := sailsio.New(lr.setups[t].url, lr.opts[t]...)
	if err != nil {
		lr.connectFailed(err)
		return
	}
	ls.s = s
	// Connect returns before the socket's hooks run (they run on its event goroutine): open waits
	// for the first OnConnect, so that arrive ends, and the hold starts, with every connected
	// socket counted.
	counted := make(chan struct{})
	lr.counting.Store(s, counted)
	defer lr.counting.Delete(s)
	for name, c := range lr.events {
		fanout := name == lr.sc.Fanout
		s.On(name, func(data json.RawMessage) {
			c.Add(1)
			if fanout {
				lr.fanoutEvent(i, data)
			}
		})
	}
	for _, sub := range lr.sc.Subscribe {
		ro, _ := parseRequestLine(ls.expand(sub))
		s.Resubscribe(ro, nil)
	}
	t0 := time.Now()
	if err := s.Connect(ctx); err != nil {
		lr.connectFailed(err)
		s.Close()
		return
	}
	lr.connectHist.record(time.Since(t0))
	lr.mu.Lock()
	lr.socks = append(lr.socks, ls)
	lr.mu.Unlock()
	select {
	case <-counted:
	case <-ctx.Done():
	}
	if len(lr.sc.Requests) > 0 {
		// A random first delay spreads the sockets' requests over the think time.
		first := time.Duration(rand.Int64N(int64(lr.sc.Think) + 1))
		ls.timer = time.AfterFunc(first, ls.fire)
	}
}

// connectFailed counts a failed connection and explains resource exhaustion once.
func (lr *loadRun) connectFailed(err error) {
	lr.failed.Add(1)
	kind := classifyConnErr(err)
	lr.mu.Lock()
	lr.failedBy[kind]++
	lr.mu.Unlock()
	switch kind {
	case kindNoFD:
		if lr.warnedFD.CompareAndSwap(false, true) {
			lr.logf("out of file descriptors with %d sockets connected (open-file limit %d): raise the hard limit (ulimit -Hn) or open fewer sockets", lr.connected.Load(), openFileLimit())
		}
	case kindNoPorts:
		if lr.warnedPorts.CompareAndSwap(false, true) {
			lr.logf("out of ephemeral ports with %d sockets connected (%d ports per destination): spread the sockets over more server addresses or ports (several URLs; mock --shards N)", lr.connected.Load(), ephemeralPorts())
		}
	}
}

const (
	kindNoFD    = "out of file descriptors"
	kindNoPorts = "out of ephemeral ports"
)

func classifyConnErr(err error) string {
	msg := err.Error()
	var he *sailsio.HandshakeError
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), strings.Contains(msg, "too many open files"):
		return kindNoFD
	case errors.Is(err, syscall.EADDRNOTAVAIL), strings.Contains(msg, "cannot assign requested address"):
		return kindNoPorts
	case errors.Is(err, syscall.ECONNREFUSED), strings.Contains(msg, "connection refused"):
		return "connection refused"
	case errors.As(err, &he):
		return fmt.Sprintf("handshake refused (HTTP %d)", he.StatusCode)
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(msg, "timeout"), strings.Contains(msg, "timed out"):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return msg
}

// expand fills a template's variables for this socket.
func (ls *loadSocket) expand(s string) string {
	return expandVars(s, func(name string) string {
		switch name {
		case "socket":
			return strconv.Itoa(ls.i)
		case "sid":
			return ls.s.ID()
		case "n":
			return strconv.FormatInt(ls.n, 10)
		case "rand":
			return strconv.FormatInt(rand.Int64N(1<<31), 10)
		case "stamp":
			if ls.lr.fanout == nil {
				return ""
			}
			ls.lr.stamped.Add(1)
			// The token carries its send time and its socket, so any worker process on this machine
			// can time the event it causes and skip the sender's own copy.
			return fmt.Sprintf("sl%s.%d.%d.%d", ls.lr.runID, time.Now().UnixNano(), ls.lr.worker, ls.i)
		}
		if v, ok := ls.lr.sc.Vars[name]; ok {
			return v[ls.i%len(v)]
		}
		return ""
	})
}

// fire sends the socket's next request of the mix; its callback records it and re-arms the timer.
func (ls *loadSocket) fire() {
	lr := ls.lr
	if lr.stopping.Load() {
		return
	}
	k := 0
	if len(lr.weights) > 1 {
		x := rand.IntN(lr.weights[len(lr.weights)-1])
		for lr.weights[k] <= x {
			k++
		}
	}
	wr := &lr.sc.Requests[k]
	ls.n++
	ro := sailsio.RequestOptions{Method: wr.verb, URL: ls.expand(wr.path)}
	if wr.body != "" {
		ro.Data = rawJSON(ls.expand(wr.body))
	}
	if len(wr.Headers) > 0 {
		ro.Headers = make(map[string]string, len(wr.Headers))
		for h, v := range wr.Headers {
			ro.Headers[h] = ls.expand(v)
		}
	}
	t0 := time.Now()
	ls.s.Request(ro, func(_ json.RawMessage, jwr *sailsio.JWRes) {
		if lr.stopping.Load() {
			return
		}
		lr.recordRequest(wr.Request, jwr, time.Since(t0))
		if lr.sc.Think == 0 {
			ls.fire() // Request does not block: the next one goes out from this callback, as io.socket code does
			return
		}
		ls.timer.Reset(lr.sc.Think)
	})
}

// recordRequest files one request under its route and status.
func (lr *loadRun) recordRequest(route string, jwr *sailsio.JWRes, d time.Duration) {
	k := routeKey{Route: route, Status: jwr.StatusCode}
	if jwr.StatusCode == 0 {
		k.Error = requestErrKind(jwr.Error)
		lr.totalErrs.Add(1)
		lr.intervalErrs.Add(1)
	} else if jwr.StatusCode >= 400 {
		lr.intervalErrs.Add(1)
	}
	lr.mu.Lock()
	h := lr.routes[k]
	if h == nil {
		h = &lockedHist{h: newHist()}
		lr.routes[k] = h
	}
	lr.mu.Unlock()
	h.record(d)
	if jwr.StatusCode != 0 {
		lr.allHist.record(d)
		lr.interval.record(d)
	}
	lr.totalReqs.Add(1)
	lr.intervalReqs.Add(1)
}

func requestErrKind(err error) string {
	switch {
	case errors.Is(err, sailsio.ErrTimeout):
		return "timeout"
	case errors.Is(err, sailsio.ErrDisconnected):
		return "disconnected"
	case errors.Is(err, sailsio.ErrClosed):
		return "closed"
	case errors.Is(err, sailsio.ErrQueueFull):
		return "queue full"
	}
	return "error"
}

// fanoutEvent records the latency of a stamped request's event on another socket.
func (lr *loadRun) fanoutEvent(i int, data []byte) {
	prefix := "sl" + lr.runID + "."
	s := string(data)
	now := time.Now().UnixNano()
	for {
		j := strings.Index(s, prefix)
		if j < 0 {
			return
		}
		s = s[j+len(prefix):]
		var f [3]int64
		k := 0
		for k < 3 {
			end := 0
			for end < len(s) && s[end] >= '0' && s[end] <= '9' {
				end++
			}
			v, err := strconv.ParseInt(s[:end], 10, 64)
			if err != nil {
				break
			}
			f[k] = v
			s = s[end:]
			k++
			if k < 3 {
				if !strings.HasPrefix(s, ".") {
					break
				}
				s = s[1:]
			}
		}
		if k == 3 && !(int(f[1]) == lr.worker && int(f[2]) == i) {
			lr.fanout.record(i, time.Duration(now-f[0]))
			lr.deliveries.Add(1)
		}
	}
}

// closeAll stops every request loop and disconnects every socket, 64 at a time.
func (lr *loadRun) closeAll() {
	lr.mu.Lock()
	socks := lr.socks
	lr.mu.Unlock()
	work := make(chan *loadSocket)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ls := range work {
				if ls.timer != nil {
					ls.timer.Stop()
				}
				ls.s.Close()
			}
		}()
	}
	for _, ls := range socks {
		work <- ls
	}
	close(work)
	wg.Wait()
}

// startProgress prints a live line on stderr every second (on a terminal, or with --progress on).
func (lr *loadRun) startProgress() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				if lr.showProgress {
					fmt.Fprint(lr.stderr, "\r\x1b[K")
				}
				return
			case now := <-t.C:
				lr.interval.mu.Lock()
				p50 := float64(lr.interval.h.ValueAtQuantile(50)) / 1000
				p99 := float64(lr.interval.h.ValueAtQuantile(99)) / 1000
				lr.interval.h.Reset()
				lr.interval.mu.Unlock()
				secs := now.Sub(last).Seconds()
				last = now
				reqs := float64(lr.intervalReqs.Swap(0)) / secs
				errs := lr.intervalErrs.Swap(0)
				if lr.showProgress {
					fmt.Fprintf(lr.stderr, "\r\x1b[Kconnected %d/%d  failed %d  req/s %.0f  p50 %.2fms  p99 %.2fms  errors %d  drops %d  reconnections %d",
						lr.connected.Load(), lr.sc.Sockets, lr.failed.Load(), reqs, p50, p99, errs, lr.drops.Load(), lr.reconns.Load())
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
