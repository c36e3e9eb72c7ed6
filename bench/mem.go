package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

// Memory per socket. The in-process mockserver (in this program) accepts the sockets; the Go SDK
// side runs in a fresh child process (this same binary, role memclient) per socket count, so that
// its heap and RSS hold nothing but the SDK's sockets — neither the server's half of every
// connection nor what earlier phases left behind.

const (
	roleEnv         = "SAILSIO_BENCH_ROLE"
	roleMemClient   = "memclient"
	memURLEnv       = "SAILSIO_BENCH_URL"
	memCountEnv     = "SAILSIO_BENCH_N"
	memProfileEnv   = "SAILSIO_BENCH_MEMPROFILE" // -memprofile: where the child writes its profiles
	memResultPrefix = "SAILSIO_BENCH_MEM "
	memConcurrency  = 64 // connects in progress at once
	memChildLimit   = 5 * time.Minute
	// The mockserver of this phase advertises a short pingInterval, and the child measures once
	// every socket has sent and answered at least two heartbeats: the state a socket idles in,
	// rather than the one right after its handshake.
	memPingInterval = 2 * time.Second
	memSettle       = 2*memPingInterval + time.Second // after connecting, before measuring
)

// memSnapshot is the memory of the client process at one moment.
type memSnapshot struct {
	HeapInuse   uint64 `json:"heapInuse"`
	HeapObjects uint64 `json:"heapObjects"`
	StackInuse  uint64 `json:"stackInuse"`
	Sys         uint64 `json:"sys"`
	RSS         int64  `json:"rss"`
	Goroutines  int    `json:"goroutines"`
}

func takeSnapshot() memSnapshot {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSnapshot{
		HeapInuse:   m.HeapInuse,
		HeapObjects: m.HeapObjects,
		StackInuse:  m.StackInuse,
		Sys:         m.Sys,
		RSS:         currentRSS(),
		Goroutines:  runtime.NumGoroutine(),
	}
}

// memResult is what the memclient child reports for one socket count.
type memResult struct {
	N         int         `json:"n"`
	ConnectUs float64     `json:"connectUs"`
	Before    memSnapshot `json:"before"`
	After     memSnapshot `json:"after"`
}

// memClientMain is the child: it connects N idle sockets to the URL and prints its memory before
// and after, as one line. It exits without disconnecting (the OS closes the sockets).
func memClientMain() int {
	url := os.Getenv(memURLEnv)
	n, err := strconv.Atoi(os.Getenv(memCountEnv))
	if err != nil || n <= 0 || url == "" {
		fmt.Fprintln(os.Stderr, "memclient: bad parameters")
		return 2
	}
	raiseNoFile(uint64(n) + 256)
	if os.Getenv(memProfileEnv) != "" {
		runtime.MemProfileRate = 1 // every allocation: the profile is exact, not a sample
	}
	ctx, cancel := context.WithTimeout(context.Background(), memChildLimit)
	defer cancel()

	res := memResult{N: n, Before: takeSnapshot()}
	socks := make([]*sailsio.SailsSocket, n)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	t0 := time.Now()
	for w := 0; w < memConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				s, err := sailsio.Connect(ctx, url, sailsio.WithReconnection(false))
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("socket %d: %w", i, err) })
					cancel()
					return
				}
				socks[i] = s
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "memclient:", firstErr)
		return 1
	}
	res.ConnectUs = micros(time.Since(t0))
	time.Sleep(memSettle)
	res.After = takeSnapshot()
	if dir := os.Getenv(memProfileEnv); dir != "" {
		if err := writeMemProfiles(dir, n); err != nil {
			fmt.Fprintln(os.Stderr, "memclient:", err)
			return 1
		}
	}
	runtime.KeepAlive(socks)
	b, _ := json.Marshal(res)
	fmt.Println(memResultPrefix + string(b))
	return 0
}

// writeMemProfiles writes the heap profile (in use after the GCs of the snapshot: go tool pprof
// -sample_index=inuse_space) and the goroutines with their stacks, for n sockets, into dir.
func writeMemProfiles(dir string, n int) error {
	for _, p := range []struct {
		name, file string
		debug      int
	}{{"heap", fmt.Sprintf("heap-%d.pprof", n), 0}, {"goroutine", fmt.Sprintf("goroutine-%d.txt", n), 1}} {
		f, err := os.Create(filepath.Join(dir, p.file))
		if err != nil {
			return err
		}
		err = pprof.Lookup(p.name).WriteTo(f, p.debug)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// memPerSocket measures each socket count in a fresh child process against an in-process
// mockserver. notes collects what the reader should know (for example a lowered count).
func memPerSocket(ctx context.Context, counts []int, profileDir string) (results []memResult, notes []string, err error) {
	if len(counts) == 0 {
		return nil, nil, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	// This process holds the server's end of every connection.
	limit := raiseNoFile(uint64(most) + 512)
	srv := mockserver.New(mockserver.WithPingInterval(memPingInterval))
	defer srv.Close()
	for _, n := range counts {
		if limit > 0 && uint64(n)+512 > limit {
			m := int(limit) - 512
			notes = append(notes, fmt.Sprintf("%d sockets lowered to %d: RLIMIT_NOFILE is %d (raise the hard limit to measure more)", n, m, limit))
			n = m
		}
		if n <= 0 {
			continue
		}
		r, err := runMemChild(ctx, exe, srv.URL(), n, profileDir)
		if err != nil {
			return results, notes, fmt.Errorf("%d sockets: %w", n, err)
		}
		results = append(results, *r)
		// Wait for the server to see the child's sockets go, so runs do not overlap.
		deadline := time.Now().Add(30 * time.Second)
		for len(srv.SocketIDs()) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return results, notes, nil
}

func runMemChild(ctx context.Context, exe, url string, n int, profileDir string) (*memResult, error) {
	ctx, cancel := context.WithTimeout(ctx, memChildLimit+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleMemClient, memURLEnv+"="+url, memCountEnv+"="+strconv.Itoa(n), memProfileEnv+"="+profileDir)
	var stdout bytes.Buffer
	stderr := newTailBuffer(16 << 10)
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.WaitDelay = 2 * time.Second
	runErr := cmd.Run()
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), memResultPrefix); ok {
			var r memResult
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				return nil, err
			}
			return &r, nil
		}
	}
	return nil, fmt.Errorf("memory child: %v, no result%s", runErr, indented(stderr.String()))
}
