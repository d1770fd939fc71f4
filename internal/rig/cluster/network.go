package cluster

import (
	"fmt"
	"os/exec"
	"strings"
)

// The pod network: a host-only bridge. Pods get addresses in PodCIDR from
// CNI's host-local allocator; the host's end of the bridge, HostIP, is
// where pods reach the apiserver (and the apiserver the kubelet). Pods
// have no default route (the bridge is not their gateway, so the plugin
// leaves the host's IP forwarding alone) and there is no NAT: a pod
// reaches the host and the other pods on the bridge, nothing else.
const (
	Bridge  = "leaderjob0"
	HostIP  = "10.88.0.1"
	PodCIDR = "10.88.0.0/16"
)

// bridgeMAC is the bridge's fixed, locally administered address. A bridge
// without one takes the lowest address of its ports, so it changes when a
// pod's veth comes or goes, and every other pod's ARP entry for HostIP
// goes stale: their requests to the apiserver stall for seconds.
const bridgeMAC = "02:6c:6a:00:00:01"

// cniConfig is the network list containerd's CRI plugin hands to the CNI
// plugins for every pod sandbox.
func (c *Cluster) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "leaderjob",
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": false,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": %q,
      "ranges": [[{"subnet": %q, "gateway": %q}]]
    }
  }]
}
`, Bridge, c.dir+"/cni/ipam", PodCIDR, HostIP)
}

// bridgeUp creates the bridge with the host's address before anything
// binds to it (the CNI bridge plugin adopts an existing bridge whose
// address is the gateway).
func bridgeUp() error {
	_ = bridgeDown()
	// Another network on the same addresses (podman's default is
	// 10.88.0.0/16 too) would take the pods' and the apiserver's traffic.
	if out, err := exec.Command("ip", "-o", "route", "show", "to", "match", HostIP).Output(); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] != "default" && f[1] == "dev" {
				return fmt.Errorf("cluster: %s is already routed to %s (%s); the cluster's pod network needs %s: remove that network first",
					HostIP, f[2], line, PodCIDR)
			}
		}
	}
	for _, args := range [][]string{
		{"link", "add", Bridge, "address", bridgeMAC, "type", "bridge"},
		{"addr", "add", HostIP + "/16", "dev", Bridge},
		{"link", "set", Bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("cluster: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// bridgeDown deletes the bridge.
func bridgeDown() error {
	out, err := exec.Command("ip", "link", "del", Bridge).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Cannot find device") {
		return fmt.Errorf("cluster: ip link del %s: %w: %s", Bridge, err, strings.TrimSpace(string(out)))
	}
	return nil
}
