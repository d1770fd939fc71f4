package prometheus

import (
	"path/filepath"
	"slices"
	"testing"
)

// The PodMonitor in examples/kubernetes/monitoring selects the pods of the
// example Deployments by a label they carry, on a port they name, and the
// ops Services of the example folders point at the same port. (No cluster
// here has the Prometheus Operator's CRDs; internal/rig/e2e applies the other
// folders to a real apiserver.)
func TestPodMonitorSelectsTheExamples(t *testing.T) {
	t.Parallel()
	var pm struct {
		Kind string `json:"kind"`
		Spec struct {
			Selector struct {
				MatchLabels      map[string]string `json:"matchLabels"`
				MatchExpressions []struct {
					Key      string   `json:"key"`
					Operator string   `json:"operator"`
					Values   []string `json:"values"`
				} `json:"matchExpressions"`
			} `json:"selector"`
			Endpoints []struct {
				Port string `json:"port"`
				Path string `json:"path"`
			} `json:"podMetricsEndpoints"`
		} `json:"spec"`
	}
	read(t, "../kubernetes/monitoring/podmonitor.yaml", &pm)
	if pm.Kind != "PodMonitor" || len(pm.Spec.Endpoints) != 1 {
		t.Fatalf("podmonitor.yaml: kind %s with %d endpoints, want a PodMonitor with one", pm.Kind, len(pm.Spec.Endpoints))
	}
	ep := pm.Spec.Endpoints[0]
	if ep.Path != "/metrics" {
		t.Errorf("PodMonitor path %q, want /metrics", ep.Path)
	}
	selects := func(labels map[string]string) bool {
		for k, v := range pm.Spec.Selector.MatchLabels {
			if labels[k] != v {
				return false
			}
		}
		for _, e := range pm.Spec.Selector.MatchExpressions {
			if e.Operator != "In" {
				t.Fatalf("PodMonitor selector operator %s: this test knows In", e.Operator)
			}
			if !slices.Contains(e.Values, labels[e.Key]) {
				return false
			}
		}
		return true
	}

	for _, dir := range []string{"lease", "sidecar"} {
		var d struct {
			Spec struct {
				Template struct {
					Metadata struct {
						Labels map[string]string `json:"labels"`
					} `json:"metadata"`
					Spec struct {
						Containers []struct {
							Name  string `json:"name"`
							Ports []struct {
								Name          string `json:"name"`
								ContainerPort int    `json:"containerPort"`
							} `json:"ports"`
						} `json:"containers"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		read(t, filepath.Join("../kubernetes", dir, "deployment.yaml"), &d)
		if !selects(d.Spec.Template.Metadata.Labels) {
			t.Errorf("the PodMonitor does not select the pods of %s (labels %v)", dir, d.Spec.Template.Metadata.Labels)
		}
		port := 0
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == ep.Port {
					port = p.ContainerPort
				}
			}
		}
		if port != 8080 {
			t.Errorf("%s: the pods' port %q is %d, want 8080 (LEADERJOB_HTTP_ADDR :8080)", dir, ep.Port, port)
		}

		var svc struct {
			Kind string `json:"kind"`
			Spec struct {
				ClusterIP string            `json:"clusterIP"`
				Selector  map[string]string `json:"selector"`
				Ports     []struct {
					Port       int    `json:"port"`
					TargetPort string `json:"targetPort"`
				} `json:"ports"`
			} `json:"spec"`
		}
		read(t, filepath.Join("../kubernetes", dir, "service.yaml"), &svc)
		for k, v := range svc.Spec.Selector {
			if d.Spec.Template.Metadata.Labels[k] != v {
				t.Errorf("%s: the Service selects %s=%s, the pods do not carry it", dir, k, v)
			}
		}
		if svc.Kind != "Service" || svc.Spec.ClusterIP != "None" || len(svc.Spec.Ports) != 1 ||
			svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[0].TargetPort != ep.Port {
			t.Errorf("%s: service.yaml %+v, want a headless Service on 8080 to port %q", dir, svc, ep.Port)
		}
	}
}
