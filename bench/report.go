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
	name         string
	unit         string
	higherBetter bool
	value        func(r *roundResult, w workload) float64
}

func sideMetrics(w workload) []metric {
	return []metric{
		{"sequential: latency p50", "µs", false, func(r *roundResult, _ workload) float64 { return percentile(r.SeqLatUs, 50) }},
		{"sequential: latency p99", "µs", false, func(r *roundResult, _ workload) float64 { return percentile(r.SeqLatUs, 99) }},
		{"sequential: client CPU per request", "µs", false, func(r *roundResult, w workload) float64 { return per(r.SeqCPUUs, w.seq) }},
		{fmt.Sprintf("%d in flight, 1 socket: throughput", w.inflight), "req/s", true, func(r *roundResult, w workload) float64 {
			return float64(w.par) / (r.ParWallUs / 1e6)
		}},
		{fmt.Sprintf("%d in flight: client CPU per request", w.inflight), "µs", false, func(r *roundResult, w workload) float64 { return per(r.ParCPUUs, w.par) }},
		{fmt.Sprintf("connect %d sockets at once: wall time", w.sockets), "ms", false, func(r *roundResult, w workload) float64 {
			if w.sockets == 0 {
				return math.NaN()
			}
			return r.ConnectWallUs / 1000
		}},
		{"connect: client CPU per socket", "µs", false, func(r *roundResult, w workload) float64 { return per(r.ConnectCPUUs, w.sockets) }},
		{"client RSS: 1 socket, after the requests", "MB", false, func(r *roundResult, _ workload) float64 { return mb(r.RSSOneSocket) }},
		{fmt.Sprintf("client RSS: %d+1 sockets open", w.sockets), "MB", false, func(r *roundResult, w workload) float64 {
			if w.sockets == 0 {
				return math.NaN()
			}
			return mb(r.RSSSockets)
		}},
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

// verdict says which side is better and by how much ("≈" within 5%).
func verdict(goV, jsV float64, higherBetter bool) string {
	if math.IsNaN(goV) || math.IsNaN(jsV) || goV <= 0 || jsV <= 0 {
		return ""
	}
	adv := jsV / goV // how many times better Go is, for lower-is-better figures
	if higherBetter {
		adv = goV / jsV
	}
	switch {
	case adv >= 1.05:
		return fmt.Sprintf("Go %.2fx", adv)
	case adv <= 1/1.05:
		return fmt.Sprintf("JS %.2fx", 1/adv)
	default:
		return "≈"
	}
}

func printSideTable(out io.Writer, cfg *config, goRes, jsRes []*roundResult) {
	w := cfg.work
	fmt.Fprintf(out, "\nmedian of %d rounds (Go/JS: ratio of the medians; better: which client wins, by how much)\n", cfg.rounds)
	rows := [][]string{{"workload", "", "Go SDK", "sails.io.js", "Go/JS", "better"}}
	for _, m := range sideMetrics(w) {
		var gs, js []float64
		for _, r := range goRes {
			gs = append(gs, m.value(r, w))
		}
		for _, r := range jsRes {
			js = append(js, m.value(r, w))
		}
		g, j := median(gs), median(js)
		ratio := math.NaN()
		if j > 0 {
			ratio = g / j
		}
		rows = append(rows, []string{m.name, m.unit, fmtNum(g), fmtNum(j), fmtNum(ratio), verdict(g, j, m.higherBetter)})
	}
	table(out, rows)
	if cfg.verbose {
		fmt.Fprintln(out, "\nevery round (Go | JS):")
		rows := [][]string{}
		for _, m := range sideMetrics(w) {
			row := []string{m.name + " (" + m.unit + ")"}
			for i := range max(len(goRes), len(jsRes)) {
				g, j := math.NaN(), math.NaN()
				if i < len(goRes) {
					g = m.value(goRes[i], w)
				}
				if i < len(jsRes) {
					j = m.value(jsRes[i], w)
				}
				row = append(row, fmtNum(g)+" | "+fmtNum(j))
			}
			rows = append(rows, row)
		}
		table(out, rows)
	}
}

func printFloorTable(out io.Writer, inflight int, rows []*floorResult) {
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
