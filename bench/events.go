package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
)

// The events section: one socket receives events that the server sends it, as a bot or a dashboard
// does most of the time. The socket asks the test app for them (POST /events {n, size, chunk,
// event}, testdata/sails/README.md): the action emits n events {i, text} to the requesting socket,
// chunk per turn of its event loop, then answers. Each client counts the events and stops the
// clock once it has all of them and the answer; the figures are its CPU per event and the events
// per second.

// eventsWork is the events workload, the same for every client.
type eventsWork struct {
	n      int    // measured events per run
	warmup int    // unmeasured events before them, in every run of every client
	size   int    // the length of each event's text
	chunk  int    // events the server emits per turn of its event loop
	event  string // the event name
}

// eventsParams is the data of POST /events. A struct: the SDK encodes it, and the floor sends the
// SDK's frame, in this field order.
type eventsParams struct {
	N     int    `json:"n"`
	Size  int    `json:"size"`
	Chunk int    `json:"chunk"`
	Event string `json:"event"`
}

func (w eventsWork) params(n int) eventsParams {
	return eventsParams{N: n, Size: w.size, Chunk: w.chunk, Event: w.event}
}

const eventsPath = "/events"

// tick is an event's data, decoded as a user's struct would be.
type tick struct {
	I    int    `json:"i"`
	Text string `json:"text"`
}

// eventsResult is what one run of one client measured. The JSON names are those bench/js/client.js
// prints in its events mode. Times are in microseconds; a negative CPU time means "not available".
type eventsResult struct {
	Client     string  `json:"client"`
	Node       string  `json:"node,omitempty"`
	Events     int     `json:"events"` // events received in the measured part
	WallUs     float64 `json:"wallUs"` // from sending the request to the last event and the answer
	CPUUs      float64 `json:"cpuUs"`  // client CPU over the same time
	Errors     int     `json:"errors"` // events out of order or with bad data, or a bad answer
	FirstError string  `json:"firstError"`
}

// eventsEnv is what every client of one events section shares.
type eventsEnv struct {
	side  sideEnv // the server, node and the round limit (side.floor is unused)
	floor *eventsFloor
}

// eventsFloor is what the floor sends: the SDK's handshake URI and its frames of POST /events, by
// number of events.
type eventsFloor struct {
	uri    string
	frames map[int][]byte
}

// eventsClient is one column of the events table.
type eventsClient struct {
	columnSpec
	run func(ctx context.Context, env *eventsEnv, tr string, w eventsWork) (*eventsResult, error)
}

var eventsClients = []*eventsClient{
	{
		columnSpec: columnSpec{key: "floor", column: "raw floor", help: "bare gorilla/websocket, one reusable read buffer, events counted by their 42 prefix, nothing decoded",
			transports: wsOnly, hooks: anyHook},
		run: func(ctx context.Context, env *eventsEnv, _ string, w eventsWork) (*eventsResult, error) {
			ctx, cancel := context.WithTimeout(ctx, env.side.roundTimeout)
			defer cancel()
			return floorEvents(ctx, env.side.url, env.floor, w)
		},
	},
	{
		columnSpec: columnSpec{key: "on", column: "SDK On", help: "this SDK, On(event, h) with h decoding the data into a struct with json.Unmarshal",
			transports: anyTr, hooks: anyHook},
		run: func(ctx context.Context, env *eventsEnv, tr string, w eventsWork) (*eventsResult, error) {
			ctx, cancel := context.WithTimeout(ctx, env.side.roundTimeout)
			defer cancel()
			return sdkEvents(ctx, env.side.url, w, false, goTransport(tr))
		},
	},
	{
		columnSpec: columnSpec{key: "onjson", column: "SDK OnJSON", help: "this SDK, OnJSON[T](s, event, h): the SDK decodes the data into the struct",
			transports: anyTr, hooks: anyHook},
		run: func(ctx context.Context, env *eventsEnv, tr string, w eventsWork) (*eventsResult, error) {
			ctx, cancel := context.WithTimeout(ctx, env.side.roundTimeout)
			defer cancel()
			return sdkEvents(ctx, env.side.url, w, true, goTransport(tr))
		},
	},
	{
		columnSpec: columnSpec{key: "js4", column: "JS sio4", help: "sails.io.js 1.2.1 on socket.io-client 4.x, socket.on(event, h) (Engine.IO v4: hook3 only)",
			transports: anyTr, hooks: []string{"hook3"}},
		run: func(ctx context.Context, env *eventsEnv, tr string, w eventsWork) (*eventsResult, error) {
			return jsEventsRound(ctx, &env.side, "4", tr, w)
		},
	},
	{
		columnSpec: columnSpec{key: "js2", column: "JS sio2", help: "sails.io.js 1.2.1 on socket.io-client 2.x, socket.on(event, h) (Engine.IO v3)",
			transports: anyTr, hooks: anyHook},
		run: func(ctx context.Context, env *eventsEnv, tr string, w eventsWork) (*eventsResult, error) {
			return jsEventsRound(ctx, &env.side, "2", tr, w)
		},
	},
}

// eventsSection runs the events section over transport tr: the real Sails server, an unmeasured
// run of every client, then cfg.rounds measured rounds (the order rotating), and the table.
func eventsSection(ctx context.Context, cfg *config, tr string) error {
	cols := usableColumns(cfg.eventsCols, tr, cfg.hook, "events: ")
	if len(cols) == 0 {
		return nil
	}
	needJS := slices.ContainsFunc(cols, func(c *eventsClient) bool { return strings.HasPrefix(c.key, "js") })
	root, node, err := prerequisites(cfg.hook, needJS)
	if err != nil {
		return err
	}
	srv, v, err := liftServer(ctx, cfg.hook, tr, "events")
	if err != nil || srv == nil {
		return err
	}
	defer srv.Stop()
	w := cfg.events
	// A freshly lifted server is cold: warm it up with a shortened unmeasured run of every client.
	warm := w
	warm.n = min(w.n, 5000)
	env := &eventsEnv{side: sideEnv{url: srv.URL, node: node, benchDir: filepath.Join(root, "bench"), roundTimeout: cfg.roundTimeout}}
	if slices.ContainsFunc(cols, func(c *eventsClient) bool { return c.key == "floor" }) {
		if env.floor, err = captureEventsFrames(ctx, w, w.warmup, warm.n, w.n); err != nil {
			return err
		}
	}
	fmt.Printf("\nEvents over %s: real Sails app of testdata/sails/%s at %s — sails %s, sails-hook-sockets %s (socket.io %s, engine.io %s), node %s\n",
		tr, cfg.hook, srv.URL, v.Sails, v.Hook, v.SocketIO, v.EngineIO, v.Node)
	ex, _ := json.Marshal(tick{I: 123, Text: strings.Repeat("x", w.size)})
	fmt.Printf("per run: POST %s asks for %d unmeasured, then %d measured events %q sent to the socket, %d per turn of the server's event loop; each event's data is like %s\n",
		eventsPath, w.warmup, w.n, w.event, w.chunk, ex)

	for _, c := range cols {
		if _, err := runEventsOne(ctx, srv, env, c, tr, warm); err != nil {
			return fmt.Errorf("events warm-up run, %s: %w", c.column, err)
		}
	}
	results := make(map[*eventsClient][]*eventsResult)
	err = rotateRounds(ctx, cols, cfg.rounds, cfg.pause, "events "+tr+" ", func(c *eventsClient) string { return c.column }, func(r int, c *eventsClient) error {
		res, err := runEventsOne(ctx, srv, env, c, tr, w)
		if err != nil {
			return fmt.Errorf("events round %d, %s: %w", r+1, c.column, err)
		}
		if res.Errors > 0 {
			fmt.Printf("  warning: events round %d, %s: %d errors; first: %s\n", r+1, c.column, res.Errors, res.FirstError)
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
	printEventsTable(os.Stdout, cfg, cols, results)
	return nil
}

// runEventsOne runs one round of c and adds the server's output to the error if the server died.
func runEventsOne(ctx context.Context, srv *realsails.Server, env *eventsEnv, c *eventsClient, tr string, w eventsWork) (*eventsResult, error) {
	res, err := c.run(ctx, env, tr, w)
	if err != nil && !srv.Running() {
		err = fmt.Errorf("%w\nthe Sails server exited:%s", err, indented(srv.Output()))
	}
	if err == nil && res.Events != w.n {
		err = fmt.Errorf("%d events received, want %d", res.Events, w.n)
	}
	return res, err
}

// captureEventsFrames captures the SDK's frames of POST /events asking for each count of events.
func captureEventsFrames(ctx context.Context, w eventsWork, counts ...int) (*eventsFloor, error) {
	f := &eventsFloor{frames: make(map[int][]byte)}
	for _, n := range counts {
		if f.frames[n] != nil {
			continue
		}
		fr, err := captureFrame(ctx, sailsio.RequestOptions{Method: "post", URL: eventsPath, Data: w.params(n)})
		if err != nil {
			return nil, err
		}
		f.uri, f.frames[n] = fr.uri, fr.frame
	}
	return f, nil
}

// floorEvents is the floor of the events section: a bare gorilla/websocket connection that sends
// the SDK's frame of POST /events as is, reads every message into one reusable buffer and counts
// the events by their "42" prefix, decoding nothing.
func floorEvents(ctx context.Context, baseURL string, fr *eventsFloor, w eventsWork) (*eventsResult, error) {
	res := &eventsResult{Client: "raw gorilla/websocket floor (one read buffer, events counted by prefix)"}
	warmFrame, frame := fr.frames[w.warmup], fr.frames[w.n]
	if warmFrame == nil || frame == nil {
		return nil, fmt.Errorf("no frame captured for %d or %d events", w.warmup, w.n)
	}
	c, done, err := floorConnect(ctx, floorURL(baseURL, fr.uri))
	if err != nil {
		return nil, err
	}
	defer done()

	buf := make([]byte, 0, 4096)
	// receive sends frame and reads until n events and the answer have arrived.
	receive := func(frame []byte, n int) (int, error) {
		if err := c.WriteMessage(websocket.TextMessage, frame); err != nil {
			return 0, err
		}
		events, answered := 0, false
		for events < n || !answered {
			_, r, err := c.NextReader()
			if err != nil {
				return events, err
			}
			if buf, err = readInto(buf[:0], r); err != nil {
				return events, err
			}
			switch {
			case bytes.HasPrefix(buf, []byte("42")):
				events++
			case bytes.HasPrefix(buf, []byte("43")):
				answered = true
			}
		}
		return events, nil
	}
	if _, err := receive(warmFrame, w.warmup); err != nil {
		return nil, err
	}
	cpu0, t0 := cpuTime(), time.Now()
	if res.Events, err = receive(frame, w.n); err != nil {
		return nil, err
	}
	res.WallUs = micros(time.Since(t0))
	res.CPUUs = cpuMicros(cpu0)
	return res, nil
}

// readInto appends what r holds to buf, growing it only when a message is longer than any before.
func readInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// eventsRun is one request for events: what the handler counts, read by the requester once done
// is closed.
type eventsRun struct {
	want  int
	got   int // touched by the handler only, until done is closed
	bad   int
	first string
	done  chan struct{}
}

// seen counts one event with index i (or a decoding error).
func (r *eventsRun) seen(i int, err error) {
	if err == nil && i != r.got {
		err = fmt.Errorf("event %d arrived as number %d", i, r.got)
	}
	if err != nil {
		if r.bad == 0 {
			r.first = err.Error()
		}
		r.bad++
	}
	if r.got++; r.got == r.want {
		close(r.done)
	}
}

// sdkEvents receives the events with this SDK, in this process: On with a json.Unmarshal into a
// struct in the handler, as a user writes it, or (typed) OnJSON into the same struct.
func sdkEvents(ctx context.Context, url string, w eventsWork, typed bool, opts ...sailsio.Option) (*eventsResult, error) {
	name := "sailsio On + json.Unmarshal"
	if typed {
		name = "sailsio OnJSON[T]"
	}
	res := &eventsResult{Client: name + " (Go, " + runtime.Version() + ")"}
	opts = append([]sailsio.Option{sailsio.WithReconnection(false)}, opts...)
	s, err := sailsio.Connect(ctx, url, opts...)
	if err != nil {
		return nil, err
	}
	defer s.Disconnect()

	var cur atomic.Pointer[eventsRun]
	if typed {
		sailsio.OnJSON(s, w.event, func(v tick) { cur.Load().seen(v.I, nil) })
	} else {
		s.On(w.event, func(data json.RawMessage) {
			var v tick
			err := json.Unmarshal(data, &v)
			cur.Load().seen(v.I, err)
		})
	}
	receive := func(n int) (*eventsRun, error) {
		r := &eventsRun{want: n, done: make(chan struct{})}
		if n == 0 {
			close(r.done)
		}
		cur.Store(r)
		jwr, err := s.Do(ctx, sailsio.RequestOptions{Method: "post", URL: eventsPath, Data: w.params(n)})
		if err != nil {
			return nil, err
		}
		if jwr.StatusCode != 200 {
			return nil, fmt.Errorf("POST %s: status %d: %.200s", eventsPath, jwr.StatusCode, jwr.Body)
		}
		select {
		case <-r.done:
			return r, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the events: %w", ctx.Err())
		}
	}
	if _, err := receive(w.warmup); err != nil {
		return nil, err
	}
	cpu0, t0 := cpuTime(), time.Now()
	r, err := receive(w.n)
	if err != nil {
		return nil, err
	}
	res.WallUs = micros(time.Since(t0))
	res.CPUUs = cpuMicros(cpu0)
	res.Events, res.Errors, res.FirstError = r.got, r.bad, r.first
	return res, nil
}

// jsEventsRound runs bench/js/client.js in its events mode.
func jsEventsRound(ctx context.Context, env *sideEnv, sio, tr string, w eventsWork) (*eventsResult, error) {
	res := new(eventsResult)
	err := runNodeClient(ctx, env, map[string]any{
		"mode":       "events",
		"sio":        sio,
		"transports": []string{tr},
		"url":        env.url,
		"path":       eventsPath,
		"warmup":     w.params(w.warmup),
		"events":     w.params(w.n),
		"timeoutMs":  env.roundTimeout.Milliseconds(),
	}, res)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// The target of the events section: the SDK's CPU per event at most 1.1x the floor's.
const targetEventCPU = 1.10

type eventsMetric struct {
	name, unit string
	value      func(r *eventsResult) float64
}

var eventsMetrics = []eventsMetric{
	{"client CPU per event", "µs", func(r *eventsResult) float64 { return per(r.CPUUs, r.Events) }},
	{"events per second", "events/s", func(r *eventsResult) float64 { return float64(r.Events) / (r.WallUs / 1e6) }},
}

// printEventsTable prints the medians of every client, each SDK column's ratio to the floor and to
// JS sio4 (JS sio2 without it), each JS column's ratio to the floor, and the target.
func printEventsTable(out io.Writer, cfg *config, cols []*eventsClient, results map[*eventsClient][]*eventsResult) {
	var floorCol, jsCol *eventsClient
	for _, c := range cols {
		switch {
		case c.key == "floor":
			floorCol = c
		case c.key == "js4" || (c.key == "js2" && jsCol == nil):
			jsCol = c
		}
	}
	med := make(map[*eventsClient][]float64)
	for _, c := range cols {
		for _, m := range eventsMetrics {
			var xs []float64
			for _, r := range results[c] {
				xs = append(xs, m.value(r))
			}
			med[c] = append(med[c], median(xs))
		}
	}
	isSDK := func(c *eventsClient) bool { return c.key == "on" || c.key == "onjson" }
	head := []string{"events", ""}
	for _, c := range cols {
		head = append(head, c.column)
		if floorCol != nil && c != floorCol {
			head = append(head, "÷floor")
		}
		if jsCol != nil && isSDK(c) {
			head = append(head, "÷"+jsCol.column)
		}
	}
	rounds := len(results[cols[0]])
	fmt.Fprintf(out, "\nmedian of %d rounds; ÷: the client's median divided by that column's (for events per second, below 1 is slower)\n", rounds)
	rows := [][]string{head}
	for i, m := range eventsMetrics {
		row := []string{m.name, m.unit}
		for _, c := range cols {
			row = append(row, fmtNum(med[c][i]))
			if floorCol != nil && c != floorCol {
				row = append(row, fmtRatio(med[c][i]/med[floorCol][i]))
			}
			if jsCol != nil && isSDK(c) {
				row = append(row, fmtRatio(med[c][i]/med[jsCol][i]))
			}
		}
		rows = append(rows, row)
	}
	table(out, rows)
	if floorCol != nil {
		var parts []string
		for _, c := range cols {
			if !isSDK(c) {
				continue
			}
			ratio := med[c][0] / med[floorCol][0]
			verdict := "met"
			if math.IsNaN(ratio) || ratio > targetEventCPU {
				verdict = "missed"
			}
			parts = append(parts, fmt.Sprintf("%s %s (%s)", c.column, fmtRatio(ratio), verdict))
		}
		if len(parts) > 0 {
			fmt.Fprintf(out, "target (ratios of this run's medians): client CPU per event ≤ %.2fx the floor's: %s\n", targetEventCPU, strings.Join(parts, ", "))
		}
	}
	if cfg.verbose {
		fmt.Fprintln(out, "\nevery round (in the column order above):")
		head := []string{"events (unit)"}
		for _, c := range cols {
			head = append(head, c.column)
		}
		rows := [][]string{head}
		for _, m := range eventsMetrics {
			row := []string{m.name + " (" + m.unit + ")"}
			for _, c := range cols {
				var xs []string
				for _, r := range results[c] {
					xs = append(xs, fmtNum(m.value(r)))
				}
				row = append(row, strings.Join(xs, " "))
			}
			rows = append(rows, row)
		}
		table(out, rows)
	}
}
