package otelsailsio_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio"
	"github.com/sailsio-go/sailsio/internal/realsails"
	"github.com/sailsio-go/sailsio/internal/testkit"
	"github.com/sailsio-go/sailsio/otelsailsio"
	"go.opentelemetry.io/otel/baggage"
)

// TestRealSailsReceivesTraceContext: against real Sails (sails-hook-sockets 2.x and 3.x, each over
// EIO3 and, on 3.x, EIO4), the action of GET /trace receives in req.headers the traceparent of the
// client span (its trace id and span id) and the caller's baggage, and logs them. The servers come
// from internal/realsails, which this module's tests may import: it lies under the SDK module's
// path (Go's rule for internal packages is about import paths, not modules).
func TestRealSailsReceivesTraceContext(t *testing.T) {
	for _, tc := range []struct {
		hook  string
		proto sailsio.Protocol
	}{{"hook2", sailsio.EIO3}, {"hook3", sailsio.EIO4}} {
		t.Run(tc.hook, func(t *testing.T) {
			t.Parallel()
			srv := realsails.Start(t, tc.hook, realsails.WithEnv("SAILSIO_LOG_LEVEL", "info"))
			h := newHarness(t)
			s, err := sailsio.Connect(ctxT(t), srv.URL, h.opt, sailsio.WithProtocol(tc.proto))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Disconnect()

			ctx, parent := h.tp.Tracer("test").Start(ctxT(t), "job")
			m, _ := baggage.NewMember("tenant", "acme")
			b, _ := baggage.New(m)
			jwr, err := s.GetContext(otelsailsio.WithRoute(baggage.ContextWithBaggage(ctx, b), "/trace"), "/trace", nil)
			parent.End()
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Traceparent string  `json:"traceparent"`
				Tracestate  *string `json:"tracestate"`
				Baggage     string  `json:"baggage"`
			}
			if err := jwr.Decode(&got); err != nil {
				t.Fatalf("%s: %v", jwr.Body, err)
			}
			span := h.ended(t, 2)[0]
			if span.Name() != "GET /trace" {
				t.Fatalf("first span ended: %q", span.Name())
			}
			want := traceparentOf(span.SpanContext())
			if got.Traceparent != want || got.Baggage != "tenant=acme" || got.Tracestate != nil {
				t.Fatalf("Sails received %s, want traceparent %s, baggage tenant=acme, no tracestate", jwr.Body, want)
			}
			if tid := span.SpanContext().TraceID(); tid != parent.SpanContext().TraceID() || !strings.Contains(got.Traceparent, tid.String()) {
				t.Fatalf("trace id %s: not the caller's %s", tid, parent.SpanContext().TraceID())
			}
			if a := attrs(span); a["sailsio.engineio.version"] != map[sailsio.Protocol]string{sailsio.EIO3: "3", sailsio.EIO4: "4"}[tc.proto] || a["http.response.status_code"] != "200" {
				t.Errorf("span attributes %v", a)
			}
			line := "GET /trace traceparent=" + want + " tracestate=null baggage=tenant=acme"
			deadline := time.Now().Add(testkit.Wait)
			for !strings.Contains(srv.Output(), line) {
				if time.Now().After(deadline) {
					t.Fatalf("the action's log has no line %q:\n%s", line, srv.Output())
				}
				time.Sleep(10 * time.Millisecond) // the server's output arrives through a pipe: no signal
			}
			t.Logf("Sails (%s) logged: %s", tc.hook, line)
		})
	}
}
