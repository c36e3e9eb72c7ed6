package otelsailsio_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/mockserver"
	"github.com/sailsio-go/sailsio/otelsailsio"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// discard is a span exporter that drops what it gets: the cost measured is the instrumentation's
// and the SDK's, not an exporter's.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkInstrument measures the cost of Instrument per request, in one run: the same requests
// (Do, and the callback form) against an in-process mockserver without Instrument, with Instrument
// over no-op providers, and with Instrument over the OpenTelemetry SDK (every span sampled, a batch
// processor into a discarding exporter; metrics aggregated for a manual reader). cpu-µs/op is the
// process's CPU time per request (client and in-process server), ns/op the latency.
//
//	go test -run - -bench Instrument -benchmem ./otelsailsio
func BenchmarkInstrument(b *testing.B) {
	srv := mockserver.New()
	defer srv.Close()
	srv.Handle("GET /pet/:id", func(req *mockserver.Request, res *mockserver.Response) {
		res.JSON(map[string]any{"id": req.Params["id"], "name": "rex"})
	})
	sdk := func(b *testing.B) sailsio.Option {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() {
			tp.Shutdown(context.Background())
			mp.Shutdown(context.Background())
		})
		return otelsailsio.Instrument(otelsailsio.WithTracerProvider(tp), otelsailsio.WithMeterProvider(mp), otelsailsio.WithPropagators(propagator))
	}
	noop := func(b *testing.B) sailsio.Option {
		return otelsailsio.Instrument(otelsailsio.WithTracerProvider(tracenoop.NewTracerProvider()), otelsailsio.WithMeterProvider(metricnoop.NewMeterProvider()), otelsailsio.WithPropagators(propagator))
	}
	variants := []struct {
		name string
		opt  func(b *testing.B) sailsio.Option
	}{
		{"none", func(*testing.B) sailsio.Option { return nil }},
		{"noop", noop},
		{"sdk", sdk},
	}
	// The instrumentation alone: an interceptor after Instrument answers without the network, so
	// what differs between the variants is Instrument's own work.
	stub := sailsio.WithInterceptors(func(ctx context.Context, req *sailsio.RequestOptions, next sailsio.Invoker) (*sailsio.JWRes, error) {
		return &sailsio.JWRes{StatusCode: 200, Body: json.RawMessage(`{}`)}, nil
	})
	for _, v := range variants {
		b.Run("alone/"+v.name, func(b *testing.B) {
			s, err := sailsio.New(srv.URL(), v.opt(b), stub)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Disconnect()
			ctx := otelsailsio.WithRoute(context.Background(), "/pet/:id")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.GetContext(ctx, "/pet/3", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, form := range []string{"Do", "callback"} {
		for _, v := range variants {
			b.Run(form+"/"+v.name, func(b *testing.B) {
				ctx := context.Background()
				s, err := sailsio.Connect(ctx, srv.URL(), v.opt(b))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Disconnect()
				done := make(chan *sailsio.JWRes, 1)
				cb := func(_ json.RawMessage, jwr *sailsio.JWRes) { done <- jwr }
				cpu0 := cpuTime()
				b.ReportAllocs()
				for b.Loop() {
					var jwr *sailsio.JWRes
					if form == "Do" {
						if jwr, err = s.GetContext(otelsailsio.WithRoute(ctx, "/pet/:id"), "/pet/3", nil); err != nil {
							b.Fatal(err)
						}
					} else {
						s.Get("/pet/3", nil, cb)
						jwr = <-done
					}
					if jwr.StatusCode != 200 {
						b.Fatal(jwr)
					}
				}
				if cpu := cpuTime() - cpu0; cpu > 0 {
					b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
				}
			})
		}
	}
}
