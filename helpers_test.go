package sailsio_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/internal/testkit"
)

// Helpers shared by the package's tests.

// waitLimit bounds every wait for something that must happen (the machine may be loaded).
var waitLimit = testkit.Wait

// combo is one server generation / client protocol pair.
type combo struct {
	name   string
	server sailsio.Protocol // mockserver.WithProtocol: EIO3 = hook 2.x, EIO4 = hook 3.x
	client sailsio.Protocol // sailsio.WithProtocol
}

// clientCombos are the mockserver generations and the client protocols each accepts.
var clientCombos = []combo{
	{"hook2-EIO3", sailsio.EIO3, sailsio.EIO3},
	{"hook3-EIO3", sailsio.EIO4, sailsio.EIO3},
	{"hook3-EIO4", sailsio.EIO4, sailsio.EIO4},
}

// testCtx is a context bounded by waitLimit, cancelled when the test ends.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// await receives one value from ch, failing the test after waitLimit.
func await[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return awaitFor(t, ch, waitLimit, what)
}

// awaitFor receives one value from ch, failing the test after d.
func awaitFor[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("no %s within %v", what, d)
		var zero T
		return zero
	}
}

// newSocket returns a socket for url made with New (not connected), disconnected when the test
// ends.
func newSocket(t testing.TB, url string, opts ...sailsio.Option) *sailsio.SailsSocket {
	t.Helper()
	s, err := sailsio.New(url, opts...)
	if err != nil {
		t.Fatalf("New(%s): %v", url, err)
	}
	t.Cleanup(func() { s.Disconnect() })
	return s
}

// dial connects s, failing the test if it cannot within testkit.Wait.
func dial(t testing.TB, s *sailsio.SailsSocket) {
	t.Helper()
	if err := s.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
}

var stopSharedOnce sync.Once

// sharedSails returns the real Sails server of hook in its default configuration, lifted once for
// the tests of the package that neither stop it nor change its settings.
func sharedSails(t *testing.T, hook string) *realsails.Server {
	t.Helper()
	stopSharedOnce.Do(func() { testkit.AtEnd(realsails.StopShared) })
	return realsails.Shared(t, hook)
}
