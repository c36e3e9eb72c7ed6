package sailsio

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestHandshakeFailuresNameTheCause: a server that closes the upgrade (real Sails on a wrong path),
// one that answers 200 with a page (not a Socket.IO endpoint), and an EIO3-only server asked for
// EIO4 each get an error that says what is likely wrong, on one short line.
func TestHandshakeFailuresNameTheCause(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 4096))
			c.Close()
		}
	}()
	_, err = Connect(ctx5(t), "http://"+ln.Addr().String())
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 0 || !strings.Contains(err.Error(), "WithPath") {
		t.Errorf("closed upgrade: %v, want a *HandshakeError naming WithPath", err)
	}

	page := "<!DOCTYPE html>\n<html>\n<head><title>My app</title></head>\n<body>\n" + strings.Repeat("<p>Welcome to the app</p>\n", 200) + "</body></html>"
	web := newFake(t, func(w http.ResponseWriter, r *http.Request) (http.Header, bool) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(page))
		return nil, false
	})
	_, err = Connect(ctx5(t), web.URL)
	if !errors.As(err, &he) || he.StatusCode != 200 || strings.ContainsAny(he.Body, "\n<>") || len(he.Body) > 130 || !strings.Contains(he.Hint, "not a Socket.IO endpoint") {
		t.Errorf("a web page: %v (body %q), want a short one-line excerpt and a hint", err, he.Body)
	}

	f := newFake(t, nil)
	s, c, connected := startFake(t, f, WithProtocol(EIO4))
	c.send(`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":60000}`)
	c.send("40") // what an EIO3-only server (sails-hook-sockets 1.x and 2.x) sends by itself
	err = connected()
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "EIO3") || !strings.Contains(err.Error(), "sails-hook-sockets 1.x and 2.x") {
		t.Errorf("EIO4 against an EIO3-only server: %v, want ErrProtocol naming EIO3 and both EIO3-only hooks", err)
	}
	_ = s

	// engine.io 4 and later answer an EIO3 handshake so when allowEIO3 is off (sails-hook-sockets
	// 3.x turns it on; a plain socket.io server may not).
	eio4Only := newFake(t, func(w http.ResponseWriter, r *http.Request) (http.Header, bool) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"code":5,"message":"Unsupported protocol version"}`))
		return nil, false
	})
	_, err = Connect(ctx5(t), eio4Only.URL)
	if !errors.As(err, &he) || he.StatusCode != 400 || !strings.Contains(he.Hint, "allowEIO3") || !strings.Contains(he.Hint, "EIO4") || strings.Contains(he.Hint, "speaks only EIO3") {
		t.Errorf("EIO3 against an EIO4-only server: %v, want a hint naming allowEIO3 and EIO4", err)
	}
}

// TestAbsurdOpen: an open packet with intervals no server would send fails Connect with
// an error wrapping ErrProtocol, under both protocols.
func TestAbsurdOpen(t *testing.T) {
	fake := newFake(t, nil)
	for _, open := range []string{
		`0{"sid":"x","upgrades":[],"pingInterval":0,"pingTimeout":5000}`,
		`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":0}`,
		`0{"sid":"x","upgrades":[],"pingInterval":-1,"pingTimeout":5000}`,
		`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":-60000}`,
		`0{"sid":"x","upgrades":[],"pingInterval":1e12,"pingTimeout":5000}`,
		`0{"sid":"x","upgrades":[],"pingInterval":1000000000000,"pingTimeout":5000}`,
		`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":1000000000000}`,
		`0{"sid":"x","upgrades":[],"pingInterval":9223372036854775807,"pingTimeout":9223372036854775807}`,
		`0{"sid":"x","upgrades":[],"pingInterval":2.5,"pingTimeout":5000}`,
		`0{"sid":"x","upgrades":[],"pingInterval":"25000","pingTimeout":5000}`,
		`0{"sid":"x","upgrades":[]}`,
		`0{"sid":"","upgrades":[],"pingInterval":25000,"pingTimeout":5000}`,
		`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":5000,"maxPayload":-1}`,
		`0[]`,
		`0`,
	} {
		for _, p := range []Protocol{EIO3, EIO4} {
			s, c, connected := startFake(t, fake, WithProtocol(p))
			c.t = t
			c.send(open)
			err := connected()
			if !errors.Is(err, ErrProtocol) {
				t.Errorf("EIO%d open %s: Connect = %v, want an error wrapping ErrProtocol", p, open, err)
			}
			if s.IsConnected() {
				t.Errorf("EIO%d open %s: connected", p, open)
			}
		}
	}
}
