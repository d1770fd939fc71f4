// Package e2e holds end-to-end tests that run the example program
// (examples/monolith) as separate processes against a real kube-apiserver
// (internal/rig/controlplane), and check from their JSON logs what a Deployment
// of it would do when its leader crashes, terminates or freezes; that the
// manifests under examples/kubernetes are accepted, pass Pod Security
// "restricted" and suffice; and that a real Prometheus scraping two
// replicas sees one leader and loads examples/prometheus/leaderjob-rules.yaml.
//
// Measure (run with LEADERJOB_MEASURE=1) reports hand-off and failover
// times and the election traffic per replica.
package e2e
