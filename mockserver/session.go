package mockserver

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
)

// Session is the in-memory session of one session cookie (sails.sid), shared by every HTTP
// request and every socket that carries that cookie, like req.session in Sails with the memory
// store. It is safe for concurrent use. The zero value is not usable; the server creates sessions.
type Session struct {
	id   string
	mu   sync.Mutex
	data map[string]any
}

// ID returns the session's cookie value: the value of the sails.sid cookie that selects it.
func (s *Session) ID() string { return s.id }

// Get returns the value stored under key, or nil.
func (s *Session) Get(key string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[key]
}

// Set stores v under key.
func (s *Session) Set(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = v
}

// Delete removes key.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, key)
}

// Len returns the number of keys stored.
func (s *Session) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.data)
}

// sessionStore maps sails.sid cookie values to sessions.
type sessionStore struct {
	mu   sync.Mutex
	m    map[string]*Session
	lost map[string]bool // cookie values of sessions a restart dropped
}

// newSessionValue returns a fresh cookie value shaped like express-session's signed ids
// ("s%3A<id>.<signature>"; the signature is random, nothing checks it).
func newSessionValue() string {
	var id [24]byte
	var sig [32]byte
	_, _ = rand.Read(id[:])
	_, _ = rand.Read(sig[:])
	return "s%3A" + base64.RawURLEncoding.EncodeToString(id[:]) + "." + base64.RawURLEncoding.EncodeToString(sig[:])
}

// lookup returns the session of cookie value v, or nil.
func (st *sessionStore) lookup(v string) *Session {
	if v == "" {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.m[v]
}

// create makes a new session with a fresh cookie value.
func (st *sessionStore) create() *Session {
	return st.getOrCreate(newSessionValue())
}

// forget drops every session, as a restarted server with a memory store does. The values of the
// sessions dropped are remembered: a handshake that still carries one finds no session (see
// forHandshake).
func (st *sessionStore) forget() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.lost == nil {
		st.lost = make(map[string]bool)
	}
	for v := range st.m {
		st.lost[v] = true
	}
	st.m = make(map[string]*Session)
}

func (st *sessionStore) getOrCreate(v string) *Session {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s := st.m[v]; s != nil {
		return s
	}
	s := &Session{id: v, data: make(map[string]any)}
	st.m[v] = s
	return s
}

// sessionCookie returns the value of the sails.sid cookie in a Cookie header, or "".
func sessionCookie(cookieHeader string) string {
	for _, c := range parseCookies(cookieHeader) {
		if c.Name == SessionCookieName {
			return c.Value
		}
	}
	return ""
}

func parseCookies(cookieHeader string) []*http.Cookie {
	if cookieHeader == "" {
		return nil
	}
	r := http.Request{Header: http.Header{"Cookie": {cookieHeader}}}
	return r.Cookies()
}

// forHandshake returns the session of a WebSocket handshake and the cookie header the socket's
// virtual requests will carry. Like sails-hook-sockets, a handshake without a cookie gets a
// generated one, so the socket lives with a throw-away session. A cookie naming a session that a
// restart dropped (Stop without WithPersistentSessions) finds none: the session is nil and, as
// in Sails, every virtual request of the socket then gets a fresh, empty session. Unlike real
// Sails, a sails.sid value the server never issued gets a fresh session under that value, so
// tests can choose a session id.
func (st *sessionStore) forHandshake(cookieHeader string) (*Session, string) {
	v := sessionCookie(cookieHeader)
	if v == "" {
		s := st.create()
		c := SessionCookieName + "=" + s.id
		if cookieHeader != "" {
			c = cookieHeader + "; " + c
		}
		return s, c
	}
	st.mu.Lock()
	lost := st.lost[v] && st.m[v] == nil
	st.mu.Unlock()
	if lost {
		return nil, cookieHeader
	}
	return st.getOrCreate(v), cookieHeader
}

// throwaway returns a session that is stored nowhere: what a request gets when its cookie names
// a session the store does not have.
func throwaway() *Session {
	return &Session{id: newSessionValue(), data: make(map[string]any)}
}
