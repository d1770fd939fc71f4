// Package clustere2e runs the shipped examples on a real single-node
// Kubernetes (internal/rig/cluster): kubelet, containerd and runc, the images
// built from the examples' Dockerfiles, the manifests applied with kubectl
// through examples/kubernetes/local plus a test overlay for timings, and
// the pods' logs read through the apiserver as kubectl logs reads them.
//
// The cluster needs root and the binaries hack/cluster-deps.sh provides;
// without them the tests skip, or fail when CI=true.
package clustere2e
