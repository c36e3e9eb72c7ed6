package main

import (
	"net/http"
	"strings"
	"sync"

	"github.com/sailsio-go/sailsio/mockserver"
)

// startMock starts a mockserver that behaves, for this program, as an app made by `sails new` with
// the Web App template: CSRF on (mockserver.WithCSRF; its default page at / exposes the token as
// window.SAILS_LOCALS._csrf), entrance actions that keep the user id in the session, and a policy
// that answers 401 to the model's routes without a login.
func startMock(model string) *mockserver.Server {
	srv := mockserver.New(mockserver.WithCSRF())
	var mu sync.Mutex
	passwords := map[string]string{} // email → password (a real app stores a hash)
	srv.Handle("POST /api/v1/entrance/signup", func(req *mockserver.Request, res *mockserver.Response) {
		email, password := req.Param("emailAddress"), req.Param("password")
		mu.Lock()
		_, taken := passwords[email]
		if !taken {
			passwords[email] = password
		}
		mu.Unlock()
		if taken {
			res.Status(http.StatusConflict).Send("emailAlreadyInUse")
			return
		}
		req.Session.Set("userId", email)
		res.OK(nil)
	})
	srv.Handle("PUT /api/v1/entrance/login", func(req *mockserver.Request, res *mockserver.Response) {
		mu.Lock()
		ok := passwords[req.Param("emailAddress")] == req.Param("password")
		mu.Unlock()
		if !ok {
			res.Status(http.StatusUnauthorized).Send("badCombo")
			return
		}
		req.Session.Set("userId", req.Param("emailAddress"))
		res.OK(nil)
	})
	srv.Use(func(req *mockserver.Request, res *mockserver.Response, next func()) { // is-logged-in
		if strings.HasPrefix(req.Path, "/"+model) && req.Session.Get("userId") == nil {
			res.Status(http.StatusUnauthorized).End()
			return
		}
		next()
	})
	srv.Model(model, mockserver.Required("name"))
	return srv
}
