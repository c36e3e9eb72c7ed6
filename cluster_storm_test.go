//go:build unix

package sailsio_test

// A reconnect storm: many sockets spread over the two nodes of a hook 3 cluster (through nginx),
// one node is killed, every socket on it reconnects to the other with the SDK's default jittered
// backoff (1 s to 5 s, randomization 0.5). The test reports how long until every socket is back,
// how the reconnections spread in time, and the CPU of the surviving node. CI runs it with 1,000
// sockets; SAILSIO_STORM_SOCKETS=10000 gives the figures of docs/cluster.md.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/cluster"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

func TestClusterStorm(t *testing.T) {
	n := 1000
	if v := os.Getenv("SAILSIO_STORM_SOCKETS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 2 || n > 20000 {
			t.Fatalf("SAILSIO_STORM_SOCKETS=%q: want 2..20000", v)
		}
	}
	// Each socket needs a descriptor here, two in nginx (two workers share them) and one in a node
	// (they inherit the limit).
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(n+1000) {
		want := lim
		want.Cur = uint64(n + 1000)
		if want.Max < want.Cur {
			want.Max = want.Cur
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			t.Skipf("%d sockets need %d open files; the limit is %d: %v", n, want.Cur, lim.Cur, err)
		}
		defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	c := cluster.Start(t, "hook3")
	ctx, cancel := context.WithTimeout(context.Background(), testkit.D(5*time.Minute))
	defer cancel()

	type sock struct {
		s          *sailsio.SailsSocket
		port       int
		lost, back time.Time
		attempts   int
	}
	socks := make([]*sock, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	began := time.Now()
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s, err := sailsio.New(c.URL, sailsio.WithConnectTimeout(testkit.D(30*time.Second)))
			if err != nil {
				errs <- err
				return
			}
			k := &sock{s: s}
			socks[i] = k
			s.On(sailsio.EventDisconnect, func(json.RawMessage) {
				mu.Lock()
				k.lost = time.Now()
				mu.Unlock()
			})
			s.On(sailsio.EventReconnecting, func(json.RawMessage) {
				mu.Lock()
				k.attempts++
				mu.Unlock()
			})
			s.On(sailsio.EventReconnect, func(json.RawMessage) {
				mu.Lock()
				k.back = time.Now()
				mu.Unlock()
			})
			if err := s.Connect(ctx); err != nil {
				errs <- err
				return
			}
			jwr, err := s.GetContext(ctx, "/version", nil)
			if err != nil {
				errs <- err
				return
			}
			var v struct{ Port int }
			jwr.Decode(&v)
			k.port = v.Port
		}()
	}
	wg.Wait()
	defer func() {
		var dw sync.WaitGroup
		for _, k := range socks {
			if k != nil {
				dw.Add(1)
				go func() { defer dw.Done(); k.s.Disconnect() }()
			}
		}
		dw.Wait()
	}()
	close(errs)
	for err := range errs {
		t.Fatalf("connecting %d sockets: %v", n, err)
	}
	connectTook := time.Since(began)
	perNode := map[int]int{}
	for _, k := range socks {
		perNode[k.port]++
	}
	victim, survivor := c.Nodes[0], c.Nodes[1]
	pid := clusterPid(t, ctx, c.Node(survivor.Port).URL)

	cpu := newCPUSampler(pid, 100*time.Millisecond)
	killed := time.Now()
	victim.Kill()
	// Every socket of the killed node is back (bounded: the backoff's 5 s cap, plus the survivor's work).
	bound := testkit.D(60 * time.Second)
	var backAll time.Duration
	for {
		mu.Lock()
		missing := 0
		for _, k := range socks {
			if k.port == victim.Port && (k.back.IsZero() || k.back.Before(killed)) {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			backAll = time.Since(killed)
			break
		}
		if time.Since(killed) > bound {
			t.Fatalf("%d of %d sockets not back %v after the kill", missing, perNode[victim.Port], bound)
		}
		time.Sleep(50 * time.Millisecond) // polling n sockets' records: no single event says "all"
	}
	time.Sleep(time.Second) // the survivor's CPU after the storm
	samples := cpu.stop()

	// The spread of the reconnections in time, per 500 ms after the kill.
	var backs []time.Duration
	attempts := 0
	mu.Lock()
	for _, k := range socks {
		if k.port == victim.Port {
			backs = append(backs, k.back.Sub(killed))
			attempts += k.attempts
		}
	}
	mu.Unlock()
	slices.Sort(backs)
	hist := map[int]int{}
	for _, b := range backs {
		hist[int(b/(500*time.Millisecond))]++
	}
	var hs []string
	for i := 0; i <= int(backs[len(backs)-1]/(500*time.Millisecond)); i++ {
		hs = append(hs, fmt.Sprintf("%.1f-%.1fs:%d", float64(i)/2, float64(i+1)/2, hist[i]))
	}
	q := func(p float64) time.Duration {
		return backs[min(len(backs)-1, int(p*float64(len(backs))))].Round(time.Millisecond)
	}
	peak, sum := 0.0, 0.0
	for _, s := range samples {
		peak = max(peak, s)
		sum += s
	}
	mean := 0.0
	if len(samples) > 0 {
		mean = sum / float64(len(samples))
	}
	t.Logf("cluster: storm: %d sockets connected in %v over nodes %v; node %d SIGKILLed: its %d sockets all back in %v (%d reconnection attempts); reconnected after p0 %v, p10 %v, p50 %v, p90 %v, p100 %v; per 500 ms: %s; surviving node CPU (one core = 100%%) every 100 ms: peak %.0f%%, mean %.0f%% over %d samples",
		n, connectTook.Round(time.Millisecond), perNode, victim.Port, len(backs), backAll.Round(time.Millisecond), attempts,
		q(0), q(0.1), q(0.5), q(0.9), q(1), strings.Join(hs, " "), peak, mean, len(samples))
	if err := victim.Relaunch(ctx); err != nil {
		t.Logf("relaunch: %v", err)
	}
}

func clusterPid(t *testing.T, ctx context.Context, nodeURL string) int {
	t.Helper()
	s, err := sailsio.Connect(ctx, nodeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	jwr, err := s.GetContext(ctx, "/version", nil)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Pid int }
	jwr.Decode(&v)
	return v.Pid
}

// cpuSampler reads a process's CPU time (Linux /proc) at a period: percent of one core per sample.
type cpuSampler struct {
	done    chan struct{}
	mu      sync.Mutex
	samples []float64
	wg      sync.WaitGroup
}

func newCPUSampler(pid int, every time.Duration) *cpuSampler {
	c := &cpuSampler{done: make(chan struct{})}
	read := func() (float64, bool) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, false
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) < 13 {
			return 0, false
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		k, _ := strconv.ParseFloat(f[12], 64)
		return (u + k) / 100, true // USER_HZ = 100 on Linux
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		prev, ok := read()
		if !ok {
			return
		}
		last := time.Now()
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-tk.C:
			}
			cur, ok := read()
			if !ok {
				return
			}
			now := time.Now()
			c.mu.Lock()
			c.samples = append(c.samples, 100*(cur-prev)/now.Sub(last).Seconds())
			c.mu.Unlock()
			prev, last = cur, now
		}
	}()
	return c
}

func (c *cpuSampler) stop() []float64 {
	close(c.done)
	c.wg.Wait()
	return c.samples
}
