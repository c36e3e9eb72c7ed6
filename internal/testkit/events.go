package testkit

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"
)

// Event is one event a socket delivered.
type Event struct {
	Name string
	Data json.RawMessage
	At   time.Time
}

// String is "name data".
func (e Event) String() string { return e.Name + " " + string(e.Data) }

// Decode unmarshals the event's data into a T.
func Decode[T any](t testing.TB, ev Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(ev.Data, &v); err != nil {
		t.Fatalf("event %s: %v", ev, err)
	}
	return v
}

// Events records the events of a socket without ever blocking its callback goroutine.
type Events struct {
	mu     sync.Mutex
	list   []Event
	read   int
	notify chan struct{}
}

// Collect records the named events through on (a socket's On method).
func Collect[H ~func(json.RawMessage)](on func(string, H) func(), names ...string) *Events {
	e := &Events{notify: make(chan struct{}, 1)}
	for _, n := range names {
		on(n, func(data json.RawMessage) {
			e.mu.Lock()
			e.list = append(e.list, Event{n, data, time.Now()})
			e.mu.Unlock()
			select {
			case e.notify <- struct{}{}:
			default:
			}
		})
	}
	return e
}

// Next returns the next unread event, waiting for it (up to Wait).
func (e *Events) Next(t testing.TB) Event {
	t.Helper()
	return e.NextWithin(t, Wait)
}

// NextWithin returns the next unread event, waiting at most d for it.
func (e *Events) NextWithin(t testing.TB, d time.Duration) Event {
	t.Helper()
	ev, ok := e.TryNext(d)
	if !ok {
		t.Fatalf("no event within %v (seen: %v)", d, e.All())
	}
	return ev
}

// TryNext returns the next unread event if one arrives within d.
func (e *Events) TryNext(d time.Duration) (Event, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		e.mu.Lock()
		if e.read < len(e.list) {
			ev := e.list[e.read]
			e.read++
			e.mu.Unlock()
			return ev, true
		}
		e.mu.Unlock()
		select {
		case <-e.notify:
		case <-timer.C:
			return Event{}, false
		}
	}
}

// WaitFor skips events until one named name (up to Wait).
func (e *Events) WaitFor(t testing.TB, name string) Event {
	t.Helper()
	return e.WaitForWithin(t, name, Wait)
}

// WaitForWithin skips events until one named name, which must come within d.
func (e *Events) WaitForWithin(t testing.TB, name string, d time.Duration) Event {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if ev := e.NextWithin(t, time.Until(deadline)); ev.Name == name {
			return ev
		}
	}
}

// Expect reads the next event and checks its name.
func (e *Events) Expect(t testing.TB, name string) Event {
	t.Helper()
	ev := e.Next(t)
	if ev.Name != name {
		t.Fatalf("event %s, want %s (all: %v)", ev, name, e.All())
	}
	return ev
}

// ExpectSkipping is Expect, passing over events named skip.
func (e *Events) ExpectSkipping(t testing.TB, name, skip string) Event {
	t.Helper()
	for {
		ev := e.Next(t)
		if ev.Name == skip && name != skip {
			continue
		}
		if ev.Name != name {
			t.Fatalf("event %s, want %s (all: %v)", ev, name, e.All())
		}
		return ev
	}
}

// None fails if an event arrives within d.
func (e *Events) None(t testing.TB, d time.Duration) {
	t.Helper()
	if ev, ok := e.TryNext(d); ok {
		t.Fatalf("unexpected event %s", ev)
	}
}

// Unread returns the events not read yet, without consuming them.
func (e *Events) Unread() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list[e.read:])
}

// All returns every event recorded.
func (e *Events) All() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}
