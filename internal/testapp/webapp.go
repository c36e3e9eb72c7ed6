package testapp

import (
	"strings"
	"sync"

	"github.com/sailsio-go/sailsio/mockserver"
)

// webappUser is a user account of the Web App.
type webappUser struct {
	id                           int
	emailAddress, password, name string
}

// InstallWebApp registers on srv the routes of testdata/sails/webapp, the look-alike of the `sails new`
// Web App template (testdata/sails/README.md): the home page exposing the CSRF token and req.me in
// window.SAILS_LOCALS, signup, login and logout (keeping the user id in the session), GET /session,
// and the Thing model's blueprints behind the is-logged-in policy. The server needs
// mockserver.WithCSRF, as the webapp's config/security.js turns CSRF on.
func InstallWebApp(srv *mockserver.Server) {
	var (
		mu      sync.Mutex
		byEmail = map[string]*webappUser{}
		byID    = map[int]*webappUser{}
	)
	// me is what the template's custom hook makes req.me: the user of the session's userId.
	me := func(req *mockserver.Request) *webappUser {
		id, ok := req.Session.Get("userId").(int)
		if !ok {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		return byID[id]
	}
	// exit sets the headers Sails (in development) adds to the answer of an actions2 action:
	// x-exit, the exit's name, and x-exit-description, its description when it has one.
	exit := func(res *mockserver.Response, name, description string) {
		res.Set("x-exit", name)
		if description != "" {
			res.Set("x-exit-description", description)
		}
	}
	// unauthorized is api/responses/unauthorized.js for a request that wants JSON (a socket's
	// always does): res.sendStatus(401).
	unauthorized := func(res *mockserver.Response) { res.Status(401).Send("Unauthorized") }
	isLoggedIn := func(req *mockserver.Request, res *mockserver.Response, next func()) {
		if me(req) == nil {
			unauthorized(res)
			return
		}
		next()
	}
	str := func(req *mockserver.Request, names ...string) ([]string, bool) {
		all := req.AllParams()
		out := make([]string, len(names))
		for i, n := range names {
			s, ok := all[n].(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}

	srv.Handle("GET /", func(req *mockserver.Request, res *mockserver.Response) {
		locals := map[string]any{}
		text := "Not logged in."
		if u := me(req); u != nil {
			locals["me"] = map[string]any{"id": u.id, "emailAddress": u.emailAddress, "fullName": u.name}
			text = "Logged in as " + u.emailAddress + "."
		}
		res.Send("<!DOCTYPE html>\n<html>\n  <body>\n    <div id=\"homepage\"><h1>sailsio webapp</h1><p>" + text + "</p></div>\n" +
			req.ExposeLocalsToBrowser(locals) + "\n  </body>\n</html>\n")
	})
	srv.Handle("/api/v1/account/logout", func(req *mockserver.Request, res *mockserver.Response) {
		req.Session.Delete("userId")
		exit(res, "success", "Logged out.")
		res.OK(nil)
	})
	srv.Handle("POST /api/v1/entrance/signup", func(req *mockserver.Request, res *mockserver.Response) {
		in, ok := str(req, "emailAddress", "password", "fullName")
		if !ok || !strings.Contains(in[0], "@") {
			res.BadRequest(nil)
			return
		}
		email := strings.ToLower(in[0])
		mu.Lock()
		if byEmail[email] != nil {
			mu.Unlock()
			exit(res, "emailAlreadyInUse", "The email address is already in use.")
			res.Status(409).Send("Conflict")
			return
		}
		u := &webappUser{id: len(byID) + 1, emailAddress: email, password: in[1], name: in[2]}
		byEmail[email], byID[u.id] = u, u
		mu.Unlock()
		req.Session.Set("userId", u.id)
		exit(res, "success", "Signed up and logged in.")
		res.OK(nil)
	})
	srv.Handle("PUT /api/v1/entrance/login", func(req *mockserver.Request, res *mockserver.Response) {
		in, ok := str(req, "emailAddress", "password")
		if !ok {
			res.BadRequest(nil)
			return
		}
		mu.Lock()
		u := byEmail[strings.ToLower(in[0])]
		mu.Unlock()
		if u == nil || u.password != in[1] {
			exit(res, "badCombo", "")
			unauthorized(res)
			return
		}
		req.Session.Set("userId", u.id)
		exit(res, "success", "Logged in.")
		res.OK(nil)
	})
	// GET /session: which session the request got (see the webapp's api/controllers/session.js).
	srv.Handle("GET /session", func(req *mockserver.Request, res *mockserver.Response) {
		cookie, has := req.Cookies[mockserver.SessionCookieName]
		var c any
		if has {
			c = cookie
		}
		exit(res, "success", "Done.")
		res.JSON(map[string]any{"cookie": c, "sameSession": has && req.Session.ID() == cookie, "loggedIn": me(req) != nil})
	})
	// Thing: the webapp routes GET and POST /thing to the blueprint actions, behind is-logged-in.
	srv.Model("thing", mockserver.Required("name"))
	srv.Policy("/thing", isLoggedIn)
	srv.Policy("/thing/*", isLoggedIn)
}
