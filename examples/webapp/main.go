// Command webapp talks to an app as `sails new` makes it with the Web App template: CSRF protection
// on (over sockets too), a token only in the pages (window.SAILS_LOCALS._csrf), every action behind
// an is-logged-in policy but signup and login. It signs up (or logs in), creates a record over the
// socket, and logs every virtual request through an interceptor.
//
// With no flags it starts an embedded mockserver playing such an app, so it needs nothing else:
//
//	go run ./examples/webapp
//
// With -url it talks to a real app: the template's entrance actions (POST
// /api/v1/entrance/signup, PUT /api/v1/entrance/login) and a model with a create blueprint
// (-model, default "thing": POST /thing):
//
//	go run ./examples/webapp -url http://localhost:1337 -email ada@example.com -password secret
//
// What makes it work is one option, sailsio.WithCSRF(): the socket gets the token over HTTP with
// its own session (from /csrfToken where the app serves it, else from the page at /) and sends it
// on unsafe requests; it fetches it again for a new session and after a 403.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sailsio-go/sailsio"
)

func main() {
	rawURL := flag.String("url", "", "a Sails Web App to talk to (default: an embedded mockserver)")
	email := flag.String("email", "ada@example.com", "the account's email address")
	password := flag.String("password", "lovelace-1815", "the account's password")
	model := flag.String("model", "thing", "the model to create a record of")
	flag.Parse()
	if err := run(*rawURL, *email, *password, *model, log.New(os.Stderr, "", 0)); err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

func run(rawURL, email, password, model string, logger *log.Logger) error {
	if rawURL == "" {
		srv := startMock(model)
		defer srv.Close()
		rawURL = srv.URL()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// An interceptor sees every virtual request, of either form, and its outcome.
	logRequests := func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
		start := time.Now()
		jwr, err := next(ctx, req)
		status := "no response"
		if jwr != nil {
			status = fmt.Sprint(jwr.StatusCode)
		}
		logger.Printf("%-6s %-28s %s in %v", strings.ToUpper(req.Method), req.URL, status, time.Since(start).Round(time.Microsecond))
		return jwr, err
	}
	s, err := sailsio.Connect(ctx, rawURL, sailsio.WithCSRF(), sailsio.WithInterceptors(logRequests))
	if err != nil {
		return err
	}
	defer s.Disconnect()

	account := map[string]any{"emailAddress": email, "password": password, "fullName": "Ada"}
	jwr, err := s.PostContext(ctx, "/api/v1/entrance/signup", account)
	if err != nil {
		return err
	}
	if jwr.StatusCode == http.StatusConflict { // the template's emailAlreadyInUse: log in instead
		if jwr, err = s.PutContext(ctx, "/api/v1/entrance/login", map[string]any{"emailAddress": email, "password": password}); err != nil {
			return err
		}
	}
	if jwr.StatusCode != http.StatusOK {
		return fmt.Errorf("signing in: %v", jwr.Error)
	}

	type record struct {
		ID   json.Number `json:"id"`
		Name string      `json:"name"`
	}
	rec, jwr, err := sailsio.DoJSON[record](ctx, s, sailsio.RequestOptions{Method: "post", URL: "/" + model, Data: map[string]any{"name": "first"}})
	var se *sailsio.StatusError
	if errors.As(err, &se) {
		return fmt.Errorf("creating a %s: %d %s", model, jwr.StatusCode, jwr.Body)
	}
	if err != nil {
		return err
	}
	fmt.Printf("signed in as %s and created %s %v %q\n", email, model, rec.ID, rec.Name)
	return nil
}
