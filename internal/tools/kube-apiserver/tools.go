//go:build tools

// Package tools records the control-plane build dependencies so that go mod
// tidy keeps them: kube-apiserver for every integration test, and
// kube-controller-manager, kube-scheduler and a kubectl of the same version
// for the real-cluster tests. The scripts in hack/ build them with
// go build -o DIR k8s.io/kubernetes/cmd/NAME.
package tools

import (
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
)
