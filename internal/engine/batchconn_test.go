package engine

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"testing"
)

// TestBatchConnReadAhead: whatever the sizes of the peer's writes and of the reader's buffer, the
// bytes come out as they went in, and the read-ahead buffer goes back to the pool once drained.
func TestBatchConnReadAhead(t *testing.T) {
	for _, bufSize := range []int{16, 1 << 10, 4 << 10, 64 << 10} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, 3<<20)
		rnd := rand.New(rand.NewPCG(1, uint64(bufSize)))
		for i := range want {
			want[i] = byte(rnd.Uint32())
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			for rest := want; len(rest) > 0; {
				n := min(len(rest), 1+rnd.IntN(100<<10))
				if _, err := c.Write(rest[:n]); err != nil {
					return
				}
				rest = rest[n:]
			}
		}()
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		bc := NewBatchConn(nc)
		got, err := io.ReadAll(bufio.NewReaderSize(bc, bufSize))
		nc.Close()
		ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("buffer %d: got %d bytes, want %d (or different content)", bufSize, len(got), len(want))
		}
		if bc.ahead != nil && !bc.busy {
			t.Errorf("buffer %d: the read-ahead buffer is held by a drained connection", bufSize)
		}
	}
}
