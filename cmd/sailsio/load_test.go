package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadReportAgainstMockProcess(t *testing.T) {
	m := startProc(t, "mock", "--ping-interval", "500ms", "--quiet")
	u := m.line(t, 15e9)
	out := filepath.Join(t.TempDir(), "report.json")
	r := runCLI(t, nil, "load", u, "--sockets", "40", "--rate", "400", "--duration", "1200ms", "--think", "20ms", "--eio", "4",
		"--request", "3:GET /echo?s={{socket}}", "--request", `1:POST /rooms/lobby/say {"text":"{{stamp}}"}`,
		"--request", "1:GET /status/503", "--subscribe", "POST /rooms/lobby/join", "--fanout", "chat", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s\n%s", r.code, r.stderr, r.stdout)
	}
	for _, want := range []string{"sockets   target 40", "GET /echo?s={{socket}}", "fan-out   chat", "memory    client:", "server:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.stdout)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Sockets.Connected != 40 || rep.Sockets.Failed != 0 || rep.Sockets.DropsInHold != 0 || rep.Connect.Count != 40 {
		t.Errorf("sockets %+v connect %+v", rep.Sockets, rep.Connect)
	}
	statuses := map[string]int{}
	for _, q := range rep.Requests {
		statuses[q.Route] = q.Status
		if q.Latency.Count == 0 || q.Latency.P50 <= 0 || q.Latency.P99 < q.Latency.P50 {
			t.Errorf("route %+v", q)
		}
	}
	if statuses["GET /echo?s={{socket}}"] != 200 || statuses["GET /status/503"] != 503 || statuses[`POST /rooms/lobby/say {"text":"{{stamp}}"}`] != 200 {
		t.Errorf("statuses %v", statuses)
	}
	if rep.Fanout == nil || rep.Fanout.Deliveries == 0 || rep.Fanout.Latency.Count != rep.Fanout.Deliveries || rep.Events["chat"] < rep.Fanout.Deliveries {
		t.Errorf("fanout %+v events %v", rep.Fanout, rep.Events)
	}
	if rep.Memory.Server == nil || rep.Memory.Server.Sockets != 40 || rep.Memory.Client.Sockets != 40 || rep.Memory.Client.GoPerSocket <= 0 {
		t.Errorf("memory %+v server %+v", rep.Memory.Client, rep.Memory.Server)
	}
	if !strings.Contains(rep.Sockets.HeartbeatsKept, "ping intervals of 500ms with 0 drops") {
		t.Errorf("heartbeats %q", rep.Sockets.HeartbeatsKept)
	}
}

func TestLoadScenarioFileAndVars(t *testing.T) {
	u := mockURL(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "s.yaml")
	scen := `sockets: 6
duration: 500ms
think: 10ms
vars:
  color: [red, green]
headers: {x-run: "{{color}}"}
requests:
  - {weight: 1, request: "GET /echo?c={{color}}&i={{socket}}", headers: {x-n: "{{n}}"}}
`
	if err := os.WriteFile(file, []byte(scen), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "load", u, "--scenario", file, "--sockets", "4", "--json", "--progress", "off")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if rep.Scenario.Sockets != 4 || rep.Sockets.Connected != 4 || len(rep.Requests) != 1 || rep.Requests[0].Status != 200 {
		t.Fatalf("report %+v", rep)
	}
	for _, bad := range [][]string{
		{"load", u, "--request", "GET /x?{{nope}}"},
		{"load", u, "--request", "FETCH /x"},
		{"load", u, "--sockets", "0"},
		{"load", u, "--scenario", filepath.Join(dir, "missing.yaml")},
	} {
		if r := runCLI(t, nil, bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", bad, r.code, r.stderr)
		}
	}
	if r := runCLI(t, nil, "load", "http://127.0.0.1:1", "--sockets", "2", "--duration", "1ms", "--timeout", "5s"); r.code != 3 || !strings.Contains(r.stdout, "connection refused") {
		t.Errorf("refused: exit %d: %s", r.code, r.stdout)
	}
}

// TestLoadSaysWhenOutOfFileDescriptors runs load under a low open-file hard limit.
func TestLoadSaysWhenOutOfFileDescriptors(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	u := mockURL(t)
	sh := runShell(t, "ulimit -n 120 && exec \""+binPath+"\" load "+u+" --sockets 200 --concurrency 16 --duration 10ms --progress off --json")
	if !strings.Contains(sh.stderr, "out of file descriptors") || !strings.Contains(sh.stderr, "open-file limit 120") {
		t.Fatalf("exit %d; stderr: %s", sh.code, sh.stderr)
	}
	var rep report
	if err := json.Unmarshal([]byte(sh.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Sockets.FailedBy[kindNoFD] == 0 || rep.Sockets.Connected == 0 {
		t.Fatalf("sockets %+v", rep.Sockets)
	}
}

func TestLoadWorkers(t *testing.T) {
	m := startProc(t, "mock", "--ping-interval", "400ms", "--quiet", "--shards", "2")
	u1, u2 := m.line(t, 15e9), m.line(t, 15e9)
	out := filepath.Join(t.TempDir(), "report.json")
	r := runCLI(t, nil, "load", u1, u2, "--workers", "3", "--sockets", "31", "--rate", "600", "--duration", "1s", "--think", "20ms",
		"--request", `POST /rooms/all/say {"text":"{{stamp}}"}`, "--subscribe", "POST /rooms/all/join", "--fanout", "chat", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s\n%s", r.code, r.stderr, r.stdout)
	}
	var rep report
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Workers != 3 || rep.Scenario.Sockets != 31 || rep.Scenario.Rate != 600 || rep.Sockets.Connected != 31 || rep.Connect.Count != 31 || rep.Memory.Client.Processes != 3 {
		t.Fatalf("workers %d sockets %+v connect %+v", rep.Workers, rep.Sockets, rep.Connect)
	}
	if rep.Memory.Server == nil || rep.Memory.Server.Sockets != 31 || rep.Memory.Server.Processes != 1 {
		t.Fatalf("server %+v", rep.Memory.Server)
	}
	if len(rep.Requests) != 1 || rep.Requests[0].Latency.Count != rep.RequestsAll.Count || rep.RequestsAll.Count == 0 {
		t.Fatalf("requests %+v all %+v", rep.Requests, rep.RequestsAll)
	}
	// Rooms are per shard: a stamp reaches the sockets of its shard, in every worker.
	if rep.Fanout == nil || rep.Fanout.Deliveries == 0 || rep.Fanout.Latency.Count != rep.Fanout.Deliveries {
		t.Fatalf("fanout %+v", rep.Fanout)
	}
	if !strings.Contains(rep.Sockets.HeartbeatsKept, "ping intervals of 400ms with 0 drops") {
		t.Errorf("heartbeats %q", rep.Sockets.HeartbeatsKept)
	}
}

// TestLoadHoldsOnceEverySocketConnected: the hold starts only when every socket that connects has
// been counted, so the "N of M sockets connected" line gives the true count. Connect returns before
// the socket's connect handlers run; counting in the handler alone started the hold at 49 of 50.
func TestLoadHoldsOnceEverySocketConnected(t *testing.T) {
	u := mockURL(t)
	for run := range 5 {
		r := runCLI(t, nil, "load", u, "--sockets", "50", "--duration", "1ms", "--progress", "off", "--json")
		if r.code != 0 || !strings.Contains(r.stderr, "sailsio load: 50 of 50 sockets connected after ") {
			t.Fatalf("run %d: exit %d, stderr %q; want the hold to start with 50 of 50 connected", run, r.code, r.stderr)
		}
	}
	r := runCLI(t, nil, "load", "http://127.0.0.1:1", "--sockets", "2", "--duration", "1ms", "--timeout", "5s", "--progress", "off", "--json")
	if r.code != 3 || !strings.Contains(r.stderr, "0 of 2 sockets connected (2 failed) after ") {
		t.Fatalf("refused: exit %d, stderr %q", r.code, r.stderr)
	}
}
