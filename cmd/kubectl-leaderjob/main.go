// Command kubectl-leaderjob is a kubectl plugin to see and steer the
// scheduled jobs of leaderjob apps in lease mode: the apps of a namespace
// and their leader, each job's last runs and history, and pause, resume
// and run-now requests, which the app's leader acknowledges in its ledger.
//
//	kubectl leaderjob status [APP]
//	kubectl leaderjob history APP [JOB]
//	kubectl leaderjob pause APP JOB --reason "..."
//	kubectl leaderjob resume APP JOB
//	kubectl leaderjob run APP JOB [--request-id ID] [--force]
//
// It reads the ledger ConfigMaps (<app>-leaderjob-ledger) and Leases, and
// writes only the control ConfigMaps (<app>-leaderjob-control); see
// examples/kubernetes/operator/rbac.yaml for the Role it needs. Install
// with go install ./cmd/kubectl-leaderjob: kubectl finds it on PATH.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
