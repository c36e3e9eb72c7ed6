package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// jsResultPrefix starts the line bench/js/client.js prints with its results.
const jsResultPrefix = "SAILSIO_BENCH_RESULT "

// jsRound runs one round of bench/js/client.js (a fresh node process) against env.url, with
// sails.io.js on socket.io-client 2.x (sio "2") or 4.x (sio "4") over transport tr, and returns
// what it measured. The process is killed (by pid) if it outlives env.roundTimeout or ctx.
func jsRound(ctx context.Context, env *sideEnv, sio, tr string, w workload) (*roundResult, error) {
	res := new(roundResult)
	err := runNodeClient(ctx, env, map[string]any{
		"sio":        sio,
		"transports": []string{tr},
		"url":        env.url,
		"path":       w.path,
		"warmup":     w.warmup,
		"seq":        w.seq,
		"par":        w.par,
		"inflight":   w.inflight,
		"sockets":    w.sockets,
		"timeoutMs":  env.roundTimeout.Milliseconds(),
	}, res)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// runNodeClient runs bench/js/client.js (a fresh node process) with params and decodes its result
// line into out. The process is killed (by pid) if it outlives env.roundTimeout or ctx.
func runNodeClient(ctx context.Context, env *sideEnv, params map[string]any, out any) error {
	timeout := env.roundTimeout
	arg, err := json.Marshal(params)
	if err != nil {
		return err
	}
	// The script has its own watchdog; this one is a few seconds later, in case it hangs for good.
	ctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.node, filepath.Join(env.benchDir, "js", "client.js"), string(arg))
	cmd.Dir = env.benchDir
	var stdout bytes.Buffer
	stderr := newTailBuffer(16 << 10)
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = 2 * time.Second
	runErr := cmd.Run()
	found := false
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), jsResultPrefix)
		if !ok {
			continue
		}
		if err := json.Unmarshal([]byte(line), out); err != nil {
			return fmt.Errorf("js client: bad result line: %w", err)
		}
		found = true
	}
	if runErr != nil || !found {
		if ctx.Err() != nil {
			return fmt.Errorf("js client: %w (killed)%s", ctx.Err(), indented(stderr.String()))
		}
		return fmt.Errorf("js client: %v, no result line%s", runErr, indented(stderr.String()))
	}
	return nil
}
