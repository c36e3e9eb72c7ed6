package sailsio_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// TestTLS connects over https:// and wss:// to a TLS mockserver: certificates are verified, so the
// server's certificate must be trusted through WithTLSConfig.
func TestTLS(t *testing.T) {
	srv := mockserver.NewT(t, mockserver.WithTLS())
	srv.Handle("GET /hello", func(req *mockserver.Request, res *mockserver.Response) { res.JSON(req.Protocol) })
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Wait)
	defer cancel()
	if !strings.HasPrefix(srv.URL(), "https://") {
		t.Fatalf("URL %s", srv.URL())
	}
	if _, err := sailsio.Connect(ctx, srv.URL(), sailsio.WithReconnection(false)); err == nil {
		t.Fatal("connected to an untrusted certificate")
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	for _, u := range []string{srv.URL(), "wss://" + strings.TrimPrefix(srv.URL(), "https://")} {
		s, err := sailsio.Connect(ctx, u, sailsio.WithTLSConfig(&tls.Config{RootCAs: pool}))
		if err != nil {
			t.Fatalf("Connect(%s): %v", u, err)
		}
		jwr, err := s.GetContext(ctx, "/hello", nil)
		if err != nil || jwr.StatusCode != 200 {
			t.Errorf("GET over %s: %v %v", u, jwr, err)
		}
		s.Disconnect()
	}
}
