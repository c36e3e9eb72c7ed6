package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sailsio-go/sailsio"
)

// errHelp ends a subcommand after --help printed its usage (exit status 0).
var errHelp = errors.New("help requested")

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// newFlagSet returns a flag set whose usage prints synopsis, the flags and examples.
func newFlagSet(e *env, name, synopsis, examples string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fullUsage[fs] = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage:\n  %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		if examples != "" {
			fmt.Fprintf(w, "\nExamples:\n%s\n", examples)
		}
	}
	// The flag package calls Usage both for -h/--help and after a flag error; parseFlags prints
	// the full usage for the first and the hint for the second.
	fs.Usage = func() {}
	usageHint[fs] = func() { fmt.Fprintf(e.stderr, "run 'sailsio %s --help' for usage\n", name) }
	return fs
}

// fullUsage holds each flag set's --help text, usageHint the line a flag error ends with.
var fullUsage, usageHint = map[*flag.FlagSet]func(){}, map[*flag.FlagSet]func(){}

// parseFlags parses args, allowing flags after positional arguments (sailsio get URL /path -i), and
// returns the positional arguments. "--" ends the flags. --help prints the usage on stdout.
func parseFlags(e *env, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(e.stdout)
				fullUsage[fs]()
				return nil, errHelp
			}
			usageHint[fs]()
			return nil, exitWith(exitUsage, errSilent)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse stops at the first positional argument, or after "--".
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// connFlags are the connection flags shared by every client subcommand.
type connFlags struct {
	handshakeHeaders listFlag
	cookieJar        string
	eio              int
	transports       string
	timeout          time.Duration
	insecure         bool
	cacert           string
	headers          listFlag
	csrf             bool
	csrfPage         string
}

func (c *connFlags) register(fs *flag.FlagSet, withHeaders bool) {
	if withHeaders {
		fs.Var(&c.headers, "H", "a virtual `header` 'name: value' sent with the request (repeatable)")
	}
	fs.Var(&c.handshakeHeaders, "handshake-header", "a `header` 'name: value' of the WebSocket handshake, e.g. Origin or Authorization (repeatable)")
	fs.StringVar(&c.cookieJar, "cookie-jar", "", "read and write cookies in `FILE` (Netscape format, as curl -b/-c); the session cookie goes on the handshake")
	fs.IntVar(&c.eio, "eio", 3, "Engine.IO protocol `version`: 3 (every Sails 1.x) or 4 (sails-hook-sockets 3.x)")
	fs.StringVar(&c.transports, "transports", "websocket", "transports in order, comma-separated: websocket, polling (`LIST`)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "bound on connecting and on each request (`DURATION`; 0: none)")
	fs.BoolVar(&c.insecure, "insecure", false, "do not verify the server's TLS certificate")
	fs.StringVar(&c.cacert, "cacert", "", "trust the PEM certificates in `FILE` for TLS")
	fs.BoolVar(&c.csrf, "csrf", false, "send the session's CSRF token as x-csrf-token on post, put, patch and delete: from GET /csrfToken over HTTP, else from the window.SAILS_LOCALS._csrf of the page GET / (what `sails new` apps expose)")
	fs.StringVar(&c.csrfPage, "csrf-page", "", "with --csrf, read the token from the page at `PATH` instead of / (implies --csrf)")
}

// parseHeader splits "name: value".
func parseHeader(h string) (string, string, error) {
	name, value, ok := strings.Cut(h, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return "", "", fmt.Errorf("header %q: want 'name: value'", h)
	}
	return name, strings.TrimSpace(value), nil
}

// headerMap turns repeated -H values into virtual headers (names lower-cased, as on the wire).
func headerMap(list []string) (map[string]string, error) {
	m := map[string]string{}
	for _, h := range list {
		n, v, err := parseHeader(h)
		if err != nil {
			return nil, err
		}
		m[strings.ToLower(n)] = v
	}
	return m, nil
}

// handshakeOnlyWarnings returns a warning for each virtual header Sails ignores because it takes the
// value from the handshake: cookie and origin (docs/protocol.md#how-sails-reads-a-virtual-request).
// The command does not move such a header to the handshake: -H is a request's header (in repl and
// in load's scenarios it can change between requests, after the handshake), while the handshake's
// cookie is the socket's session for every request and reconnection. source names where the header
// came from ("-H").
func handshakeOnlyWarnings(source string, headers map[string]string) []string {
	var out []string
	for _, name := range []string{"cookie", "origin"} {
		found := false
		for n := range headers {
			found = found || strings.EqualFold(n, name)
		}
		if !found {
			continue
		}
		w := fmt.Sprintf("warning: %s %s: Sails takes a socket's %s from its handshake, never from a request's headers, so this header changes nothing; ", source, name, name)
		if name == "cookie" {
			w += "for a session use --cookie-jar FILE (a curl cookie file, kept between commands) or --handshake-header 'cookie: ...'"
		} else {
			w += "use --handshake-header 'origin: ...'"
		}
		out = append(out, w)
	}
	return out
}

// warnHandshakeOnly prints handshakeOnlyWarnings on w, one "sailsio: " line each.
func warnHandshakeOnly(w io.Writer, source string, headers map[string]string) {
	for _, m := range handshakeOnlyWarnings(source, headers) {
		fmt.Fprintln(w, "sailsio:", m)
	}
}

// protocol validates --eio.
func (c *connFlags) protocol() (sailsio.Protocol, error) {
	switch c.eio {
	case 3:
		return sailsio.EIO3, nil
	case 4:
		return sailsio.EIO4, nil
	}
	return 0, usageErrorf("--eio %d: want 3 or 4", c.eio)
}

// tlsConfig builds the TLS configuration of --insecure and --cacert (nil when neither is given).
func (c *connFlags) tlsConfig() (*tls.Config, error) {
	if !c.insecure && c.cacert == "" {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: c.insecure} //nolint:gosec // the user asked for it
	if c.cacert != "" {
		pem, err := os.ReadFile(c.cacert)
		if err != nil {
			return nil, usageErrorf("--cacert: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageErrorf("--cacert %s: no PEM certificate found", c.cacert)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// clientSetup is what the connection flags resolve to.
type clientSetup struct {
	url  string
	opts []sailsio.Option
	jar  *netscapeJar // nil without --cookie-jar
	tls  *tls.Config
	// httpJar is the jar the socket and any HTTP call share (jar, or an in-memory one).
	httpJar http.CookieJar
	// timeout bounds each HTTP call (--timeout).
	timeout time.Duration
}

// setup validates the connection flags and the URL and builds the socket options.
func (c *connFlags) setup(rawURL string) (*clientSetup, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, usageErrorf("URL %q: want http://, https://, ws:// or wss://HOST[:PORT]", rawURL)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return nil, usageErrorf("URL %q: want http://, https://, ws:// or wss://HOST[:PORT]", rawURL)
	}
	p, err := c.protocol()
	if err != nil {
		return nil, err
	}
	cs := &clientSetup{url: rawURL, timeout: c.timeout}
	cs.opts = append(cs.opts, sailsio.WithProtocol(p))
	topts, err := transportOptions(c.transports)
	if err != nil {
		return nil, err
	}
	cs.opts = append(cs.opts, topts...)
	if cs.tls, err = c.tlsConfig(); err != nil {
		return nil, err
	}
	if cs.tls != nil {
		cs.opts = append(cs.opts, sailsio.WithTLSConfig(cs.tls))
	}
	if c.timeout < 0 {
		return nil, usageErrorf("--timeout %v: must not be negative", c.timeout)
	}
	if c.timeout > 0 {
		cs.opts = append(cs.opts, sailsio.WithConnectTimeout(c.timeout))
	}
	if len(c.handshakeHeaders) > 0 {
		h := http.Header{}
		for _, hv := range c.handshakeHeaders {
			n, v, err := parseHeader(hv)
			if err != nil {
				return nil, usageErrorf("--handshake-header: %v", err)
			}
			h.Add(n, v)
		}
		cs.opts = append(cs.opts, sailsio.WithInitialConnectionHeaders(h))
	}
	if c.cookieJar != "" {
		j, err := loadNetscapeJar(c.cookieJar)
		if err != nil {
			return nil, usageErrorf("--cookie-jar: %v", err)
		}
		cs.jar = j
		cs.httpJar = j
	} else {
		cs.httpJar = newNetscapeJar("")
	}
	cs.opts = append(cs.opts, sailsio.WithCookieJar(cs.httpJar))
	switch {
	case c.csrfPage != "":
		if !strings.HasPrefix(c.csrfPage, "/") {
			return nil, usageErrorf("--csrf-page %q must start with /", c.csrfPage)
		}
		cs.opts = append(cs.opts, sailsio.WithCSRFPage(c.csrfPage))
	case c.csrf:
		cs.opts = append(cs.opts, sailsio.WithCSRF())
	}
	return cs, nil
}

// httpBase returns the http(s) form of a socket URL's origin (ws→http, wss→https).
func httpBase(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "", "", "", ""
	return u, nil
}

// readData resolves -d: inline JSON, @file, or - for stdin. The result must be JSON.
func readData(d string, stdin io.Reader) (any, error) {
	if d == "" {
		return nil, nil
	}
	var raw []byte
	switch {
	case d == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("-d -: %v", err)
		}
		raw = b
	case strings.HasPrefix(d, "@"):
		b, err := os.ReadFile(d[1:])
		if err != nil {
			return nil, usageErrorf("-d %s: %v", d, err)
		}
		raw = b
	default:
		raw = []byte(d)
	}
	raw = []byte(strings.TrimSpace(string(raw)))
	if len(raw) == 0 {
		return nil, nil
	}
	if !jsonValid(raw) {
		return nil, usageErrorf("-d: not valid JSON: %.60q", raw)
	}
	return rawJSON(raw), nil
}

// flagT is flag.Flag (for fs.Visit callbacks).
type flagT = flag.Flag
