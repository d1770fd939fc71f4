//go:build tools

// Package tools records the kubelet build dependency so that go mod tidy
// keeps it; hack/cluster-binaries.sh builds it with
// go build -o DIR k8s.io/kubernetes/cmd/kubelet.
package tools

import _ "k8s.io/kubernetes/cmd/kubelet/app"
