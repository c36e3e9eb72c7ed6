package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpIsOnlyTheUsage: --help (and -h, and "sailsio help COMMAND") prints the usage on stdout,
// nothing on stderr, and exits 0; the "run ... --help" hint goes with usage errors only.
func TestHelpIsOnlyTheUsage(t *testing.T) {
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			r := runCLI(t, nil, args...)
			if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "Usage:\n") || strings.Contains(r.stdout, "for usage") {
				t.Errorf("sailsio %s: exit %d, stdout %.80q, stderr %q; want exit 0, the usage alone on stdout", strings.Join(args, " "), r.code, r.stdout, r.stderr)
			}
		}
		r := runCLI(t, nil, c.name, "--no-such-flag")
		if r.code != 2 || !strings.Contains(r.stderr, "no-such-flag") || !strings.Contains(r.stderr, "run 'sailsio "+c.name+" --help' for usage") || r.stdout != "" {
			t.Errorf("sailsio %s --no-such-flag: exit %d, stdout %q, stderr %q; want exit 2, the error and the hint on stderr", c.name, r.code, r.stdout, r.stderr)
		}
	}
}

// TestMockHelpRecipeRuns runs the shell lines `sailsio mock --help` gives for reading the mock's URL
// from a script: they must end (a $(sailsio mock) never does, the mock runs until stopped) and
// reach the mock. load --help must not suggest $(sailsio mock ...) either.
func TestMockHelpRecipeRuns(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	for _, sub := range []string{"mock", "load"} {
		if r := runCLI(t, nil, sub, "--help"); strings.Contains(r.stdout, "$(sailsio mock") {
			t.Errorf("%s --help suggests $(sailsio mock ...), which never returns while the mock runs:\n%s", sub, r.stdout)
		}
	}
	help := runCLI(t, nil, "mock", "--help").stdout
	var recipe []string
	in := false
	for _, l := range strings.Split(help, "\n") {
		if strings.HasPrefix(l, "  sailsio mock") && strings.Contains(l, "> mock.url &") {
			in = true
		}
		if in {
			if strings.TrimSpace(l) == "" {
				break
			}
			recipe = append(recipe, strings.TrimSpace(l))
		}
	}
	if len(recipe) == 0 {
		t.Fatalf("mock --help has no recipe starting with 'sailsio mock ... > mock.url &':\n%s", help)
	}
	script := "set -e\ncd '" + t.TempDir() + "'\nPATH='" + filepath.Dir(binPath) + "':$PATH\ntrap 'kill $! 2>/dev/null || true' EXIT\n" + strings.Join(recipe, "\n") + "\n"
	r := runShell(t, script)
	if r.code != 0 || !strings.Contains(r.stdout, `"method":"GET"`) {
		t.Fatalf("the recipe\n%s\nexit %d, stdout %q, stderr %q", strings.Join(recipe, "\n"), r.code, r.stdout, r.stderr)
	}
}
