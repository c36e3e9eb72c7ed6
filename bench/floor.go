package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sailsio-go/sailsio"
)

// The raw floor: a bare gorilla/websocket client against the same real Sails server, speaking just
// enough Engine.IO v3 to be answered. It sends one precomputed request frame, byte for byte what the
// SDK sends for the same request (captured below), and counts acks by their "43" prefix without
// decoding them. No client can do less per request over this protocol, so it is the floor the SDK
// is measured against.

// floorRequest is what the SDK puts on the wire for the benchmark's request: the handshake's
// request URI and the request frame.
type floorRequest struct {
	uri   string // path and query of the WebSocket handshake, e.g. /socket.io/?__sails_io_sdk_version=...
	frame []byte // 42<id>["get",{...}]
}

// captureRequest connects the SDK (with opts) to a throwaway Engine.IO v3 peer in this process, has
// it send GET path once, and returns the handshake URI and the request frame it sent.
func captureRequest(ctx context.Context, path string, opts ...sailsio.Option) (*floorRequest, error) {
	return captureFrame(ctx, sailsio.RequestOptions{Method: "get", URL: path}, opts...)
}

// captureFrame is captureRequest for any request.
func captureFrame(ctx context.Context, req sailsio.RequestOptions, opts ...sailsio.Option) (*floorRequest, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	got := make(chan *floorRequest, 1)
	up := websocket.Upgrader{}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			uri := r.URL.RequestURI()
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			open := `0{"sid":"floor","upgrades":[],"pingInterval":25000,"pingTimeout":60000}`
			if c.WriteMessage(websocket.TextMessage, []byte(open)) != nil || c.WriteMessage(websocket.TextMessage, []byte("40")) != nil {
				return
			}
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				switch {
				case bytes.Equal(msg, []byte("2")):
					_ = c.WriteMessage(websocket.TextMessage, []byte("3"))
				case bytes.HasPrefix(msg, []byte("42")):
					id, _, ok := bytes.Cut(msg[2:], []byte("["))
					if !ok {
						return
					}
					select {
					case got <- &floorRequest{uri: uri, frame: bytes.Clone(msg)}:
					default:
					}
					ack := `43` + string(id) + `[{"body":{"status":200},"headers":{},"statusCode":200}]`
					_ = c.WriteMessage(websocket.TextMessage, []byte(ack))
				}
			}
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	opts = append([]sailsio.Option{sailsio.WithReconnection(false)}, opts...)
	s, err := sailsio.Connect(ctx, "http://"+ln.Addr().String(), opts...)
	if err != nil {
		return nil, fmt.Errorf("capturing the SDK's request: %w", err)
	}
	defer s.Disconnect()
	if _, err := s.Do(ctx, req); err != nil {
		return nil, fmt.Errorf("capturing the SDK's request: %w", err)
	}
	select {
	case fr := <-got:
		return fr, nil
	default:
		return nil, errors.New("capturing the SDK's request: answered, but no request frame seen")
	}
}

// floorRound runs the phases of the other clients with bare gorilla/websocket connections to the
// real server at baseURL (http://host:port): fr.frame sent as is, acks counted by prefix.
func floorRound(ctx context.Context, baseURL string, fr *floorRequest, w workload) (*roundResult, error) {
	res := &roundResult{Client: "raw gorilla/websocket floor (precomputed frame, acks counted by prefix)", RSSStart: currentRSS()}
	wsURL := floorURL(baseURL, fr.uri)
	c, done, err := floorConnect(ctx, wsURL)
	if err != nil {
		return nil, err
	}
	defer done()

	var hdr [2]byte
	// readAck reads messages until an ack arrives. It reads only the first two bytes of each message
	// and discards the rest.
	readAck := func() error {
		for {
			_, r, err := c.NextReader()
			if err != nil {
				return err
			}
			n, _ := io.ReadFull(r, hdr[:])
			if _, err := io.Copy(io.Discard, r); err != nil {
				return err
			}
			if n == 2 && hdr == [2]byte{'4', '3'} {
				return nil
			}
		}
	}
	roundTrip := func() error {
		if err := c.WriteMessage(websocket.TextMessage, fr.frame); err != nil {
			return err
		}
		return readAck()
	}
	for i := 0; i < w.warmup; i++ {
		if err := roundTrip(); err != nil {
			return nil, err
		}
	}

	res.SeqLatUs = make([]float64, w.seq)
	cpu0, t0 := cpuTime(), time.Now()
	for i := range res.SeqLatUs {
		t := time.Now()
		if err := roundTrip(); err != nil {
			return nil, err
		}
		res.SeqLatUs[i] = micros(time.Since(t))
	}
	res.SeqWallUs = micros(time.Since(t0))
	res.SeqCPUUs = cpuMicros(cpu0)

	// inflight frames outstanding: the writer takes a credit per frame, the reader returns one per ack.
	credits := make(chan struct{}, w.inflight)
	readErr := make(chan error, 1)
	cpu0, t0 = cpuTime(), time.Now()
	go func() {
		for i := 0; i < w.par; i++ {
			if err := readAck(); err != nil {
				readErr <- err
				return
			}
			<-credits
		}
		readErr <- nil
	}()
	var writeErr error
	for i := 0; i < w.par && writeErr == nil; i++ {
		select {
		case credits <- struct{}{}:
			writeErr = c.WriteMessage(websocket.TextMessage, fr.frame)
		case err := <-readErr:
			writeErr = errors.Join(errors.New("reader stopped early"), err)
		}
	}
	if writeErr != nil {
		c.Close()
		return nil, writeErr
	}
	if err := <-readErr; err != nil {
		return nil, err
	}
	res.ParWallUs = micros(time.Since(t0))
	res.ParCPUUs = cpuMicros(cpu0)
	res.RSSOneSocket = currentRSS()

	if w.sockets > 0 {
		conns := make([]*websocket.Conn, w.sockets)
		errs := make([]error, w.sockets)
		var wg sync.WaitGroup
		cpu0, t0 = cpuTime(), time.Now()
		for i := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conns[i], errs[i] = floorDial(ctx, wsURL)
			}()
		}
		wg.Wait()
		res.Sockets = w.sockets
		res.ConnectWallUs = micros(time.Since(t0))
		res.ConnectCPUUs = cpuMicros(cpu0)
		res.RSSSockets = currentRSS()
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("connecting %d sockets: %w", w.sockets, err)
		}
	}
	res.MaxRSS = maxRSS()
	return res, nil
}

// floorURL is the WebSocket URL of the handshake request URI uri on the server at baseURL.
func floorURL(baseURL, uri string) string {
	return "ws://" + strings.TrimPrefix(baseURL, "http://") + uri
}

// floorConnect is floorDial for a whole run bounded by ctx: a stuck read or write fails at ctx's
// deadline, and the connection is cut when ctx ends. done closes it.
func floorConnect(ctx context.Context, wsURL string) (c *websocket.Conn, done func(), err error) {
	c, err = floorDial(ctx, wsURL)
	if err != nil {
		return nil, nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		c.SetReadDeadline(d)
		c.SetWriteDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return c, func() { stop(); c.Close() }, nil
}

// floorDial opens a WebSocket to wsURL and waits for the Engine.IO open packet and the Socket.IO
// CONNECT ("40") that an Engine.IO v3 server sends by itself.
func floorDial(ctx context.Context, wsURL string) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var d websocket.Dialer
	c, _, err := d.DialContext(dctx, wsURL, nil)
	if err != nil {
		return nil, err
	}
	dl, _ := dctx.Deadline()
	c.SetReadDeadline(dl)
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("waiting for the namespace CONNECT: %w", err)
		}
		if bytes.HasPrefix(msg, []byte("40")) {
			break
		}
		if !bytes.HasPrefix(msg, []byte("0{")) {
			c.Close()
			return nil, fmt.Errorf("unexpected frame %.100q before the namespace CONNECT", msg)
		}
	}
	c.SetReadDeadline(time.Time{})
	return c, nil
}
