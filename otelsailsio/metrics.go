package otelsailsio

import (
	"context"
	"sync"
	"weak"

	"github.com/sailsio-go/sailsio"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// instruments are what one Instrument call shares among its sockets.
type instruments struct {
	cfg    *config
	tracer trace.Tracer

	duration   metric.Float64Histogram
	active     metric.Int64UpDownCounter
	opened     metric.Int64Counter
	closed     metric.Int64Counter
	reconnects metric.Int64Counter
	upgrades   metric.Int64Counter
	events     metric.Int64Counter
	queueReqs  metric.Int64ObservableGauge
	queueBytes metric.Int64ObservableGauge

	names  eventNames
	gauges gaugeSet
}

// durationBuckets are the bucket bounds OpenTelemetry advises for HTTP request durations, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// newInstruments makes the tracer and the instruments. An instrument that cannot be made is
// reported to otel.Handle and replaced by a no-op one (what the meter returns with its error).
func newInstruments(c *config) *instruments {
	in := &instruments{cfg: c, tracer: c.tp.Tracer(ScopeName)}
	in.names.known = map[string]struct{}{}
	m := c.mp.Meter(ScopeName)
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	in.duration, err = m.Float64Histogram("sailsio.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of virtual requests, from the call to the response or failure (time in the queue included)."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(err)
	in.active, err = m.Int64UpDownCounter("sailsio.request.active", metric.WithUnit("{request}"),
		metric.WithDescription("Virtual requests under way: queued or in flight."))
	check(err)
	in.opened, err = m.Int64Counter("sailsio.connection.opened", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections established, reconnections included."))
	check(err)
	in.closed, err = m.Int64Counter("sailsio.connection.closed", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections that ended, by disconnect reason (\"io client disconnect\" for Disconnect and Reconnect; any other reason is a lost connection)."))
	check(err)
	in.reconnects, err = m.Int64Counter("sailsio.reconnect.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts of the reconnection loop."))
	check(err)
	in.upgrades, err = m.Int64Counter("sailsio.connection.upgrades", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections moved from polling to another transport."))
	check(err)
	in.events, err = m.Int64Counter("sailsio.event.received", metric.WithUnit("{event}"),
		metric.WithDescription("Server events received, by name (the first 100 distinct names; later ones as _OTHER)."))
	check(err)
	in.queueReqs, err = m.Int64ObservableGauge("sailsio.queue.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Requests waiting in the queue for a connection."))
	check(err)
	in.queueBytes, err = m.Int64ObservableGauge("sailsio.queue.size", metric.WithUnit("By"),
		metric.WithDescription("Bytes of the encoded requests waiting in the queue for a connection."))
	check(err)
	if _, err := m.RegisterCallback(in.gauges.observe(in.queueReqs, in.queueBytes), in.queueReqs, in.queueBytes); err != nil {
		errs = append(errs, err)
	}
	for _, err := range errs {
		otel.Handle(err)
	}
	in.orNoop()
	return in
}

// orNoop replaces the instruments a meter did not return (with its error) by no-op ones.
func (in *instruments) orNoop() {
	var nm noop.Meter
	if in.duration == nil {
		in.duration, _ = nm.Float64Histogram("")
	}
	if in.active == nil {
		in.active, _ = nm.Int64UpDownCounter("")
	}
	for _, c := range []*metric.Int64Counter{&in.opened, &in.closed, &in.reconnects, &in.upgrades, &in.events} {
		if *c == nil {
			*c, _ = nm.Int64Counter("")
		}
	}
	for _, g := range []*metric.Int64ObservableGauge{&in.queueReqs, &in.queueBytes} {
		if *g == nil {
			*g, _ = nm.Int64ObservableGauge("")
		}
	}
}

// gaugeSet is the open sockets of one Instrument, for the queue gauges. It holds them weakly: a
// socket that is dropped without Disconnect leaves the set once it is garbage-collected.
type gaugeSet struct {
	mu      sync.Mutex
	entries map[*gaugeEntry]struct{}
}

type gaugeEntry struct {
	s     weak.Pointer[sailsio.SailsSocket]
	attrs attribute.Set
}

func (g *gaugeSet) add(s *sailsio.SailsSocket, attrs attribute.Set) *gaugeEntry {
	e := &gaugeEntry{s: weak.Make(s), attrs: attrs}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.entries == nil {
		g.entries = map[*gaugeEntry]struct{}{}
	}
	g.entries[e] = struct{}{}
	return e
}

func (g *gaugeSet) remove(e *gaugeEntry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.entries, e)
}

// observe returns the callback of the queue gauges: one value per server (the sum over its sockets).
func (g *gaugeSet) observe(reqs, bytes metric.Int64ObservableGauge) metric.Callback {
	return func(_ context.Context, o metric.Observer) error {
		type sum struct {
			attrs attribute.Set
			n, b  int64
		}
		g.mu.Lock()
		live := make([]*gaugeEntry, 0, len(g.entries))
		for e := range g.entries {
			if e.s.Value() == nil {
				delete(g.entries, e)
				continue
			}
			live = append(live, e)
		}
		g.mu.Unlock()
		sums := map[attribute.Distinct]*sum{}
		var order []attribute.Distinct
		for _, e := range live {
			s := e.s.Value()
			if s == nil {
				continue
			}
			n, b := s.QueueLen()
			k := e.attrs.Equivalent()
			if sums[k] == nil {
				sums[k] = &sum{attrs: e.attrs}
				order = append(order, k)
			}
			sums[k].n += int64(n)
			sums[k].b += b
		}
		for _, k := range order {
			sm := sums[k]
			o.ObserveInt64(reqs, sm.n, metric.WithAttributeSet(sm.attrs))
			o.ObserveInt64(bytes, sm.b, metric.WithAttributeSet(sm.attrs))
		}
		return nil
	}
}
