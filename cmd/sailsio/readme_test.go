package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sailsio-go/sailsio/internal/testkit"
)

// TestReadmeInstallLinesWork runs the README's install commands, offline (GOPROXY=off), as a user
// with a clone does: the SDK's lines in a new module of their own, with the clone's path for the
// placeholder, and the command's from the clone's root. Lines for the published module cannot work
// before publication, so the README must not give them as the way to install.
func TestReadmeInstallLinesWork(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Offline: the SDK's dependencies come from the module cache (building this command filled it),
	// so neither a proxy nor the checksum database is asked.
	env := append(os.Environ(), "GOPROXY=off", "GOSUMDB=off", "GOTOOLCHAIN=local")

	t.Run("sdk", func(t *testing.T) {
		app := t.TempDir()
		runGo(t, app, env, "go mod init example.com/app")
		main := "package main\n\nimport \"github.com/sailsio-go/sailsio\"\n\nfunc main() { println(sailsio.EIO3) }\n"
		if err := os.WriteFile(filepath.Join(app, "main.go"), []byte(main), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, line := range shellBlock(t, string(readme), "## Install") {
			runGo(t, app, append(env, "GOWORK=off"), strings.ReplaceAll(line, "/path/to/sailsio", root))
		}
		runGo(t, app, append(env, "GOWORK=off"), "go build -o app .")
	})

	t.Run("command", func(t *testing.T) {
		bin := t.TempDir()
		for _, line := range shellBlock(t, string(readme), "## The `sailsio` command") {
			runGo(t, root, append(env, "GOBIN="+bin), line)
		}
		out, err := exec.Command(filepath.Join(bin, "sailsio"), "version").Output()
		if err != nil || !strings.HasPrefix(string(out), "sailsio ") {
			t.Fatalf("the installed sailsio version: %q, %v", out, err)
		}
	})
}

// shellBlock returns the commands of the first ```sh block after heading, comments removed.
func shellBlock(t *testing.T, doc, heading string) []string {
	t.Helper()
	_, after, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q", heading)
	}
	_, after, ok = strings.Cut(after, "```sh\n")
	if !ok {
		t.Fatalf("no ```sh block after %q", heading)
	}
	block, _, _ := strings.Cut(after, "```")
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		l, _, _ = strings.Cut(l, "#")
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("an empty ```sh block after %q", heading)
	}
	return lines
}

// runGo runs one README command line (split on spaces: the lines hold no quoting) in dir.
func runGo(t *testing.T, dir string, env []string, line string) {
	t.Helper()
	f := strings.Fields(line)
	if f[0] != "go" {
		t.Fatalf("README install line %q: want go commands only", line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testkit.D(2*time.Minute))
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", f[1:]...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s (in %s): %v\n%s", line, dir, err, out)
	}
}
