// Package incluster holds the project's one definition of "running inside
// a Kubernetes cluster": the environment variables the kubelet sets for the
// kubernetes Service, and the service account token mounted into the pod —
// what client-go's in-cluster configuration needs.
package incluster

import (
	"os"
	"strings"
)

// Paths of a pod's service account files.
const (
	TokenFile     = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	NamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
)

// Detect reports whether the process runs in a pod with a service account:
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT set (read with
// lookup) and the token file present. KUBECONFIG plays no part.
func Detect(lookup func(string) (string, bool)) bool {
	for _, name := range []string{"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"} {
		if v, _ := lookup(name); strings.TrimSpace(v) == "" {
			return false
		}
	}
	_, err := os.Stat(TokenFile)
	return err == nil
}

// Namespace returns the pod's own namespace, or "" when the file is absent.
func Namespace() string {
	b, err := os.ReadFile(NamespaceFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
