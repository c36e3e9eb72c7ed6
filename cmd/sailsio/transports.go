package main

import (
	"strings"

	"github.com/sailsio-go/sailsio"
)

// parseTransports resolves a --transports list ("websocket", "polling", "polling,websocket").
func parseTransports(list string) ([]sailsio.Transport, error) {
	var ts []sailsio.Transport
	for _, t := range strings.Split(list, ",") {
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "websocket":
			ts = append(ts, sailsio.TransportWebSocket)
		case "polling":
			ts = append(ts, sailsio.TransportPolling)
		case "":
		default:
			return nil, usageErrorf("--transports %q: unknown transport %q (want websocket, polling)", list, t)
		}
	}
	if len(ts) == 0 {
		return nil, usageErrorf("--transports %q: name at least one transport", list)
	}
	return ts, nil
}

// transportOptions resolves the client's --transports, in the order sails.io.js' transports option
// takes: "polling,websocket" makes the handshake over polling, then upgrades.
func transportOptions(list string) ([]sailsio.Option, error) {
	ts, err := parseTransports(list)
	if err != nil {
		return nil, err
	}
	return []sailsio.Option{sailsio.WithTransports(ts...)}, nil
}
