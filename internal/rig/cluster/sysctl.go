package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// kubeletSysctls are the kernel settings a kubelet sets at start (it wants
// a node to panic and reboot on an oops, and memory overcommitted); the
// cluster puts them back as they were when it stops, so that a test run
// leaves the machine's kernel as it found it.
var kubeletSysctls = []string{"kernel/panic", "kernel/panic_on_oops", "vm/overcommit_memory", "net/ipv4/ip_forward"}

// saveSysctls reads the current values of names under /proc/sys.
func saveSysctls(names []string) map[string]string {
	saved := map[string]string{}
	for _, n := range names {
		if b, err := os.ReadFile(filepath.Join("/proc/sys", n)); err == nil {
			saved[n] = strings.TrimSpace(string(b))
		}
	}
	return saved
}

// restoreSysctls writes saved values back where they changed.
func restoreSysctls(saved map[string]string) error {
	var errs []error
	for n, v := range saved {
		p := filepath.Join("/proc/sys", n)
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == v {
			continue
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
