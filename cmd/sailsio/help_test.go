package main

import (
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
