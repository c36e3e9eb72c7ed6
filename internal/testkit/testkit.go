// Package testkit is the test harness shared by the module's tests: one time scale, one event
// collector and one goroutine-leak check (run from TestMain). It is imported by tests only.
package testkit

import (
	"os"
	"strconv"
	"time"
)

// Scale multiplies every time bound of the tests: SAILSIO_TEST_SCALE (default 1), doubled under the
// race detector, so a loaded two-core machine does not make tests flake. Bounds are limits for
// things that must happen, never expected durations.
var Scale = scale()

func scale() time.Duration {
	n := 1
	if v, err := strconv.Atoi(os.Getenv("SAILSIO_TEST_SCALE")); err == nil && v > 0 {
		n = v
	}
	if raceEnabled {
		n *= 2
	}
	return time.Duration(n)
}

// D scales a time bound.
func D(d time.Duration) time.Duration { return d * Scale }

// Wait bounds every wait for something that must happen.
var Wait = D(10 * time.Second)

// Short is a bound for waits that end well before Wait (a reply on loopback, a callback).
var Short = D(5 * time.Second)
