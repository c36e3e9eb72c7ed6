module github.com/sailsio-go/sailsio/otelsailsio

// OpenTelemetry v1.47.0 needs Go 1.26; the SDK itself stays at its own go version (go.mod at the root).
go 1.26.0

// The SDK version the module is built against, as in cmd/sailsio/go.mod. In the repository, go.work
// at the root makes the workspace copy win; before tagging otelsailsio, bump this to the root
// module's release tag.
require github.com/sailsio-go/sailsio v0.0.0-20261130192932-e24c062789f2

require (
	go.opentelemetry.io/otel v1.47.0
	go.opentelemetry.io/otel/exporters/stdout/stdouttrace v1.47.0
	go.opentelemetry.io/otel/metric v1.47.0
	go.opentelemetry.io/otel/sdk v1.47.0
	go.opentelemetry.io/otel/sdk/metric v1.47.0
	go.opentelemetry.io/otel/trace v1.47.0
)

require (
	github.com/cenkalti/backoff/v4 v4.3.0 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
