package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sailsio-go/sailsio/internal/testapp"
	"github.com/sailsio-go/sailsio/mockserver"
)

// TestLargeGo runs the large section's Go measurement against the mockserver (the test app's POST
// /size, and a maxHttpBufferSize the over-limit body exceeds), with small bodies.
func TestLargeGo(t *testing.T) {
	srv := mockserver.NewT(t, mockserver.WithMaxHTTPBufferSize(100_000))
	testapp.Install(srv, testapp.Options{})
	res, err := largeGo(testContext(t), largeParams{URL: srv.URL(), Bytes: 50_000, OverBytes: 150_000}, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.AnswerBytes != largeExpected(50_000) || res.PostUs <= 0 {
		t.Errorf("POST: %d bytes counted in %v µs, want %d", res.AnswerBytes, res.PostUs, largeExpected(50_000))
	}
	if res.OverRefusedN != 1 || !strings.Contains(res.OverOutcome, "maxHttpBufferSize") {
		t.Errorf("over the limit: %q, want the SDK's ErrMessageTooLarge", res.OverOutcome)
	}
	if res.HWMReset && (res.PeakRSS <= 0 || res.BaselineRSS <= 0) {
		t.Errorf("RSS baseline %d, peak %d", res.BaselineRSS, res.PeakRSS)
	}
}

func TestLargeFlagsAndTable(t *testing.T) {
	cfg, err := parseFlags([]string{"-phases", "large", "-clients", "do,js4"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.phases["large"] || cfg.large.mb != 70 || cfg.large.overMB != 150 || cfg.large.maxBuf != 100_000_000 {
		t.Errorf("large config %+v", cfg.large)
	}
	for _, bad := range [][]string{{"-phases", "large", "-large-mb", "100"}, {"-phases", "large", "-large-over-mb", "90"}, {"-phases", "large", "-large-rounds", "0"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
	p := largeParams{Bytes: 70e6, OverBytes: 150e6}
	body := float64(largeExpected(p.Bytes))
	results := map[string][]*largeResult{
		"do":  {{PostUs: 2e6, PostCPUUs: 3e5, BaselineRSS: 1e8, PeakRSS: 1e8 + int64(body), OverUs: 100}},
		"js4": {{PostUs: 4e6, PostCPUUs: 12e5, BaselineRSS: 1e8, PeakRSS: 1e8 + int64(3*body), OverUs: 3e6}},
	}
	var out bytes.Buffer
	printLargeTable(&out, []largeColumn{largeColumns[0], largeColumns[1]}, results, p, false)
	got := out.String()
	for _, want := range []string{"70 MB POST: time to the response", "SDK÷sio4", "0.50x",
		"peak RSS growth ≤ 3x the body: 1.00x (met)", "over-limit error ≤ 500 ms: 0.10 ms (met)", "time ≤ JS sio4's: 0.50x (met)"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if err := (&largeConfig{mb: 1, overMB: 0, maxBuf: 2e6, rounds: 1, timeout: 1}).check(); err != nil {
		t.Errorf("no over-limit body: %v", err)
	}
	if (&largeConfig{}).check() == nil {
		t.Error("zero config accepted")
	}
}
