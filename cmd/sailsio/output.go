package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"
)

// rawJSON is JSON that is sent as is (json.RawMessage, named for what it holds).
type rawJSON = json.RawMessage

func jsonValid(b []byte) bool { return json.Valid(b) }

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// writeJSON writes b, pretty (two-space indent) when pretty, else compact, and a newline.
// Bytes that are not JSON are written as they are.
func writeJSON(w io.Writer, b []byte, pretty bool) error {
	if len(b) == 0 {
		b = []byte("null")
	}
	var out bytes.Buffer
	var err error
	if pretty {
		err = json.Indent(&out, b, "", "  ")
	} else {
		err = json.Compact(&out, b)
	}
	if err != nil {
		out.Reset()
		out.Write(b)
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// writeStatusHead writes the -i head: "HTTP/sails 200 OK", one "name: value" line per JWR header
// (lower-case names, sorted), then a blank line.
func writeStatusHead(w io.Writer, status int, h http.Header) {
	text := http.StatusText(status)
	if text == "" {
		text = "Unknown"
	}
	fmt.Fprintf(w, "HTTP/sails %d %s\n", status, text)
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range h[n] {
			fmt.Fprintf(w, "%s: %s\n", strings.ToLower(n), v)
		}
	}
	fmt.Fprintln(w)
}

// statusExit maps a response status to the exit status.
func statusExit(status int) int {
	switch {
	case status >= 500:
		return exitStatus5xx
	case status >= 400:
		return exitStatus4xx
	case status >= 100:
		return exitOK
	}
	return exitOther
}
