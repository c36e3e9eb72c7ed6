package sailsio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// Request round trips through the whole SDK (request encoding, the writer, the WebSocket, the
// reader, ack decoding, completion), with the server in this process. Each benchmark runs against
// two servers:
//
//	mockserver  the package's reference server, with a route answering a small JSON
//	minimal     a bare WebSocket peer that answers every request with a canned ack and allocates
//	            almost nothing, so allocs/op is (nearly) the client's own
//
// allocs/op and B/op count the whole process, the server included. The codec alone is measured in
// internal/wire (bench_test.go there). The side-by-side comparison with sails.io.js against a real
// Sails server is the program in bench/ (go run ./bench).
//
//	go test -run '^$' -bench 'BenchmarkRequest' -benchtime 2s .

const benchPath = "/bench"

var benchReq = sailsio.RequestOptions{Method: "get", URL: benchPath}

type benchTarget struct {
	name  string
	start func(b *testing.B) string // returns the server URL; the server stops in b.Cleanup
}

var benchTargets = []benchTarget{
	{"mockserver", benchMockserver},
	{"minimal", benchMinimalServer},
}

// benchMockserver starts a mockserver whose GET /bench answers {"status":200}.
func benchMockserver(b *testing.B) string {
	srv := mockserver.New()
	b.Cleanup(srv.Close)
	srv.Handle("GET "+benchPath, func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(struct {
			Status int `json:"status"`
		}{200})
	})
	return srv.URL()
}

// benchAck is what the minimal server answers to every request (after "43" and the ack id).
const benchAck = `[{"body":{"status":200},"headers":{},"statusCode":200}]`

// benchMinimalServer starts a bare Engine.IO v3 / Socket.IO peer: it sends the open packet and the
// namespace CONNECT, answers pings, and answers each request frame 42<id>[...] with 43<id>benchAck,
// reusing its buffers.
func benchMinimalServer(b *testing.B) string {
	return benchPeer(b, `0{"sid":"bench","upgrades":[],"pingInterval":25000,"pingTimeout":60000}`, func(c *websocket.Conn) {
		var buf bytes.Buffer
		var out []byte
		for {
			_, rd, err := c.NextReader()
			if err != nil {
				return
			}
			buf.Reset()
			if _, err := buf.ReadFrom(rd); err != nil {
				return
			}
			in := buf.Bytes()
			switch {
			case string(in) == "2":
				out = append(out[:0], '3')
			case len(in) > 2 && in[0] == '4' && in[1] == '2':
				i := 2
				for i < len(in) && in[i] >= '0' && in[i] <= '9' {
					i++
				}
				out = append(append(append(out[:0], "43"...), in[2:i]...), benchAck...)
			default:
				continue
			}
			if c.WriteMessage(websocket.TextMessage, out) != nil {
				return
			}
		}
	})
}

// benchPeer starts a bare Engine.IO v3 / Socket.IO peer for benchmarks: each connection gets the
// open packet and the namespace CONNECT, then serve has it until serve returns (it is closed then).
func benchPeer(b *testing.B, open string, serve func(c *websocket.Conn)) string {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if c.WriteMessage(websocket.TextMessage, []byte(open)) != nil || c.WriteMessage(websocket.TextMessage, []byte("40")) != nil {
			return
		}
		serve(c)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// benchConnect connects n sockets (64 at a time) and disconnects them in b.Cleanup.
func benchConnect(b *testing.B, url string, n int, opts ...sailsio.Option) []*sailsio.SailsSocket {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.D(60*time.Second))
	defer cancel()
	socks := make([]*sailsio.SailsSocket, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, 64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				socks[i], errs[i] = sailsio.Connect(ctx, url, append([]sailsio.Option{sailsio.WithReconnection(false)}, opts...)...)
			}
		}()
	}
	wg.Wait()
	b.Cleanup(func() {
		var wg sync.WaitGroup
		for _, s := range socks {
			if s != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.Disconnect()
				}()
			}
		}
		wg.Wait()
	})
	for _, err := range errs {
		if err != nil {
			b.Fatalf("connect: %v", err)
		}
	}
	return socks
}

// benchSpread makes b.N requests with workers goroutines, worker i using socks[i%len(socks)], and
// returns once every one has answered.
func benchSpread(b *testing.B, socks []*sailsio.SailsSocket, workers int) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		s := socks[w%len(socks)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				jwr, err := s.Do(ctx, benchReq)
				if err != nil {
					b.Error(err)
					return
				}
				if jwr.StatusCode != 200 {
					b.Errorf("status %d", jwr.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkRequestSequential: one Do at a time on one socket (a full round trip per op).
func BenchmarkRequestSequential(b *testing.B) {
	for _, t := range benchTargets {
		b.Run(t.name, func(b *testing.B) {
			s := benchConnect(b, t.start(b), 1)[0]
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				jwr, err := s.Do(ctx, benchReq)
				if err != nil {
					b.Fatal(err)
				}
				if jwr.StatusCode != 200 {
					b.Fatalf("status %d", jwr.StatusCode)
				}
			}
		})
	}
}

// BenchmarkRequestInFlight64: 64 goroutines share one socket, each doing Do in a loop, so 64
// requests are in flight; plus the callback form (Get with a semaphore of 64) on the mockserver.
func BenchmarkRequestInFlight64(b *testing.B) {
	for _, t := range benchTargets {
		b.Run(t.name, func(b *testing.B) {
			socks := benchConnect(b, t.start(b), 1)
			b.ReportAllocs()
			b.ResetTimer()
			benchSpread(b, socks, 64)
		})
	}
	b.Run("mockserver-callbacks", func(b *testing.B) {
		benchCallbacks(b, benchConnect(b, benchMockserver(b), 1)[0], 64)
	})
}

// benchCallbacks makes b.N callback-form requests on s, at most inFlight at a time, and returns
// once every callback has run.
func benchCallbacks(b *testing.B, s *sailsio.SailsSocket, inFlight int) {
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	var bad atomic.Int64
	cb := func(_ json.RawMessage, jwr *sailsio.JWRes) {
		if jwr.StatusCode != 200 {
			bad.Add(1)
		}
		<-sem
		wg.Done()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		sem <- struct{}{}
		wg.Add(1)
		s.Get(benchPath, nil, cb)
	}
	wg.Wait()
	if n := bad.Load(); n > 0 {
		b.Fatalf("%d requests did not answer 200", n)
	}
}

// BenchmarkRequest1000Sockets: 1,000 sockets, one goroutine each doing Do in a loop (up to 1,000
// requests in flight in total). Connecting them is not timed.
func BenchmarkRequest1000Sockets(b *testing.B) {
	const n = 1000
	for _, t := range benchTargets {
		b.Run(t.name, func(b *testing.B) {
			socks := benchConnect(b, t.start(b), n)
			b.ReportAllocs()
			b.ResetTimer()
			benchSpread(b, socks, n)
		})
	}
}

// BenchmarkConnect: one socket connected (handshake included) and disconnected per op.
func BenchmarkConnect(b *testing.B) {
	for _, t := range benchTargets {
		b.Run(t.name, func(b *testing.B) {
			url := t.start(b)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				s, err := sailsio.Connect(ctx, url, sailsio.WithReconnection(false))
				if err != nil {
					b.Fatal(err)
				}
				s.Disconnect()
			}
		})
	}
}

// BenchmarkInterceptors: what interceptors cost per request, against the minimal server: 0, 1 and 3
// interceptors that only call next, one Do at a time and with the callback form 64 in flight (with
// interceptors, each callback-form request runs its chain on a goroutine of its own).
//
//	go test -run '^$' -bench 'BenchmarkInterceptors' -benchtime 2s .
func BenchmarkInterceptors(b *testing.B) {
	pass := func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
		return next(ctx, req)
	}
	for _, n := range []int{0, 1, 3} {
		var opts []sailsio.Option
		for range n {
			opts = append(opts, sailsio.WithInterceptors(pass))
		}
		b.Run(fmt.Sprintf("sequential/%d", n), func(b *testing.B) {
			s := benchConnect(b, benchMinimalServer(b), 1, opts...)[0]
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if jwr, err := s.Do(ctx, benchReq); err != nil || jwr.StatusCode != 200 {
					b.Fatal(jwr, err)
				}
			}
		})
		b.Run(fmt.Sprintf("callbacks64/%d", n), func(b *testing.B) {
			benchCallbacks(b, benchConnect(b, benchMinimalServer(b), 1, opts...)[0], 64)
		})
	}
}
