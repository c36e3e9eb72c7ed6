// Command bench measures the sailsio Go SDK side by side with the official JavaScript client
// (sails.io.js 1.2.1 on socket.io-client 2.x) against the same real Sails server, and prints a
// table. See bench/README.md. From the repository root:
//
//	npm ci --prefix bench   # once: the JS client, and the real Sails test servers
//	go run ./bench          # a few minutes at most; go run ./bench -h for the flags
//
// Phases:
//
//	side   the real Sails app of testdata/sails (hook3 unless -hook hook2) on 127.0.0.1; rounds
//	       alternate between this SDK (in this process) and bench/js/client.js (a fresh node process
//	       per round), each doing: warmup, sequential requests, requests with 64 in flight on one
//	       socket, then connecting 200 more sockets at once; the table shows the median of the rounds
//	floor  one socket with both ends in this process: a bare gorilla/websocket echo of a frame the
//	       size of a request (the physical floor), and the SDK against the in-process mockserver
//	mem    memory per idle socket: N SDK sockets (1,000 and 10,000) in a fresh child process,
//	       connected to the in-process mockserver
//
// Everything listens on 127.0.0.1, every phase is bounded, and the program stops only the
// processes it started, by pid (the Sails server through its own process group).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/mockserver"
)

type config struct {
	hook         string
	rounds       int
	work         workload
	pause        time.Duration
	floorN       int
	floorPar     int
	mem          []int
	phases       map[string]bool
	roundTimeout time.Duration
	timeout      time.Duration
	verbose      bool
}

func main() {
	if os.Getenv(roleEnv) == roleMemClient {
		os.Exit(memClientMain())
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
	fs.StringVar(&cfg.hook, "hook", "hook3", "real Sails server: hook3 (sails-hook-sockets 3.x, socket.io 4) or hook2 (2.x, socket.io 2)")
	fs.IntVar(&cfg.rounds, "rounds", 5, "side-by-side rounds; Go and JS alternate which goes first")
	fs.StringVar(&cfg.work.path, "path", "/status/200", "the request: GET of this path (a route of testdata/sails/app)")
	fs.IntVar(&cfg.work.warmup, "warmup", 200, "unmeasured sequential requests before each run")
	fs.IntVar(&cfg.work.seq, "n", 1000, "sequential requests per run (latency p50/p99, CPU per request)")
	fs.IntVar(&cfg.work.par, "par", 5000, "requests per run in the in-flight phase")
	fs.IntVar(&cfg.work.inflight, "inflight", 64, "requests in flight on one socket in the in-flight phase")
	fs.IntVar(&cfg.work.sockets, "sockets", 200, "sockets connected at once in the connect phase")
	fs.DurationVar(&cfg.pause, "pause", 300*time.Millisecond, "pause between runs, for the server to settle")
	fs.IntVar(&cfg.floorN, "floor-n", 10000, "sequential round trips in the floor phase")
	fs.IntVar(&cfg.floorPar, "floor-par", 50000, "in-flight round trips in the floor phase")
	mem := fs.String("mem", "1000,10000", "socket counts for memory per socket (comma-separated)")
	phases := fs.String("phases", "side,floor,mem", "phases to run (comma-separated): side, floor, mem")
	fs.DurationVar(&cfg.roundTimeout, "round-timeout", 3*time.Minute, "limit for one run of either client")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "limit for the whole benchmark")
	fs.BoolVar(&cfg.verbose, "v", false, "also print every round's figures")
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
	if cfg.rounds < 1 || w.warmup < 0 || w.seq < 1 || w.par < 1 || w.inflight < 1 || w.sockets < 0 || cfg.floorN < 1 || cfg.floorPar < 1 {
		return nil, errors.New("-rounds, -n, -par, -inflight, -floor-n and -floor-par must be positive; -warmup and -sockets not negative")
	}
	cfg.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		p = strings.TrimSpace(p)
		switch p {
		case "side", "floor", "mem":
			cfg.phases[p] = true
		case "":
		default:
			return nil, fmt.Errorf("-phases: unknown phase %q", p)
		}
	}
	for _, f := range strings.Split(*mem, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-mem: bad count %q", f)
		}
		cfg.mem = append(cfg.mem, n)
	}
	return cfg, nil
}

func run(ctx context.Context, cfg *config) error {
	fmt.Printf("sailsio benchmark: %s, GOMAXPROCS=%d, %d CPUs, %s/%s", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	if l := loadAvg(); l != "" {
		fmt.Printf(", load average %s", l)
	}
	fmt.Println()
	if cfg.phases["side"] {
		if err := sideBySide(ctx, cfg); err != nil {
			return err
		}
	}
	if cfg.phases["floor"] {
		if err := floor(ctx, cfg); err != nil {
			return err
		}
	}
	if cfg.phases["mem"] && len(cfg.mem) > 0 {
		if err := memory(ctx, cfg); err != nil {
			return err
		}
	}
	return nil
}

// prerequisites returns the repository root and the node binary, or says what to install.
func prerequisites(hook string) (root, node string, err error) {
	root, err = realsails.Root()
	if err != nil {
		return "", "", fmt.Errorf("run from inside the repository: %w", err)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", errors.New("node is not on PATH: install Node.js, run `npm ci --prefix bench`, or run only -phases floor,mem")
	}
	for _, p := range []string{
		filepath.Join("bench", "node_modules", "sails.io.js", "package.json"),
		filepath.Join("bench", "node_modules", "socket.io-client", "package.json"),
		filepath.Join("testdata", "sails", hook, "node_modules", "sails", "package.json"),
		filepath.Join("testdata", "sails", hook, "node_modules", "sails-hook-sockets", "package.json"),
	} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			return "", "", fmt.Errorf("%s is missing: run `npm ci --prefix bench` from the repository root (it installs the JS client and the Sails test servers)", p)
		}
	}
	return root, node, nil
}

func sideBySide(ctx context.Context, cfg *config) error {
	root, node, err := prerequisites(cfg.hook)
	if err != nil {
		return err
	}
	benchDir := filepath.Join(root, "bench")
	srv, err := realsails.Launch(ctx, cfg.hook)
	if err != nil {
		if errors.Is(err, realsails.ErrNotInstalled) {
			err = fmt.Errorf("%w\n(`npm ci --prefix bench` installs the JS client and both Sails test servers)", err)
		}
		return err
	}
	defer srv.Stop()
	v, err := srv.Versions(ctx)
	if err != nil {
		return err
	}
	w := cfg.work
	fmt.Printf("\nSide by side: real Sails app of testdata/sails/%s at %s — sails %s, sails-hook-sockets %s (socket.io %s, engine.io %s), node %s\n",
		cfg.hook, srv.URL, v.Sails, v.Hook, v.SocketIO, v.EngineIO, v.Node)
	fmt.Printf("request: GET %s (Engine.IO v3 on both sides); per run: %d warmup, %d sequential, %d with %d in flight, %d sockets connected at once\n",
		w.path, w.warmup, w.seq, w.par, w.inflight, w.sockets)

	// A freshly lifted server is cold (V8 has not compiled its hot paths yet): warm it up with an
	// unmeasured, shortened Go round, so that the first measured client does not pay for it.
	warm := workload{path: w.path, warmup: 500, seq: 1, par: min(w.par, 2000), inflight: w.inflight, sockets: min(w.sockets, 50)}
	wctx, wcancel := context.WithTimeout(ctx, cfg.roundTimeout)
	_, err = goRound(wctx, srv.URL, warm)
	wcancel()
	if err != nil {
		return fmt.Errorf("warming the server up: %w", err)
	}

	var goRes, jsRes []*roundResult
	for r := 0; r < cfg.rounds; r++ {
		order := []string{"go", "js"}
		if r%2 == 1 {
			order = []string{"js", "go"}
		}
		for _, side := range order {
			if err := ctx.Err(); err != nil {
				return err
			}
			t0 := time.Now()
			var res *roundResult
			var err error
			if side == "go" {
				rctx, cancel := context.WithTimeout(ctx, cfg.roundTimeout)
				res, err = goRound(rctx, srv.URL, w)
				cancel()
			} else {
				res, err = jsRound(ctx, node, benchDir, srv.URL, w, cfg.roundTimeout)
			}
			if err != nil {
				if !srv.Running() {
					err = fmt.Errorf("%w\nthe Sails server exited:%s", err, indented(srv.Output()))
				}
				return fmt.Errorf("round %d, %s client: %w", r+1, side, err)
			}
			if res.Errors > 0 {
				fmt.Printf("  warning: round %d, %s client: %d requests did not answer 200; first: %s\n", r+1, side, res.Errors, res.FirstError)
			}
			if side == "go" {
				goRes = append(goRes, res)
			} else {
				jsRes = append(jsRes, res)
			}
			fmt.Fprintf(os.Stderr, "  round %d/%d %s: %.1fs\n", r+1, cfg.rounds, side, time.Since(t0).Seconds())
			select {
			case <-time.After(cfg.pause):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	srv.Stop()
	if len(jsRes) > 0 {
		fmt.Printf("clients: %s | %s on node %s\n", goRes[0].Client, jsRes[0].Client, jsRes[0].Node)
	}
	printSideTable(os.Stdout, cfg, goRes, jsRes)
	return nil
}

// requestFrame is the Socket.IO frame both clients send for GET path, with a one-digit ack id.
func requestFrame(path string) []byte {
	u, _ := json.Marshal(path)
	var b bytes.Buffer
	b.WriteString(`421["get",{"method":"get","headers":{},"data":{},"url":`)
	b.Write(u)
	b.WriteString(`}]`)
	return b.Bytes()
}

func floor(ctx context.Context, cfg *config) error {
	frame := requestFrame(cfg.work.path)
	fmt.Printf("\nFloor: one socket, client and server both in this process (they share the %d CPUs); %d sequential and %d with %d in flight\n",
		runtime.NumCPU(), cfg.floorN, cfg.floorPar, cfg.work.inflight)
	raw, err := rawBaseline(ctx, frame, cfg.work.warmup, cfg.floorN, cfg.floorPar, cfg.work.inflight)
	if err != nil {
		return fmt.Errorf("raw baseline: %w", err)
	}
	raw.name = fmt.Sprintf("raw gorilla/websocket echo (%d-byte frames)", len(frame))

	srv := mockserver.New()
	defer srv.Close()
	srv.Handle("GET /*", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(struct {
			Status int `json:"status"`
		}{200})
	})
	w := cfg.work
	w.seq, w.par = cfg.floorN, cfg.floorPar
	runtime.GC()
	sdk, err := floorWithSDK(ctx, srv.URL(), w)
	if err != nil {
		return fmt.Errorf("the Go SDK against the mockserver: %w", err)
	}
	sdk.name = fmt.Sprintf("Go SDK <-> mockserver (GET %s)", cfg.work.path)
	printFloorTable(os.Stdout, cfg.work.inflight, []*floorResult{raw, sdk})
	return nil
}

func memory(ctx context.Context, cfg *config) error {
	counts := slices.Clone(cfg.mem)
	slices.Sort(counts)
	fmt.Printf("\nMemory per idle socket: Go SDK (EIO3) in a fresh child process per count, sockets to the in-process mockserver; figures are (after - before) / sockets, after runtime.GC\n")
	results, notes, err := memPerSocket(ctx, counts)
	for _, n := range notes {
		fmt.Println("  note:", n)
	}
	printMemTable(os.Stdout, results)
	return err
}
