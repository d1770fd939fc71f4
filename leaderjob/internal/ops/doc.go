// Package ops is the App's operations surface: its Prometheus metrics, the
// notices operators see without logs, and the HTTP endpoints (health,
// readiness, leader, jobs, metrics). It reads the App through the narrow
// interfaces it declares and knows nothing of scheduling.
package ops
