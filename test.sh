#!/usr/bin/env bash
# The test command: installs the real Sails test servers when Node is present (they are required when
# CI=true), runs the quickstart and OpenTelemetry examples, then every Go test with the race detector
# (the root module, then the sailsio command's module, then the otelsailsio module).
set -euo pipefail
cd "$(dirname "$0")"

if command -v npm >/dev/null 2>&1; then
  for hook in hook1 hook2 hook3; do
    dir=testdata/sails/$hook
    # npm ci from the lockfile when node_modules is missing or older than the lockfile; never
    # through a symbolic link (a checkout sharing another one's install): npm ci would empty it.
    if [ -L "$dir/node_modules" ]; then
      echo "note: $dir/node_modules is a symbolic link; not reinstalling it" >&2
    elif [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
      echo "== npm ci in $dir"
      npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
      touch "$dir/node_modules"
    fi
  done
elif [ "${CI:-}" = "true" ]; then
  echo "CI=true but npm is not installed: the real-Sails integration tests cannot run" >&2
  exit 1
else
  echo "note: Node/npm not found; the real-Sails integration tests will be skipped" >&2
fi

echo "== quickstart example"
go run ./examples/quickstart

# otelsailsio is a module of its own (otelsailsio/go.mod, Go 1.26 for OpenTelemetry); go.work includes it.
echo "== otelsailsio example (spans to stdout)"
go run ./otelsailsio/example >/dev/null

# Every package with the race detector, summarised as it goes (internal/testsum): one line per
# package with its time, one per top-level test of 10 s or more, and the output of failing tests.
# -parallel 4: the parallel tests mostly wait on servers (loopback, Node), not on the CPU.
echo "== go test -race ./..."
go build -o "${TMPDIR:-/tmp}/sailsio-testsum" ./internal/testsum
summarise() { "${TMPDIR:-/tmp}/sailsio-testsum" -slow 10s; }
begin=$SECONDS
go test -race -count=1 -parallel 4 -timeout 15m -json ./... | summarise

# The sailsio command is a module of its own (cmd/sailsio/go.mod); go.work at the root makes it use
# this checkout of the SDK. Its tests build the command and drive it as a process.
echo "== cmd/sailsio: go vet, go test -race"
(cd cmd/sailsio && go vet ./... && go test -race -count=1 -parallel 4 -timeout 15m -json ./... | summarise)
echo "== otelsailsio: go vet, go test -race"
(cd otelsailsio && go vet ./... && go test -race -count=1 -parallel 4 -timeout 15m -json ./... | summarise)
echo "== all tests passed in $((SECONDS - begin)) s"
