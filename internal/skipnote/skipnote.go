// Package skipnote carries the note that tests were skipped for want of a component (real Sails,
// Redis ...) from the packages that skip them to the test harness, which prints it once per run.
// It imports no testing, so that launchers used by programs can record it.
package skipnote

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

var (
	skipMu   sync.Mutex
	skipNote string
)

// Note records that tests were skipped because a component is missing (what), and how to
// run them. testkit.Main prints the note (Print) once per `go test` run — the first package to finish prints it,
// the others do not — on the terminal, so that it shows without -v (go test hides the output of
// passing packages).
func Note(what, howToRun string) {
	skipMu.Lock()
	defer skipMu.Unlock()
	if skipNote == "" {
		skipNote = fmt.Sprintf("note: %s were skipped; %s", what, howToRun)
	}
}

// Print prints the recorded note, once per go command (keyed by its process id).
func Print() {
	skipMu.Lock()
	note := skipNote
	skipMu.Unlock()
	if note == "" {
		return
	}
	marker := filepath.Join(os.TempDir(), "sailsio-skip-note-"+strconv.Itoa(os.Getppid()))
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return // another package of this run printed it
	}
	f.Close()
	out := os.Stderr
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		out = tty
	}
	fmt.Fprintln(out, note)
}
