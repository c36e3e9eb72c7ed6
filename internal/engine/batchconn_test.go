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

// TestBatchConnWriteNow: a batch written without waiting never blocks, even when the peer reads
// nothing and the socket's send buffer is full; what the socket did not take goes out first on the
// next blocking batch, so the peer gets every byte in order.
func TestBatchConnWriteNow(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	peer := <-accepted
	if peer == nil {
		t.Fatal("no connection accepted")
	}
	defer peer.Close()
	bc := NewBatchConn(nc)
	if !bc.CanWriteNow() {
		t.Skip("this platform cannot write without waiting")
	}
	// The peer reads nothing: write 4 KiB batches until the socket refuses one in part.
	var want bytes.Buffer
	incomplete := false
	for i := 0; i < 1<<16 && !incomplete; i++ {
		chunk := bytes.Repeat([]byte{byte(i)}, 4<<10)
		bc.BeginBatchNow()
		if _, err := bc.Write(chunk); err != nil {
			t.Fatal(err)
		}
		complete, err := bc.EndBatchNow()
		if err != nil {
			t.Fatal(err)
		}
		want.Write(chunk)
		incomplete = !complete
	}
	if !incomplete {
		t.Fatal("256 MiB went out without the peer reading: the writes waited")
	}
	// Another batch written without waiting queues behind the rest, in order.
	bc.BeginBatchNow()
	bc.Write([]byte("after"))
	if complete, err := bc.EndBatchNow(); err != nil || complete {
		t.Fatalf("EndBatchNow behind a rest = %v, %v; want incomplete", complete, err)
	}
	want.WriteString("after")
	// The peer starts reading; a blocking batch writes the rest first, then its own bytes.
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	bc.BeginBatch()
	bc.Write([]byte("last"))
	if err := bc.EndBatch(); err != nil {
		t.Fatal(err)
	}
	want.WriteString("last")
	nc.Close()
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("the peer got %d bytes, want %d (or different content)", len(b), want.Len())
	}
}
