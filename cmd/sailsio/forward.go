package main

import (
	"context"
	"io"
	"net"
	"sync"
)

// forward listens on addr and relays every connection to target, for mock --addr while the
// mockserver cannot listen on a given address itself (mockserver.WithAddr, API.md v2, is not in this
// SDK yet; with it this file goes and --addr becomes one option). It returns the bound address.
func forward(ctx context.Context, addr, target string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go relay(ctx, c, target)
		}
	}()
	return ln.Addr().String(), nil
}

func relay(ctx context.Context, c net.Conn, target string) {
	defer c.Close()
	var d net.Dialer
	u, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return
	}
	defer u.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); u.Close() })
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(u, c)
		if tc, ok := u.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, _ = io.Copy(c, u)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	wg.Wait()
}
