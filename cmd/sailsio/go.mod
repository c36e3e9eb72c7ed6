module github.com/sailsio-go/sailsio/cmd/sailsio

go 1.24.0

// The SDK version the command is built against. In the repository, go.work at the root makes the
// workspace copy win; before tagging cmd/sailsio, bump this to the root module's release tag.
require github.com/sailsio-go/sailsio v0.0.0-20261130192932-e24c062789f2

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/chzyer/readline v1.5.1
	golang.org/x/sys v0.33.0
	golang.org/x/term v0.32.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/cenkalti/backoff/v4 v4.3.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
)
