package sailsio_test

// The client against real Sails where the conformance suite does not go: large requests, handshake
// errors, a polling-only server.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

// TestRealSailsLargeRequests: a request of 70 MB (under Sails' maxHttpBufferSize, 100 MB by
// default) reaches real Sails on both hooks. ws-based servers refuse a message of more than 16,384
// fragments (close 1008), so the client must not write small fragments: with 4 KiB ones anything
// above 64 MiB failed.
func TestRealSailsLargeRequests(t *testing.T) {
	for _, tc := range []struct {
		hook  string
		proto sailsio.Protocol
	}{
		{"hook2", sailsio.EIO3},
		{"hook3", sailsio.EIO3},
		{"hook3", sailsio.EIO4},
	} {
		t.Run(fmt.Sprintf("%s/EIO%d", tc.hook, tc.proto), func(t *testing.T) {
			srv := sharedSails(t, tc.hook)
			ctx, cancel := context.WithTimeout(context.Background(), testkit.D(3*time.Minute))
			defer cancel()
			s, err := sailsio.Connect(ctx, srv.URL, sailsio.WithProtocol(tc.proto))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Disconnect()
			for _, mb := range []int{70} {
				body := strings.Repeat("x", mb*1_000_000)
				jwr, err := s.PostContext(ctx, "/size", map[string]string{"s": body})
				if err != nil {
					t.Fatalf("%d MB request: %v", mb, err)
				}
				var got struct{ Bytes int }
				if err := jwr.Decode(&got); err != nil || jwr.StatusCode != 200 {
					t.Fatalf("%d MB request: status %d, body %.200s", mb, jwr.StatusCode, jwr.Body)
				}
				if want := len(`{"s":""}`) + len(body); got.Bytes != want {
					t.Errorf("%d MB request: the server saw %d bytes, want %d", mb, got.Bytes, want)
				}
			}
		})
	}
}

// TestRealSailsHandshakeErrors: what real Sails does to a wrong WithPath (it accepts the connection
// and drops the upgrade) and to EIO4 on hook 2.x (it answers as Engine.IO v3) gets an error naming
// the likely cause.
func TestRealSailsHandshakeErrors(t *testing.T) {
	t.Run("hook3/wrong path", func(t *testing.T) {
		srv := sharedSails(t, "hook3")
		_, err := sailsio.Connect(testCtx(t), srv.URL, sailsio.WithPath("/sockets"))
		var he *sailsio.HandshakeError
		if !errors.As(err, &he) || !strings.Contains(he.Hint, "WithPath") {
			t.Errorf("wrong path: %v, want a *HandshakeError naming WithPath", err)
		}
	})
	t.Run("hook2/EIO4", func(t *testing.T) {
		srv := sharedSails(t, "hook2")
		_, err := sailsio.Connect(testCtx(t), srv.URL, sailsio.WithProtocol(sailsio.EIO4))
		if err == nil || !strings.Contains(err.Error(), "EIO3") {
			t.Errorf("EIO4 against hook 2.x: %v, want an error naming EIO3", err)
		}
	})
}

// TestRealSailsPollingOnly: the test app lifted with SAILSIO_TRANSPORTS=polling, on both hooks.
func TestRealSailsPollingOnly(t *testing.T) {
	for _, hook := range []string{"hook2", "hook3"} {
		t.Run(hook, func(t *testing.T) {
			srv := sharedSails(t, hook, realsails.WithEnv("SAILSIO_TRANSPORTS", "polling"))
			protos := []sailsio.Protocol{sailsio.EIO3}
			if hook == "hook3" {
				protos = append(protos, sailsio.EIO4)
			}
			checkPollingOnlyServer(t, srv.URL, protos)
		})
	}
}
