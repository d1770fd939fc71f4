// Package cluster starts a real single-node Kubernetes on this machine for
// the real-cluster tests (internal/rig/clustere2e) and for make cluster: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler, a private
// containerd with runc, and a kubelet on it. It needs root and the binaries
// hack/cluster-deps.sh builds ([Assets]).
//
// Design, in short:
//
//   - One cluster per machine, under a lock (/run/leaderjob/cluster.lock):
//     the pod bridge, the apiserver's address and the kubelet's ports are
//     fixed, so that a kustomize overlay (examples/kubernetes/local) can
//     name the apiserver.
//   - Pods live on a host-only bridge ([Bridge], [PodCIDR]) without a
//     default route or NAT; they reach the apiserver on the bridge's host
//     address ([HostIP]), which its certificate names. No kube-proxy runs,
//     so the kubernetes Service's ClusterIP leads nowhere: the overlays set
//     KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
//   - Images are not pulled: [BuildImages] builds the pause image and the
//     examples' images from their Dockerfiles (internal/rig/ociimage), and
//     [Start] imports them under the names the manifests use.
//   - [Cluster.Stop] leaves the machine as Start found it: pods deleted
//     after the controllers stopped, every process of the cluster and its
//     containers gone, mounts and network namespaces (kept under the
//     cluster's directory) unmounted, the bridge removed, the kernel
//     settings the kubelet changed restored. A later Start clears what a
//     cluster that died left.
package cluster
