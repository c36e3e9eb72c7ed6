package main

import (
	"bytes"
	"log"
	"slices"
	"strings"
	"testing"

	"github.com/sailsio-go/sailsio/internal/testapp"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestWebappEmbedded runs the program against its embedded mock.
func TestWebappEmbedded(t *testing.T) {
	srv := startMock("thing")
	defer srv.Close()
	checkRuns(t, srv.URL())
}

// TestWebappTestApp runs the program against the Go copy of testdata/sails/webapp (internal/testapp),
// which csrf_real_test.go checks against the real webapp on both hook generations.
func TestWebappTestApp(t *testing.T) {
	srv := mockserver.NewT(t, mockserver.WithCSRF())
	testapp.InstallWebApp(srv)
	checkRuns(t, srv.URL())
}

// checkRuns runs the program twice against the app at rawURL: a signup, then (the email taken) a
// login; each time the create needs the CSRF token and the login.
func checkRuns(t *testing.T, rawURL string) {
	t.Helper()
	for i, want := range []string{"POST /api/v1/entrance/signup 200", "PUT /api/v1/entrance/login 200"} {
		var out bytes.Buffer
		if err := run(rawURL, "ada@example.com", "pw", "thing", log.New(&out, "", 0)); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out.String())
		}
		var lines []string // "METHOD URL STATUS" of each logged request
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if f := strings.Fields(l); len(f) >= 3 {
				lines = append(lines, strings.Join(f[:3], " "))
			}
		}
		if !slices.Contains(lines, want) || !slices.Contains(lines, "POST /thing 200") {
			t.Errorf("run %d logged %q, want %q and the create", i, lines, want)
		}
	}
}
