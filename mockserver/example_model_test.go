package mockserver_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/sailsio-go/sailsio/mockserver"
)

func ExampleServer_Model() {
	srv := mockserver.New()
	defer srv.Close()

	// The blueprint REST routes of a Sails model, with pub/sub for the sockets that use them.
	pets := srv.Model("pet", mockserver.Required("name"), mockserver.Attribute("age", "number"))
	rex := pets.Create(map[string]any{"name": "Rex", "age": 3}) // seeded: no event
	fmt.Println("seeded id", rex["id"])

	timestamps := regexp.MustCompile(`"(createdAt|updatedAt)":\d+`)
	get := func(method, path, body string) {
		req, _ := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		s := timestamps.ReplaceAllString(string(b), `"$1":0`)
		if i := strings.Index(s, `"details"`); i > 0 {
			s = s[:i] + "..." // the rest is Sails' long explanation
		}
		p, _ := url.PathUnescape(path)
		fmt.Println(method, p, resp.StatusCode, s)
	}
	get("POST", "/pet", `{"age":"2"}`)              // name is required
	get("POST", "/pet", `{"name":"Ada","age":"2"}`) // "2" is coerced to 2
	get("GET", "/pet?where="+url.QueryEscape(`{"age":{">":2}}`), "")
	get("GET", "/pet/9", "")
	fmt.Println(len(pets.Records()), "records")
	// Output:
	// seeded id 1
	// POST /pet 400 {"code":"E_INVALID_NEW_RECORD",...
	// POST /pet 200 {"createdAt":0,"updatedAt":0,"id":2,"name":"Ada","age":2}
	// GET /pet?where={"age":{">":2}} 200 [{"createdAt":0,"updatedAt":0,"id":1,"name":"Rex","age":3}]
	// GET /pet/9 404 Not Found
	// 2 records
}
