package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// netscapeJar is an http.CookieJar kept in a Netscape cookie file, the format curl reads (-b FILE)
// and writes (-c FILE): one cookie per line, seven tab-separated fields
//
//	domain  include-subdomains  path  secure  expires(unix, 0 = session)  name  value
//
// with "#HttpOnly_" before the domain of an HttpOnly cookie. Session cookies are written too (expires
// 0), as curl does, so a login kept in the file carries over to the next command.
type netscapeJar struct {
	path string

	mu      sync.Mutex
	cookies []*jarCookie
	now     func() time.Time
}

type jarCookie struct {
	domain     string // lower case, no leading dot
	subdomains bool
	path       string
	secure     bool
	httpOnly   bool
	expires    int64 // unix seconds; 0 for a session cookie
	name       string
	value      string
}

func newNetscapeJar(path string) *netscapeJar {
	return &netscapeJar{path: path, now: time.Now}
}

// loadNetscapeJar reads path; a missing file is an empty jar (it is created on save).
func loadNetscapeJar(path string) (*netscapeJar, error) {
	j := newNetscapeJar(path)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, err
	}
	if err := j.parse(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return j, nil
}

func (j *netscapeJar) parse(b []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		httpOnly := false
		if strings.HasPrefix(line, "#HttpOnly_") {
			line = strings.TrimPrefix(line, "#HttpOnly_")
			httpOnly = true
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) == 6 { // an empty value may lose its trailing tab
			f = append(f, "")
		}
		if len(f) != 7 {
			return fmt.Errorf("line %d: want 7 tab-separated fields, got %d", n, len(f))
		}
		exp, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			return fmt.Errorf("line %d: expires %q: %v", n, f[4], err)
		}
		dom := strings.ToLower(f[0])
		sub := strings.EqualFold(f[1], "TRUE")
		if strings.HasPrefix(dom, ".") {
			dom, sub = dom[1:], true
		}
		j.cookies = append(j.cookies, &jarCookie{
			domain: dom, subdomains: sub, path: f[2], secure: strings.EqualFold(f[3], "TRUE"),
			httpOnly: httpOnly, expires: exp, name: f[5], value: f[6],
		})
	}
	return sc.Err()
}

// SetCookies stores the cookies a response to u set (http.CookieJar).
func (j *netscapeJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	host := canonicalHost(u.Host)
	now := j.now()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cookies {
		jc := &jarCookie{domain: host, path: c.Path, secure: c.Secure, httpOnly: c.HttpOnly, name: c.Name, value: c.Value}
		if d := strings.TrimPrefix(strings.ToLower(c.Domain), "."); d != "" {
			if !domainMatch(host, d) || net.ParseIP(host) != nil && d != host {
				continue // a cookie for another domain: refused, as browsers and curl do
			}
			jc.domain, jc.subdomains = d, net.ParseIP(d) == nil
		}
		if jc.path == "" || !strings.HasPrefix(jc.path, "/") {
			jc.path = defaultPath(u.Path)
		}
		switch {
		case c.MaxAge < 0:
			jc.expires = -1
		case c.MaxAge > 0:
			jc.expires = now.Add(time.Duration(c.MaxAge) * time.Second).Unix()
		case !c.Expires.IsZero():
			jc.expires = c.Expires.Unix()
		}
		j.put(jc, now)
	}
}

// put replaces the cookie with the same domain, path and name (or deletes it when jc has expired).
func (j *netscapeJar) put(jc *jarCookie, now time.Time) {
	for i, old := range j.cookies {
		if old.domain == jc.domain && old.path == jc.path && old.name == jc.name {
			j.cookies = append(j.cookies[:i], j.cookies[i+1:]...)
			break
		}
	}
	if jc.expires < 0 || jc.expires > 0 && jc.expires <= now.Unix() {
		return
	}
	j.cookies = append(j.cookies, jc)
}

// Cookies returns the cookies to send to u (http.CookieJar), longest path first.
func (j *netscapeJar) Cookies(u *url.URL) []*http.Cookie {
	host := canonicalHost(u.Host)
	secure := u.Scheme == "https" || u.Scheme == "wss"
	p := u.Path
	if p == "" {
		p = "/"
	}
	now := j.now().Unix()
	j.mu.Lock()
	var sel []*jarCookie
	for _, c := range j.cookies {
		if c.expires > 0 && c.expires <= now {
			continue
		}
		if c.secure && !secure {
			continue
		}
		if !(host == c.domain || c.subdomains && domainMatch(host, c.domain)) {
			continue
		}
		if !pathMatch(p, c.path) {
			continue
		}
		sel = append(sel, c)
	}
	j.mu.Unlock()
	sort.SliceStable(sel, func(a, b int) bool { return len(sel[a].path) > len(sel[b].path) })
	out := make([]*http.Cookie, len(sel))
	for i, c := range sel {
		out[i] = &http.Cookie{Name: c.name, Value: c.value}
	}
	return out
}

// Save writes the jar to its file (mode 0600, atomically); a jar without a file does nothing.
func (j *netscapeJar) Save() error {
	if j.path == "" {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("# Netscape HTTP Cookie File\n# Written by sailsio; the format curl -b/-c reads and writes.\n\n")
	now := j.now().Unix()
	j.mu.Lock()
	for _, c := range j.cookies {
		if c.expires > 0 && c.expires <= now {
			continue
		}
		dom := c.domain
		if c.subdomains {
			dom = "." + dom
		}
		if c.httpOnly {
			dom = "#HttpOnly_" + dom
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", dom, tf(c.subdomains), c.path, tf(c.secure), c.expires, c.name, c.value)
	}
	j.mu.Unlock()
	tmp, err := os.CreateTemp(filepath.Dir(j.path), ".sailsio-cookies-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), j.path)
}

func tf(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// canonicalHost is the lower-case host without port or IPv6 brackets.
func canonicalHost(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}

// domainMatch reports whether host is domain or a subdomain of it (RFC 6265 5.1.3).
func domainMatch(host, domain string) bool {
	return host == domain || strings.HasSuffix(host, "."+domain) && net.ParseIP(host) == nil
}

// pathMatch is RFC 6265 5.1.4.
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	if strings.HasPrefix(reqPath, cookiePath) {
		return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
	}
	return false
}

// defaultPath is RFC 6265 5.1.4's default-path of a request path.
func defaultPath(p string) string {
	if p == "" || p[0] != '/' {
		return "/"
	}
	i := strings.LastIndex(p, "/")
	if i == 0 {
		return "/"
	}
	return p[:i]
}
