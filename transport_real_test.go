package sailsio_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/mockserver"
)

// checkPollingOnlyServer checks a server that accepts polling only (transports: ['polling']): a
// websocket client is refused (400 Transport unknown); a polling+websocket client connects over
// polling, is offered no upgrade, and stays there.
func checkPollingOnlyServer(t *testing.T, url string, protos []sailsio.Protocol) {
	for _, p := range protos {
		_, err := sailsio.Connect(testCtx(t), url, sailsio.WithProtocol(p), sailsio.WithReconnection(false))
		var he *sailsio.HandshakeError
		if !errors.As(err, &he) || he.StatusCode != 400 || he.Body != "Transport unknown" {
			t.Errorf("EIO%d websocket client: %v, want HandshakeError 400 Transport unknown", p, err)
		}
		s, err := sailsio.New(url, sailsio.WithProtocol(p), pollingUpgrade)
		if err != nil {
			t.Fatal(err)
		}
		upgrade := make(chan string, 1)
		s.On(sailsio.EventUpgrade, func(d json.RawMessage) { upgrade <- string(d) })
		s.On(sailsio.EventUpgradeError, func(d json.RawMessage) { upgrade <- string(d) })
		if err := s.Connect(testCtx(t)); err != nil {
			t.Fatalf("EIO%d polling+websocket client: %v", p, err)
		}
		for range 3 {
			if jwr, err := s.GetContext(testCtx(t), "/echo", nil); err != nil || jwr.StatusCode != 200 {
				t.Fatalf("EIO%d: %v %v", p, jwr, err)
			}
		}
		none(t, upgrade, 200*time.Millisecond, "upgrade event")
		if tr := s.Transport(); tr != sailsio.TransportPolling {
			t.Errorf("EIO%d: Transport() = %v, want polling", p, tr)
		}
		s.Close()
	}
}

func TestPollingOnlyServer(t *testing.T) {
	for _, mode := range []sailsio.Protocol{sailsio.EIO3, sailsio.EIO4} {
		srv := mockserver.NewT(t, mockserver.WithProtocol(mode), mockserver.WithTransports(sailsio.TransportPolling))
		srv.Handle("/echo", func(req *mockserver.Request, res *mockserver.Response) { res.JSON(req.Body) })
		protos := []sailsio.Protocol{sailsio.EIO3}
		if mode == sailsio.EIO4 {
			protos = append(protos, sailsio.EIO4)
		}
		checkPollingOnlyServer(t, srv.URL(), protos)
	}
}

// TestRealSailsPollingOnly: the test app lifted with SAILSIO_TRANSPORTS=polling, on both hooks.
func TestRealSailsPollingOnly(t *testing.T) {
	for _, hook := range []string{"hook2", "hook3"} {
		t.Run(hook, func(t *testing.T) {
			srv := realsails.Start(t, hook, realsails.WithEnv("SAILSIO_TRANSPORTS", "polling"))
			protos := []sailsio.Protocol{sailsio.EIO3}
			if hook == "hook3" {
				protos = append(protos, sailsio.EIO4)
			}
			checkPollingOnlyServer(t, srv.URL, protos)
		})
	}
}
