package main

import (
	"strings"

	"github.com/sailsio-go/sailsio"
)

// transportOptions resolves --transports. The SDK speaks WebSocket only until sailsio.WithTransports
// exists (API.md v2); then this becomes one line: return []sailsio.Option{sailsio.WithTransports(ts...)}.
func transportOptions(list string) ([]sailsio.Option, error) {
	var names []string
	for _, t := range strings.Split(list, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		switch t {
		case "websocket", "polling":
			names = append(names, t)
		case "":
		default:
			return nil, usageErrorf("--transports %q: unknown transport %q (want websocket, polling)", list, t)
		}
	}
	if len(names) == 0 {
		return nil, usageErrorf("--transports %q: name at least one transport", list)
	}
	for _, n := range names {
		if n != "websocket" {
			return nil, usageErrorf("--transports %q: this build of the SDK speaks websocket only (polling needs sailsio.WithTransports)", list)
		}
	}
	return nil, nil
}

var _ = sailsio.EIO3
