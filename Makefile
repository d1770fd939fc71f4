# The two commands the README promises:
#   make run   runs examples/monolith with no cluster (guard "always")
#   make test  installs the test tools (hack/test-deps.sh: Debian's prometheus,
#              containerd, runc and CNI plugin packages), builds etcd,
#              kube-apiserver, kube-controller-manager, kube-scheduler,
#              kubectl and a kubelet once (cached), then runs every test with
#              -race, the real single-node cluster's tests included
# and, for a person:
#   make cluster       the real-cluster tests' single-node cluster, in the
#                      foreground, with the examples' images imported
#   make cluster-stop  stops it from another terminal
#   make images        builds the example, elector and pause images from their
#                      Dockerfiles without Docker, as archives in bin/images/
#                      for ctr -n k8s.io images import
#   make bench         the comparison (bench/): leaderjob, gocron with an
#                      Elector or a Redis Locker, the sidecar, through the
#                      same faults on the loopback control plane (about 25
#                      minutes); installs Debian's redis-server
#                      (hack/bench-deps.sh), writes bench/results/<time>/ and
#                      refreshes docs/comparison.md and docs/comparison.svg;
#                      BENCH_FLAGS passes flags (go run ./bench/cmd/compare -h)
#   make microbench    the Go benchmarks (go test -bench) of every module
GO ?= go

# The repository is a Go workspace (go.work) of five modules: the library at
# the root, the commands (cmd), the examples, the test rig (internal/rig) and
# the comparison (bench). ./... names the root module's packages only, so
# every target lists them all.
PKGS = ./... ./cmd/... ./examples/... ./internal/rig/... ./bench/...

.PHONY: run test test-deps controlplane cluster cluster-stop images bench microbench vet

run:
	$(GO) run ./examples/monolith

controlplane:
	@hack/controlplane.sh

cluster: test-deps
	cluster="$$(hack/cluster-deps.sh)" && LEADERJOB_CLUSTER_ASSETS="$$cluster" $(GO) run ./internal/rig/cmd/cluster

cluster-stop:
	$(GO) run ./internal/rig/cmd/cluster -stop

test: vet test-deps
	cp="$$(hack/controlplane.sh)" && cluster="$$(hack/cluster-deps.sh)" && \
		KUBEBUILDER_ASSETS="$$cp" LEADERJOB_CLUSTER_ASSETS="$$cluster" $(GO) test -race -count=1 -timeout 30m $(PKGS)

test-deps:
	@bash hack/test-deps.sh

vet:
	$(GO) vet $(PKGS)

bench:
	@bash hack/bench-deps.sh
	cp="$$(hack/controlplane.sh)" && KUBEBUILDER_ASSETS="$$cp" $(GO) run ./bench/cmd/compare -publish docs $(BENCH_FLAGS)

microbench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

IMAGES ?= bin/images
OCIIMAGE = $(GO) run ./internal/rig/ociimage/cmd/ociimage

images:
	@mkdir -p $(IMAGES)
	$(OCIIMAGE) -f examples/monolith/Dockerfile -t example.com/monolith:1.0.0 -o $(IMAGES)/monolith.tar
	$(OCIIMAGE) -f cmd/leaderjob-elector/Dockerfile -t example.com/leaderjob-elector:1.0.0 -o $(IMAGES)/leaderjob-elector.tar
	$(OCIIMAGE) -pause -t registry.k8s.io/pause:3.10 -o $(IMAGES)/pause.tar
