package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
)

const mockExamples = `  sailsio mock                                   # the built-in routes (those of the project's test app)
  sailsio mock --routes routes.yaml --addr 127.0.0.1:1337
  sailsio mock --eio 3 --ping-interval 5s        # behave like sails-hook-sockets 2.x
  sailsio mock --shards 4                        # four servers in one process (load targets; one URL each)

stdout gets the server's URL (one line per shard, written at once when every shard listens), and
nothing else. The mock runs until SIGINT or SIGTERM, so a command substitution of it never returns:
run it in another terminal and copy the URL it prints, or, in a script, start it in the background
with stdout in a file, wait for the file, and stop the mock at the end:
  sailsio mock --quiet > mock.url &
  until [ -s mock.url ]; do sleep 0.1; done
  sailsio get "$(cat mock.url)" /echo
  kill $!

A routes file (YAML or JSON):
  routes:
    - route: GET /user/:id
      body: {id: 1, name: Ann}
      headers: {x-a: b}
    - route: POST /echo
      echo: true                    # answer the request itself (method, url, params, body, headers ...)
    - route: GET /slow
      delay: 200ms
      status: 202
    - route: POST /chat/:room/join
      join: "chat-:room"            # join the requesting socket to a room (:params substituted)
    - route: POST /chat/:room/say
      broadcast: {room: "chat-:room", event: chat}   # broadcast the request body
  models:
    - identity: pet                 # blueprint REST + pub/sub: GET/POST/PATCH/PUT/DELETE /pet[/:id]
      required: [name]
      records: [{name: Rex}]
  blasts:
    - {event: tick, every: 1s, data: {hello: world}}
  builtins: true                    # keep the built-in routes too (default: true without a routes file)`

func runMock(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "mock", "sailsio mock [--routes FILE] [--addr 127.0.0.1:PORT] [--eio 3|4] [--transports LIST]", mockExamples)
	routes := fs.String("routes", "", "routes, models and blasts from `FILE` (YAML or JSON)")
	addr := fs.String("addr", "", "listen on `ADDR` (default 127.0.0.1 and a random port)")
	eio := fs.Int("eio", 4, "which hook generation to imitate: 4 (sails-hook-sockets 3.x, also accepts EIO3 clients) or 3 (hook 2.x)")
	transports := fs.String("transports", "websocket", "transports the server accepts (`LIST`)")
	ping := fs.Duration("ping-interval", mockserver.DefaultPingInterval, "Engine.IO pingInterval")
	pingTimeout := fs.Duration("ping-timeout", mockserver.DefaultPingTimeout, "Engine.IO pingTimeout")
	shards := fs.Int("shards", 1, "`N` independent servers in this process, each on its own port (load targets beyond one port's ephemeral range)")
	csrf := fs.Bool("csrf", false, "imitate sails.config.security.csrf (mockserver.WithCSRF): x-csrf-token required on POST/PUT/PATCH/DELETE; the token from GET /csrfToken or the SAILS_LOCALS of the page at /")
	quiet := fs.Bool("quiet", false, "no log on stderr")
	pos, err := parseFlags(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErrorf("mock takes no arguments, got %q", pos)
	}
	var proto sailsio.Protocol
	switch *eio {
	case 3:
		proto = sailsio.EIO3
	case 4:
		proto = sailsio.EIO4
	default:
		return usageErrorf("--eio %d: want 3 or 4", *eio)
	}
	ts, err := parseTransports(*transports)
	if err != nil {
		return err
	}
	if *shards < 1 || *shards > 64 {
		return usageErrorf("--shards %d: want 1..64", *shards)
	}
	if *addr != "" && *shards != 1 {
		return usageErrorf("--addr and --shards > 1 do not go together")
	}
	if *ping <= 0 || *pingTimeout <= 0 {
		return usageErrorf("--ping-interval and --ping-timeout must be positive")
	}
	spec := &mockSpec{Builtins: true}
	if *routes != "" {
		if spec, err = loadMockSpec(*routes); err != nil {
			return usageErrorf("--routes: %v", err)
		}
	}
	if *addr != "" {
		if err := checkLoopbackAddr(*addr); err != nil {
			return usageErrorf("--addr: %v", err)
		}
	}
	raiseFileLimit()
	logf := func(format string, a ...any) {
		if !*quiet {
			fmt.Fprintf(e.stderr, "sailsio mock: "+format+"\n", a...)
		}
	}
	opts := []mockserver.Option{
		mockserver.WithProtocol(proto),
		mockserver.WithPingInterval(*ping),
		mockserver.WithPingTimeout(*pingTimeout),
		mockserver.WithTransports(ts...),
	}
	if *csrf {
		opts = append(opts, mockserver.WithCSRF(), mockserver.WithCSRFTokenRoute())
	}
	var servers []*mockserver.Server
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	for range *shards {
		sopts := opts
		if *addr != "" {
			sopts = append(sopts, mockserver.WithAddr(*addr))
		}
		srv, err := newMockServer(sopts...)
		if err != nil {
			return exitWith(exitOther, err)
		}
		servers = append(servers, srv)
		if err := spec.install(ctx, srv, *eio-1, *ping); err != nil {
			return usageErrorf("--routes: %v", err)
		}
	}
	// One write for every URL, so a script that waits for a non-empty file reads them all.
	var urls strings.Builder
	for _, srv := range servers {
		url := srv.URL()
		urls.WriteString(url + "\n")
		logf("listening on %s (hook %d.x, ping %v/%v)", url, *eio-1, *ping, *pingTimeout)
	}
	if _, err := io.WriteString(e.stdout, urls.String()); err != nil {
		return exitWith(exitOther, err)
	}
	if f, ok := e.stdout.(*os.File); ok {
		_ = f.Sync()
	}
	<-ctx.Done()
	logf("stopping")
	return nil
}

// newMockServer is mockserver.New with its panic (an address it cannot listen on) as an error.
func newMockServer(opts ...mockserver.Option) (srv *mockserver.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return mockserver.New(opts...), nil
}

// checkLoopbackAddr refuses addresses outside 127.0.0.0/8 and ::1 unless they are explicit.
func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" || host == "localhost" {
		return nil
	}
	if net.ParseIP(host) == nil {
		return fmt.Errorf("%q: want an IP address", host)
	}
	return nil
}

// statsRoute answers GET /__sailsio/stats with the process's socket count and memory, so a load run
// can report the server's memory per socket beside its own.
func statsRoute(srv *mockserver.Server, pingInterval time.Duration) {
	srv.Handle("GET /__sailsio/stats", func(req *mockserver.Request, res *mockserver.Response) {
		st := readProcStats()
		st.Sockets = len(srv.SocketIDs())
		st.PingIntervalMS = pingInterval.Milliseconds()
		res.JSON(st)
	})
}
