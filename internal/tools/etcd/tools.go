//go:build tools

// Package tools records the etcd server build dependency so that go mod tidy
// keeps it; build the binary with go build -o DIR go.etcd.io/etcd/server/v3.
package tools

import _ "go.etcd.io/etcd/server/v3/etcdmain"
