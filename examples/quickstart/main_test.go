package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testapp"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestQuickstartEmbedded runs the quickstart against its embedded mockserver.
func TestQuickstartEmbedded(t *testing.T) {
	srv := startMock("user")
	defer srv.Close()
	if err := run(srv.URL(), sailsio.EIO3, "user", []sailsio.Transport{sailsio.TransportWebSocket}); err != nil {
		t.Fatal(err)
	}
}

// TestQuickstartTestApp runs the quickstart with -model pet, as its doc shows for the app under
// testdata/sails, against that app's Go copy (internal/testapp), which the conformance suite checks
// against the real app.
func TestQuickstartTestApp(t *testing.T) {
	srv := mockserver.NewT(t)
	testapp.Install(srv, testapp.Options{})
	if err := run(srv.URL(), sailsio.EIO3, "pet", []sailsio.Transport{sailsio.TransportWebSocket}); err != nil {
		t.Fatal(err)
	}
}

// TestQuickstartRefusedWatch: against an app whose policies refuse the watch request, the
// quickstart ends at once with the status instead of waiting for an event that cannot come.
func TestQuickstartRefusedWatch(t *testing.T) {
	srv := mockserver.NewT(t)
	srv.Handle("GET /user", func(req *mockserver.Request, res *mockserver.Response) {
		res.Forbidden(nil)
	})
	start := time.Now()
	err := run(srv.URL(), sailsio.EIO3, "user", []sailsio.Transport{sailsio.TransportWebSocket})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("run = %v, want an error naming the 403", err)
	}
	if d := time.Since(start); d > testkit.Short {
		t.Errorf("run took %v to give up", d)
	}
}
