# The two commands the README promises:
#   make run   runs examples/monolith with no cluster (guard "always")
#   make test  installs the test tools (hack/test-deps.sh: Debian's prometheus
#              package; hack/cluster-deps.sh: containerd, runc, CNI plugins),
#              builds etcd, kube-apiserver, kube-controller-manager,
#              kube-scheduler, kubectl and a kubelet once (cached), then runs
#              every test with -race
# and, for a person:
#   make cluster       the real-cluster tests' single-node cluster, in the
#                      foreground, with the examples' images imported
#   make cluster-stop  stops it from another terminal
GO ?= go

.PHONY: run test test-deps controlplane cluster cluster-stop bench vet

run:
	$(GO) run ./examples/monolith

controlplane:
	@hack/controlplane.sh

cluster:
	LEADERJOB_CLUSTER_ASSETS="$$(hack/cluster-deps.sh)" $(GO) run ./hack/cluster

cluster-stop:
	$(GO) run ./hack/cluster -stop

test: vet test-deps
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh)" LEADERJOB_CLUSTER_ASSETS="$$(hack/cluster-deps.sh)" \
		$(GO) test -race -count=1 -timeout 30m ./...

test-deps:
	@bash hack/test-deps.sh

vet:
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
