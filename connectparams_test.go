package sailsio_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/mockserver"
)

// seenRequest is what a recording proxy saw of one HTTP request.
type seenRequest struct {
	method, auth, token, extra string
	upgrade                    bool
}

// recordingProxy forwards every HTTP request (polling and WebSocket upgrades alike) to target and
// records its Authorization header and token query parameter.
func recordingProxy(t *testing.T, target string) (string, func() []seenRequest) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []seenRequest
	proxy := httputil.NewSingleHostReverseProxy(u)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, seenRequest{
			method:  r.Method,
			auth:    r.Header.Get("Authorization"),
			extra:   r.Header.Get("X-Extra"),
			token:   strings.Join(r.URL.Query()["token"], ","),
			upgrade: strings.EqualFold(r.Header.Get("Upgrade"), "websocket"),
		})
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL, func() []seenRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]seenRequest(nil), seen...)
	}
}

// TestConnectParams: the function runs before every attempt and what it returns goes on every
// HTTP request of that attempt (polling, the upgrade, a WebSocket handshake), over the initial
// headers and WithQuery; an error fails that attempt only, and the reconnection loop goes on.
func TestConnectParams(t *testing.T) {
	for _, tc := range []struct {
		name       string
		transports []sailsio.Transport
	}{
		{"websocket", []sailsio.Transport{sailsio.TransportWebSocket}},
		{"polling+upgrade", []sailsio.Transport{sailsio.TransportPolling, sailsio.TransportWebSocket}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mockserver.NewT(t, mockserver.WithTransports(sailsio.TransportPolling, sailsio.TransportWebSocket))
			front, seen := recordingProxy(t, srv.URL())
			var calls atomic.Int32
			failNext := make(chan struct{}, 1)
			params := func(ctx context.Context) (http.Header, url.Values, error) {
				n := calls.Add(1)
				select {
				case <-failNext:
					return nil, nil, errors.New("token service down")
				default:
				}
				tok := fmt.Sprint("t", n)
				return http.Header{"Authorization": {"Bearer " + tok}}, url.Values{"token": {tok}}, nil
			}
			s := newSocket(t, front,
				sailsio.WithTransports(tc.transports...),
				sailsio.WithInitialConnectionHeaders(http.Header{"Authorization": {"Bearer stale"}, "X-Extra": {"kept"}}),
				sailsio.WithQuery(url.Values{"token": {"stale"}}),
				sailsio.WithConnectParams(params),
				sailsio.WithReconnectionDelay(time.Millisecond, 5*time.Millisecond),
			)
			life := lifecycle(s)
			upgrades := testkit.Collect(s.On, sailsio.EventUpgrade, sailsio.EventUpgradeError)
			dial(t, s)
			life.Expect(t, sailsio.EventConnect)
			if tc.transports[0] == sailsio.TransportPolling {
				upgrades.Expect(t, sailsio.EventUpgrade)
			}
			first := seen()
			if len(first) == 0 {
				t.Fatal("the proxy saw no request")
			}
			for _, r := range first {
				if r.auth != "Bearer t1" || r.token != "t1" || r.extra != "kept" {
					t.Errorf("first attempt: %s (upgrade %v) carried Authorization %q, token %q, X-Extra %q; want t1, t1, kept", r.method, r.upgrade, r.auth, r.token, r.extra)
				}
			}

			failNext <- struct{}{} // the next attempt's params fail; the loop goes on
			srv.DropConnections()
			ev := life.WaitFor(t, sailsio.EventConnectError)
			if !strings.Contains(string(ev.Data), "token service down") {
				t.Errorf("connect_error %s does not name the function's error", ev.Data)
			}
			life.WaitFor(t, sailsio.EventReconnect)
			if jwr, err := s.GetContext(testCtx(t), "/__getcookie", nil); err != nil {
				t.Fatalf("request after reconnecting: %v %v", jwr, err)
			}
			last := seen()[len(first):]
			if len(last) == 0 {
				t.Fatal("no request for the reconnection")
			}
			want := fmt.Sprint("t", calls.Load())
			for _, r := range last {
				if r.auth != "Bearer "+want || r.token != want {
					t.Errorf("reconnection: %s carried Authorization %q, token %q; want %s", r.method, r.auth, r.token, want)
				}
			}
		})
	}
}

// TestConnectParamsErrors: a failing function fails Connect with both errors wrapped, and a
// reserved query parameter or an invalid header fails the attempt with ErrConnectParams.
func TestConnectParamsErrors(t *testing.T) {
	srv := mockserver.NewT(t)
	errDown := errors.New("down")
	for _, tc := range []struct {
		name string
		f    func(context.Context) (http.Header, url.Values, error)
		want []error
	}{
		{"error", func(context.Context) (http.Header, url.Values, error) { return nil, nil, errDown }, []error{sailsio.ErrConnectParams, errDown}},
		{"reserved query", func(context.Context) (http.Header, url.Values, error) {
			return nil, url.Values{"EIO": {"4"}}, nil
		}, []error{sailsio.ErrConnectParams}},
		{"CRLF header", func(context.Context) (http.Header, url.Values, error) {
			return http.Header{"X-A": {"a\r\nInjected: 1"}}, nil, nil
		}, []error{sailsio.ErrConnectParams, sailsio.ErrInvalidHeader}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSocket(t, srv.URL(), sailsio.WithConnectParams(tc.f), sailsio.WithReconnection(false))
			err := s.Connect(testCtx(t))
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("Connect: %v, want an error wrapping %q", err, w)
				}
			}
		})
	}
	if _, err := sailsio.New(srv.URL(), sailsio.WithConnectParams(nil)); !errors.Is(err, sailsio.ErrInvalidOption) {
		t.Errorf("nil function: %v", err)
	}
}
