package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// columnSpec is what a column of the side-by-side and events sections says of itself.
type columnSpec struct {
	key        string   // its name in -clients or -events-clients
	column     string   // table heading
	help       string   // -h text
	transports []string // transports it can run
	hooks      []string // hook directories it works with
}

func (c *columnSpec) spec() *columnSpec { return c }

// specced is a column of either section (client, eventsClient).
type specced interface{ spec() *columnSpec }

// columnKeys lists the columns' keys, in order.
func columnKeys[C specced](cols []C) []string {
	var ks []string
	for _, c := range cols {
		ks = append(ks, c.spec().key)
	}
	return ks
}

// columnHelp is the -h text of the columns: a line each, key and help.
func columnHelp[C specced](cols []C) string {
	width := 0
	for _, c := range cols {
		width = max(width, len(c.spec().key))
	}
	var b strings.Builder
	for _, c := range cols {
		fmt.Fprintf(&b, "\n    %-*s %s", width, c.spec().key, c.spec().help)
	}
	return b.String()
}

// pickColumns returns the columns the comma-separated keys of flag name, in their order, once each.
func pickColumns[C specced](flag, list string, cols []C) ([]C, error) {
	var out []C
	for _, k := range splitList(list) {
		i := slices.IndexFunc(cols, func(c C) bool { return c.spec().key == k })
		if i < 0 {
			return nil, fmt.Errorf("%s: unknown client %q (known: %s)", flag, k, strings.Join(columnKeys(cols), ", "))
		}
		if !slices.ContainsFunc(out, func(c C) bool { return c.spec() == cols[i].spec() }) {
			out = append(out, cols[i])
		}
	}
	return out, nil
}

// usableColumns returns the columns that speak transport tr and run against hook, and says why each
// other one is left out; section prefixes the notes ("" for the side-by-side section).
func usableColumns[C specced](cols []C, tr, hook, section string) []C {
	var out []C
	for _, c := range cols {
		s := c.spec()
		switch {
		case !slices.Contains(s.transports, tr):
			fmt.Printf("\nnote: %s%s does not speak %s: no %q column\n", section, s.column, tr, s.column)
		case !slices.Contains(s.hooks, hook):
			fmt.Printf("\nnote: %s%s: not with %s, no %q column\n", section, s.column, hook, s.column)
		default:
			out = append(out, c)
		}
	}
	return out
}

// rotateRounds runs one for every column, rounds times, pausing after each run: round r starts with
// column r (mod the number of columns), so that over len(cols) rounds every client runs once in
// every position. Each run's time goes to stderr, after label; a run that fails, or ctx's end, stops
// it.
func rotateRounds[C any](ctx context.Context, cols []C, rounds int, pause time.Duration, label string, column func(C) string, one func(r int, c C) error) error {
	for r := 0; r < rounds; r++ {
		for i := range cols {
			c := cols[(r+i)%len(cols)]
			if err := ctx.Err(); err != nil {
				return err
			}
			t0 := time.Now()
			if err := one(r, c); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "  %sround %d/%d %s: %.1fs\n", label, r+1, rounds, column(c), time.Since(t0).Seconds())
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// clientName is a client's name as the "clients:" list shows it: with its node, when it runs on one.
func clientName(client, node string) string {
	if node != "" {
		return client + " on node " + node
	}
	return client
}
