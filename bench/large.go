package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
)

// The large section: one large virtual POST, the SDK beside sails.io.js, against the same real Sails
// server (hook3, maxHttpBufferSize -large-max). The body is what a JavaScript user sends:
// {"blob": "xxx…"}, a JSON object with one string of -large-mb million 'x' characters; in Go a
// map[string]any, the counterpart of an object literal. Each client runs in a fresh process per
// round (the Go side: this binary again, role largeclient), so that its peak RSS holds nothing of
// earlier phases. Per round and client:
//
//  1. connect, and one small POST /size (unmeasured);
//  2. build the body, collect the garbage, reset the process's peak RSS (VmHWM, by writing 5 to
//     /proc/self/clear_refs) and take VmRSS as the baseline;
//  3. POST /size with the body: the time until the response, and VmHWM minus the baseline (the
//     peak RSS growth during the request);
//  4. a body of -large-over-mb million characters, over the server's limit: the time until the
//     client reports the error. The SDK refuses it itself (the server's maxPayload is in the open
//     packet); sails.io.js sends it, and the server closes the connection (WebSocket 1009): the time
//     until its disconnect event.

const (
	roleLargeClient   = "largeclient"
	largeParamsEnv    = "SAILSIO_BENCH_LARGE"
	largeResultPrefix = "SAILSIO_BENCH_LARGE "
	// largeProfileEnv names a file the Go child writes a heap profile to right after the large
	// POST (go tool pprof -sample_index=alloc_space -top): what the request allocated, plus the body.
	largeProfileEnv = "SAILSIO_BENCH_LARGE_MEMPROFILE"
)

// largeConfig is the section's flags.
type largeConfig struct {
	mb      int   // the body's string, in millions of characters
	overMB  int   // the over-limit body's string, in millions of characters
	maxBuf  int64 // the server's maxHttpBufferSize
	rounds  int
	timeout time.Duration // one client's round
}

func largeFlags(fs *flag.FlagSet, c *largeConfig) {
	fs.IntVar(&c.mb, "large-mb", 70, "large section: the POST body's string, in millions of characters")
	fs.IntVar(&c.overMB, "large-over-mb", 150, "large section: the over-limit body's string, in millions of characters (0: skip)")
	fs.Int64Var(&c.maxBuf, "large-max", 100_000_000, "large section: the server's maxHttpBufferSize in bytes")
	fs.IntVar(&c.rounds, "large-rounds", 3, "large section: rounds (a fresh process per client and round)")
	fs.DurationVar(&c.timeout, "large-timeout", 2*time.Minute, "large section: limit for one client's round")
}

func (c *largeConfig) check() error {
	if c.mb < 1 || c.overMB < 0 || c.maxBuf < 1 || c.rounds < 1 || c.timeout <= 0 {
		return errors.New("-large-mb, -large-max, -large-rounds and -large-timeout must be positive, -large-over-mb not negative")
	}
	if int64(c.mb)*1e6 >= c.maxBuf {
		return fmt.Errorf("-large-mb %d: the body must fit under -large-max %d", c.mb, c.maxBuf)
	}
	if c.overMB > 0 && int64(c.overMB)*1e6 <= c.maxBuf {
		return fmt.Errorf("-large-over-mb %d: the body must exceed -large-max %d", c.overMB, c.maxBuf)
	}
	return nil
}

// largeParams is what a large-body client is told (the Go child and bench/js/client.js alike).
type largeParams struct {
	Mode      string   `json:"mode"` // "large" (for client.js)
	Sio       string   `json:"sio,omitempty"`
	URL       string   `json:"url"`
	Bytes     int      `json:"largeBytes"`
	OverBytes int      `json:"overBytes"`
	Trans     []string `json:"transports"`
	TimeoutMs int64    `json:"timeoutMs"`
}

// largeResult is what a large-body client reports; times in microseconds, sizes in bytes (negative:
// not available).
type largeResult struct {
	Client       string  `json:"client"`
	Node         string  `json:"node,omitempty"`
	PostUs       float64 `json:"postUs"`
	PostCPUUs    float64 `json:"postCpuUs"`
	BaselineRSS  int64   `json:"baselineRss"`
	PeakRSS      int64   `json:"peakRss"`
	HWMReset     bool    `json:"hwmReset"` // VmHWM was reset at the baseline (else it counts from process start)
	AnswerBytes  int     `json:"answerBytes"`
	OverUs       float64 `json:"overUs"`
	OverOutcome  string  `json:"overOutcome"` // the error (Go) or the event (JS) that ended the over-limit request
	OverRefusedN int     `json:"overRefused"` // 1 when the over-limit request failed, as expected
}

func (r *largeResult) growth() float64 {
	if r.PeakRSS < 0 || r.BaselineRSS < 0 {
		return math.NaN()
	}
	return float64(r.PeakRSS - r.BaselineRSS)
}

// largeBody is the body both clients send: {"blob": "xxx…"} with n characters.
func largeBody(n int) map[string]any { return map[string]any{"blob": strings.Repeat("x", n)} }

// largeExpected is the size of largeBody(n) as JSON.stringify writes it, which POST /size answers.
func largeExpected(n int) int { return len(`{"blob":""}`) + n }

// largeClientMain is the Go child: it reads its parameters from the environment, runs the
// measurement and prints one result line.
func largeClientMain() int {
	var p largeParams
	if err := json.Unmarshal([]byte(os.Getenv(largeParamsEnv)), &p); err != nil {
		fmt.Fprintln(os.Stderr, "largeclient: bad parameters:", err)
		return 2
	}
	profile := os.Getenv(largeProfileEnv)
	if profile != "" {
		runtime.MemProfileRate = 4096
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(p.TimeoutMs)*time.Millisecond)
	defer cancel()
	res, err := largeGo(ctx, p, profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "largeclient:", err)
		return 1
	}
	b, _ := json.Marshal(res)
	fmt.Println(largeResultPrefix + string(b))
	return 0
}

// largeGo measures the SDK in this process (the child, or a test).
func largeGo(ctx context.Context, p largeParams, profile string) (*largeResult, error) {
	res := &largeResult{Client: "sailsio Do (Go, " + runtime.Version() + ")"}
	opts := []sailsio.Option{sailsio.WithReconnection(false), sailsio.WithTransports(sailsio.TransportWebSocket)}
	s, err := sailsio.Connect(ctx, p.URL, opts...)
	if err != nil {
		return nil, err
	}
	defer s.Disconnect()
	if _, err := largePost(ctx, s, largeBody(10), 10); err != nil {
		return nil, fmt.Errorf("warm-up POST: %w", err)
	}

	body := largeBody(p.Bytes)
	debug.FreeOSMemory()
	res.HWMReset = resetPeakRSS()
	res.BaselineRSS = currentRSS()
	cpu0 := cpuTime()
	t0 := time.Now()
	n, err := largePost(ctx, s, body, p.Bytes)
	res.PostUs = micros(time.Since(t0))
	res.PostCPUUs = cpuMicros(cpu0)
	res.PeakRSS = peakRSS()
	if err != nil {
		return nil, fmt.Errorf("large POST: %w", err)
	}
	res.AnswerBytes = n
	if profile != "" {
		if err := writeHeapProfile(profile); err != nil {
			return nil, err
		}
	}
	runtime.KeepAlive(body)
	body = nil

	if p.OverBytes > 0 {
		over := largeBody(p.OverBytes)
		t0 = time.Now()
		_, err = s.PostContext(ctx, "/size", over)
		res.OverUs = micros(time.Since(t0))
		switch {
		case errors.Is(err, sailsio.ErrMessageTooLarge):
			res.OverRefusedN = 1
			res.OverOutcome = err.Error()
		case err != nil:
			res.OverOutcome = "unexpected error: " + err.Error()
		default:
			res.OverOutcome = "unexpected: the server answered"
		}
		runtime.KeepAlive(over)
	}
	return res, nil
}

// largePost posts body to /size and returns the size the server counted, checked against n.
func largePost(ctx context.Context, s *sailsio.SailsSocket, body any, n int) (int, error) {
	jwr, err := s.PostContext(ctx, "/size", body)
	if err != nil {
		return 0, err
	}
	var a struct {
		Bytes int `json:"bytes"`
	}
	if jwr.StatusCode != 200 || json.Unmarshal(jwr.Body, &a) != nil || a.Bytes != largeExpected(n) {
		return 0, fmt.Errorf("POST /size answered %d %.200s, want {\"bytes\":%d}", jwr.StatusCode, jwr.Body, largeExpected(n))
	}
	return a.Bytes, nil
}

func writeHeapProfile(path string) error {
	runtime.GC() // the profile holds the allocations up to the last completed collection
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// largeColumn is one column of the large table.
type largeColumn struct {
	key, column string
	run         func(ctx context.Context, env *largeEnv, p largeParams) (*largeResult, error)
}

type largeEnv struct {
	exe, node, benchDir string
	profile             string // the Go child's heap profile, first round only
}

var largeColumns = []largeColumn{
	{"do", "SDK Do", func(ctx context.Context, env *largeEnv, p largeParams) (*largeResult, error) {
		return runLargeChild(ctx, env, p)
	}},
	{"js4", "JS sio4", func(ctx context.Context, env *largeEnv, p largeParams) (*largeResult, error) {
		p.Sio = "4"
		return runLargeJS(ctx, env, p)
	}},
	{"js2", "JS sio2", func(ctx context.Context, env *largeEnv, p largeParams) (*largeResult, error) {
		p.Sio = "2"
		return runLargeJS(ctx, env, p)
	}},
}

func runLargeChild(ctx context.Context, env *largeEnv, p largeParams) (*largeResult, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, env.exe)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleLargeClient, largeParamsEnv+"="+string(b))
	if env.profile != "" {
		cmd.Env = append(cmd.Env, largeProfileEnv+"="+env.profile)
	}
	return runLargeCmd(ctx, cmd, "Go child")
}

func runLargeJS(ctx context.Context, env *largeEnv, p largeParams) (*largeResult, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	// --expose-gc: the script collects the garbage before its baseline, as the Go side does.
	cmd := exec.CommandContext(ctx, env.node, "--expose-gc", filepath.Join(env.benchDir, "js", "client.js"), string(b))
	cmd.Dir = env.benchDir
	return runLargeCmd(ctx, cmd, "js client")
}

// runLargeCmd runs a large-body client process and decodes its result line. The process is killed
// (by pid) when ctx ends.
func runLargeCmd(ctx context.Context, cmd *exec.Cmd, what string) (*largeResult, error) {
	var stdout bytes.Buffer
	stderr := newTailBuffer(16 << 10)
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.WaitDelay = 2 * time.Second
	runErr := cmd.Run()
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), largeResultPrefix); ok {
			var r largeResult
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				return nil, fmt.Errorf("%s: bad result line: %w", what, err)
			}
			return &r, nil
		}
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w (killed)%s", what, ctx.Err(), indented(stderr.String()))
	}
	return nil, fmt.Errorf("%s: %v, no result line%s", what, runErr, indented(stderr.String()))
}

// largeSection runs the large section: hook3 lifted with maxHttpBufferSize cfg.large.maxBuf, then
// rounds of every column (the order rotating), and the table.
func largeSection(ctx context.Context, cfg *config) error {
	lc := cfg.large
	var cols []largeColumn
	for _, c := range largeColumns {
		if slices.ContainsFunc(cfg.clients, func(k *client) bool { return k.key == c.key }) {
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 {
		fmt.Println("\nnote: no large section: -clients names none of do, js4, js2")
		return nil
	}
	needJS := slices.ContainsFunc(cols, func(c largeColumn) bool { return strings.HasPrefix(c.key, "js") })
	root, node, err := prerequisites("hook3", needJS)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	srv, err := realsails.Launch(ctx, "hook3", realsails.WithEnv("SAILSIO_MAX_BUFFER", strconv.FormatInt(lc.maxBuf, 10)))
	if err != nil {
		return err
	}
	defer srv.Stop()
	v, err := srv.Versions(ctx)
	if err != nil {
		return err
	}
	env := &largeEnv{exe: exe, node: node, benchDir: filepath.Join(root, "bench")}
	if cfg.largeProfile != "" {
		env.profile = cfg.largeProfile
	}
	p := largeParams{Mode: "large", URL: srv.URL, Bytes: lc.mb * 1e6, OverBytes: lc.overMB * 1e6,
		Trans: []string{"websocket"}, TimeoutMs: lc.timeout.Milliseconds()}
	fmt.Printf("\nLarge bodies over websocket: real Sails app of testdata/sails/hook3 at %s — sails %s, sails-hook-sockets %s (socket.io %s), node %s; maxHttpBufferSize %d\n",
		srv.URL, v.Sails, v.Hook, v.SocketIO, v.Node, lc.maxBuf)
	fmt.Printf("body: {\"blob\": \"xxx…\"} (%d bytes as JSON; Go: map[string]any), POST /size; over the limit: the same with %d million characters\n",
		largeExpected(p.Bytes), lc.overMB)
	fmt.Println("each client in a fresh process per round; peak RSS growth: VmHWM during the POST minus VmRSS after the body was built (VmHWM reset there)")

	results := map[string][]*largeResult{}
	// The pause after each run also lets the server settle: the over-limit body makes it drop the JS
	// client's connection.
	err = rotateRounds(ctx, cols, lc.rounds, cfg.pause, "large ", func(c largeColumn) string { return c.column }, func(r int, c largeColumn) error {
		rctx, cancel := context.WithTimeout(ctx, lc.timeout+10*time.Second)
		res, err := c.run(rctx, env, p)
		cancel()
		if err != nil && !srv.Running() {
			err = fmt.Errorf("%w\nthe Sails server exited:%s", err, indented(srv.Output()))
		}
		if err != nil {
			return fmt.Errorf("large, round %d, %s: %w", r+1, c.column, err)
		}
		if c.key == "do" {
			env.profile = "" // the first round's profile only
		}
		results[c.key] = append(results[c.key], res)
		return nil
	})
	if err != nil {
		return err
	}
	srv.Stop()
	fmt.Println("clients:")
	for _, c := range cols {
		res := results[c.key][0]
		fmt.Printf("  %-8s %s\n", c.column, clientName(res.Client, res.Node))
		if !res.HWMReset {
			fmt.Printf("           note: VmHWM could not be reset: the peak counts from the start of the process\n")
		}
		fmt.Printf("           over the limit: %s\n", res.OverOutcome)
	}
	printLargeTable(os.Stdout, cols, results, p, cfg.verbose)
	if cfg.largeProfile != "" {
		fmt.Printf("the Go child's heap profile of its first round: %s (go tool pprof -sample_index=alloc_space -top %s)\n", cfg.largeProfile, cfg.largeProfile)
	}
	return nil
}

// largeMetrics are the rows of the large table.
func largeMetrics(p largeParams) []struct {
	name, unit string
	value      func(r *largeResult) float64
} {
	mbs := float64(p.Bytes) / 1e6
	return []struct {
		name, unit string
		value      func(r *largeResult) float64
	}{
		{fmt.Sprintf("%.0f MB POST: time to the response", mbs), "ms", func(r *largeResult) float64 { return r.PostUs / 1000 }},
		{fmt.Sprintf("%.0f MB POST: client CPU", mbs), "ms", func(r *largeResult) float64 { return nanIfNeg(r.PostCPUUs) / 1000 }},
		{fmt.Sprintf("%.0f MB POST: peak RSS growth", mbs), "MB", func(r *largeResult) float64 { return r.growth() / 1e6 }},
		{"peak RSS growth ÷ body size", "x", func(r *largeResult) float64 { return r.growth() / float64(largeExpected(p.Bytes)) }},
		{fmt.Sprintf("%.0f MB over the limit: time to the error", float64(p.OverBytes)/1e6), "ms", func(r *largeResult) float64 {
			if p.OverBytes == 0 {
				return math.NaN()
			}
			return r.OverUs / 1000
		}},
	}
}

// printLargeTable prints the medians per column, and each JS column's figures as the SDK's ratio
// to them (SDK ÷ JS: below 1, the SDK is faster or smaller).
func printLargeTable(out io.Writer, cols []largeColumn, results map[string][]*largeResult, p largeParams, verbose bool) {
	ms := largeMetrics(p)
	med := map[string][]float64{}
	for _, c := range cols {
		for _, m := range ms {
			var xs []float64
			for _, r := range results[c.key] {
				xs = append(xs, m.value(r))
			}
			med[c.key] = append(med[c.key], median(xs))
		}
	}
	_, haveSDK := med["do"]
	head := []string{"large body", ""}
	for _, c := range cols {
		head = append(head, c.column)
		if haveSDK && c.key != "do" {
			head = append(head, "SDK÷"+strings.TrimPrefix(c.column, "JS "))
		}
	}
	fmt.Fprintf(out, "\nmedian of %d rounds; SDK÷x: the SDK's median divided by that client's\n", len(results[cols[0].key]))
	rows := [][]string{head}
	for i, m := range ms {
		row := []string{m.name, m.unit}
		for _, c := range cols {
			row = append(row, fmtNum(med[c.key][i]))
			if haveSDK && c.key != "do" {
				row = append(row, fmtRatio(med["do"][i]/med[c.key][i]))
			}
		}
		rows = append(rows, row)
	}
	table(out, rows)
	if haveSDK {
		growth, over, post := med["do"][3], med["do"][4], med["do"][0]
		var parts []string
		parts = append(parts, fmt.Sprintf("peak RSS growth ≤ 3x the body: %s (%s)", fmtRatio(growth), verdict(growth <= 3)))
		if p.OverBytes > 0 {
			parts = append(parts, fmt.Sprintf("over-limit error ≤ 500 ms: %s ms (%s)", fmtNum(over), verdict(over <= 500)))
		}
		if js, ok := med["js4"]; ok {
			parts = append(parts, fmt.Sprintf("time ≤ JS sio4's: %s (%s)", fmtRatio(post/js[0]), verdict(post <= js[0])))
		}
		fmt.Fprintln(out, "targets (this run's medians):")
		for _, s := range parts {
			fmt.Fprintln(out, "  "+s)
		}
	}
	if verbose {
		fmt.Fprintln(out, "\nevery round (in the column order above):")
		rows := [][]string{{"large body (unit)"}}
		for _, c := range cols {
			rows[0] = append(rows[0], c.column)
		}
		for _, m := range ms {
			row := []string{m.name + " (" + m.unit + ")"}
			for _, c := range cols {
				var xs []string
				for _, r := range results[c.key] {
					xs = append(xs, fmtNum(m.value(r)))
				}
				row = append(row, strings.Join(xs, " "))
			}
			rows = append(rows, row)
		}
		table(out, rows)
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}
