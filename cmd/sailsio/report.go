package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms record microseconds from 1µs to 10 minutes with 3 significant digits.
const (
	histMin     = 1
	histMax     = int64(10 * time.Minute / time.Microsecond)
	histSigFigs = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSigFigs) }

// lockedHist is a histogram with its lock.
type lockedHist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func (l *lockedHist) record(d time.Duration) {
	us := max(int64(d/time.Microsecond), histMin)
	l.mu.Lock()
	_ = l.h.RecordValue(min(us, histMax))
	l.mu.Unlock()
}

// shardedHist spreads recording over several locks (events reach many sockets at once).
type shardedHist struct{ shards [16]lockedHist }

func newShardedHist() *shardedHist {
	s := &shardedHist{}
	for i := range s.shards {
		s.shards[i].h = newHist()
	}
	return s
}

func (s *shardedHist) record(shard int, d time.Duration) { s.shards[shard&15].record(d) }

func (s *shardedHist) merged() *hdrhistogram.Histogram {
	out := newHist()
	for i := range s.shards {
		s.shards[i].mu.Lock()
		out.Merge(s.shards[i].h)
		s.shards[i].mu.Unlock()
	}
	return out
}

// latency is a histogram summary in milliseconds.
type latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func summarize(h *hdrhistogram.Histogram) latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return latency{
		Count: h.TotalCount(), Mean: h.Mean() / 1000,
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()),
	}
}

// routeKey identifies a row of the report: the request as written in the mix, and the status
// (0: no response; Error says why).
type routeKey struct {
	Route  string
	Status int
	Error  string
}

// report is the final report of a load run (--out writes it as JSON).
type report struct {
	Targets     []string         `json:"targets"`
	Started     time.Time        `json:"started"`
	ElapsedS    float64          `json:"elapsed_s"`
	HoldS       float64          `json:"hold_s"`
	Scenario    scenarioOut      `json:"scenario"`
	Sockets     socketsOut       `json:"sockets"`
	Connect     latency          `json:"connect_latency"`
	Requests    []routeOut       `json:"requests"`
	RequestsAll latency          `json:"requests_all"`
	RPS         float64          `json:"requests_per_s"`
	Events      map[string]int64 `json:"events"`
	Fanout      *fanoutOut       `json:"fanout,omitempty"`
	Memory      memoryOut        `json:"memory"`
	CPU         cpuOut           `json:"cpu"`
	Limits      limitsOut        `json:"limits"`
	Workers     int              `json:"workers,omitempty"`

	// Encoded histograms, exchanged between worker processes and their parent (--workers).
	ConnectHist []byte `json:"connect_hist,omitempty"`
	AllHist     []byte `json:"all_hist,omitempty"`
}

// heartbeats fills the heartbeat line from the server's ping interval.
func (r *report) heartbeats() {
	if r.Memory.Server == nil || r.Memory.Server.PingIntervalMS <= 0 {
		return
	}
	iv := r.Memory.Server.PingIntervalMS
	r.Sockets.HeartbeatsKept = fmt.Sprintf("held %.1fs = %.1f ping intervals of %v with %d drops", r.HoldS,
		r.HoldS/(float64(iv)/1000), time.Duration(iv)*time.Millisecond, r.Sockets.DropsInHold)
}

// encodeHist is the compressed HdrHistogram V2 encoding of h (nil on failure).
func encodeHist(h *hdrhistogram.Histogram) []byte {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil
	}
	return b
}

// mergeEncoded merges an encoded histogram into into.
func mergeEncoded(into *hdrhistogram.Histogram, b []byte) {
	if len(b) == 0 {
		return
	}
	if h, err := hdrhistogram.Decode(b); err == nil {
		into.Merge(h)
	}
}

type scenarioOut struct {
	Sockets  int      `json:"sockets"`
	Rate     float64  `json:"rate"`
	RampS    float64  `json:"ramp_s"`
	HoldS    float64  `json:"duration_s"`
	ThinkS   float64  `json:"think_s"`
	Requests []string `json:"requests"`
	EIO      int      `json:"eio"`
}

type socketsOut struct {
	Target         int              `json:"target"`
	Connected      int64            `json:"connected"`
	Peak           int64            `json:"peak_connected"`
	AtEnd          int64            `json:"connected_at_end"`
	Failed         int64            `json:"connect_failed"`
	FailedBy       map[string]int64 `json:"connect_failed_by,omitempty"`
	Drops          int64            `json:"drops"`
	DropsInHold    int64            `json:"drops_during_hold"`
	Reconnections  int64            `json:"reconnections"`
	ConnectRate    float64          `json:"connect_rate_per_s"`
	RampS          float64          `json:"all_connected_after_s"`
	HeartbeatsKept string           `json:"heartbeats,omitempty"`
}

type routeOut struct {
	Route   string  `json:"route"`
	Status  int     `json:"status"`
	Error   string  `json:"error,omitempty"`
	RPS     float64 `json:"per_s"`
	Latency latency `json:"latency"`
	Hist    []byte  `json:"hist,omitempty"`
}

type fanoutOut struct {
	Event      string  `json:"event"`
	Stamped    int64   `json:"stamped_requests"`
	Deliveries int64   `json:"deliveries"`
	Latency    latency `json:"latency"`
	Hist       []byte  `json:"hist,omitempty"`
}

type memSide struct {
	Processes           int     `json:"processes,omitempty"`
	Sockets             int64   `json:"sockets"`
	Goroutines          int     `json:"goroutines"`
	HeapInuse           uint64  `json:"heap_inuse"`
	StackInuse          uint64  `json:"stack_inuse"`
	RSS                 uint64  `json:"rss"`
	HeapPerSocket       float64 `json:"heap_per_socket"`
	StackPerSocket      float64 `json:"stack_per_socket"`
	GoPerSocket         float64 `json:"go_memory_per_socket"`
	RSSPerSocket        float64 `json:"rss_per_socket"`
	GoroutinesPerSocket float64 `json:"goroutines_per_socket"`
	PingIntervalMS      int64   `json:"ping_interval_ms,omitempty"`
}

type memoryOut struct {
	Client memSide  `json:"client"`
	Server *memSide `json:"server,omitempty"`
	Note   string   `json:"note,omitempty"`
}

type cpuOut struct {
	UserS float64 `json:"user_s"`
	SysS  float64 `json:"sys_s"`
	// PerRequestUS is the load process's CPU per request (µs), the command's own cost included.
	PerRequestUS float64 `json:"per_request_us,omitempty"`
}

type limitsOut struct {
	OpenFiles      uint64 `json:"open_files"`
	EphemeralPorts int    `json:"ephemeral_ports"`
}

// memSideOf computes per-socket figures from two snapshots.
func memSideOf(before, after procStats, sockets int64) memSide {
	m := memSide{Sockets: sockets, Goroutines: after.Goroutines, HeapInuse: after.HeapInuse, StackInuse: after.StackInuse, RSS: after.RSS, PingIntervalMS: after.PingIntervalMS}
	if sockets > 0 {
		n := float64(sockets)
		m.HeapPerSocket = (float64(after.HeapInuse) - float64(before.HeapInuse)) / n
		m.StackPerSocket = (float64(after.StackInuse) - float64(before.StackInuse)) / n
		m.GoPerSocket = m.HeapPerSocket + m.StackPerSocket
		m.RSSPerSocket = (float64(after.RSS) - float64(before.RSS)) / n
		m.GoroutinesPerSocket = float64(after.Goroutines-before.Goroutines) / n
	}
	return m
}

// writeText prints the report for people.
func (r *report) writeText(w io.Writer) {
	kib := func(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
	fmt.Fprintf(w, "sailsio load: %s, %.1fs (hold %.1fs)\n", strings.Join(r.Targets, " "), r.ElapsedS, r.HoldS)
	s := r.Sockets
	fmt.Fprintf(w, "\nsockets   target %d  connected %d  peak %d  at end %d  failed %d  drops %d (in hold %d)  reconnections %d\n",
		s.Target, s.Connected, s.Peak, s.AtEnd, s.Failed, s.Drops, s.DropsInHold, s.Reconnections)
	for k, v := range s.FailedBy {
		fmt.Fprintf(w, "          failed: %s ×%d\n", k, v)
	}
	fmt.Fprintf(w, "          connect rate %.0f/s, all connected after %.1fs", s.ConnectRate, s.RampS)
	if s.HeartbeatsKept != "" {
		fmt.Fprintf(w, ", %s", s.HeartbeatsKept)
	}
	fmt.Fprintln(w)
	c := r.Connect
	fmt.Fprintf(w, "connect   p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms\n", c.P50, c.P90, c.P99, c.Max)
	if len(r.Requests) > 0 {
		fmt.Fprintf(w, "\n%-40s %6s %9s %8s %9s %9s %9s %9s\n", "request", "status", "count", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms")
		for _, q := range r.Requests {
			st := fmt.Sprint(q.Status)
			if q.Status == 0 {
				st = q.Error
			}
			fmt.Fprintf(w, "%-40.40s %6s %9d %8.1f %9.2f %9.2f %9.2f %9.2f\n", q.Route, st, q.Latency.Count, q.RPS, q.Latency.P50, q.Latency.P90, q.Latency.P99, q.Latency.Max)
		}
		a := r.RequestsAll
		fmt.Fprintf(w, "%-40s %6s %9d %8.1f %9.2f %9.2f %9.2f %9.2f\n", "all", "", a.Count, r.RPS, a.P50, a.P90, a.P99, a.Max)
	}
	if len(r.Events) > 0 {
		names := make([]string, 0, len(r.Events))
		for n := range r.Events {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprint(w, "\nevents   ")
		for _, n := range names {
			fmt.Fprintf(w, " %s ×%d", n, r.Events[n])
		}
		fmt.Fprintln(w)
	}
	if f := r.Fanout; f != nil {
		fmt.Fprintf(w, "fan-out   %s: %d stamped requests, %d deliveries; p50 %.2fms p90 %.2fms p99 %.2fms max %.2fms\n",
			f.Event, f.Stamped, f.Deliveries, f.Latency.P50, f.Latency.P90, f.Latency.P99, f.Latency.Max)
	}
	m := r.Memory.Client
	fmt.Fprintf(w, "\nmemory    client: %s Go memory per socket (heap %s + stacks %s), RSS %s, %.2f goroutines per socket (%d sockets)\n",
		kib(m.GoPerSocket), kib(m.HeapPerSocket), kib(m.StackPerSocket), kib(m.RSSPerSocket), m.GoroutinesPerSocket, m.Sockets)
	if sv := r.Memory.Server; sv != nil {
		fmt.Fprintf(w, "          server: %s Go memory per socket (heap %s + stacks %s), RSS %s, %.2f goroutines per socket (%d sockets)\n",
			kib(sv.GoPerSocket), kib(sv.HeapPerSocket), kib(sv.StackPerSocket), kib(sv.RSSPerSocket), sv.GoroutinesPerSocket, sv.Sockets)
	}
	if r.Memory.Note != "" {
		fmt.Fprintf(w, "          %s\n", r.Memory.Note)
	}
	fmt.Fprintf(w, "cpu       user %.1fs  sys %.1fs", r.CPU.UserS, r.CPU.SysS)
	if r.CPU.PerRequestUS > 0 {
		fmt.Fprintf(w, "  (%.1fµs per request)", r.CPU.PerRequestUS)
	}
	fmt.Fprintf(w, "\nlimits    open files %d, ephemeral ports %d per destination\n", r.Limits.OpenFiles, r.Limits.EphemeralPorts)
}

// sortRoutes orders rows by route, then status.
func sortRoutes(rs []routeOut) {
	sort.Slice(rs, func(a, b int) bool {
		if rs[a].Route != rs[b].Route {
			return rs[a].Route < rs[b].Route
		}
		if rs[a].Status != rs[b].Status {
			return rs[a].Status < rs[b].Status
		}
		return rs[a].Error < rs[b].Error
	})
}

// hdrHist names the histogram type for the files that merge them.
type hdrHist = hdrhistogram.Histogram
