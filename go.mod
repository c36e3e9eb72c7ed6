module github.com/sailsio-go/sailsio

go 1.24.0

require (
	github.com/cenkalti/backoff/v4 v4.3.0
	github.com/google/go-cmp v0.7.0
	github.com/gorilla/websocket v1.5.3
)
