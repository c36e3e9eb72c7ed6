package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
)

// sideEnv is what every client of one side-by-side section shares.
type sideEnv struct {
	url          string        // the real Sails server, http://127.0.0.1:PORT
	node         string        // the node binary, for the JS clients
	benchDir     string        // this directory
	floor        *floorRequest // the SDK's handshake URI and request frame, for the floor
	roundTimeout time.Duration
}

// client is one column of the side-by-side table.
type client struct {
	columnSpec
	// run does one round (warmup, sequential, in flight, connect) over transport tr.
	run func(ctx context.Context, env *sideEnv, tr string, w workload) (*roundResult, error)
}

// The transport dimension: a client lists the transports it speaks. The raw floor speaks WebSocket
// only; the SDK and the JS clients speak both ("polling": long-polling only, as sails.io.js'
// transports: ['polling']).
var (
	wsOnly  = []string{"websocket"}
	anyTr   = []string{"websocket", "polling"}
	anyHook = []string{"hook2", "hook3"}
)

// clients are the side-by-side columns, in their default order. The floor comes first: every other
// column is shown as a ratio to it.
var clients = []*client{
	{
		columnSpec: columnSpec{key: "floor", column: "raw floor", help: "bare gorilla/websocket, the SDK's request frame precomputed, acks counted by prefix",
			transports: wsOnly, hooks: anyHook},
		run: func(ctx context.Context, env *sideEnv, _ string, w workload) (*roundResult, error) {
			ctx, cancel := context.WithTimeout(ctx, env.roundTimeout)
			defer cancel()
			return floorRound(ctx, env.url, env.floor, w)
		},
	},
	{
		columnSpec: columnSpec{key: "do", column: "SDK Do", help: "this SDK, Do(ctx, RequestOptions) from goroutines",
			transports: anyTr, hooks: anyHook},
		run: func(ctx context.Context, env *sideEnv, tr string, w workload) (*roundResult, error) {
			ctx, cancel := context.WithTimeout(ctx, env.roundTimeout)
			defer cancel()
			return goRound(ctx, env.url, w, styleDo, goTransport(tr))
		},
	},
	{
		columnSpec: columnSpec{key: "cb", column: "SDK callback", help: "this SDK, Get(url, data, cb), each next request issued from a callback",
			transports: anyTr, hooks: anyHook},
		run: func(ctx context.Context, env *sideEnv, tr string, w workload) (*roundResult, error) {
			ctx, cancel := context.WithTimeout(ctx, env.roundTimeout)
			defer cancel()
			w.sockets = 0 // connecting is the same code as for Do: measured there
			return goRound(ctx, env.url, w, styleCallback, goTransport(tr))
		},
	},
	{
		columnSpec: columnSpec{key: "js4", column: "JS sio4", help: "sails.io.js 1.2.1 on socket.io-client 4.x, options passed as a plain object (Engine.IO v4: hook3 only)",
			transports: anyTr, hooks: []string{"hook3"}},
		run: func(ctx context.Context, env *sideEnv, tr string, w workload) (*roundResult, error) {
			return jsRound(ctx, env, "4", tr, w)
		},
	},
	{
		columnSpec: columnSpec{key: "js2", column: "JS sio2", help: "sails.io.js 1.2.1 on socket.io-client 2.x, the pairing it was written for (Engine.IO v3)",
			transports: anyTr, hooks: anyHook},
		run: func(ctx context.Context, env *sideEnv, tr string, w workload) (*roundResult, error) {
			return jsRound(ctx, env, "2", tr, w)
		},
	},
}

// goTransport is the SDK option of a side-by-side transport.
func goTransport(tr string) sailsio.Option {
	if tr == "polling" {
		return sailsio.WithTransports(sailsio.TransportPolling)
	}
	return sailsio.WithTransports(sailsio.TransportWebSocket)
}

// prerequisites returns the repository root and the node binary, or says what to install.
func prerequisites(hook string, needJS bool) (root, node string, err error) {
	root, err = realsails.Root()
	if err != nil {
		return "", "", fmt.Errorf("run from inside the repository: %w", err)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", errors.New("node is not on PATH: install Node.js, run `npm ci --prefix bench`, or run only -phases inproc,mem")
	}
	if !needJS {
		return root, node, nil
	}
	for _, p := range []string{
		filepath.Join("bench", "node_modules", "sails.io.js", "package.json"),
		filepath.Join("bench", "node_modules", "socket.io-client", "package.json"),
		filepath.Join("bench", "node_modules", "socket.io-client-4", "package.json"),
	} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			return "", "", fmt.Errorf("%s is missing: run `npm ci --prefix bench` from the repository root (it installs the JS clients and the Sails test servers)", p)
		}
	}
	return root, node, nil
}

// sideBySide runs the side-by-side section for one transport: the real Sails server, an unmeasured
// round of every client, then cfg.rounds measured rounds, and the table.
func sideBySide(ctx context.Context, cfg *config, tr string) error {
	cols := usableColumns(cfg.clients, tr, cfg.hook, "")
	if len(cols) == 0 {
		return nil
	}
	needJS := slices.ContainsFunc(cols, func(c *client) bool { return strings.HasPrefix(c.key, "js") })
	root, node, err := prerequisites(cfg.hook, needJS)
	if err != nil {
		return err
	}
	srv, v, err := liftServer(ctx, cfg.hook, tr, "side-by-side")
	if err != nil || srv == nil {
		return err
	}
	defer srv.Stop()
	fr, err := captureRequest(ctx, cfg.work.path)
	if err != nil {
		return err
	}
	env := &sideEnv{url: srv.URL, node: node, benchDir: filepath.Join(root, "bench"), floor: fr, roundTimeout: cfg.roundTimeout}

	w := cfg.work
	fmt.Printf("\nSide by side over %s: real Sails app of testdata/sails/%s at %s — sails %s, sails-hook-sockets %s (socket.io %s, engine.io %s), node %s\n",
		tr, cfg.hook, srv.URL, v.Sails, v.Hook, v.SocketIO, v.EngineIO, v.Node)
	fmt.Printf("request: GET %s; the SDK's frame (the floor sends it as is): %s\n", w.path, fr.frame)
	fmt.Printf("per run: %d warmup (every client), %d sequential, %d with %d in flight, %d sockets connected at once\n",
		w.warmup, w.seq, w.par, w.inflight, w.sockets)

	// A freshly lifted server is cold (V8 has not compiled its hot paths yet): warm it up with one
	// unmeasured, shortened round of every client, so that no measured client pays for it.
	warm := workload{path: w.path, warmup: w.warmup, seq: 100, par: min(w.par, 2000), inflight: w.inflight, sockets: min(w.sockets, 50)}
	for _, c := range cols {
		if _, err := runOne(ctx, srv, env, c, tr, warm); err != nil {
			return fmt.Errorf("warm-up round, %s: %w", c.column, err)
		}
	}

	results := make(map[*client][]*roundResult)
	err = rotateRounds(ctx, cols, cfg.rounds, cfg.pause, "", func(c *client) string { return c.column }, func(r int, c *client) error {
		res, err := runOne(ctx, srv, env, c, tr, w)
		if err != nil {
			return fmt.Errorf("round %d, %s: %w", r+1, c.column, err)
		}
		if res.Errors > 0 {
			fmt.Printf("  warning: round %d, %s: %d requests did not answer 200; first: %s\n", r+1, c.column, res.Errors, res.FirstError)
		}
		results[c] = append(results[c], res)
		return nil
	})
	if err != nil {
		return err
	}
	srv.Stop()
	fmt.Println("clients:")
	for _, c := range cols {
		res := results[c][0]
		fmt.Printf("  %-12s %s\n", c.column, clientName(res.Client, res.Node))
	}
	printSideTable(os.Stdout, cfg, cols, results)
	return nil
}

// liftServer lifts the real Sails test app on hook for a section over transport tr (the app allows
// WebSocket only unless told otherwise: see the README's caveats) and returns it with its versions.
// When the server does not accept polling, it says so, stops the server and returns a nil server.
func liftServer(ctx context.Context, hook, tr, section string) (*realsails.Server, realsails.Versions, error) {
	var opts []realsails.Option
	if tr == "polling" {
		opts = append(opts, realsails.WithEnv("SAILSIO_TRANSPORTS", "polling,websocket"))
	}
	srv, err := realsails.Launch(ctx, hook, opts...)
	if err != nil {
		if errors.Is(err, realsails.ErrNotInstalled) {
			err = fmt.Errorf("%w\n(`npm ci --prefix bench` installs the JS clients and both Sails test servers)", err)
		}
		return nil, realsails.Versions{}, err
	}
	v, err := srv.Versions(ctx)
	if err == nil && tr == "polling" {
		if perr := acceptsPolling(ctx, srv.URL); perr != nil {
			fmt.Printf("\nnote: no %s section over polling: %v\n", section, perr)
			srv.Stop()
			return nil, v, nil
		}
	}
	if err != nil {
		srv.Stop()
		return nil, v, err
	}
	return srv, v, nil
}

// acceptsPolling opens an Engine.IO v3 long-polling session on the server (the handshake request
// only) and returns an error saying why it cannot.
func acceptsPolling(ctx context.Context, baseURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	u := baseURL + "/socket.io/?__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=node&__sails_io_sdk_language=javascript&EIO=3&transport=polling"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the server refuses the polling handshake (status %d: %s); the test app allows polling only once app/config/sockets.js reads SAILSIO_TRANSPORTS", resp.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}

// runOne runs one round of c and adds the server's output to the error if the server died.
func runOne(ctx context.Context, srv *realsails.Server, env *sideEnv, c *client, tr string, w workload) (*roundResult, error) {
	var res *roundResult
	var err error
	// The profile labels (see -cpuprofile) are inherited by the goroutines the client starts.
	pprof.Do(ctx, pprof.Labels("client", c.key, "transport", tr), func(ctx context.Context) {
		res, err = c.run(ctx, env, tr, w)
	})
	if err != nil && !srv.Running() {
		err = fmt.Errorf("%w\nthe Sails server exited:%s", err, indented(srv.Output()))
	}
	return res, err
}
