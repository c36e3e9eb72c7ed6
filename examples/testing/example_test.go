package petclient_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sailsio-go/sailsio"
	petclient "github.com/sailsio-go/sailsio/examples/testing"
	"github.com/sailsio-go/sailsio/mockserver"
)

// The whole pattern in one function: a mockserver stands in for the Sails app, the code under
// test gets a socket connected to it, and the output is checked.
func ExampleClient_AdoptPet() {
	srv := mockserver.New()
	defer srv.Close()
	srv.Policy("POST /pet", func(req *mockserver.Request, res *mockserver.Response, next func()) {
		if req.Get("authorization") == "" {
			res.Forbidden(nil)
			return
		}
		next()
	})
	srv.Model("pet", mockserver.Required("name")) // the app's Pet model, with Sails' blueprints

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := sailsio.Connect(ctx, srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Disconnect()

	pet, err := petclient.New(s, petclient.Config{Token: "s3cret"}).AdoptPet(ctx, "Rex")
	fmt.Printf("%+v %v\n", pet, err)

	_, err = petclient.New(s, petclient.Config{}).AdoptPet(ctx, "Tom")
	fmt.Println(errors.Is(err, petclient.ErrForbidden))

	_, err = petclient.New(s, petclient.Config{Token: "s3cret"}).Pet(ctx, 7) // no route: 404
	fmt.Println(errors.Is(err, petclient.ErrNotFound))
	// Output:
	// {ID:1 Name:Rex} <nil>
	// true
	// true
}
