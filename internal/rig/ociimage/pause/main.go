// Command pause is the process of a Pod's sandbox container, the part of
// the pause image that this repository builds for its single-node test
// cluster (internal/rig/ociimage.BuildPause). It holds the Pod's namespaces by
// doing nothing: it waits for SIGTERM or SIGINT and then exits 0. As PID 1
// of a Pod that shares its process namespace it also reaps the zombies that
// other containers leave.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			return
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
