//go:build tools

// Package tools records the kube-apiserver build dependency so that go mod
// tidy keeps it; build the binary with
// go build -o DIR k8s.io/kubernetes/cmd/kube-apiserver.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"
