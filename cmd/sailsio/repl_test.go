package main

import (
	"strings"
	"testing"
)

func TestReplScript(t *testing.T) {
	u := mockURL(t)
	script := strings.Join([]string{
		"# a comment",
		"get /status/201",
		"on chat",
		"post /rooms/r1/join",
		`post /rooms/r1/say {"text":"hi"}`,
		"headers x-a: b",
		"headers",
		"get /echo",
		"headers -x-a",
		"get /status/404",
		"off chat",
		"",
		"   # an indented comment",
		"exit",
		"get /never",
	}, "\n")
	r := runCLI(t, strings.NewReader(script), "repl", u, "--eio", "4", "--csrf")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var got []string
	event := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "event ") {
			event = l
			continue
		}
		got = append(got, l)
	}
	if !strings.HasPrefix(event, `event chat {`) || !strings.Contains(event, `"text":"hi"`) {
		t.Errorf("event line %q in %q", event, r.stdout)
	}
	want := []string{`201 {"status":201}`, `200 {"joined":"r1","id":`, `200 {"sent":true}`, `x-a: b`, `200 {"method":"GET","url":"/echo"`, `404 {"status":404}`}
	if len(got) < len(want) {
		t.Fatalf("stdout %q", r.stdout)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, got[i], w)
		}
	}
	if !strings.Contains(got[4], `"x-a":"b"`) {
		t.Errorf("global header not sent: %q", got[4])
	}
	if len(got) != len(want) {
		t.Errorf("extra output after exit: %q", got[len(want):])
	}
	if !strings.Contains(r.stderr, "# connected") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestReplNoConnection(t *testing.T) {
	r := runCLI(t, strings.NewReader("get /x\n"), "repl", "http://127.0.0.1:1", "--timeout", "5s")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3: %s", r.code, r.stderr)
	}
}

// TestReplScriptRejectsBadLines: in a script, a line that is neither blank, a comment (#) nor a
// valid command ends the script with an error naming its line, exit status 2; the lines before it
// ran, the lines after it do not.
func TestReplScriptRejectsBadLines(t *testing.T) {
	u := mockURL(t)
	for _, bad := range []string{
		`{"text":"hi"}`,
		"bogus /x",
		`post /echo {"a":`,
		"get echo",
		"on",
		"headers nocolon",
		"subscribe fetch /x",
	} {
		script := "# setup\nget /status/201\n\n" + bad + "\nget /status/202\n"
		r := runCLI(t, strings.NewReader(script), "repl", u)
		if r.code != 2 || !strings.Contains(r.stderr, "sailsio: script line 4: ") || !strings.HasPrefix(r.stdout, "201 ") || strings.Contains(r.stdout, "202") {
			t.Errorf("line %q: exit %d, stdout %q, stderr %q; want exit 2, 'script line 4' and only the 201 answer", bad, r.code, r.stdout, r.stderr)
		}
	}
}
