// Package cluster runs a Sails cluster for tests: a redis-server, two (or more) nodes of the test app
// of testdata/sails (one hook directory) sharing rooms, broadcasts and sessions through Redis (the
// @sailshq/socket.io-redis adapter and the @sailshq/connect-redis session store), and nginx in
// front of them, all on free 127.0.0.1 ports, started and stopped by pid.
//
// Two balancers front the same nodes: URL round-robin (what a socket over WebSocket needs), and
// StickyURL, which sends every request carrying one sails.sid cookie to one node (what HTTP
// long-polling needs; give the sockets a session cookie, e.g. with sailsio.WithSessionCookie).
// Both mark no upstream as failed (max_fails=0): nginx's default (max_fails=1, fail_timeout=10s)
// answers 502 "no live upstreams" for 10 s and more after a node restarts.
//
//	c := cluster.Start(t, "hook3")
//	s, err := sailsio.Connect(ctx, c.URL)
//
// Start skips the test when redis-server, nginx, Node.js or the hook's node_modules is missing,
// and fails it instead when the environment variable CI is "true".
package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sailsio-go/sailsio/internal/realsails"
)

// ErrNotInstalled matches the error of Launch when a component is missing.
var ErrNotInstalled = errors.New("cluster: redis-server, nginx, Node.js or the test servers' node_modules is not installed")

// Cluster is a running cluster.
type Cluster struct {
	Hook      string
	URL       string // the round-robin balancer, "http://127.0.0.1:PORT"
	StickyURL string // the balancer that hashes the sails.sid cookie
	Nodes     []*realsails.Server
	Redis     *Process

	dir   string
	nginx *Process
}

// TB is the part of testing.TB that Start uses.
type TB = realsails.TB

// Start is Launch for a test: it skips (or, with CI=true, fails) when a component is missing, and
// stops the cluster when the test ends.
func Start(t TB, hook string) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Launch(ctx, hook, 2)
	if errors.Is(err, ErrNotInstalled) || errors.Is(err, realsails.ErrNotInstalled) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the cluster cannot run: %v (.ci/run installs redis-server and nginx)", err)
		}
		t.Skipf("cluster tests skipped: %v (apt-get install redis-server nginx; npm ci in testdata/sails/%s)", err, hook)
	}
	if err != nil {
		t.Fatalf("cluster %s: %v", hook, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nginx error log:\n%s", tail(filepath.Join(c.dir, "nginx", "error.log")))
			for i, n := range c.Nodes {
				t.Logf("node %d (port %d) output:\n%s", i, n.Port, n.Output())
			}
		}
		c.Stop()
	})
	return c
}

// Launch starts redis-server, n nodes of hook and the balancers, each ready when it returns.
func Launch(ctx context.Context, hook string, n int) (_ *Cluster, err error) {
	for _, bin := range []string{"redis-server", "nginx", "node"} {
		if _, err := lookPath(bin); err != nil {
			return nil, fmt.Errorf("%w: %s not found", ErrNotInstalled, bin)
		}
	}
	closeInheritedOnExec()
	dir, err := os.MkdirTemp("", "sailsio-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Hook: hook, dir: dir}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if c.Redis, err = StartRedis(ctx, filepath.Join(dir, "redis")); err != nil {
		return nil, err
	}
	type result struct {
		i   int
		srv *realsails.Server
		err error
	}
	results := make(chan result, n)
	c.Nodes = make([]*realsails.Server, n)
	for i := range n {
		appDir := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.MkdirAll(appDir, 0o755); err != nil {
			return nil, err
		}
		go func() {
			srv, err := realsails.Launch(ctx, hook,
				realsails.WithEnv("SAILSIO_REDIS_URL", "redis://"+c.Redis.Addr),
				realsails.WithEnv("SAILSIO_REDIS_PREFIX", "sailsio-"+hook),
				realsails.WithEnv("SAILSIO_APP_DIR", appDir),
				realsails.WithEnv("SAILSIO_TRANSPORTS", "polling,websocket"),
			)
			results <- result{i, srv, err}
		}()
	}
	var errs []error
	for range n {
		r := <-results
		c.Nodes[r.i] = r.srv
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := c.startNginx(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Stop stops the balancers, the nodes and Redis (by pid) and removes the cluster's files.
func (c *Cluster) Stop() {
	if c.nginx != nil {
		c.nginx.Stop()
	}
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		if n != nil {
			wg.Add(1)
			go func() { defer wg.Done(); n.Stop() }()
		}
	}
	wg.Wait()
	if c.Redis != nil {
		c.Redis.Stop()
	}
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// Node returns the node listening on port (nil if none).
func (c *Cluster) Node(port int) *realsails.Server {
	for _, n := range c.Nodes {
		if n.Port == port {
			return n
		}
	}
	return nil
}

// Process is a program of the cluster (redis-server, nginx), in a process group of its own.
type Process struct {
	Name string
	Addr string // "127.0.0.1:PORT" it listens on
	args []string
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedis starts a redis-server without persistence on a free 127.0.0.1 port.
func StartRedis(ctx context.Context, dir string) (*Process, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p := &Process{Name: "redis-server", Addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir,
			args: []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
				"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"), "--protected-mode", "yes", "--maxclients", "1000"}}
		if lastErr = p.Start(ctx); lastErr == nil {
			return p, nil
		}
	}
	return nil, lastErr
}

// Start starts the process (again) and waits until it answers on Addr (at most 20 s, or ctx).
func (p *Process) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("cluster: %s already runs", p.Name)
	}
	bin, err := lookPath(p.Name)
	if err != nil {
		return fmt.Errorf("%w: %s not found", ErrNotInstalled, p.Name)
	}
	cmd := exec.Command(bin, p.args...)
	cmd.Dir = p.dir
	out, err := os.Create(filepath.Join(p.dir, p.Name+".out"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("cluster: start %s: %w", p.Name, err)
	}
	out.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		if p.ready(ctx) {
			return nil
		}
		select {
		case <-done:
			p.cmd = nil
			return fmt.Errorf("cluster: %s exited at start: %s", p.Name, tail(filepath.Join(p.dir, p.Name+".out")))
		case <-ctx.Done():
			p.stopLocked(syscall.SIGKILL)
			return fmt.Errorf("cluster: %s not ready on %s: %w", p.Name, p.Addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ready reports whether the process answers: PONG for Redis, a TCP connection otherwise.
func (p *Process) ready(ctx context.Context) bool {
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	if p.Name != "redis-server" {
		return true
	}
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Stop stops the process: SIGTERM to its group, SIGKILL after 5 s; it returns once it was waited for.
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked(syscall.SIGTERM)
}

// Kill stops the process with SIGKILL (a crash).
func (p *Process) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopLocked(syscall.SIGKILL)
}

func (p *Process) stopLocked(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	pid := p.cmd.Process.Pid
	signalGroup(pid, sig)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		signalGroup(pid, syscall.SIGKILL)
		<-p.done
	}
	signalGroup(pid, syscall.SIGKILL) // what is left of the group (nginx workers)
	p.cmd = nil
}

// startNginx writes the balancers' configuration and starts nginx.
func (c *Cluster) startNginx(ctx context.Context) error {
	dir := filepath.Join(c.dir, "nginx")
	for _, d := range []string{"tmp", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	var lastErr error
	for range 3 {
		rr, err1 := freePort()
		sticky, err2 := freePort()
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		ports := make([]int, len(c.Nodes))
		for i, n := range c.Nodes {
			ports[i] = n.Port
		}
		conf := NginxConfig(dir, rr, sticky, ports)
		if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
			return err
		}
		p := &Process{Name: "nginx", Addr: "127.0.0.1:" + strconv.Itoa(rr), dir: dir,
			args: []string{"-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log")}}
		if lastErr = p.Start(ctx); lastErr != nil {
			continue
		}
		c.nginx = p
		c.URL = "http://127.0.0.1:" + strconv.Itoa(rr)
		c.StickyURL = "http://127.0.0.1:" + strconv.Itoa(sticky)
		// Both balancers answer from a node.
		for _, u := range []string{c.URL, c.StickyURL} {
			if err := waitHTTP(ctx, u+"/version"); err != nil {
				return err
			}
		}
		return nil
	}
	return lastErr
}

// NginxConfig returns the configuration of the two balancers (round-robin on rrPort, sails.sid
// hash on stickyPort) in front of the nodes' ports, with its files under dir.
func NginxConfig(dir string, rrPort, stickyPort int, nodePorts []int) string {
	var b strings.Builder
	if os.Geteuid() == 0 {
		b.WriteString("user root;\n") // workers must write the temp paths under dir
	}
	fmt.Fprintf(&b, `worker_processes 2;
daemon off;
master_process on;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp/body;
  proxy_temp_path %[1]s/tmp/proxy;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  map $http_cookie $sails_sid { default ""; "~(^|;)\s*sails\.sid=(?<sid>[^;]+)" $sid; }
`, dir)
	for _, up := range []struct{ name, balance string }{{"sails_rr", ""}, {"sails_sticky", "    hash $sails_sid consistent;\n"}} {
		fmt.Fprintf(&b, "  upstream %s {\n%s", up.name, up.balance)
		for _, p := range nodePorts {
			// max_fails=0: never mark a node as failed (see the package doc).
			fmt.Fprintf(&b, "    server 127.0.0.1:%d max_fails=0;\n", p)
		}
		b.WriteString("  }\n")
	}
	for _, srv := range []struct {
		port     int
		upstream string
	}{{rrPort, "sails_rr"}, {stickyPort, "sails_sticky"}} {
		fmt.Fprintf(&b, `  server {
    listen 127.0.0.1:%d backlog=4096;
    location / {
      proxy_pass http://%s;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_connect_timeout 2s;
      proxy_read_timeout 120s;
      proxy_send_timeout 120s;
      proxy_next_upstream error timeout;
    }
  }
`, srv.port, srv.upstream)
	}
	b.WriteString("}\n")
	return b.String()
}

// RestartRedis stops Redis (SIGKILL when kill) and starts it again on the same port.
func (c *Cluster) RestartRedis(ctx context.Context, kill bool) error {
	if kill {
		c.Redis.Kill()
	} else {
		c.Redis.Stop()
	}
	return c.Redis.Start(ctx)
}

func waitHTTP(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: %s not answering 200: %v (%w)", u, err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lookPath finds a program on PATH or in the sbin directories (where Debian puts nginx).
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
