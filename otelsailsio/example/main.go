// Command example shows a trace going from a Go program into a Sails action: it instruments a
// socket with otelsailsio, prints the spans with OpenTelemetry's stdout exporter, and asks GET /trace,
// whose action answers (and logs) the traceparent it received.
//
//	go run ./otelsailsio/example                              # against an in-process mock of the action
//	go run ./otelsailsio/example -url http://127.0.0.1:1337   # against a real Sails app
//
// The real app is the test app of testdata/sails, which logs at level info:
//
//	SAILSIO_PORT=1337 SAILSIO_LOG_LEVEL=info node testdata/sails/hook3/server.js
//
// Its log then shows "info: GET /trace traceparent=00-<trace id>-<span id>-01 ...", with the trace id
// and the client span id printed here. See docs/observability.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
	"github.com/sailsio-go/sailsio/otelsailsio"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	url := flag.String("url", "", "the Sails app's URL (default: an in-process mock of its GET /trace action)")
	flag.Parse()
	if err := run(*url); err != nil {
		log.Fatal(err)
	}
}

func run(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Spans go to stdout as they end; the W3C trace context and baggage go into the virtual headers.
	exp, err := stdouttrace.New(stdouttrace.WithPrettyPrint(), stdouttrace.WithWriter(os.Stdout))
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	if url == "" {
		srv := mockserver.New()
		defer srv.Close()
		// The mock's GET /trace does what the test app's action does (HarnessController.trace).
		srv.Handle("GET /trace", func(req *mockserver.Request, res *mockserver.Response) {
			fmt.Fprintf(os.Stderr, "server: GET /trace traceparent=%s\n", req.Get("traceparent"))
			res.JSON(map[string]string{"traceparent": req.Get("traceparent")})
		})
		url = srv.URL()
	}

	s, err := sailsio.Connect(ctx, url, otelsailsio.Instrument())
	if err != nil {
		return err
	}
	defer s.Disconnect()

	ctx, job := otel.Tracer("example").Start(ctx, "example job")
	jwr, err := s.GetContext(otelsailsio.WithRoute(ctx, "/trace"), "/trace", nil)
	job.End()
	if err != nil {
		return err
	}
	var got struct {
		Traceparent string `json:"traceparent"`
	}
	if err := jwr.Decode(&got); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "client: trace id %s; the action received traceparent %s\n", job.SpanContext().TraceID(), got.Traceparent)
	return nil
}
