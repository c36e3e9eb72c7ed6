package mockserver_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"

	"github.com/sailsio-go/sailsio/mockserver"
)

func ExampleWithCSRF() {
	srv := mockserver.New(mockserver.WithCSRF())
	defer srv.Close()
	srv.Handle("POST /thing", func(req *mockserver.Request, res *mockserver.Response) { res.JSON(map[string]bool{"ok": true}) })

	// As with the Web App template, the token is in the page: window.SAILS_LOCALS._csrf. The
	// page (the mock's default one at "/" here) also sets the session cookie the token belongs to.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(srv.URL() + "/")
	if err != nil {
		panic(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := regexp.MustCompile(`_csrf: unescape\('([^']+)'\)`).FindSubmatch(page)[1]

	post := func(token string) string {
		req, _ := http.NewRequest("POST", srv.URL()+"/thing", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("X-Csrf-Token", token)
		}
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return fmt.Sprint(resp.StatusCode, " ", string(body))
	}
	fmt.Println("without the token:", post(""))
	// A socket whose handshake carries the same cookie sends the token as the x-csrf-token
	// virtual header.
	fmt.Println("with the token:", post(string(token)))
	// Output:
	// without the token: 403 Forbidden
	// with the token: 200 {"ok":true}
}
