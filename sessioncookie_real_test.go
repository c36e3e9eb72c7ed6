package sailsio_test

// WithSessionCookie against the real Sails servers of testdata/sails: a login done over the socket
// (no HTTP login, no cookie given by the caller) survives Reconnect and a restart of the server
// (SIGKILL, sessions in the app's file store), because every handshake carries the session cookie
// the socket got from /__getcookie.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

func TestSessionCookieRealSails(t *testing.T) {
	for _, tc := range []struct {
		hook  string
		proto sailsio.Protocol
	}{
		{"hook2", sailsio.EIO3},
		{"hook3", sailsio.EIO4},
	} {
		name := fmt.Sprintf("%s/EIO%d", tc.hook, tc.proto)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			slow := testkit.D(90 * time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 3*slow)
			defer cancel()
			sessions := filepath.Join(t.TempDir(), "sessions.json")
			srv := realsails.Start(t, tc.hook, realsails.WithEnv("SAILSIO_SESSION_FILE", sessions))

			s, err := sailsio.New(srv.URL, sailsio.WithProtocol(tc.proto), sailsio.WithSessionCookie(),
				sailsio.WithReconnectionDelay(50*time.Millisecond, 300*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Disconnect()
			ev := lifecycle(s)
			if err := s.Connect(ctx); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			me := func(what string) string {
				t.Helper()
				jwr, err := s.GetContext(ctx, "/me", nil)
				if err != nil || jwr.StatusCode != 200 {
					t.Fatalf("%s: GET /me: %v, %v", what, jwr, err)
				}
				var v struct {
					User *string `json:"user"`
				}
				if err := jwr.Decode(&v); err != nil {
					t.Fatal(err)
				}
				if v.User == nil {
					return ""
				}
				return *v.User
			}
			user := "ada-" + strings.ReplaceAll(name, "/", "-")
			if jwr, err := s.PostContext(ctx, "/login", map[string]string{"name": user}); err != nil || jwr.StatusCode != 200 {
				t.Fatalf("POST /login over the socket: %v, %v", jwr, err)
			}
			if got := me("after the login"); got != user {
				t.Fatalf("after the login over the socket: user %q, want %q", got, user)
			}
			firstID := s.ID()
			if err := s.Reconnect(ctx); err != nil {
				t.Fatal(err)
			}
			if s.ID() == firstID {
				t.Errorf("same socket id %s after Reconnect", firstID)
			}
			if got := me("after Reconnect"); got != user {
				t.Errorf("after Reconnect: user %q, want %q", got, user)
			}
			srv.Kill()
			began := time.Now()
			srv.Restart(t)
			ev.WaitForWithin(t, sailsio.EventReconnect, slow)
			if got := me("after the restart"); got != user {
				t.Errorf("after a SIGKILL and restart: user %q, want %q", got, user)
			}
			t.Logf("%s: login over the socket kept across Reconnect and a SIGKILL restart (back after %v)", name, time.Since(began).Round(time.Millisecond))
		})
	}
}
