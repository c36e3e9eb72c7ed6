// Command bench measures the sailsio Go SDK side by side with the official JavaScript client,
// sails.io.js 1.2.1, and with a raw WebSocket floor, all against the same real Sails server in one
// run, and prints a table. See bench/README.md. From the repository root:
//
//	npm ci --prefix bench   # once: the JS clients, and the real Sails test servers
//	go run ./bench          # a few minutes; go run ./bench -h for the flags
//
// Phases:
//
//	side    the real Sails app of testdata/sails (hook3 unless -hook hook2) on 127.0.0.1, lifted by
//	        internal/realsails. Every round runs each client in turn (the order rotates from round to
//	        round): the Go SDK with Do, the Go SDK with Get(url, data, cb), the raw floor (bare
//	        gorilla/websocket sending the SDK's request frame, precomputed, and counting acks by
//	        prefix), sails.io.js on socket.io-client 4.x (options passed as a plain object) and on
//	        socket.io-client 2.x, the JS clients each in a fresh node process. Each client does the
//	        same warmup, sequential requests, requests with 64 in flight on one socket, then connects
//	        200 more sockets at once; the table shows the median of the rounds and each figure's
//	        ratio to the floor's.
//	events  one socket receiving events: the test app's POST /events sends N small events to the
//	        requesting socket; the raw floor (bare gorilla/websocket counting the frames), the Go
//	        SDK with On and a json.Unmarshal into a struct, with OnJSON, and sails.io.js on
//	        socket.io-client 4.x and 2.x; client CPU per event and events per second, over
//	        websocket and polling
//	inproc  one socket with both ends in this process: a bare gorilla/websocket echo of a frame the
//	        size of a request, and the SDK against the in-process mockserver
//	mem     memory per idle socket: N SDK sockets (1,000 and 10,000) in a fresh child process,
//	        connected to the in-process mockserver
//	large   one 70 MB virtual POST and one over the server's limit, the SDK (in a fresh child
//	        process) beside sails.io.js, against real Sails (hook3): time, peak RSS growth, time
//	        to the over-limit error (large.go)
//
// Everything listens on 127.0.0.1, every phase is bounded, and the program stops only the
// processes it started, by pid (the Sails server through its own process group).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sailsio-go/sailsio/mockserver"
)

type config struct {
	hook         string
	rounds       int
	clients      []*client // the side-by-side columns, in the order of -clients
	transports   []string  // side-by-side transports, in order
	work         workload
	events       eventsWork
	eventsCols   []*eventsClient // the events columns, in the order of -events-clients
	eventsTrs    []string        // events transports, in order
	pause        time.Duration
	inprocN      int
	inprocPar    int
	mem          []int
	memProfile   string // a directory for the memory child's heap and goroutine profiles
	phases       map[string]bool
	roundTimeout time.Duration
	timeout      time.Duration
	verbose      bool
	cpuProfile   string
	large        largeConfig
	largeProfile string // -large-memprofile
}

func main() {
	switch os.Getenv(roleEnv) {
	case roleMemClient:
		os.Exit(memClientMain())
	case roleLargeClient:
		os.Exit(largeClientMain())
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	err = run(ctx, cfg)
	if err != nil && ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("stopped: -timeout %v reached (%w)", cfg.timeout, err)
		} else {
			err = fmt.Errorf("interrupted (%w)", err)
		}
	}
	cancel()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg := &config{}
	fs.StringVar(&cfg.hook, "hook", "hook3", "real Sails server: hook3 (sails-hook-sockets 3.x, socket.io 4) or hook2 (2.x, socket.io 2; no js4 column)")
	fs.IntVar(&cfg.rounds, "rounds", 5, "measured side-by-side rounds; the order of the clients rotates from round to round")
	clientList := fs.String("clients", strings.Join(columnKeys(clients), ","), "side-by-side columns (comma-separated): "+columnHelp(clients))
	transports := fs.String("transports", "websocket", "side-by-side transports (comma-separated): websocket, polling")
	fs.StringVar(&cfg.work.path, "path", "/status/200", "the request: GET of this path (a route of testdata/sails/app)")
	fs.IntVar(&cfg.work.warmup, "warmup", 500, "unmeasured sequential requests before each run, the same for every client")
	fs.IntVar(&cfg.work.seq, "n", 1000, "sequential requests per run (latency p50/p99, CPU per request)")
	fs.IntVar(&cfg.work.par, "par", 5000, "requests per run in the in-flight phase")
	fs.IntVar(&cfg.work.inflight, "inflight", 64, "requests in flight on one socket in the in-flight phase")
	fs.IntVar(&cfg.work.sockets, "sockets", 200, "sockets connected at once in the connect phase")
	fs.DurationVar(&cfg.pause, "pause", 300*time.Millisecond, "pause between runs, for the server to settle")
	fs.IntVar(&cfg.inprocN, "inproc-n", 10000, "sequential round trips in the inproc phase")
	fs.IntVar(&cfg.inprocPar, "inproc-par", 50000, "in-flight round trips in the inproc phase")
	evClients := fs.String("events-clients", strings.Join(columnKeys(eventsClients), ","), "events columns (comma-separated): "+columnHelp(eventsClients))
	evTransports := fs.String("events-transports", "websocket,polling", "events transports (comma-separated): websocket, polling")
	fs.IntVar(&cfg.events.n, "events-n", 20000, "measured events per run in the events phase")
	fs.IntVar(&cfg.events.warmup, "events-warmup", 2000, "unmeasured events before them, the same for every client")
	fs.IntVar(&cfg.events.size, "events-size", 16, "length of the text of each event's data {i, text}")
	fs.IntVar(&cfg.events.chunk, "events-chunk", 1, "events the server emits per turn of its event loop")
	fs.StringVar(&cfg.events.event, "events-name", "tick", "the event name")
	mem := fs.String("mem", "1000,10000", "socket counts for memory per socket (comma-separated)")
	phases := fs.String("phases", "side,events,inproc,mem,large", "phases to run (comma-separated): side, events, inproc, mem, large")
	largeFlags(fs, &cfg.large)
	fs.StringVar(&cfg.largeProfile, "large-memprofile", "", "large section: the Go child writes a heap profile (allocs) of its first round's large POST to this file")
	fs.StringVar(&cfg.memProfile, "memprofile", "", "mem phase: write the child's heap profile (heap-N.pprof, in use after GC) and goroutine stacks (goroutine-N.txt) for each count into this directory")
	fs.DurationVar(&cfg.roundTimeout, "round-timeout", 3*time.Minute, "limit for one run of one client")
	fs.DurationVar(&cfg.timeout, "timeout", 15*time.Minute, "limit for the whole benchmark")
	fs.BoolVar(&cfg.verbose, "v", false, "also print every round's figures")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (the Go clients, not node nor Sails) to this file; each side-by-side run is labelled client=KEY transport=T (go tool pprof -tagfocus client=do)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.hook != "hook2" && cfg.hook != "hook3" {
		return nil, fmt.Errorf("-hook must be hook2 or hook3, not %q", cfg.hook)
	}
	if !strings.HasPrefix(cfg.work.path, "/") {
		return nil, fmt.Errorf("-path must start with /")
	}
	w := cfg.work
	if cfg.rounds < 1 || w.warmup < 0 || w.seq < 1 || w.par < 1 || w.inflight < 1 || w.sockets < 0 || cfg.inprocN < 1 || cfg.inprocPar < 1 {
		return nil, errors.New("-rounds, -n, -par, -inflight, -inproc-n and -inproc-par must be positive; -warmup and -sockets not negative")
	}
	var err error
	if cfg.clients, err = pickColumns("-clients", *clientList, clients); err != nil {
		return nil, err
	}
	if cfg.transports, err = parseTransports("-transports", *transports); err != nil {
		return nil, err
	}
	if cfg.eventsTrs, err = parseTransports("-events-transports", *evTransports); err != nil {
		return nil, err
	}
	if cfg.eventsCols, err = pickColumns("-events-clients", *evClients, eventsClients); err != nil {
		return nil, err
	}
	if e := cfg.events; e.n < 1 || e.warmup < 0 || e.size < 0 || e.chunk < 1 || e.event == "" {
		return nil, errors.New("-events-n and -events-chunk must be positive, -events-warmup and -events-size not negative, -events-name not empty")
	}
	cfg.phases = map[string]bool{}
	for _, p := range splitList(*phases) {
		switch p {
		case "side", "events", "inproc", "mem", "large":
			cfg.phases[p] = true
		default:
			return nil, fmt.Errorf("-phases: unknown phase %q", p)
		}
	}
	if cfg.phases["side"] && (len(cfg.clients) == 0 || len(cfg.transports) == 0) {
		return nil, errors.New("-clients and -transports must not be empty for the side phase")
	}
	if cfg.phases["large"] {
		if err := cfg.large.check(); err != nil {
			return nil, err
		}
	}
	if cfg.phases["events"] && (len(cfg.eventsCols) == 0 || len(cfg.eventsTrs) == 0) {
		return nil, errors.New("-events-clients and -events-transports must not be empty for the events phase")
	}
	for _, f := range splitList(*mem) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-mem: bad count %q", f)
		}
		cfg.mem = append(cfg.mem, n)
	}
	return cfg, nil
}

// parseTransports parses a list of transports, dropping repeats.
func parseTransports(flagName, list string) ([]string, error) {
	var out []string
	for _, t := range splitList(list) {
		if t != "websocket" && t != "polling" {
			return nil, fmt.Errorf("%s: unknown transport %q (websocket, polling)", flagName, t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(ctx context.Context, cfg *config) error {
	fmt.Printf("sailsio benchmark: %s, GOMAXPROCS=%d, %d CPUs, %s/%s", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	if l := loadAvg(); l != "" {
		fmt.Printf(", load average %s", l)
	}
	fmt.Println()
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.phases["side"] {
		for _, tr := range cfg.transports {
			if err := sideBySide(ctx, cfg, tr); err != nil {
				return err
			}
		}
	}
	if cfg.phases["events"] {
		for _, tr := range cfg.eventsTrs {
			if err := eventsSection(ctx, cfg, tr); err != nil {
				return err
			}
		}
	}
	if cfg.phases["inproc"] {
		if err := inProcess(ctx, cfg); err != nil {
			return err
		}
	}
	if cfg.phases["mem"] && len(cfg.mem) > 0 {
		if err := memory(ctx, cfg); err != nil {
			return err
		}
	}
	if cfg.phases["large"] {
		if err := largeSection(ctx, cfg); err != nil {
			return err
		}
	}
	return nil
}

func inProcess(ctx context.Context, cfg *config) error {
	fr, err := captureRequest(ctx, cfg.work.path)
	if err != nil {
		return err
	}
	fmt.Printf("\nIn process: one socket, client and server both in this process (they share the %d CPUs); %d sequential and %d with %d in flight\n",
		runtime.NumCPU(), cfg.inprocN, cfg.inprocPar, cfg.work.inflight)
	raw, err := rawBaseline(ctx, fr.frame, cfg.work.warmup, cfg.inprocN, cfg.inprocPar, cfg.work.inflight)
	if err != nil {
		return fmt.Errorf("raw baseline: %w", err)
	}
	raw.name = fmt.Sprintf("raw gorilla/websocket echo (%d-byte frames)", len(fr.frame))

	srv := mockserver.New()
	defer srv.Close()
	srv.Handle("GET /*", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(struct {
			Status int `json:"status"`
		}{200})
	})
	w := cfg.work
	w.seq, w.par = cfg.inprocN, cfg.inprocPar
	sdk, err := inprocWithSDK(ctx, srv.URL(), w)
	if err != nil {
		return fmt.Errorf("the Go SDK against the mockserver: %w", err)
	}
	sdk.name = fmt.Sprintf("Go SDK Do <-> mockserver (GET %s)", cfg.work.path)
	printInprocTable(os.Stdout, cfg.work.inflight, []*inprocResult{raw, sdk})
	return nil
}

func memory(ctx context.Context, cfg *config) error {
	counts := slices.Clone(cfg.mem)
	slices.Sort(counts)
	fmt.Printf("\nMemory per idle socket: Go SDK (EIO3) in a fresh child process per count, sockets to the in-process mockserver; figures are (after - before) / sockets, after runtime.GC\n")
	results, notes, err := memPerSocket(ctx, counts, cfg.memProfile)
	for _, n := range notes {
		fmt.Println("  note:", n)
	}
	printMemTable(os.Stdout, results)
	return err
}
