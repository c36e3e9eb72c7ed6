package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// table prints rows with the first column left-aligned and the others right-aligned, two spaces apart.
func table(out io.Writer, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(out, strings.TrimRight(b.String(), " "))
	}
}

// percentile is the nearest-rank percentile p (0..100] of xs (not modified).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// median of the values that are not NaN (NaN when none is).
func median(xs []float64) float64 {
	var s []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// per divides a measured total by n; a negative total means "not available" and gives NaN.
func per(total float64, n int) float64 {
	if total < 0 || n <= 0 {
		return math.NaN()
	}
	return total / float64(n)
}

func mb(b int64) float64 {
	if b < 0 {
		return math.NaN()
	}
	return float64(b) / (1 << 20)
}

// metric is one row of the side-by-side table.
type metric struct {
	key   string // for the targets: rowSeqP50, rowSeqCPU, rowParCPU, or ""
	name  string
	unit  string
	value func(r *roundResult, w workload) float64
}

// connectPhase returns f(r) when r has a connect phase, else NaN.
func connectPhase(f func(r *roundResult) float64) func(r *roundResult, w workload) float64 {
	return func(r *roundResult, _ workload) float64 {
		if r.Sockets == 0 {
			return math.NaN()
		}
		return f(r)
	}
}

// The rows the targets of the connection-core issue are about.
const (
	rowSeqP50    = "seq-p50"
	rowSeqCPU    = "seq-cpu"
	rowParCPU    = "par-cpu"
	targetP50    = 1.05 // sequential p50 at most 1.05x the floor's
	targetSeqCPU = 1.50 // client CPU per request, one at a time, at most 1.5x the floor's (issue 19)
	targetCPU64  = 1.10 // client CPU per request with 64 in flight at most 1.1x the floor's
)

func sideMetrics(w workload) []metric {
	return []metric{
		{rowSeqP50, "sequential: latency p50", "µs", func(r *roundResult, _ workload) float64 { return percentile(r.SeqLatUs, 50) }},
		{"", "sequential: latency p99", "µs", func(r *roundResult, _ workload) float64 { return percentile(r.SeqLatUs, 99) }},
		{rowSeqCPU, "sequential: client CPU per request", "µs", func(r *roundResult, w workload) float64 { return per(r.SeqCPUUs, w.seq) }},
		{"", fmt.Sprintf("%d in flight, 1 socket: throughput", w.inflight), "req/s", func(r *roundResult, w workload) float64 {
			return float64(w.par) / (r.ParWallUs / 1e6)
		}},
		{rowParCPU, fmt.Sprintf("%d in flight: client CPU per request", w.inflight), "µs", func(r *roundResult, w workload) float64 { return per(r.ParCPUUs, w.par) }},
		{"", fmt.Sprintf("connect %d sockets at once: wall time", w.sockets), "ms", connectPhase(func(r *roundResult) float64 { return r.ConnectWallUs / 1000 })},
		{"", "connect: client CPU per socket", "µs", connectPhase(func(r *roundResult) float64 { return per(r.ConnectCPUUs, r.Sockets) })},
		{"", "client RSS: 1 socket, after the requests", "MB", func(r *roundResult, _ workload) float64 { return mb(r.RSSOneSocket) }},
		{"", fmt.Sprintf("client RSS: %d+1 sockets open", w.sockets), "MB", connectPhase(func(r *roundResult) float64 { return mb(r.RSSSockets) })},
	}
}

// fmtNum prints a figure with about three significant digits.
func fmtNum(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "n/a"
	case math.Abs(x) >= 100:
		return fmt.Sprintf("%.0f", x)
	case math.Abs(x) >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

// fmtRatio prints a ratio as "1.08x", or "" when it is not defined.
func fmtRatio(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return ""
	}
	return fmt.Sprintf("%.2fx", x)
}

// medians returns, per client and metric, the median of the rounds.
func medians(cols []*client, results map[*client][]*roundResult, w workload) map[*client][]float64 {
	out := make(map[*client][]float64)
	for _, c := range cols {
		for _, m := range sideMetrics(w) {
			var xs []float64
			for _, r := range results[c] {
				xs = append(xs, m.value(r, w))
			}
			out[c] = append(out[c], median(xs))
		}
	}
	return out
}

// printSideTable prints the medians of every client, and next to each client that is not the floor
// its ratio to the floor (x / floor for every row, throughput included), then the targets.
func printSideTable(out io.Writer, cfg *config, cols []*client, results map[*client][]*roundResult) {
	w := cfg.work
	rounds := len(results[cols[0]])
	var floorCol *client
	for _, c := range cols {
		if c.key == "floor" {
			floorCol = c
		}
	}
	med := medians(cols, results, w)
	head := []string{"workload", ""}
	for _, c := range cols {
		head = append(head, c.column)
		if floorCol != nil && c != floorCol {
			head = append(head, "÷floor")
		}
	}
	if floorCol != nil {
		fmt.Fprintf(out, "\nmedian of %d rounds; ÷floor: the client's median divided by the raw floor's (for throughput, below 1 is slower)\n", rounds)
	} else {
		fmt.Fprintf(out, "\nmedian of %d rounds\n", rounds)
	}
	rows := [][]string{head}
	for i, m := range sideMetrics(w) {
		row := []string{m.name, m.unit}
		for _, c := range cols {
			row = append(row, fmtNum(med[c][i]))
			if floorCol != nil && c != floorCol {
				row = append(row, fmtRatio(med[c][i]/med[floorCol][i]))
			}
		}
		rows = append(rows, row)
	}
	table(out, rows)
	printVersusJS(out, cols, med, w)

	if floorCol != nil {
		fmt.Fprintln(out, "targets (ratios of this run's medians):")
		for i, m := range sideMetrics(w) {
			var target float64
			var label string
			switch m.key {
			case rowSeqP50:
				target, label = targetP50, "sequential p50"
			case rowSeqCPU:
				target, label = targetSeqCPU, "sequential client CPU per request"
			case rowParCPU:
				target, label = targetCPU64, fmt.Sprintf("client CPU per request with %d in flight", w.inflight)
			default:
				continue
			}
			var parts []string
			for _, c := range cols {
				if c.key != "do" && c.key != "cb" {
					continue
				}
				ratio := med[c][i] / med[floorCol][i]
				verdict := "met"
				if math.IsNaN(ratio) || ratio > target {
					verdict = "missed"
				}
				parts = append(parts, fmt.Sprintf("%s %s (%s)", c.column, fmtRatio(ratio), verdict))
			}
			if len(parts) > 0 {
				fmt.Fprintf(out, "  %s ≤ %.2fx the floor's: %s\n", label, target, strings.Join(parts, ", "))
			}
		}
	}

	if cfg.verbose {
		fmt.Fprintln(out, "\nevery round (in the column order above):")
		head := []string{"workload (unit)"}
		for _, c := range cols {
			head = append(head, c.column)
		}
		rows := [][]string{head}
		for _, m := range sideMetrics(w) {
			row := []string{m.name + " (" + m.unit + ")"}
			for _, c := range cols {
				var xs []string
				for _, r := range results[c] {
					xs = append(xs, fmtNum(m.value(r, w)))
				}
				row = append(row, strings.Join(xs, " "))
			}
			rows = append(rows, row)
		}
		table(out, rows)
	}
}

// printVersusJS prints each SDK column's medians divided by each JS column's, when both ran.
func printVersusJS(out io.Writer, cols []*client, med map[*client][]float64, w workload) {
	var sdk, js []*client
	for _, c := range cols {
		switch c.key {
		case "do", "cb":
			sdk = append(sdk, c)
		case "js4", "js2":
			js = append(js, c)
		}
	}
	if len(sdk) == 0 || len(js) == 0 {
		return
	}
	fmt.Fprintln(out, "\nthe SDK beside sails.io.js: the SDK's median divided by the JS client's (for throughput, above 1 is faster)")
	head := []string{"workload", ""}
	for _, a := range sdk {
		for _, b := range js {
			head = append(head, a.column+" ÷ "+b.column)
		}
	}
	rows := [][]string{head}
	for i, m := range sideMetrics(w) {
		row := []string{m.name, m.unit}
		for _, a := range sdk {
			for _, b := range js {
				row = append(row, fmtRatio(med[a][i]/med[b][i]))
			}
		}
		rows = append(rows, row)
	}
	table(out, rows)
}

func printInprocTable(out io.Writer, inflight int, rows []*inprocResult) {
	t := [][]string{{"one socket", "seq p50 µs", "seq p99 µs", "CPU/req µs", fmt.Sprintf("%d in flight req/s", inflight), "CPU/req µs"}}
	for _, r := range rows {
		rps := float64(r.parN) / r.parWall.Seconds()
		t = append(t, []string{r.name, fmtNum(percentile(r.lat, 50)), fmtNum(percentile(r.lat, 99)),
			fmtNum(nanIfNeg(r.seqCPUUs)), fmtNum(rps), fmtNum(nanIfNeg(r.parCPUUs))})
	}
	table(out, t)
	fmt.Fprintln(out, "(CPU/req counts both ends: client and server run in this process)")
}

func nanIfNeg(x float64) float64 {
	if x < 0 {
		return math.NaN()
	}
	return x
}

func kib(delta float64, n int) string {
	return fmtNum(delta/float64(n)/1024) + " KiB"
}

func printMemTable(out io.Writer, results []memResult) {
	if len(results) == 0 {
		return
	}
	t := [][]string{{"sockets", "connect time", "heap in use", "goroutine stacks", "runtime Sys", "RSS", "goroutines", "heap objects"}}
	for _, r := range results {
		b, a := r.Before, r.After
		rss := "n/a"
		if a.RSS >= 0 && b.RSS >= 0 {
			rss = kib(float64(a.RSS-b.RSS), r.N)
		}
		t = append(t, []string{strconv.Itoa(r.N),
			(time.Duration(r.ConnectUs) * time.Microsecond).Round(time.Millisecond).String(),
			kib(float64(a.HeapInuse)-float64(b.HeapInuse), r.N),
			kib(float64(a.StackInuse)-float64(b.StackInuse), r.N),
			kib(float64(a.Sys)-float64(b.Sys), r.N),
			rss,
			fmtNum(float64(a.Goroutines-b.Goroutines) / float64(r.N)),
			fmtNum((float64(a.HeapObjects) - float64(b.HeapObjects)) / float64(r.N)),
		})
	}
	table(out, t)
	fmt.Fprintln(out, "(per socket; connect time is for all of them, 64 connecting at a time)")
}
