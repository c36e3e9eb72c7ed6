package sailsio

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestPanicIsLoggedByDefault: without WithLogger, a callback's panic goes to slog.Default.
func TestPanicIsLoggedByDefault(t *testing.T) {
	var buf syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	s, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	s.Request(RequestOptions{Method: "bogus", URL: "/x"}, func(json.RawMessage, *JWRes) { panic("boom") })
	if err := s.Shutdown(ctx5(t)); err != nil { // waits for the callback
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "boom") {
		t.Errorf("the panic left no trace; default log: %q", buf.String())
	}
}
