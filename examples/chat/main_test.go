package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/internal/testapp"
	"github.com/sailsio-go/sailsio/mockserver"
)

// transcript is what run prints after connecting, whatever the server.
func transcript(proto sailsio.Protocol) []string {
	return []string{
		fmt.Sprintf("alice connected (EIO%d) and joined \"lobby\"", proto),
		fmt.Sprintf("bob connected (EIO%d) and joined \"lobby\"", proto),
		"alice says: Hi Bob!",
		"alice received in lobby from alice: Hi Bob!",
		"bob received in lobby from alice: Hi Bob!",
		"bob says: Hello Alice, how are you?",
		"alice received in lobby from bob: Hello Alice, how are you?",
		"bob received in lobby from bob: Hello Alice, how are you?",
	}
}

// runChat runs the program against rawURL and returns its output lines.
func runChat(t *testing.T, rawURL string, proto sailsio.Protocol) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, rawURL, proto, "lobby"); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

func checkLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transcript:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRunEmbedded(t *testing.T) {
	for _, proto := range []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4} {
		t.Run(fmt.Sprintf("EIO%d", proto), func(t *testing.T) {
			got := runChat(t, "", proto)
			if len(got) == 0 || !strings.HasPrefix(got[0], "started an embedded mockserver at http://127.0.0.1:") {
				t.Fatalf("first line: %q", got)
			}
			checkLines(t, got[1:], transcript(proto))
		})
	}
}

// The same program against the Go copy of the test app (internal/testapp), in the mock's hook 2.x and
// 3.x modes: the copy the conformance suite checks against the real app of TestRunRealSails.
func TestRunTestApp(t *testing.T) {
	for _, tc := range []struct {
		hook  int
		proto sailsio.Protocol
	}{
		{2, sailsio.EIO3},
		{3, sailsio.EIO4},
	} {
		t.Run(fmt.Sprintf("hook%d/EIO%d", tc.hook, tc.proto), func(t *testing.T) {
			srv := mockserver.NewT(t, mockserver.WithProtocol(tc.proto))
			testapp.Install(srv, testapp.Options{Hook: tc.hook})
			checkLines(t, runChat(t, srv.URL(), tc.proto), transcript(tc.proto))
		})
	}
}

// The same program against the real Sails app of testdata/sails (skipped without Node unless CI=true).
func TestRunRealSails(t *testing.T) {
	for _, tc := range []struct {
		hook  string
		proto sailsio.Protocol
	}{
		{"hook2", sailsio.EIO3},
		{"hook3", sailsio.EIO3},
		{"hook3", sailsio.EIO4},
	} {
		t.Run(fmt.Sprintf("%s/EIO%d", tc.hook, tc.proto), func(t *testing.T) {
			if testing.Short() {
				t.Skip("starts a real Sails server")
			}
			srv := realsails.Start(t, tc.hook)
			checkLines(t, runChat(t, srv.URL, tc.proto), transcript(tc.proto))
		})
	}
}
